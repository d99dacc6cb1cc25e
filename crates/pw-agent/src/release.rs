//! The release of versioned repositories (Amazon Linux 2023) around one operation: which
//! release the host is locked to, which one its metadata is read at, and whether an install
//! moves the lock (the decisions are pw-core's: [`pw_core::release`]).

use pw_api::agent::{InstallOutcome, ReleaseReport};
use pw_core::baseline::{Baseline, OperatingSystem};
use pw_core::release::{HostLock, ReleasePlan, ReleaseVersion, lock_follows, plan};
use pw_pkgmgr::Settings;
use pw_pkgmgr::release::{LockSource, host_releasever, write_releasever};

/// What the operation knows about releases.
#[derive(Debug, Clone)]
pub(crate) struct ReleaseContext {
    before: HostLock,
    source: String,
    approved: Option<ReleaseVersion>,
    plan: Option<ReleasePlan>,
    after: HostLock,
    lock_moved: bool,
    note: Option<String>,
}

fn lock_of(settings: &Settings, notes: &mut Vec<String>) -> (HostLock, String) {
    match host_releasever(settings) {
        Ok(found) => {
            let source = match found.source {
                LockSource::File(path) => path.to_owned(),
                LockSource::SystemRelease => "system-release".to_owned(),
                LockSource::None => "none".to_owned(),
            };
            let lock = found
                .value
                .as_deref()
                .map_or(HostLock::Unknown, HostLock::parse);
            if let (HostLock::Unknown, Some(value)) = (&lock, &found.value) {
                notes.push(format!(
                    "the host's releasever `{value}` ({source}) is not a release version"
                ));
            }
            (lock, source)
        }
        Err(error) => {
            notes.push(format!("the host's release could not be read: {error}"));
            (HostLock::Unknown, "none".to_owned())
        }
    }
}

impl ReleaseContext {
    /// For Amazon Linux 2023 hosts: reads the lock and plans against the chosen release
    /// (`chosen`: `None` when the baseline has no `[release]`, `Some(Err(why))` when it has
    /// one but no release is eligible). `None` for other systems.
    pub(crate) fn new(
        os: OperatingSystem,
        pm: &Settings,
        chosen: Option<&Result<ReleaseVersion, String>>,
        notes: &mut Vec<String>,
    ) -> Option<ReleaseContext> {
        if os != OperatingSystem::AmazonLinux2023 {
            return None;
        }
        let (before, source) = lock_of(pm, notes);
        let (approved, note) = match chosen {
            None => (None, None),
            Some(Ok(release)) => (Some(release.clone()), None),
            Some(Err(why)) => (None, Some(format!("no release approved: {why}"))),
        };
        // A host following `latest` (or whose lock says nothing) is on the release its
        // installed `system-release` is: it must not be planned backwards from there.
        let effective = match &before {
            HostLock::Latest | HostLock::Unknown => {
                match pw_pkgmgr::release::system_release_version(pm) {
                    Ok(Some(text)) => match HostLock::parse(&text) {
                        HostLock::Release(installed) => HostLock::Release(installed),
                        _ => before.clone(),
                    },
                    _ => before.clone(),
                }
            }
            HostLock::Release(_) => before.clone(),
        };
        let plan = approved
            .as_ref()
            .map(|release| match plan(&effective, release) {
                ReleasePlan::Current(_) if effective != before => ReleasePlan::Move {
                    from: before.clone(),
                    to: release.clone(),
                },
                other => other,
            });
        if let Some(ReleasePlan::Ahead { current, approved }) = &plan {
            notes.push(format!(
                "the host is on release {current}, newer than the approved {approved}: evaluated against its own release, not downgraded"
            ));
        }
        if let Some(note) = &note {
            notes.push(format!("{note}; the host stays on its own release"));
        }
        Some(ReleaseContext {
            after: before.clone(),
            before,
            source,
            approved,
            plan,
            lock_moved: false,
            note,
        })
    }

    /// The `--releasever` to read metadata and install with: the plan's release, else the
    /// host's own lock (what dnf would detect), else none (dnf detects it).
    pub(crate) fn releasever(&self) -> Option<String> {
        match (&self.plan, &self.before) {
            (Some(plan), _) => Some(plan.evaluate_against().to_string()),
            (None, HostLock::Release(release)) => Some(release.to_string()),
            (None, _) => None,
        }
    }

    /// After an install: moves the lock to the evaluated release when the baseline takes the
    /// release as a whole and nothing approved failed; otherwise keeps it where it was (also
    /// when the install upgraded `system-release` itself).
    pub(crate) fn after_install(
        &mut self,
        pm: &Settings,
        baseline: &Baseline,
        outcome: &InstallOutcome,
        override_list: bool,
        notes: &mut Vec<String>,
    ) {
        let Some(ReleasePlan::Move { to, .. }) = &self.plan else {
            self.after = lock_of(pm, notes).0;
            return;
        };
        let to = to.clone();
        let stay_reason = if override_list {
            Some("an install override list installs individual patches".to_owned())
        } else if !outcome.failed.is_empty() {
            Some(format!(
                "{} approved patch(es) failed to install",
                outcome.failed.len()
            ))
        } else if !lock_follows(baseline) {
            Some("the baseline approves individual patches only (no approval rules)".to_owned())
        } else {
            None
        };
        let target = match &stay_reason {
            None => Some(to.to_string()),
            Some(_) => match &self.before {
                HostLock::Release(release) => Some(release.to_string()),
                HostLock::Latest | HostLock::Unknown => None,
            },
        };
        let (now, _) = lock_of(pm, notes);
        if let Some(target) = target
            && now.to_string() != target
        {
            match write_releasever(&pm.root, &target) {
                Ok(path) => {
                    tracing::info!(release = %target, path = %path.display(), "release lock written");
                }
                Err(error) => notes.push(format!(
                    "the release lock could not be set to {target}: {error}"
                )),
            }
        }
        self.after = lock_of(pm, notes).0;
        self.lock_moved = self.after != self.before;
        self.note = Some(match stay_reason {
            None => format!("the lock moved from {} to {to}", self.before),
            Some(reason) => format!(
                "packages were installed from release {to}; the lock stays at {}: {reason}",
                self.before
            ),
        });
    }

    /// The lock when the report is made.
    pub(crate) fn current(&self) -> String {
        self.after.to_string()
    }

    pub(crate) fn report(&self) -> ReleaseReport {
        ReleaseReport {
            before: self.before.to_string(),
            source: self.source.clone(),
            approved: self.approved.as_ref().map(ToString::to_string),
            evaluated: self.releasever(),
            plan: self
                .plan
                .as_ref()
                .map_or("none", ReleasePlan::as_str)
                .to_owned(),
            after: self.after.to_string(),
            lock_moved: self.lock_moved,
            note: self.note.clone(),
        }
    }
}
