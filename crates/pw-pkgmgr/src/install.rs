//! Installing exact target versions through the node's package manager, and checking the
//! result against the rpm database rather than the tool's output.
//!
//! The verb is "upgrade to this exact version": `dnf upgrade NEVRA…` and `yum update-to
//! NEVRA…`. Both move an installed package to exactly that version (pulling dependencies as
//! the system's configuration says), install a new kernel alongside the old ones (install-only
//! packages), and never downgrade or install a package that is not installed at all. The
//! differences between dnf and yum are confined to [`install_command`].

use std::cmp::Ordering;
use std::time::Duration;

use pw_core::nevra::Nevra;
use pw_core::version::rpm::{Evr, rpmvercmp};

use crate::command::{CommandSpec, Termination};
use crate::lock::{self, LockError, LockEvent, Operation};
use crate::rpm::{InstalledPackage, nevra_spec};
use crate::{PackageManager, Settings};

/// Bytes of stdout and stderr kept in an outcome.
pub const OUTCOME_TAIL_BYTES: usize = 16 * 1024;

/// How a package-manager run (install or metadata refresh) ended. A non-zero exit is not an
/// error here: the caller re-reads the rpm database to learn what actually changed.
#[derive(Debug, Clone)]
pub struct PackageManagerRun {
    pub argv: Vec<String>,
    pub termination: Termination,
    pub stdout_tail: String,
    pub stderr_tail: String,
    /// Time of the run that counted, lock waits excluded.
    pub duration: Duration,
    pub lock_wait: Duration,
    pub attempts: u32,
}

impl PackageManagerRun {
    pub fn success(&self) -> bool {
        self.termination.success()
    }

    pub(crate) fn from_locked(run: lock::LockedRun) -> PackageManagerRun {
        PackageManagerRun {
            stdout_tail: run.output.stdout_tail(OUTCOME_TAIL_BYTES),
            stderr_tail: run.output.stderr_tail(OUTCOME_TAIL_BYTES),
            argv: run.output.argv,
            termination: run.output.termination,
            duration: run.output.duration,
            lock_wait: run.lock_wait,
            attempts: run.attempts,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("there is nothing to install")]
    NoTargets,
    #[error("refusing to pass `{spec}` to the package manager: it is not a plain package name")]
    InvalidTarget { spec: String },
    #[error(transparent)]
    Lock(#[from] LockError),
}

/// The argv that upgrades to exactly `targets`; the one place dnf and yum differ for installs.
///
/// * dnf: `dnf -y [--installroot=R] [--releasever=V] --setopt=exit_on_lock=True
///   --setopt=best=False upgrade -- NEVRA…`
/// * yum: `yum -y [--installroot=R] [--releasever=V] --setopt=exit_on_lock=False
///   --setopt=skip_broken=True update-to -- NEVRA…`
pub fn install_command(
    settings: &Settings,
    targets: &[Nevra],
) -> Result<CommandSpec, InstallError> {
    transaction_command(settings, targets, false)
}

/// The argv that puts back exactly `targets`, older than what is installed (a rollback):
/// `dnf downgrade -- NEVRA…` / `yum downgrade -- NEVRA…`, with the options of
/// [`install_command`].
pub fn downgrade_command(
    settings: &Settings,
    targets: &[Nevra],
) -> Result<CommandSpec, InstallError> {
    transaction_command(settings, targets, true)
}

fn transaction_command(
    settings: &Settings,
    targets: &[Nevra],
    downgrade: bool,
) -> Result<CommandSpec, InstallError> {
    if targets.is_empty() {
        return Err(InstallError::NoTargets);
    }
    let specs = targets
        .iter()
        .map(|target| {
            let spec = nevra_spec(target);
            let plain = !target.name.starts_with('-')
                && !spec.contains(|c: char| c.is_whitespace() || c.is_control());
            if plain {
                Ok(spec)
            } else {
                Err(InstallError::InvalidTarget { spec })
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let verb = match (settings.package_manager, downgrade) {
        (_, true) => "downgrade",
        (PackageManager::Dnf, false) => "upgrade",
        (PackageManager::Yum, false) => "update-to",
    };
    let mut spec = package_manager_command(settings);
    // One target that cannot be installed must not stop the others: each target is
    // verified against the rpm database afterwards, and what did not install is Failed.
    // dnf: best=False lets it take what it can. yum 3: skip_broken is off by default, so
    // one target with unresolvable dependencies would cancel the whole update-to; with it
    // on, yum drops the broken targets (and what depends on them) and goes on. File
    // conflicts and signature failures still abort a yum transaction as a whole.
    spec = match settings.package_manager {
        PackageManager::Dnf => spec.arg("--setopt=best=False"),
        PackageManager::Yum => spec.arg("--setopt=skip_broken=True"),
    };
    // BLOCK: rejected packages are never installed, not even as dependencies. yum splits
    // an exclude value on commas (and dnf on commas and spaces), so a pattern with one
    // would exclude something else: refused.
    for pattern in &settings.excludes {
        if pattern.starts_with('-') || pattern.contains(|c: char| c.is_whitespace() || c == ',') {
            return Err(InstallError::InvalidTarget {
                spec: pattern.clone(),
            });
        }
        spec = spec.arg(format!("--exclude={pattern}"));
    }
    Ok(spec
        .args([verb, "--"])
        .args(specs)
        .timeout(settings.timeouts.install)
        .detached_output())
}

/// `dnf`/`yum` with the options every run gets: `-y`, the root, the release version, and
/// the lock behaviour described in [`crate::lock`].
pub(crate) fn package_manager_command(settings: &Settings) -> CommandSpec {
    let program = settings.package_manager.program();
    let exit_on_lock = match settings.package_manager {
        PackageManager::Dnf => "--setopt=exit_on_lock=True",
        PackageManager::Yum => "--setopt=exit_on_lock=False",
    };
    let mut spec = CommandSpec::new(program)
        .arg("-y")
        .args(settings.root.installroot_args())
        .kill_grace(settings.timeouts.kill_grace);
    if let Some(releasever) = &settings.releasever {
        spec = spec.arg(format!("--releasever={releasever}"));
    }
    spec.arg(exit_on_lock)
}

/// Upgrades to exactly `targets`, waiting for the package-manager lock first.
pub fn install(settings: &Settings, targets: &[Nevra]) -> Result<PackageManagerRun, InstallError> {
    install_observed(settings, targets, &mut |_| {})
}

/// Puts back exactly `targets` (older versions), waiting for the package-manager lock first.
pub fn downgrade(
    settings: &Settings,
    targets: &[Nevra],
) -> Result<PackageManagerRun, InstallError> {
    let spec = downgrade_command(settings, targets)?;
    run_transaction(settings, targets, &spec, &mut |_| {})
}

/// [`install`], reporting every lock wait to `on_lock` as it begins.
pub fn install_observed(
    settings: &Settings,
    targets: &[Nevra],
    on_lock: &mut dyn FnMut(&LockEvent),
) -> Result<PackageManagerRun, InstallError> {
    let spec = install_command(settings, targets)?;
    run_transaction(settings, targets, &spec, on_lock)
}

fn run_transaction(
    settings: &Settings,
    targets: &[Nevra],
    spec: &CommandSpec,
    on_lock: &mut dyn FnMut(&LockEvent),
) -> Result<PackageManagerRun, InstallError> {
    let lock_file = lock::lock_file(
        settings.package_manager,
        &settings.root,
        Operation::Transaction,
    );
    let run = lock::run_when_unlocked(
        settings.package_manager,
        &lock_file,
        spec,
        &settings.lock_wait,
        on_lock,
    )?;
    let run = PackageManagerRun::from_locked(run);
    tracing::info!(
        targets = targets.len(),
        termination = %run.termination,
        duration_ms = u64::try_from(run.duration.as_millis()).unwrap_or(u64::MAX),
        "package manager install finished"
    );
    Ok(run)
}

/// Where one target stands in the rpm database after an install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetState {
    /// Exactly the target version is installed.
    Installed,
    /// Something newer than the target is installed (a dependency pulled it further), and
    /// not the target itself.
    NewerInstalled(Evr),
    /// Neither the target nor anything newer: the versions of that name and arch that are
    /// installed (none if the package is absent).
    NotInstalled(Vec<Evr>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetStatus {
    pub target: Nevra,
    pub state: TargetState,
}

/// Compares targets to a freshly read inventory, matching on name and arch. Several installed
/// versions (install-only packages such as kernels) are normal.
pub fn verify(targets: &[Nevra], inventory: &[InstalledPackage]) -> Vec<TargetStatus> {
    targets
        .iter()
        .map(|target| {
            let installed: Vec<&Evr> = inventory
                .iter()
                .filter(|p| p.nevra.name == target.name && p.nevra.arch == target.arch)
                .map(|p| &p.nevra.evr)
                .collect();
            let state = if installed
                .iter()
                .any(|evr| compare_evr(evr, &target.evr).is_eq())
            {
                TargetState::Installed
            } else if let Some(newest) = installed
                .iter()
                .copied()
                .filter(|evr| compare_evr(evr, &target.evr).is_gt())
                .max_by(|a, b| compare_evr(a, b))
            {
                TargetState::NewerInstalled(newest.clone())
            } else {
                TargetState::NotInstalled(installed.into_iter().cloned().collect())
            };
            TargetStatus {
                target: target.clone(),
                state,
            }
        })
        .collect()
}

/// rpm's ordering of epoch, version, release.
fn compare_evr(left: &Evr, right: &Evr) -> Ordering {
    left.epoch
        .cmp(&right.epoch)
        .then_with(|| rpmvercmp(&left.version, &right.version))
        .then_with(|| rpmvercmp(&left.release, &right.release))
}
