//! The host agent: scan and install operations on one host, against one baseline.
//!
//! The agent asks the host's package manager to refresh its metadata cache, reads the cached
//! repository metadata and the rpm database (machine interfaces only), lets `pw-core` decide,
//! installs exactly the approved versions through dnf or yum, verifies the result against
//! the rpm database, and reboots only when something installed needs it. Its local state
//! (pending reboots, the operation in progress) survives crashes: see [`state`].
//!
//! This crate makes no patch decisions (pw-core does) and starts no processes itself
//! (pw-pkgmgr does). It takes the clock as a parameter.

mod backend;
mod catalog;
pub mod daemon;
pub mod health;
mod operation;
pub mod override_list;
pub mod reboot;
mod release;
pub mod stale;
pub mod state;
mod visibility;

use std::path::PathBuf;

use jiff::Timestamp;
use pw_api::agent::OperationReport;
use pw_core::baseline::{Baseline, Family, OperatingSystem};
use pw_core::evaluate::Evaluation;
use pw_core::nevra::Nevra;
use pw_pkgmgr::hooks::ShellCommand;
use pw_pkgmgr::{PackageManager, Root, Settings};

pub use crate::backend::HostInventory;
use crate::backend::{AptBackend, Backend, RpmBackend};
use crate::override_list::OverrideList;

/// Scan or Install.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    Scan,
    Install,
}

impl OperationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Scan => "Scan",
            OperationKind::Install => "Install",
        }
    }
}

/// What to do about reboots after an install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RebootOption {
    /// Reboot when something installed needs it, or earlier installs still wait for one.
    #[default]
    RebootIfNeeded,
    /// Never reboot; installed packages are InstalledPendingReboot until the host reboots.
    NoReboot,
}

impl RebootOption {
    pub fn as_str(self) -> &'static str {
        match self {
            RebootOption::RebootIfNeeded => "RebootIfNeeded",
            RebootOption::NoReboot => "NoReboot",
        }
    }

    pub fn parse(text: &str) -> Option<RebootOption> {
        if text.eq_ignore_ascii_case("RebootIfNeeded") {
            Some(RebootOption::RebootIfNeeded)
        } else if text.eq_ignore_ascii_case("NoReboot") {
            Some(RebootOption::NoReboot)
        } else {
            None
        }
    }
}

/// Commands run around an install.
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    /// Runs before installing; a failure stops the install.
    pub pre_install: Option<ShellCommand>,
    /// Runs after installing (before any reboot); a failure is reported.
    pub post_install: Option<ShellCommand>,
    /// Runs last, whatever happened.
    pub on_exit: Option<ShellCommand>,
}

/// Everything an operation needs.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    pub root: Root,
    pub state_dir: PathBuf,
    /// Where `/proc` is (boot time); the host's by default.
    pub proc_dir: PathBuf,
    /// Detected from `/etc/os-release` under the root when `None`.
    pub operating_system: Option<OperatingSystem>,
    pub product: Option<String>,
    pub package_manager: Option<PackageManager>,
    /// `--releasever` for the package manager, as given; when set, release handling is off
    /// (the flag decides which release's metadata is read).
    pub releasever: Option<String>,
    /// Amazon Linux 2023: the release the baseline's `[release]` chose for this operation
    /// (`Err`: it has one but none is eligible, and why); `None` when it has none.
    pub chosen_release: Option<Result<pw_core::release::ReleaseVersion, String>>,
    pub baseline: Baseline,
    pub patch_group: Option<String>,
    pub reboot_option: RebootOption,
    /// The override list and where it came from.
    pub install_override: Option<(String, OverrideList)>,
    pub hooks: Hooks,
    pub reboot_command: ShellCommand,
    /// Package names (or `prefix*`) that need a reboot, beyond the built-in list.
    pub reboot_packages: Vec<String>,
    /// Ask the package manager to refresh its cache first (`makecache`).
    pub refresh: bool,
    pub include_not_applicable: bool,
    /// The server's command id, when the operation came from one.
    pub command_id: Option<String>,
    pub hostname: Option<String>,
    /// The instant approvals are judged at; the operation's start when `None`. A window
    /// execution gives every host the same one.
    pub evaluation_instant: Option<Timestamp>,
    /// Decide on a reboot but leave running the reboot command to the caller (the daemon
    /// reports its results to the server first).
    pub defer_reboot: bool,
    /// Under a server: refuse Install commands (answered failed, nothing changed); scans run.
    pub scan_only: bool,
    /// Checks to run after an install (the server's task names them).
    pub health_checks: Vec<pw_api::server::windows::HealthCheck>,
    /// What the checks need from this node's configuration (its named commands).
    pub health: health::HealthSettings,
    /// A rollback: put back exactly these versions (keys as in `install.replaced`) instead
    /// of the baseline's targets.
    pub rollback: Vec<String>,
    /// After an install, look for processes still running deleted code (in `proc_dir`).
    pub find_stale_services: bool,
    /// Units to restart when an install leaves them running deleted code.
    pub restart_units: Vec<String>,
}

impl AgentSettings {
    /// Settings for the host itself with the documented defaults.
    pub fn new(baseline: Baseline) -> AgentSettings {
        AgentSettings {
            root: Root::host(),
            state_dir: PathBuf::from("/var/lib/patchwarden"),
            proc_dir: PathBuf::from("/proc"),
            operating_system: None,
            product: None,
            package_manager: None,
            releasever: None,
            chosen_release: None,
            baseline,
            patch_group: None,
            reboot_option: RebootOption::RebootIfNeeded,
            install_override: None,
            hooks: Hooks::default(),
            reboot_command: ShellCommand::default_reboot(),
            reboot_packages: Vec::new(),
            refresh: true,
            include_not_applicable: false,
            command_id: None,
            hostname: None,
            evaluation_instant: None,
            scan_only: false,
            defer_reboot: false,
            health_checks: Vec::new(),
            health: health::HealthSettings::default(),
            rollback: Vec::new(),
            find_stale_services: true,
            restart_units: Vec::new(),
        }
    }
}

/// How an operation ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentExit {
    /// Scan done, or install done with nothing Failed.
    Success,
    /// The pre-install hook failed; nothing was installed.
    PreInstallHookFailed,
    /// The install finished and some patches are Failed (or a hook after it failed).
    InstallFailures,
    /// A reboot was requested (the reboot command ran) and nothing failed.
    RebootRequested,
    /// A reboot was requested and some patches failed.
    RebootRequestedWithFailures,
}

/// The result of one operation.
#[derive(Debug, Clone)]
pub struct OperationOutcome {
    pub report: OperationReport,
    pub evaluation: Evaluation,
    pub exit: AgentExit,
    /// The installed packages and what the evaluation needs of the repositories, for the
    /// server's previews.
    pub inventory: Option<HostInventory>,
}

/// An operation that could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot tell the host's operating system")]
    HostOs(#[source] pw_pkgmgr::host::HostError),
    #[error("operating system `{0}` is not supported by the agent")]
    Unsupported(String),
    #[error("failed to read apt's lists: {0}")]
    AptLists(String),
    #[error("failed to read dpkg's database: {0}")]
    Dpkg(String),
    #[error("failed to read the rpm database")]
    Inventory(#[source] pw_pkgmgr::rpm::InventoryError),
    #[error("failed to locate the package manager's repository cache")]
    RepoCache(#[source] pw_pkgmgr::repo_cache::RepoCacheError),
    #[error(
        "no repository metadata is available (run without `--no-refresh`, or check the repository configuration)"
    )]
    NoRepositories,
    #[error(
        "`{program}` is not installed (not found on PATH): the agent installs and reads metadata through the host's own package manager; install `{program}`{hint}"
    )]
    PackageManagerMissing {
        program: &'static str,
        hint: &'static str,
    },
    #[error("the package manager's own query `{query}` failed: {message}")]
    Reference { query: String, message: String },
    #[error("agent state")]
    State(#[from] state::StateError),
    #[error("baseline `{baseline}` is for {baseline_os}, but the host runs {host_os}")]
    WrongOs {
        baseline: String,
        baseline_os: OperatingSystem,
        host_os: String,
    },
}

struct HostView {
    os: OperatingSystem,
    product: String,
    package_manager: Option<PackageManager>,
}

fn host_view(settings: &AgentSettings) -> Result<HostView, AgentError> {
    let known = settings.operating_system.is_some()
        && settings.product.is_some()
        && (settings.package_manager.is_some()
            || settings
                .operating_system
                .is_some_and(|os| os.family() == Family::Apt));
    let detected = if known {
        None
    } else {
        Some(pw_pkgmgr::host::host_os(&settings.root).map_err(AgentError::HostOs)?)
    };
    let os = match settings.operating_system {
        Some(os) => os,
        None => {
            let name = detected.as_ref().map_or("", |d| d.operating_system);
            OperatingSystem::parse(name).ok_or_else(|| AgentError::Unsupported(name.to_owned()))?
        }
    };
    let product = settings
        .product
        .clone()
        .or_else(|| detected.as_ref().map(|d| d.product.clone()))
        .unwrap_or_default();
    let package_manager = settings
        .package_manager
        .or_else(|| detected.as_ref().and_then(|d| d.package_manager));
    if os.family() != Family::Apt && package_manager.is_none() {
        return Err(AgentError::Unsupported(os.as_str().to_owned()));
    }
    Ok(HostView {
        os,
        product,
        package_manager,
    })
}

fn rfc3339(t: Timestamp) -> String {
    t.to_string()
}

pub(crate) const FIRST_SEEN_FILE: &str = "apt-first-seen.json";

fn backend_for(
    settings: &AgentSettings,
    host: &HostView,
    started: Timestamp,
    releasever: Option<String>,
) -> Result<Box<dyn Backend>, AgentError> {
    let family = host.os.family_for_product(&host.product);
    if family == Family::Apt {
        let first_seen_path = settings.state_dir.join(FIRST_SEEN_FILE);
        let first_seen = match fs_err::read(&first_seen_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            Err(_) => Default::default(),
        };
        let native_arch =
            pw_pkgmgr::dpkg::native_architecture().unwrap_or_else(|_| "amd64".to_owned());
        return Ok(Box::new(AptBackend {
            settings: pw_pkgmgr::apt::AptSettings::new(settings.root.clone()),
            root: settings.root.clone(),
            product: host.product.clone(),
            native_arch,
            available: Vec::new(),
            installed: Vec::new(),
            installed_debs: Vec::new(),
            first_seen,
            release_dates: Vec::new(),
            now: started,
            interrupted: None,
        }));
    }
    let package_manager = host
        .package_manager
        .ok_or_else(|| AgentError::Unsupported(host.os.as_str().to_owned()))?;
    let mut pm = Settings::new(package_manager, settings.root.clone());
    pm.releasever = releasever;
    if settings.baseline.rejected_action == pw_core::baseline::RejectedAction::Block {
        pm.excludes = settings
            .baseline
            .rejected
            .iter()
            .filter(|e| e.is_active(started))
            .map(|e| e.entry.clone())
            .collect();
    }
    let needs_dependencies = settings.baseline.rejected_action
        == pw_core::baseline::RejectedAction::Block
        && !settings.baseline.rejected.is_empty();
    Ok(Box::new(RpmBackend {
        settings: pm,
        catalog_cache_dir: settings.state_dir.join("catalog"),
        needs_dependencies,
        product: host.product.clone(),
        family,
        packages: Vec::new(),
        advisories: Vec::new(),
        installed: Vec::new(),
        hidden: crate::visibility::Hidden::default(),
        catalog: None,
        providers: Vec::new(),
        focus_notes: false,
        inventory: None,
    }))
}

/// Runs one scan or install operation. `clock` gives the current time (tests pin it).
pub fn run(
    settings: &AgentSettings,
    kind: OperationKind,
    clock: &dyn Fn() -> Timestamp,
) -> Result<OperationOutcome, AgentError> {
    operation::Operation::prepare(settings, kind, clock)?.run()
}

/// One (name, arch) on which the agent and the host's package manager disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// `name.arch`.
    pub package: String,
    /// The version the agent would install, if any.
    pub ours: Option<String>,
    /// The version the package manager would update to, if any.
    pub theirs: Option<String>,
    /// The agent's state and reason for this package.
    pub why: String,
}

/// The result of [`compare`].
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The package manager's query, as run.
    pub query: String,
    /// The baseline the agent evaluated with, as TOML.
    pub baseline_toml: String,
    /// (name.arch, version) both would install.
    pub agreed: Vec<(String, String)>,
    pub differences: Vec<Difference>,
    pub notes: Vec<String>,
}

/// The baseline equivalent to `--sec-severity=Critical --sec-severity=Important --bugfix`
/// for `os`: Security with those severities and Bugfix, both approved at once.
pub fn equivalent_baseline_toml(os: OperatingSystem) -> String {
    format!(
        r#"version = "1"
name = "package-manager-equivalent"
operating_system = "{}"
[[rules]]
classification = ["Security"]
severity = ["Critical", "Important"]
approve_after_days = 0
[[rules]]
classification = ["Bugfix"]
approve_after_days = 0
"#,
        os.as_str()
    )
}

/// `patchwarden agent compare`: scans the host (read-only) with the baseline equivalent to
/// the package manager's own security and bugfix query, runs that query on the host's own
/// tool (`pw_pkgmgr::reference`; apt: the security lines of `apt-get -s upgrade`), and lists
/// where the two disagree with the agent's reason.
pub fn compare(
    settings: &AgentSettings,
    clock: &dyn Fn() -> Timestamp,
) -> Result<Comparison, AgentError> {
    let host = host_view(settings)?;
    let apt = host.os.family() == Family::Apt;
    // Debian and Ubuntu: the default baseline is already "every security-origin update,
    // at once", which is what the simulation's security lines are.
    let baseline_toml = if apt {
        String::new()
    } else {
        equivalent_baseline_toml(host.os)
    };
    let baseline = if apt {
        pw_core::baseline::default_baseline(host.os)
    } else {
        pw_api::baseline::parse_toml(&baseline_toml)
            .map_err(|error| AgentError::Unsupported(format!("equivalent baseline: {error}")))?
            .baseline
    };
    let mut scan_settings = settings.clone();
    scan_settings.baseline = baseline;
    scan_settings.command_id = None;
    scan_settings.defer_reboot = true;
    let outcome = run(&scan_settings, OperationKind::Scan, clock)?;
    let (query, theirs): (String, std::collections::BTreeMap<String, String>) = if apt {
        let apt_settings = pw_pkgmgr::apt::AptSettings::new(settings.root.clone());
        let spec = pw_pkgmgr::apt::simulate_upgrade_command(&apt_settings)
            .map_err(|error| AgentError::AptLists(error.to_string()))?;
        let query = pw_pkgmgr::command::shell_words(&spec.argv());
        let theirs = pw_pkgmgr::apt::security_upgrades(&apt_settings).map_err(|error| {
            AgentError::Reference {
                query: query.clone(),
                message: error.to_string(),
            }
        })?;
        (query, theirs)
    } else {
        let package_manager = host
            .package_manager
            .ok_or_else(|| AgentError::Unsupported(host.os.as_str().to_owned()))?;
        let mut pm = Settings::new(package_manager, settings.root.clone());
        pm.releasever.clone_from(&settings.releasever);
        let query = pw_pkgmgr::reference::reference_commands(&pm)
            .iter()
            .map(|spec| pw_pkgmgr::command::shell_words(&spec.argv()))
            .collect::<Vec<_>>()
            .join("; ");
        let theirs = pw_pkgmgr::reference::reference_updates(&pm)
            .map_err(|error| AgentError::Reference {
                query: query.clone(),
                message: error.to_string(),
            })?
            .into_iter()
            .map(|(key, nevra)| (key, nevra.evr.to_string()))
            .collect();
        (query, theirs)
    };
    let mut ours = std::collections::BTreeMap::new();
    let mut why = std::collections::BTreeMap::new();
    for item in &outcome.evaluation.items {
        let key = item.id();
        why.insert(key.clone(), format!("{}: {}", item.state, item.reason));
        if item.state == pw_core::evaluate::PatchState::Missing
            && let Some(target) = &item.target
        {
            ours.insert(key, target.to_string());
        }
    }
    let mut comparison = Comparison {
        query,
        baseline_toml,
        agreed: Vec::new(),
        differences: Vec::new(),
        notes: outcome.report.notes.clone(),
    };
    let keys: std::collections::BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    for key in keys {
        let mine = ours.get(key).cloned();
        let other = theirs.get(key).cloned();
        if mine.is_some() && mine == other {
            comparison
                .agreed
                .push((key.clone(), mine.unwrap_or_default()));
        } else {
            comparison.differences.push(Difference {
                package: key.clone(),
                ours: mine,
                theirs: other,
                why: why
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| "not installed, so not evaluated".to_owned()),
            });
        }
    }
    Ok(comparison)
}

/// A package's identity (name, arch) from an install key: Debian's `name:arch=version`, or
/// rpm's `name-[epoch:]version-release.arch`.
fn identity(key: &str) -> Option<(String, String)> {
    if let Some(target) = pw_core::evaluate::apt::DebTarget::parse_key(key) {
        return Some((target.name, target.arch));
    }
    Nevra::parse(key).ok().map(|n| (n.name, n.arch))
}

/// Processes left running deleted code by the install; restarts the units the configuration
/// names.
fn stale_services(
    settings: &AgentSettings,
    notes: &mut Vec<String>,
) -> Vec<pw_api::agent::StaleService> {
    let apt = settings.baseline.operating_system.family() == Family::Apt;
    let root = settings.root.clone();
    let owner = move |path: &str| {
        if apt {
            pw_pkgmgr::owners::deb_owner(&root, path)
        } else {
            pw_pkgmgr::owners::rpm_owner(&root, path)
        }
    };
    let mut services = stale::scan(&settings.proc_dir, &owner);
    for service in &mut services {
        let Some(unit) = service.unit.clone() else {
            continue;
        };
        if !settings.restart_units.contains(&unit) {
            notes.push(format!(
                "{unit} still runs code the install replaced ({}); restart it to load the new version",
                service.files.join(", ")
            ));
            continue;
        }
        let spec = pw_pkgmgr::command::CommandSpec::new(settings.health.systemctl.as_str())
            .args(["restart", unit.as_str()])
            .timeout(std::time::Duration::from_secs(120));
        let restarted = pw_pkgmgr::command::run(&spec).is_ok_and(|output| output.success());
        if !restarted {
            notes.push(format!("restarting {unit} failed"));
        }
        service.restarted = Some(restarted);
    }
    services
}
