//! Promotion: what a staging environment's reports say about each exact version, and the
//! entries a production baseline gains from it. One decision for every caller: `patchwarden
//! promote` (reading through the API) and the server's promotion policies (reading its store)
//! both turn what they read into [`NodeEvidence`] and call [`Reading::observe`], [`plan`]
//! and [`plan_releases`].
//!
//! * Installed on enough nodes and Failed on none: added to PRD's approved list as the exact
//!   version entry ([`Approve`] says how many nodes, and for how long).
//! * Failed on any node, or put on a node by an install after which the post-install hook or
//!   a health check failed: added
//!   to PRD's rejected list. Rejection wins over approval.
//!
//! Entries PRD already has are not added again, nothing is ever removed, and the 50-entry
//! limit of each list is respected: what does not fit is returned as not added.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::{SignedDuration, Timestamp};

use crate::baseline::{Approval, Baseline, Exception, Family, MAX_PATCH_ENTRIES};
use crate::exact::{BadTarget, Exact};
use crate::pattern::PatternSet;
use crate::release::{ReleasePolicy, ReleaseSelection, ReleaseVersion};

/// One entry added (or that would be added, or that did not fit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `approve`, `reject`, `verify-release` or `reject-release`.
    pub list: &'static str,
    pub entry: String,
    pub owner: String,
    pub reason: String,
    pub evidence: Evidence,
}

/// What a change was decided on: the STG nodes, their reports, and the latest report's time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    pub nodes: Vec<String>,
    pub reports: Vec<i64>,
    pub at: Option<Timestamp>,
}

/// When a version that broke nothing is approved in PRD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approve {
    /// Never: only failures are acted on (rejection only).
    Never,
    /// Once it is installed on at least `nodes` STG nodes (and at least `percent` % of the
    /// STG nodes read, when given), each for at least `soak`, and failed on none.
    Healthy {
        nodes: u32,
        percent: Option<u8>,
        soak: SignedDuration,
    },
}

impl Approve {
    /// What `patchwarden promote` does without `--reject-failures-only`: installed on one
    /// node, failed on none.
    pub const VERIFIED: Approve = Approve::Healthy {
        nodes: 1,
        percent: None,
        soak: SignedDuration::ZERO,
    };

    /// How many healthy nodes approval needs when `nodes_read` STG nodes were read.
    fn needed(nodes: u32, percent: Option<u8>, nodes_read: usize) -> usize {
        let by_percent = percent.map_or(0, |p| (nodes_read * usize::from(p)).div_ceil(100));
        (nodes as usize).max(by_percent).max(1)
    }

    /// When `seen` becomes approvable if nothing changes: the instant the last node it needs
    /// has had it for the soak time. `None` when it never does as things stand (too few nodes
    /// have it, it broke something, or this rule approves nothing).
    pub fn due_at(&self, seen: &Observed) -> Option<Timestamp> {
        let Approve::Healthy {
            nodes,
            percent,
            soak,
        } = *self
        else {
            return None;
        };
        if seen.broke() {
            return None;
        }
        let needed = Approve::needed(nodes, percent, seen.nodes_read);
        let mut ready: Vec<Timestamp> = seen
            .installed_on
            .iter()
            .filter_map(|host| match seen.installed_since.get(host) {
                Some(since) => Some(since.checked_add(soak).unwrap_or(Timestamp::MAX)),
                None => soak.is_zero().then_some(Timestamp::MIN),
            })
            .collect();
        ready.sort_unstable();
        ready.get(needed - 1).copied()
    }

    /// The number of nodes that make `seen` approvable at `now`, or `None` when too few do.
    fn healthy_nodes(&self, seen: &Observed, now: Timestamp) -> Option<usize> {
        let Approve::Healthy {
            nodes,
            percent,
            soak,
        } = *self
        else {
            return None;
        };
        let soaked = seen
            .installed_on
            .iter()
            .filter(|host| match seen.installed_since.get(*host) {
                Some(since) => now.duration_since(*since) >= soak,
                // Without the install on record, the node counts only when no soak is asked.
                None => soak.is_zero(),
            })
            .count();
        (soaked >= Approve::needed(nodes, percent, seen.nodes_read)).then_some(soaked)
    }
}

/// A duration as policies write it: `3d`, `12h`, `90m`, `1d12h`.
#[derive(Debug, Clone, Copy)]
pub struct Soak(pub SignedDuration);

impl fmt::Display for Soak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let minutes = self.0.as_secs() / 60;
        let (days, hours, minutes) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
        let mut wrote = false;
        for (value, unit) in [(days, "d"), (hours, "h"), (minutes, "m")] {
            if value > 0 {
                write!(f, "{value}{unit}")?;
                wrote = true;
            }
        }
        if !wrote {
            write!(f, "0m")?;
        }
        Ok(())
    }
}

/// Reads `3d`, `12h`, `90m`, `1d12h` (days, hours, minutes; at least one part).
pub fn parse_soak(text: &str) -> Result<SignedDuration, String> {
    let bad = || format!("`{text}` is not a duration like 3d, 12h, 90m or 1d12h");
    let mut total: i64 = 0;
    let mut digits = String::new();
    let mut parts = 0;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            _ => return Err(bad()),
        };
        let value: i64 = digits.parse().map_err(|_| bad())?;
        total = value
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        digits.clear();
        parts += 1;
    }
    if parts == 0 || !digits.is_empty() || total > 366 * 86_400 {
        return Err(bad());
    }
    Ok(SignedDuration::from_secs(total))
}

/// How a plan writes and decides: the owner written on each entry, the STG source named in
/// reasons (`baseline X`, `patch group G`) and when to approve.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    pub owner: &'a str,
    pub source: &'a str,
    pub approve: Approve,
}

/// A report item with a target: a (name, arch) at the version STG's baseline approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemEvidence {
    pub name: String,
    pub arch: String,
    pub target: String,
    /// The patch state (`Installed`, `Failed`, ...).
    pub state: String,
}

/// What an Install report says about the release it ran against (Amazon Linux 2023).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseEvidence {
    /// The release the install evaluated; absent when it kept none.
    pub evaluated: Option<String>,
    /// The release the node was on after the install.
    pub after: String,
    /// The node runs ahead of its baseline's release (`plan = "ahead"`): not evidence.
    pub ahead: bool,
}

/// One of STG's Install reports, whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallEvidence {
    /// The report's id, when the caller knows it (for evidence).
    pub report: Option<i64>,
    pub at: Timestamp,
    /// What the install put on (`install.installed`: rpm `name-[epoch:]version-release.arch`,
    /// Debian `name:arch=version`).
    pub installed: Vec<String>,
    /// Whether anything failed to install.
    pub failed: bool,
    pub hook_failed: bool,
    /// Whether a health check run after the install failed.
    pub health_failed: bool,
    /// The report's items with a target.
    pub items: Vec<ItemEvidence>,
    pub release: Option<ReleaseEvidence>,
}

/// What one STG node says: its latest report's items, and its recent Install reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEvidence {
    pub host: String,
    /// The latest report's id, when the caller knows it (for evidence).
    pub latest_report: Option<i64>,
    pub latest_at: Timestamp,
    pub latest: Vec<ItemEvidence>,
    pub installs: Vec<InstallEvidence>,
}

/// What the STG reports say, and how much was read.
#[derive(Debug, Default)]
pub struct Reading {
    pub nodes: usize,
    pub install_reports: usize,
    pub observed: Observations,
    pub releases: ReleaseObservations,
    /// Items left out because their target is not a version of the family, each named.
    pub skipped: Vec<String>,
}

impl Reading {
    /// Sorts every (name, arch, target) STG's nodes report: the hosts it is installed on and
    /// failed on (latest reports), those where the install that put it there had its
    /// post-install hook fail, and since when each host has it (Install reports).
    /// An item whose target is not a version of `family` is left out and named in `skipped`.
    pub fn observe(family: Family, nodes: &[NodeEvidence]) -> Reading {
        let mut reading = Reading {
            nodes: nodes.len(),
            ..Reading::default()
        };
        for node in nodes {
            let host = &node.host;
            for item in &node.latest {
                if let Err(bad) = Exact::parse(family, &item.name, &item.arch, &item.target) {
                    reading.skipped.push(format!("{host}: {bad}"));
                    continue;
                }
                let key = (item.name.clone(), item.arch.clone(), item.target.clone());
                match item.state.as_str() {
                    "Installed" => {
                        let seen = reading.observed.entry(key).or_default();
                        seen.installed_on.insert(host.clone());
                        seen.installed_reports.extend(node.latest_report);
                    }
                    "Failed" => {
                        let seen = reading.observed.entry(key).or_default();
                        seen.failed_on.insert(host.clone());
                        seen.failed_reports.extend(node.latest_report);
                        keep_latest(&mut seen.failed_at, node.latest_at);
                    }
                    _ => {}
                }
            }
            for install in &node.installs {
                reading.install_reports += 1;
                let broke = install.failed || install.hook_failed || install.health_failed;
                if let Some(release) = &install.release
                    && !release.ahead
                    && let Some(evaluated) = &release.evaluated
                {
                    let seen = reading.releases.entry(evaluated.clone()).or_default();
                    if broke {
                        seen.broke_on.insert(host.clone());
                        seen.broke_reports.extend(install.report);
                        keep_latest(&mut seen.broke_at, install.at);
                    } else if release.after == *evaluated {
                        seen.ran_on.insert(host.clone());
                        seen.ran_reports.extend(install.report);
                    }
                }
                for item in &install.items {
                    let exact = match Exact::parse(family, &item.name, &item.arch, &item.target) {
                        Ok(exact) => exact,
                        Err(bad) => {
                            reading.skipped.push(format!("{host}: {bad}"));
                            continue;
                        }
                    };
                    if !install.installed.iter().any(|k| exact.is_install_key(k)) {
                        continue;
                    }
                    let key = (item.name.clone(), item.arch.clone(), item.target.clone());
                    if install.hook_failed || install.health_failed {
                        let seen = reading.observed.entry(key).or_default();
                        if install.hook_failed {
                            seen.hook_failed_on.insert(host.clone());
                            seen.hook_failed_reports.extend(install.report);
                            keep_latest(&mut seen.hook_failed_at, install.at);
                        }
                        if install.health_failed {
                            seen.health_failed_on.insert(host.clone());
                            seen.hook_failed_reports.extend(install.report);
                            keep_latest(&mut seen.health_failed_at, install.at);
                        }
                    } else if let Some(seen) = reading.observed.get_mut(&key) {
                        let since = seen
                            .installed_since
                            .entry(host.clone())
                            .or_insert(install.at);
                        *since = (*since).min(install.at);
                    }
                }
            }
        }
        for seen in reading.observed.values_mut() {
            seen.nodes_read = reading.nodes;
        }
        reading
    }
}

/// Per patch (name, arch, target version), what the STG reports say about it.
pub type Observations = BTreeMap<(String, String, String), Observed>;

/// What STG's reports say about one patch at one version.
#[derive(Debug, Default)]
pub struct Observed {
    pub installed_on: BTreeSet<String>,
    /// Hosts whose latest report has the patch Failed; the latest such report's time.
    pub failed_on: BTreeSet<String>,
    pub failed_at: Option<Timestamp>,
    /// Hosts where an install put this version on and then its post-install hook failed;
    /// the latest such report's time.
    pub hook_failed_on: BTreeSet<String>,
    pub hook_failed_at: Option<Timestamp>,
    /// Hosts where an install put this version on and then a health check failed; the latest
    /// such report's time.
    pub health_failed_on: BTreeSet<String>,
    pub health_failed_at: Option<Timestamp>,
    /// Per host the version is installed on, since when: the earliest install that put it
    /// there among the evidence read. Absent when no Install report read shows it (installed
    /// before the evidence, or by other means): such a host counts toward approval only when
    /// no soak is asked.
    pub installed_since: BTreeMap<String, Timestamp>,
    /// How many STG nodes were read (for a percentage threshold).
    pub nodes_read: usize,
    /// The reports behind `installed_on`, `failed_on` and `hook_failed_on`.
    pub installed_reports: BTreeSet<i64>,
    pub failed_reports: BTreeSet<i64>,
    pub hook_failed_reports: BTreeSet<i64>,
}

impl Observed {
    /// Whether the patch broke STG: Failed somewhere, or a post-install hook or a health
    /// check failed after the install that put it on.
    pub fn broke(&self) -> bool {
        !self.failed_on.is_empty()
            || !self.hook_failed_on.is_empty()
            || !self.health_failed_on.is_empty()
    }

    /// `failed on STG node(s) H at T`, `post-install hook failed on STG node(s) H at T`, or
    /// both joined by `; `.
    pub fn reject_reason(&self) -> String {
        let part = |what: &str, hosts: &BTreeSet<String>, at: Option<Timestamp>| {
            let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
            let at = when(at);
            format!("{what} on STG node(s) {} at {at}", hosts.join(", "))
        };
        let mut parts = Vec::new();
        if !self.failed_on.is_empty() {
            parts.push(part("failed", &self.failed_on, self.failed_at));
        }
        if !self.hook_failed_on.is_empty() {
            parts.push(part(
                "post-install hook failed",
                &self.hook_failed_on,
                self.hook_failed_at,
            ));
        }
        if !self.health_failed_on.is_empty() {
            parts.push(part(
                "health check failed",
                &self.health_failed_on,
                self.health_failed_at,
            ));
        }
        parts.join("; ")
    }
}

/// Keeps the later of `slot` and `at`.
fn keep_latest(slot: &mut Option<Timestamp>, at: Timestamp) {
    *slot = Some(slot.map_or(at, |t| t.max(at)));
}

/// Per release version (Amazon Linux 2023), what STG's Install reports say about it.
pub type ReleaseObservations = BTreeMap<String, ReleaseSeen>;

/// STG installs made against one release.
#[derive(Debug, Default)]
pub struct ReleaseSeen {
    /// Hosts an install moved to the release (or kept on it) with nothing failed.
    pub ran_on: BTreeSet<String>,
    /// Hosts where an install against the release had a Failed patch or a failed
    /// post-install hook; the latest such report's time.
    pub broke_on: BTreeSet<String>,
    pub broke_at: Option<Timestamp>,
    /// The Install reports behind `ran_on` and `broke_on`.
    pub ran_reports: BTreeSet<i64>,
    pub broke_reports: BTreeSet<i64>,
}

/// A version STG has installed without failure that PRD does not approve yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub entry: String,
    /// The STG nodes it is installed on.
    pub nodes: usize,
    /// When it becomes approvable as things stand (see [`Approve::due_at`]).
    pub due_at: Option<Timestamp>,
}

/// What PRD will get from STG and when: every version STG installed without failure that PRD
/// The entries of `list` in force at `now`, as patterns.
fn active_entries(list: &[Exception], now: Timestamp) -> PatternSet {
    PatternSet::parse(
        list.iter()
            .filter(|e| e.is_active(now))
            .map(|e| e.entry.as_str()),
    )
}

/// An instant as reasons print it (`2026-01-05 10:00:00Z`), or `-`.
fn when(at: Option<Timestamp>) -> String {
    at.map_or_else(
        || "-".to_owned(),
        |t| t.strftime("%Y-%m-%d %H:%M:%SZ").to_string(),
    )
}

/// neither approves nor rejects yet, with the instant `approve` would approve it.
pub fn pending(
    prd: &Baseline,
    observed: &Observations,
    approve: Approve,
    now: Timestamp,
) -> Vec<Pending> {
    let active = |list: &[Exception]| active_entries(list, now);
    let (approved, rejected) = (active(&prd.approved), active(&prd.rejected));
    let family = prd.operating_system.family();
    observed
        .iter()
        .filter(|(_, seen)| !seen.broke() && !seen.installed_on.is_empty())
        .filter_map(|((name, arch, target), seen)| {
            let exact = Exact::parse(family, name, arch, target).ok()?;
            if exact.matched_by(&approved) || exact.matched_by(&rejected) {
                return None;
            }
            Some(Pending {
                entry: exact.entry(),
                nodes: seen.installed_on.len(),
                due_at: approve.due_at(seen),
            })
        })
        .collect()
}

/// Decides the entries to add, appends those that fit to `prd`, and returns (added, not added).
pub fn plan(
    prd: &mut Baseline,
    observed: &Observations,
    rules: &Rules<'_>,
    now: Timestamp,
) -> Result<(Vec<Change>, Vec<Change>), BadTarget> {
    let source = rules.source;
    let active = |list: &[Exception]| active_entries(list, now);
    let approved = active(&prd.approved);
    let rejected = active(&prd.rejected);
    let family = prd.operating_system.family();
    let today = now.strftime("%Y-%m-%d").to_string();
    let (mut added, mut not_added) = (Vec::new(), Vec::new());
    for ((name, arch, target), seen) in observed {
        let exact = Exact::parse(family, name, arch, target)?;
        let (list, reason) = if seen.broke() {
            if exact.matched_by(&rejected) {
                continue;
            }
            ("reject", seen.reject_reason())
        } else {
            if exact.matched_by(&approved) || exact.matched_by(&rejected) {
                continue;
            }
            let Some(healthy) = rules.approve.healthy_nodes(seen, now) else {
                continue;
            };
            let soaked = match rules.approve {
                Approve::Healthy { soak, .. } if !soak.is_zero() => {
                    format!(", for at least {}", Soak(soak))
                }
                _ => String::new(),
            };
            let reason = format!(
                "installed on {healthy} STG nodes ({source}) without failure{soaked}, promoted {today}"
            );
            ("approve", reason)
        };
        let evidence = if list == "reject" {
            Evidence {
                nodes: seen
                    .failed_on
                    .iter()
                    .chain(&seen.hook_failed_on)
                    .chain(&seen.health_failed_on)
                    .cloned()
                    .collect::<BTreeSet<String>>()
                    .into_iter()
                    .collect(),
                reports: seen
                    .failed_reports
                    .union(&seen.hook_failed_reports)
                    .copied()
                    .collect(),
                at: seen
                    .failed_at
                    .max(seen.hook_failed_at)
                    .max(seen.health_failed_at),
            }
        } else {
            Evidence {
                nodes: seen.installed_on.iter().cloned().collect(),
                reports: seen.installed_reports.iter().copied().collect(),
                at: None,
            }
        };
        let change = Change {
            list,
            entry: exact.entry(),
            owner: rules.owner.to_owned(),
            reason,
            evidence,
        };
        let target_list = if list == "approve" {
            &mut prd.approved
        } else {
            &mut prd.rejected
        };
        if target_list.len() >= MAX_PATCH_ENTRIES {
            not_added.push(change);
            continue;
        }
        target_list.push(Exception {
            entry: change.entry.clone(),
            owner: Some(change.owner.clone()),
            reason: Some(change.reason.clone()),
            expires: None,
        });
        added.push(change);
    }
    Ok((added, not_added))
}

/// Release versions (Amazon Linux 2023): a release an STG install ran on without failure is
/// added to PRD's `[release] verified`, one whose install failed (or whose post-install hook
/// failed) to its `reject`. A PRD baseline without `[release]` gets one that takes only
/// verified releases. Returns (added, not added).
pub fn plan_releases(
    prd: &mut Baseline,
    releases: &ReleaseObservations,
    rules: &Rules<'_>,
    now: Timestamp,
) -> (Vec<Change>, Vec<Change>) {
    let source = rules.source;
    let reject_only = matches!(rules.approve, Approve::Never);
    let (mut added, mut not_added) = (Vec::new(), Vec::new());
    if prd.operating_system != crate::baseline::OperatingSystem::AmazonLinux2023 {
        return (added, not_added);
    }
    let today = now.strftime("%Y-%m-%d").to_string();
    for (version, seen) in releases {
        let Ok(release) = ReleaseVersion::parse(version) else {
            continue;
        };
        let broke = !seen.broke_on.is_empty();
        if !broke && (reject_only || seen.ran_on.is_empty()) {
            continue;
        }
        let policy = prd.release.get_or_insert_with(|| ReleasePolicy {
            selection: ReleaseSelection::Newest(Approval::Immediate),
            reject: Vec::new(),
            verified: Vec::new(),
            require_verified: true,
        });
        let (list, entries, reason) = if broke {
            let hosts: Vec<&str> = seen.broke_on.iter().map(String::as_str).collect();
            let at = when(seen.broke_at);
            (
                "reject-release",
                &mut policy.reject,
                format!("install failed on STG node(s) {} at {at}", hosts.join(", ")),
            )
        } else {
            if policy.verified.contains(&release) || policy.reject.contains(&release) {
                continue;
            }
            (
                "verify-release",
                &mut policy.verified,
                format!(
                    "ran on {} STG nodes ({source}) without failure, promoted {today}",
                    seen.ran_on.len()
                ),
            )
        };
        if entries.contains(&release) {
            continue;
        }
        let evidence = if broke {
            Evidence {
                nodes: seen.broke_on.iter().cloned().collect(),
                reports: seen.broke_reports.iter().copied().collect(),
                at: seen.broke_at,
            }
        } else {
            Evidence {
                nodes: seen.ran_on.iter().cloned().collect(),
                reports: seen.ran_reports.iter().copied().collect(),
                at: None,
            }
        };
        let change = Change {
            list,
            entry: release.to_string(),
            owner: rules.owner.to_owned(),
            reason,
            evidence,
        };
        if entries.len() >= crate::baseline::MAX_RELEASE_ENTRIES {
            not_added.push(change);
            continue;
        }
        entries.push(release);
        added.push(change);
    }
    (added, not_added)
}

#[cfg(test)]
mod tests {
    use crate::baseline::OperatingSystem;

    use super::*;

    const VERIFIED: Rules<'static> = Rules {
        owner: "patchwarden promote",
        source: "baseline STG",
        approve: Approve::VERIFIED,
    };
    const REJECT_ONLY: Rules<'static> = Rules {
        owner: "patchwarden promote",
        source: "baseline STG",
        approve: Approve::Never,
    };

    fn seen(installed: &[&str], failed: &[&str]) -> Observed {
        Observed {
            installed_on: installed.iter().map(|h| (*h).to_owned()).collect(),
            failed_on: failed.iter().map(|h| (*h).to_owned()).collect(),
            failed_at: (!failed.is_empty()).then(|| Timestamp::from_second(0).unwrap()),
            ..Observed::default()
        }
    }

    fn key(name: &str, target: &str) -> (String, String, String) {
        (name.to_owned(), "x86_64".to_owned(), target.to_owned())
    }

    fn apt_key(name: &str, target: &str) -> (String, String, String) {
        (name.to_owned(), "amd64".to_owned(), target.to_owned())
    }

    #[test]
    fn full_lists_report_what_did_not_fit() {
        let mut prd = Baseline::empty("PRD", OperatingSystem::AmazonLinux2);
        prd.approved = (0..MAX_PATCH_ENTRIES)
            .map(|i| Exception::new(format!("pkg{i}")))
            .collect();
        let observed = BTreeMap::from([
            (key("foo", "1.0-1"), seen(&["a"], &[])),
            (key("bar", "2.0-1"), seen(&["a"], &["b"])),
        ]);
        let (added, not_added) = plan(
            &mut prd,
            &observed,
            &VERIFIED,
            "2025-06-01T00:00:00Z".parse::<Timestamp>().unwrap(),
        )
        .unwrap();
        assert_eq!(added.len(), 1);
        assert_eq!(added[0].entry, "bar-2.0-1.x86_64");
        assert_eq!(not_added.len(), 1);
        assert_eq!(not_added[0].entry, "foo-1.0-1.x86_64");
        assert_eq!(prd.approved.len(), MAX_PATCH_ENTRIES);
        assert_eq!(prd.rejected.len(), 1);
    }

    #[test]
    fn existing_entries_and_rejections_are_respected() {
        let now = "2025-06-01T00:00:00Z".parse::<Timestamp>().unwrap();
        let mut prd = Baseline::empty("PRD", OperatingSystem::AmazonLinux2);
        prd.approved = vec![Exception::new("foo")];
        prd.rejected = vec![Exception::new("baz-*")];
        let observed = BTreeMap::from([
            (key("foo", "1:1.0-1"), seen(&["a"], &[])),
            (key("baz", "1.0-1"), seen(&["a", "b"], &[])),
            (key("qux", "3.0-1"), seen(&["a", "b"], &[])),
        ]);
        let (added, _) = plan(&mut prd, &observed, &REJECT_ONLY, now).unwrap();
        assert!(added.is_empty());
        let (added, _) = plan(&mut prd, &observed, &VERIFIED, now).unwrap();
        assert_eq!(added.len(), 1);
        assert_eq!(added[0].entry, "qux-3.0-1.x86_64");
        assert!(
            added[0]
                .reason
                .starts_with("installed on 2 STG nodes (baseline STG)")
        );
    }

    #[test]
    fn family_switch_writes_and_matches_each_familys_exact_form() {
        let rpm = Exact::parse(Family::Dnf, "bar", "x86_64", "1:2.0-3.el9").unwrap();
        assert_eq!(rpm.entry(), "bar-1:2.0-3.el9.x86_64");
        assert!(rpm.is_install_key("bar-1:2.0-3.el9.x86_64"));
        assert!(!rpm.is_install_key("bar-1:2.0-4.el9.x86_64"));
        assert!(!rpm.is_install_key("bar:x86_64=1:2.0-3.el9"));
        let zero_epoch = Exact::parse(Family::Yum, "foo", "noarch", "0:1.0-1").unwrap();
        assert_eq!(zero_epoch.entry(), "foo-1.0-1.noarch");

        let apt = Exact::parse(Family::Apt, "openssl", "amd64", "3.0.2-0ubuntu1.15").unwrap();
        assert_eq!(apt.entry(), "openssl.amd64:3.0.2-0ubuntu1.15");
        assert!(apt.is_install_key("openssl:amd64=3.0.2-0ubuntu1.15"));
        assert!(!apt.is_install_key("openssl:arm64=3.0.2-0ubuntu1.15"));
        assert!(!apt.is_install_key("openssl:amd64=3.0.2-0ubuntu1.16"));
        assert!(!apt.is_install_key("openssl-3.0.2-0ubuntu1.15.amd64"));
        let epoch = Exact::parse(Family::Apt, "libc6", "amd64", "1:2.36-9").unwrap();
        assert_eq!(epoch.entry(), "libc6.amd64:1:2.36-9");

        // The entry each family writes is matched by that family's list matching, for that
        // version only.
        for exact in [&rpm, &zero_epoch, &apt, &epoch] {
            assert!(exact.matched_by(&PatternSet::parse([exact.entry()])));
        }
        let next = Exact::parse(Family::Apt, "openssl", "amd64", "3.0.2-0ubuntu1.16").unwrap();
        assert!(!next.matched_by(&PatternSet::parse([apt.entry()])));
        assert!(apt.matched_by(&PatternSet::parse(["openssl"])));

        // Versions are read by the family's rules.
        assert!(Exact::parse(Family::Apt, "foo", "amd64", "1.0 beta").is_err());
        let error = Exact::parse(Family::Dnf, "foo", "x86_64", "").unwrap_err();
        assert!(
            error.to_string().contains("is not an rpm version"),
            "{error}"
        );
    }

    #[test]
    fn apt_baselines_get_nav_entries_and_hook_failures_reject() {
        let now = "2025-06-01T00:00:00Z".parse::<Timestamp>().unwrap();
        let mut prd = Baseline::empty("PRD", OperatingSystem::Ubuntu);
        prd.approved = vec![Exception::new("curl.amd64:7.81.0-1ubuntu1.15")];
        let hook_failed = Observed {
            installed_on: BTreeSet::from(["a".to_owned()]),
            hook_failed_on: BTreeSet::from(["a".to_owned()]),
            hook_failed_at: Some(Timestamp::from_second(0).unwrap()),
            ..Observed::default()
        };
        let observed = BTreeMap::from([
            (apt_key("curl", "7.81.0-1ubuntu1.15"), seen(&["a"], &[])),
            (apt_key("openssl", "3.0.2-0ubuntu1.15"), seen(&["a"], &[])),
            (apt_key("libssl3", "3.0.2-0ubuntu1.15"), seen(&[], &["b"])),
            (apt_key("bash", "5.1-6ubuntu1.1"), hook_failed),
        ]);
        let (added, not_added) = plan(&mut prd, &observed, &VERIFIED, now).unwrap();
        assert!(not_added.is_empty());
        let got: Vec<(&str, &str)> = added.iter().map(|c| (c.list, c.entry.as_str())).collect();
        assert_eq!(
            got,
            [
                ("reject", "bash.amd64:5.1-6ubuntu1.1"),
                ("reject", "libssl3.amd64:3.0.2-0ubuntu1.15"),
                ("approve", "openssl.amd64:3.0.2-0ubuntu1.15"),
            ]
        );
        assert_eq!(
            added[0].reason,
            "post-install hook failed on STG node(s) a at 1970-01-01 00:00:00Z"
        );
        assert_eq!(
            added[1].reason,
            "failed on STG node(s) b at 1970-01-01 00:00:00Z"
        );
        // A second run adds nothing.
        let (again, _) = plan(&mut prd, &observed, &VERIFIED, now).unwrap();
        assert!(again.is_empty());
    }

    #[test]
    fn both_failures_are_named_in_one_reason() {
        let mut both = seen(&[], &["b"]);
        both.hook_failed_on.insert("a".to_owned());
        both.hook_failed_at = Some(Timestamp::from_second(60).unwrap());
        assert_eq!(
            both.reject_reason(),
            "failed on STG node(s) b at 1970-01-01 00:00:00Z; \
             post-install hook failed on STG node(s) a at 1970-01-01 00:01:00Z"
        );
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn item(name: &str, state: &str) -> ItemEvidence {
        ItemEvidence {
            name: name.to_owned(),
            arch: "x86_64".to_owned(),
            target: "1.0-2".to_owned(),
            state: state.to_owned(),
        }
    }

    /// A node that an install at `at` moved to openssl 1.0-2, healthy since.
    fn node(host: &str, at: &str) -> NodeEvidence {
        NodeEvidence {
            host: host.to_owned(),
            latest_report: Some(1),
            latest_at: ts(at),
            latest: vec![item("openssl", "Installed")],
            installs: vec![InstallEvidence {
                report: Some(2),
                at: ts(at),
                installed: vec!["openssl-1.0-2.x86_64".to_owned()],
                failed: false,
                hook_failed: false,
                health_failed: false,
                items: vec![item("openssl", "Installed")],
                release: None,
            }],
        }
    }

    #[test]
    fn soak_approval_waits_for_enough_nodes_healthy_long_enough() {
        let healthy = Rules {
            owner: "policy",
            source: "baseline STG",
            approve: Approve::Healthy {
                nodes: 2,
                percent: None,
                soak: parse_soak("3d").unwrap(),
            },
        };
        let nodes = [
            node("a", "2025-03-01T00:00:00Z"),
            node("b", "2025-03-02T00:00:00Z"),
        ];
        let reading = Reading::observe(Family::Yum, &nodes);
        assert!(reading.skipped.is_empty());
        let approved = |now: &str| {
            let mut prd = Baseline::empty("PRD", OperatingSystem::AmazonLinux2);
            plan(&mut prd, &reading.observed, &healthy, ts(now))
                .unwrap()
                .0
        };
        // Three days after the first install only one node has soaked.
        assert!(approved("2025-03-04T00:00:00Z").is_empty());
        let added = approved("2025-03-05T00:00:00Z");
        assert_eq!(added.len(), 1);
        assert_eq!(added[0].entry, "openssl-1.0-2.x86_64");
        assert_eq!(
            added[0].reason,
            "installed on 2 STG nodes (baseline STG) without failure, for at least 3d, promoted 2025-03-05"
        );
        // A percentage of the nodes read raises the bar: 3 of 4 nodes at 75 %.
        let mut four = nodes.to_vec();
        four.push(NodeEvidence {
            latest: vec![item("openssl", "Missing")],
            ..node("c", "2025-03-01T00:00:00Z")
        });
        four.push(NodeEvidence {
            latest: vec![item("openssl", "Missing")],
            ..node("d", "2025-03-01T00:00:00Z")
        });
        let reading = Reading::observe(Family::Yum, &four);
        let mut prd = Baseline::empty("PRD", OperatingSystem::AmazonLinux2);
        let percent = Rules {
            approve: Approve::Healthy {
                nodes: 1,
                percent: Some(75),
                soak: SignedDuration::ZERO,
            },
            ..healthy.clone()
        };
        let (added, _) = plan(
            &mut prd,
            &reading.observed,
            &percent,
            ts("2025-04-01T00:00:00Z"),
        )
        .unwrap();
        assert!(added.is_empty(), "{added:?}");
        // A failure anywhere rejects, whatever the soak.
        let mut broken = nodes.to_vec();
        broken[1].latest = vec![item("openssl", "Failed")];
        let reading = Reading::observe(Family::Yum, &broken);
        let mut prd = Baseline::empty("PRD", OperatingSystem::AmazonLinux2);
        let (added, _) = plan(
            &mut prd,
            &reading.observed,
            &healthy,
            ts("2025-04-01T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(added[0].list, "reject");
    }

    #[test]
    fn pending_versions_say_when_they_will_be_approved() {
        let approve = Approve::Healthy {
            nodes: 2,
            percent: None,
            soak: parse_soak("3d").unwrap(),
        };
        let nodes = [
            node("a", "2025-03-01T00:00:00Z"),
            node("b", "2025-03-02T00:00:00Z"),
        ];
        let reading = Reading::observe(Family::Yum, &nodes);
        let prd = Baseline::empty("PRD", OperatingSystem::AmazonLinux2);
        let found = pending(&prd, &reading.observed, approve, ts("2025-03-02T00:00:00Z"));
        assert_eq!(
            found,
            [Pending {
                entry: "openssl-1.0-2.x86_64".to_owned(),
                nodes: 2,
                due_at: Some(ts("2025-03-05T00:00:00Z")),
            }]
        );
        // One node is not enough for two; rejection-only policies approve nothing.
        let one = Reading::observe(Family::Yum, &nodes[..1]);
        assert_eq!(
            pending(&prd, &one.observed, approve, ts("2025-03-02T00:00:00Z"))[0].due_at,
            None
        );
        assert_eq!(
            pending(
                &prd,
                &reading.observed,
                Approve::Never,
                ts("2025-03-02T00:00:00Z")
            )[0]
            .due_at,
            None
        );
    }

    #[test]
    fn bad_targets_are_named_and_left_out() {
        let mut bad = node("a", "2025-03-01T00:00:00Z");
        bad.latest[0].target = String::new();
        let reading = Reading::observe(Family::Yum, &[bad]);
        assert_eq!(
            reading.skipped,
            ["a: openssl.x86_64: target `` is not an rpm version"]
        );
    }

    #[test]
    fn soak_durations_read_and_print() {
        assert_eq!(parse_soak("3d").unwrap(), SignedDuration::from_hours(72));
        assert_eq!(parse_soak("1d12h").unwrap(), SignedDuration::from_hours(36));
        assert_eq!(parse_soak("90m").unwrap(), SignedDuration::from_mins(90));
        for bad in ["", "3", "d", "3w", "-1d", "400d"] {
            assert!(parse_soak(bad).is_err(), "{bad}");
        }
        assert_eq!(Soak(SignedDuration::from_hours(36)).to_string(), "1d12h");
        assert_eq!(Soak(SignedDuration::ZERO).to_string(), "0m");
    }
}
