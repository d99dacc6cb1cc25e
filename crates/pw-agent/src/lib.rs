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

pub mod override_list;
pub mod reboot;
pub mod state;

use std::collections::HashSet;
use std::path::PathBuf;

use jiff::Timestamp;
use pw_api::agent::{
    AgentState, HostFacts, InstallOutcome, OperationRecord, OperationReport, RebootDecision,
};
use pw_api::evaluation::{PatchJson, SummaryJson};
use pw_core::baseline::{Baseline, OperatingSystem};
use pw_core::evaluate::{
    Catalog, Context, EvaluateOptions, Evaluation, InstalledPackage, PatchState, Reason, Snapshot,
};
use pw_core::nevra::Nevra;
use pw_core::repo::{Advisory, Package};
use pw_pkgmgr::hooks::ShellCommand;
use pw_pkgmgr::{PackageManager, Root, Settings};

use crate::override_list::OverrideList;
use crate::state::{StateStore, nevra_key, parse_nevra_key, pending_reboot};

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
    pub releasever: Option<String>,
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
}

/// An operation that could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot tell the host's operating system")]
    HostOs(#[source] pw_pkgmgr::host::HostError),
    #[error("operating system `{0}` is not managed through dnf or yum")]
    NotRpm(String),
    #[error("failed to read the rpm database")]
    Inventory(#[source] pw_pkgmgr::rpm::InventoryError),
    #[error("failed to locate the package manager's repository cache")]
    RepoCache(#[source] pw_pkgmgr::repo_cache::RepoCacheError),
    #[error("no repository metadata is available (run without `--no-refresh`, or check the repository configuration)")]
    NoRepositories,
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
    package_manager: PackageManager,
}

fn host_view(settings: &AgentSettings) -> Result<HostView, AgentError> {
    let detected = match (&settings.operating_system, &settings.product, settings.package_manager) {
        (Some(_), Some(_), Some(_)) => None,
        _ => Some(pw_pkgmgr::host::host_os(&settings.root).map_err(AgentError::HostOs)?),
    };
    let os = match settings.operating_system {
        Some(os) => os,
        None => {
            let name = detected.as_ref().map_or("", |d| d.operating_system);
            OperatingSystem::parse(name).ok_or_else(|| AgentError::NotRpm(name.to_owned()))?
        }
    };
    let product = settings
        .product
        .clone()
        .or_else(|| detected.as_ref().map(|d| d.product.clone()))
        .unwrap_or_default();
    let package_manager = settings
        .package_manager
        .or_else(|| detected.as_ref().and_then(|d| d.package_manager))
        .ok_or_else(|| AgentError::NotRpm(os.as_str().to_owned()))?;
    Ok(HostView {
        os,
        product,
        package_manager,
    })
}

/// The catalog as the package manager's cache holds it, plus notes on what was skipped.
fn load_catalog(
    settings: &AgentSettings,
    pm: &Settings,
    notes: &mut Vec<String>,
) -> Result<(Vec<Package>, Vec<Advisory>), AgentError> {
    if settings.refresh {
        match pw_pkgmgr::repo_cache::refresh(pm, false) {
            Ok(run) if run.success() => {}
            Ok(run) => notes.push(format!(
                "`{}` failed ({}); using the metadata already cached: {}",
                run.argv.join(" "),
                run.termination,
                run.stderr_tail.trim()
            )),
            Err(error) => notes.push(format!("refreshing the metadata cache failed: {error}")),
        }
    }
    let repositories = pw_pkgmgr::repo_cache::cached_repositories(pm).map_err(AgentError::RepoCache)?;
    let mut packages = Vec::new();
    let mut advisories = Vec::new();
    let mut n_loaded = 0;
    for repository in repositories {
        let Some(cache) = repository.cache else {
            notes.push(format!("repository `{}` has no cached metadata; skipped", repository.id));
            continue;
        };
        let loaded = match cache.layout {
            pw_pkgmgr::repo_cache::CacheLayout::Dnf => pw_repo::load_dir(&cache.dir),
            pw_pkgmgr::repo_cache::CacheLayout::Yum => pw_repo::load_flat_dir(&cache.dir),
        };
        match loaded {
            Ok(repo) => {
                for diagnostic in repo.diagnostics.iter().take(20) {
                    notes.push(format!("{}: {diagnostic}", repository.id));
                }
                packages.extend(repo.packages);
                advisories.extend(repo.advisories);
                n_loaded += 1;
            }
            Err(error) => notes.push(format!("repository `{}`: {error}", repository.id)),
        }
    }
    if n_loaded == 0 {
        return Err(AgentError::NoRepositories);
    }
    Ok((packages, advisories))
}

fn rfc3339(t: Timestamp) -> String {
    t.to_string()
}

/// Runs one scan or install operation. `clock` gives the current time (tests pin it).
pub fn run(
    settings: &AgentSettings,
    kind: OperationKind,
    clock: &dyn Fn() -> Timestamp,
) -> Result<OperationOutcome, AgentError> {
    let started = clock();
    let operation_id = format!("{}-{}", started.as_millisecond(), std::process::id());
    let host = host_view(settings)?;
    if host.os != settings.baseline.operating_system {
        return Err(AgentError::WrongOs {
            baseline: settings.baseline.name.clone(),
            baseline_os: settings.baseline.operating_system,
            host_os: host.os.as_str().to_owned(),
        });
    }
    let mut pm = Settings::new(host.package_manager, settings.root.clone());
    pm.releasever.clone_from(&settings.releasever);
    if settings.baseline.rejected_action == pw_core::baseline::RejectedAction::Block {
        let now = started;
        pm.excludes = settings
            .baseline
            .rejected
            .iter()
            .filter(|e| e.is_active(now))
            .map(|e| e.entry.clone())
            .collect();
    }
    let store = StateStore::new(&settings.state_dir);
    let mut state = store.load()?;
    let mut notes = Vec::new();
    let boot_time = match pw_pkgmgr::host::boot_time(&settings.proc_dir) {
        Ok(t) => Some(t),
        Err(error) => {
            notes.push(format!("boot time unknown ({error}); pending reboots are kept"));
            None
        }
    };

    let (packages, advisories) = load_catalog(settings, &pm, &mut notes)?;
    let installed = pw_pkgmgr::rpm::installed_packages(&pm).map_err(AgentError::Inventory)?;
    recover_interrupted(&mut state, &installed, boot_time, &mut notes, &settings.reboot_packages);

    let context = Context {
        product: host.product.clone(),
        family: host.os.family_for_product(&host.product),
        // One instant for the whole operation, so the re-scan after an install judges by
        // the same approvals as the install did.
        now: started,
    };
    let snapshot = Snapshot::build(
        &settings.baseline,
        Catalog {
            packages: &packages,
            advisories: &advisories,
        },
        context,
    );
    let options = EvaluateOptions {
        include_not_applicable: settings.include_not_applicable,
    };
    let pending_before = pending_reboot(&state, boot_time);
    let evaluation = snapshot.evaluate(&installed, &pending_before, &options);
    let facts = HostFacts {
        hostname: settings.hostname.clone(),
        operating_system: host.os.as_str().to_owned(),
        product: host.product.clone(),
        boot_time: boot_time.map(rfc3339),
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
    };

    let outcome = match kind {
        OperationKind::Scan => {
            let report = build_report(settings, kind, &operation_id, started, clock(), facts, &state, &evaluation, None, None, notes);
            OperationOutcome {
                report,
                evaluation,
                exit: AgentExit::Success,
            }
        }
        OperationKind::Install => install(
            settings,
            &pm,
            &store,
            &mut state,
            &snapshot,
            &packages,
            InstallInputs {
                operation_id: &operation_id,
                started,
                installed: &installed,
                pending_before: &pending_before,
                evaluation,
                options: &options,
                facts,
            },
            notes,
            clock,
        )?,
    };
    state.last_operation = Some(OperationRecord {
        id: operation_id,
        operation: kind.as_str().to_owned(),
        started_at: rfc3339(started),
        ended_at: Some(outcome.report.ended_at.clone()),
        phase: "done".to_owned(),
        targets: Vec::new(),
        reboot_option: settings.reboot_option.as_str().to_owned(),
        command_id: settings.command_id.clone(),
    });
    if let Some(command_id) = &settings.command_id
        && !state.executed_commands.contains(command_id)
    {
        state.executed_commands.push(command_id.clone());
        let excess = state.executed_commands.len().saturating_sub(200);
        state.executed_commands.drain(..excess);
    }
    store.save(&state)?;
    Ok(outcome)
}

/// An install interrupted earlier (killed, power loss): say so, and keep its installed
/// packages pending a reboot when they need one and the host has not rebooted since.
fn recover_interrupted(
    state: &mut AgentState,
    installed: &[InstalledPackage],
    boot_time: Option<Timestamp>,
    notes: &mut Vec<String>,
    reboot_packages: &[String],
) {
    let Some(record) = state.in_progress.take() else {
        return;
    };
    notes.push(format!(
        "the previous install operation {} (started {}) was interrupted while {}; its results were re-read from the rpm database",
        record.id, record.started_at, record.phase
    ));
    let started = record.started_at.parse::<Timestamp>().ok();
    let rebooted_since = matches!((boot_time, started), (Some(boot), Some(start)) if boot > start);
    if rebooted_since {
        return;
    }
    let installed_set: HashSet<&Nevra> = installed.iter().map(|p| &p.nevra).collect();
    let done: Vec<Nevra> = record
        .targets
        .iter()
        .filter_map(|k| parse_nevra_key(k))
        .filter(|n| installed_set.contains(n))
        .collect();
    let needing: Vec<Nevra> = if record.reboot_option == RebootOption::NoReboot.as_str() {
        done
    } else {
        done.into_iter()
            .filter(|n| !reboot::reboot_reasons(std::slice::from_ref(n), &[], &[], reboot_packages).is_empty())
            .collect()
    };
    if needing.is_empty() {
        return;
    }
    for nevra in &needing {
        let key = nevra_key(nevra);
        if !state.pending_reboot.contains(&key) {
            state.pending_reboot.push(key);
        }
    }
    state.last_no_reboot_install_time = Some(record.started_at);
}

struct InstallInputs<'a> {
    operation_id: &'a str,
    started: Timestamp,
    installed: &'a [InstalledPackage],
    pending_before: &'a [Nevra],
    evaluation: Evaluation,
    options: &'a EvaluateOptions,
    facts: HostFacts,
}

/// The override list's targets: per installed (name, arch), the highest available version
/// on the list that is newer than what is installed.
fn override_targets(list: &OverrideList, packages: &[Package], installed: &[InstalledPackage]) -> Vec<Nevra> {
    let mut targets: Vec<Nevra> = Vec::new();
    for package in installed {
        let best = packages
            .iter()
            .filter(|p| {
                p.nevra.name == package.nevra.name
                    && p.nevra.arch == package.nevra.arch
                    && p.nevra.evr > package.nevra.evr
                    && list.matches(&p.nevra)
            })
            .map(|p| &p.nevra)
            .max_by(|a, b| a.evr.cmp(&b.evr));
        if let Some(best) = best
            && !targets.iter().any(|t| t.name == best.name && t.arch == best.arch)
        {
            targets.push(best.clone());
        }
    }
    targets
}

fn hook_env<'a>(operation_id: &'a str, phase: &'a str) -> [(&'a str, &'a str); 2] {
    [("PATCHWARDEN_OPERATION_ID", operation_id), ("PATCHWARDEN_PHASE", phase)]
}

fn run_hook(name: &str, hook: Option<&ShellCommand>, operation_id: &str, notes: &mut Vec<String>) -> bool {
    let Some(hook) = hook else { return true };
    match pw_pkgmgr::hooks::run_hook(hook, hook_env(operation_id, name)) {
        Ok(output) if output.success() => true,
        Ok(output) => {
            notes.push(format!(
                "{name} hook `{}` failed ({}): {}",
                hook.command,
                output.termination,
                output.stderr_tail(2000).trim()
            ));
            false
        }
        Err(error) => {
            notes.push(format!("{name} hook `{}` could not run: {error}", hook.command));
            false
        }
    }
}

#[expect(clippy::too_many_arguments, reason = "one call site; the pieces are the operation's context")]
fn install(
    settings: &AgentSettings,
    pm: &Settings,
    store: &StateStore,
    state: &mut AgentState,
    snapshot: &Snapshot<'_>,
    packages: &[Package],
    inputs: InstallInputs<'_>,
    mut notes: Vec<String>,
    clock: &dyn Fn() -> Timestamp,
) -> Result<OperationOutcome, AgentError> {
    let InstallInputs {
        operation_id,
        started,
        installed,
        pending_before,
        evaluation,
        options,
        facts,
    } = inputs;
    let targets = match &settings.install_override {
        Some((_, list)) => override_targets(list, packages, installed),
        None => evaluation.install_targets(),
    };

    let mut install_outcome = InstallOutcome {
        requested: targets.iter().map(ToString::to_string).collect(),
        ..InstallOutcome::default()
    };
    let mut after = installed.to_vec();
    if !targets.is_empty() {
        if !run_hook("pre-install", settings.hooks.pre_install.as_ref(), operation_id, &mut notes) {
            run_hook("on-exit", settings.hooks.on_exit.as_ref(), operation_id, &mut notes);
            let report = build_report(settings, OperationKind::Install, operation_id, started, clock(), facts, state, &evaluation, Some(install_outcome), None, notes);
            return Ok(OperationOutcome {
                report,
                evaluation,
                exit: AgentExit::PreInstallHookFailed,
            });
        }
        state.in_progress = Some(OperationRecord {
            id: operation_id.to_owned(),
            operation: OperationKind::Install.as_str().to_owned(),
            started_at: rfc3339(started),
            ended_at: None,
            phase: "installing".to_owned(),
            targets: targets.iter().map(nevra_key).collect(),
            reboot_option: settings.reboot_option.as_str().to_owned(),
            command_id: settings.command_id.clone(),
        });
        store.save(state)?;
        match pw_pkgmgr::install::install(pm, &targets) {
            Ok(run) => {
                install_outcome.package_manager_exit = run.termination.exit_code();
                if !run.success() {
                    install_outcome.package_manager_output_tail = Some(format!("{}\n{}", run.stdout_tail, run.stderr_tail));
                    notes.push(format!("`{}` ended with {}", run.argv.join(" "), run.termination));
                }
            }
            Err(error) => notes.push(format!("the install could not run: {error}")),
        }
        after = match pw_pkgmgr::rpm::installed_packages(pm) {
            Ok(after) => after,
            Err(error) => {
                // The transaction may have happened; keep the in-progress record so the
                // next run re-reads the database and recovers.
                return Err(AgentError::Inventory(error));
            }
        };
        if let Some(record) = state.in_progress.as_mut() {
            record.phase = "verifying".to_owned();
        }
        store.save(state)?;
    }
    let before: HashSet<&Nevra> = installed.iter().map(|p| &p.nevra).collect();
    let installed_now: Vec<Nevra> = after
        .iter()
        .filter(|p| !before.contains(&p.nevra))
        .map(|p| p.nevra.clone())
        .collect();
    for status in pw_pkgmgr::install::verify(&targets, &after) {
        match status.state {
            pw_pkgmgr::install::TargetState::NotInstalled(_) => install_outcome.failed.push(status.target.to_string()),
            _ => install_outcome.installed.push(status.target.to_string()),
        }
    }
    let mut hooks_ok = true;
    if !targets.is_empty() {
        hooks_ok = run_hook("post-install", settings.hooks.post_install.as_ref(), operation_id, &mut notes);
    }

    // Decide on reboots, then record pending ones.
    let probe = snapshot.evaluate(&after, &[], options);
    let reasons = match settings.reboot_option {
        RebootOption::RebootIfNeeded => {
            reboot::reboot_reasons(&installed_now, &probe.items, pending_before, &settings.reboot_packages)
        }
        RebootOption::NoReboot => Vec::new(),
    };
    let now = clock();
    let mut pending: Vec<Nevra> = pending_before.to_vec();
    let record_pending = match settings.reboot_option {
        RebootOption::NoReboot => true,
        // About to reboot: keep the record in case the reboot command fails.
        RebootOption::RebootIfNeeded => !reasons.is_empty(),
    };
    if record_pending && !installed_now.is_empty() {
        for nevra in &installed_now {
            if !pending.contains(nevra) {
                pending.push(nevra.clone());
            }
        }
        state.last_no_reboot_install_time = Some(rfc3339(now));
    }
    state.pending_reboot = pending.iter().map(nevra_key).collect();
    state.in_progress = None;
    store.save(state)?;

    // The report: pending reboots show only when no reboot is coming (as in the original).
    let report_pending: &[Nevra] = if reasons.is_empty() { &pending } else { &[] };
    let rescan = snapshot.evaluate(&after, report_pending, options);
    let final_evaluation = match &settings.install_override {
        None => rescan.into_install_report(),
        Some(_) => mark_override_failures(rescan, &targets, &install_outcome.failed),
    };
    let failures = final_evaluation.summary.failed > 0 || !hooks_ok;

    let mut reboot_decision = None;
    if !reasons.is_empty() {
        let mut decision = RebootDecision {
            reasons: reasons.clone(),
            command: settings.reboot_command.command.clone(),
            exit_code: None,
        };
        match pw_pkgmgr::hooks::reboot(&settings.reboot_command, hook_env(operation_id, "reboot")) {
            Ok(output) => decision.exit_code = output.termination.exit_code(),
            Err(error) => notes.push(format!("the reboot command failed: {error}")),
        }
        reboot_decision = Some(decision);
    }
    run_hook("on-exit", settings.hooks.on_exit.as_ref(), operation_id, &mut notes);
    let exit = match (reboot_decision.is_some(), failures) {
        (true, false) => AgentExit::RebootRequested,
        (true, true) => AgentExit::RebootRequestedWithFailures,
        (false, true) => AgentExit::InstallFailures,
        (false, false) => AgentExit::Success,
    };
    let report = build_report(
        settings,
        OperationKind::Install,
        operation_id,
        started,
        clock(),
        facts,
        state,
        &final_evaluation,
        Some(install_outcome),
        reboot_decision,
        notes,
    );
    Ok(OperationOutcome {
        report,
        evaluation: final_evaluation,
        exit,
    })
}

/// With an override list: override targets that did not install are Failed; everything
/// else keeps its scan state.
fn mark_override_failures(mut evaluation: Evaluation, targets: &[Nevra], failed: &[String]) -> Evaluation {
    for item in &mut evaluation.items {
        let failed_target = targets
            .iter()
            .any(|t| t.name == item.name && t.arch == item.arch && failed.contains(&t.to_string()));
        if failed_target {
            item.state = PatchState::Failed;
            item.reason = Reason::InstallFailed;
        }
    }
    let not_applicable = evaluation.summary.not_applicable;
    evaluation.items.sort_by(|a, b| a.state.cmp(&b.state).then_with(|| a.name.cmp(&b.name)).then_with(|| a.arch.cmp(&b.arch)));
    evaluation.summary = pw_core::evaluate::summarise(&evaluation.items, not_applicable);
    evaluation
}

#[expect(clippy::too_many_arguments, reason = "assembles one report from its parts")]
fn build_report(
    settings: &AgentSettings,
    kind: OperationKind,
    operation_id: &str,
    started: Timestamp,
    ended: Timestamp,
    host: HostFacts,
    state: &AgentState,
    evaluation: &Evaluation,
    install: Option<InstallOutcome>,
    reboot: Option<RebootDecision>,
    notes: Vec<String>,
) -> OperationReport {
    OperationReport {
        operation_id: operation_id.to_owned(),
        operation: kind.as_str().to_owned(),
        started_at: rfc3339(started),
        ended_at: rfc3339(ended),
        host,
        patch_group: settings.patch_group.clone(),
        baseline: settings.baseline.name.clone(),
        reboot_option: settings.reboot_option.as_str().to_owned(),
        install_override_list: settings.install_override.as_ref().map(|(source, _)| source.clone()),
        last_no_reboot_install_time: state.last_no_reboot_install_time.clone(),
        install,
        reboot,
        notes,
        summary: SummaryJson::from_core(&evaluation.baseline, evaluation.evaluated_at, &evaluation.summary),
        patches: evaluation.items.iter().map(PatchJson::from_core).collect(),
    }
}
