//! One scan or install, as one value: the settings it was asked with, the backend it reads
//! and installs through, the state it keeps on disk, the notes it gathers and the clock it
//! reads. Each step of an install is a method, so a new step has an obvious place and the
//! values every step needs are not passed from function to function.

use std::collections::HashSet;

use jiff::Timestamp;
use pw_api::agent::{
    AgentState, HookFailure, HostFacts, InstallOutcome, OperationRecord, OperationReport,
    RebootDecision,
};
use pw_api::evaluation::{PatchJson, SummaryJson};
use pw_core::baseline::Family;
use pw_core::evaluate::{EvaluateOptions, Evaluation};
use pw_core::nevra::Nevra;
use pw_pkgmgr::Settings;
use pw_pkgmgr::hooks::ShellCommand;

use crate::backend::Backend;
use crate::state::{StateStore, pending_reboot};
use crate::{
    AgentError, AgentExit, AgentSettings, OperationKind, OperationOutcome, RebootOption,
    backend_for, health, host_view, identity, release, rfc3339, stale_services,
};

/// How many executed command ids the state keeps (a command is run at most once).
const EXECUTED_COMMANDS_KEPT: usize = 200;

/// One operation in progress.
pub(crate) struct Operation<'a> {
    settings: &'a AgentSettings,
    kind: OperationKind,
    clock: &'a dyn Fn() -> Timestamp,
    id: String,
    started: Timestamp,
    /// One instant for the whole operation, so the re-scan after an install judges by the
    /// same approvals as the install did.
    instant: Timestamp,
    options: EvaluateOptions,
    backend: Box<dyn Backend>,
    store: StateStore,
    state: AgentState,
    /// Packages waiting for a reboot when the operation started.
    pending_before: Vec<String>,
    facts: HostFacts,
    release: Option<release::ReleaseContext>,
    notes: Vec<String>,
}

/// What an install changed in the package database.
struct Changes {
    /// Keys installed by this operation, sorted.
    installed: Vec<String>,
    /// Versions gone since, of the packages the install put on, sorted.
    replaced: Vec<String>,
}

impl<'a> Operation<'a> {
    /// Reads the host: its operating system, release, package database, repository
    /// metadata and the agent's own state; recovers an interrupted install.
    pub(crate) fn prepare(
        settings: &'a AgentSettings,
        kind: OperationKind,
        clock: &'a dyn Fn() -> Timestamp,
    ) -> Result<Self, AgentError> {
        let started = clock();
        let id = format!("{}-{}", started.as_millisecond(), std::process::id());
        let host = host_view(settings)?;
        if host.os != settings.baseline.operating_system {
            return Err(AgentError::WrongOs {
                baseline: settings.baseline.name.clone(),
                baseline_os: settings.baseline.operating_system,
                host_os: host.os.as_str().to_owned(),
            });
        }
        let apt = host.os.family() == Family::Apt;
        let mut notes = Vec::new();
        let release = match (host.package_manager, &settings.releasever) {
            (Some(package_manager), None) => release::ReleaseContext::new(
                host.os,
                &Settings::new(package_manager, settings.root.clone()),
                settings.chosen_release.as_ref(),
                &mut notes,
            ),
            _ => None,
        };
        let releasever = match &release {
            Some(context) => context.releasever(),
            None => settings.releasever.clone(),
        };
        let mut backend = backend_for(settings, &host, started, releasever)?;
        let store = StateStore::new(&settings.state_dir);
        let mut state = store.load()?;
        notes.extend(store.take_recovery_note());
        let boot_time = match pw_pkgmgr::host::boot_time(&settings.proc_dir) {
            Ok(t) => Some(t),
            Err(error) => {
                notes.push(format!(
                    "boot time unknown ({error}); pending reboots are kept"
                ));
                None
            }
        };

        // On apt hosts a scan is read-only: it uses the lists apt already has.
        if settings.refresh && !(apt && kind == OperationKind::Scan) {
            backend.refresh(&mut notes);
        }
        backend.load_catalog(&mut notes)?;
        backend.read_inventory(&mut notes)?;
        recover_interrupted(
            &mut state,
            backend.as_ref(),
            boot_time,
            &mut notes,
            &settings.reboot_packages,
        );
        let pending_before = pending_reboot(&state, boot_time);
        let facts = HostFacts {
            hostname: settings.hostname.clone(),
            operating_system: host.os.as_str().to_owned(),
            product: host.product.clone(),
            boot_time: boot_time.map(rfc3339),
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            release: None,
        };
        Ok(Operation {
            settings,
            kind,
            clock,
            id,
            started,
            instant: settings.evaluation_instant.unwrap_or(started),
            options: EvaluateOptions {
                include_not_applicable: settings.include_not_applicable,
            },
            backend,
            store,
            state,
            pending_before,
            facts,
            release,
            notes,
        })
    }

    /// Runs the operation and records it in the agent's state.
    pub(crate) fn run(mut self) -> Result<OperationOutcome, AgentError> {
        let evaluation = self.evaluate(&self.pending_before);
        let outcome = match self.kind {
            OperationKind::Scan => {
                let report = self.report(&evaluation, None, None);
                OperationOutcome {
                    report,
                    evaluation,
                    exit: AgentExit::Success,
                    inventory: None,
                }
            }
            OperationKind::Install => self.install(evaluation)?,
        };
        self.finish(outcome)
    }

    /// The baseline's verdict on the host as the backend sees it now.
    fn evaluate(&self, pending: &[String]) -> Evaluation {
        self.backend.evaluate(
            &self.settings.baseline,
            self.instant,
            pending,
            &self.options,
        )
    }

    /// The report of this operation, with the notes gathered so far.
    fn report(
        &mut self,
        evaluation: &Evaluation,
        install: Option<InstallOutcome>,
        reboot: Option<RebootDecision>,
    ) -> OperationReport {
        let settings = self.settings;
        OperationReport {
            operation_id: self.id.clone(),
            operation: self.kind.as_str().to_owned(),
            started_at: rfc3339(self.started),
            ended_at: rfc3339((self.clock)()),
            host: self.facts.clone(),
            patch_group: settings.patch_group.clone(),
            baseline: settings.baseline.name.clone(),
            reboot_option: settings.reboot_option.as_str().to_owned(),
            install_override_list: settings
                .install_override
                .as_ref()
                .map(|(source, _)| source.clone()),
            last_no_reboot_install_time: self.state.last_no_reboot_install_time.clone(),
            install,
            reboot,
            notes: std::mem::take(&mut self.notes),
            release: None,
            summary: SummaryJson::from_core(
                &evaluation.baseline,
                evaluation.evaluated_at,
                &evaluation.summary,
            ),
            patches: evaluation.items.iter().map(PatchJson::from_core).collect(),
        }
    }

    /// This operation as the state records it, in `phase`.
    fn record(
        &self,
        phase: &str,
        ended_at: Option<String>,
        targets: Vec<String>,
    ) -> OperationRecord {
        OperationRecord {
            id: self.id.clone(),
            operation: self.kind.as_str().to_owned(),
            started_at: rfc3339(self.started),
            ended_at,
            phase: phase.to_owned(),
            targets,
            reboot_option: self.settings.reboot_option.as_str().to_owned(),
            command_id: self.settings.command_id.clone(),
        }
    }

    /// Runs a hook (if configured); on failure notes it and returns what failed.
    fn hook(&mut self, phase: &str, hook: Option<&ShellCommand>) -> Option<HookFailure> {
        let hook = hook?;
        match pw_pkgmgr::hooks::run_hook(hook, hook_env(&self.id, phase)) {
            Ok(output) if output.success() => None,
            Ok(output) => {
                self.notes.push(format!(
                    "{phase} hook `{}` failed ({}): {}",
                    hook.command,
                    output.termination,
                    output.stderr_tail(2000).trim()
                ));
                Some(HookFailure {
                    command: hook.command.clone(),
                    exit_code: output.termination.exit_code(),
                    termination: output.termination.to_string(),
                })
            }
            Err(error) => {
                self.notes.push(format!(
                    "{phase} hook `{}` could not run: {error}",
                    hook.command
                ));
                Some(HookFailure {
                    command: hook.command.clone(),
                    exit_code: None,
                    termination: format!("could not run: {error}"),
                })
            }
        }
    }

    /// Install: the approved targets (or the rollback's), checks after the install, the
    /// reboot decision, and the report of the host as it is afterwards.
    fn install(&mut self, evaluation: Evaluation) -> Result<OperationOutcome, AgentError> {
        let settings = self.settings;
        let override_list = settings.install_override.as_ref().map(|(_, list)| list);
        let rolling_back = !settings.rollback.is_empty();
        let targets = if rolling_back {
            self.notes.push(format!(
                "rollback: putting back {}",
                settings.rollback.join(", ")
            ));
            settings.rollback.clone()
        } else {
            self.backend.targets(&evaluation, override_list)
        };
        let mut outcome = InstallOutcome {
            requested: targets.clone(),
            ..InstallOutcome::default()
        };
        let before = self.backend.installed_keys();
        if !targets.is_empty() {
            if self
                .hook("pre-install", settings.hooks.pre_install.as_ref())
                .is_some()
            {
                self.hook("on-exit", settings.hooks.on_exit.as_ref());
                let report = self.report(&evaluation, Some(outcome), None);
                return Ok(OperationOutcome {
                    report,
                    evaluation,
                    exit: AgentExit::PreInstallHookFailed,
                    inventory: None,
                });
            }
            self.apply(&targets, rolling_back, &mut outcome)?;
        }
        let changes = changes(&before, &self.backend.installed_keys());
        outcome.replaced = changes.replaced;
        let (verified, failed) = self.backend.verify(&targets, &mut self.notes);
        outcome.installed = verified;
        outcome.failed = failed;
        if let Some(context) = self.release.as_mut()
            && let Some(pm) = self.backend.package_manager_settings()
        {
            context.after_install(
                pm,
                &settings.baseline,
                &outcome,
                override_list.is_some(),
                &mut self.notes,
            );
        }
        let checks_passed = targets.is_empty() || self.check(&changes.installed, &mut outcome);

        let reasons = self.reboot_reasons(&changes.installed);
        let pending = self.record_pending(&changes.installed, &reasons)?;

        // The report: pending reboots show only when no reboot is coming (as in the original).
        let report_pending: &[String] = if reasons.is_empty() { &pending } else { &[] };
        let rescan = self.evaluate(report_pending);
        let evaluation = match override_list {
            // A rollback puts the host behind its baseline on purpose: what it put back is
            // Missing again, not Failed.
            _ if rolling_back => rescan,
            None => rescan.into_install_report(),
            Some(_) => mark_override_failures(rescan, &outcome.failed),
        };
        let failures = evaluation.summary.failed > 0
            || !checks_passed
            || (rolling_back && !outcome.failed.is_empty());

        let reboot = self.reboot(reasons);
        self.hook("on-exit", settings.hooks.on_exit.as_ref());
        let exit = match (reboot.is_some(), failures) {
            (true, false) => AgentExit::RebootRequested,
            (true, true) => AgentExit::RebootRequestedWithFailures,
            (false, true) => AgentExit::InstallFailures,
            (false, false) => AgentExit::Success,
        };
        let report = self.report(&evaluation, Some(outcome), reboot);
        Ok(OperationOutcome {
            report,
            evaluation,
            exit,
            inventory: None,
        })
    }

    /// Journals the install, runs the package manager and re-reads the package database.
    /// The journal entry stays until the install is judged: a run killed in between leaves
    /// it for the next run to recover from.
    fn apply(
        &mut self,
        targets: &[String],
        rolling_back: bool,
        outcome: &mut InstallOutcome,
    ) -> Result<(), AgentError> {
        self.state.in_progress = Some(self.record("installing", None, targets.to_vec()));
        self.store.save(&self.state)?;
        let run = if rolling_back {
            self.backend.downgrade(targets, &mut self.notes)
        } else {
            self.backend.install(targets, &mut self.notes)
        };
        outcome.package_manager_exit = run.exit_code;
        outcome.package_manager_output_tail = run.output_tail;
        // If this fails the transaction may have happened: the in-progress record stays,
        // and the next run re-reads the database and recovers.
        self.backend.read_inventory(&mut self.notes)?;
        if let Some(record) = self.state.in_progress.as_mut() {
            record.phase = "verifying".to_owned();
        }
        self.store.save(&self.state)?;
        Ok(())
    }

    /// The checks after an install: the post-install hook, the health checks and the scan
    /// for services left running replaced code. False when a hook or check failed.
    fn check(&mut self, installed: &[String], outcome: &mut InstallOutcome) -> bool {
        let settings = self.settings;
        outcome.post_install_hook_failure =
            self.hook("post-install", settings.hooks.post_install.as_ref());
        let mut passed = outcome.post_install_hook_failure.is_none();
        if !settings.health_checks.is_empty() {
            outcome.health_checks = health::run_checks(
                &settings.health_checks,
                &settings.health,
                &hook_env(&self.id, "health-check"),
                &mut self.notes,
            );
            passed &= outcome.failed_health_check().is_none();
        }
        if settings.find_stale_services && !installed.is_empty() {
            outcome.stale_services = stale_services(settings, &mut self.notes);
        }
        passed
    }

    /// Why the host must reboot now; empty when it need not (or must not).
    fn reboot_reasons(&self, installed: &[String]) -> Vec<String> {
        match self.settings.reboot_option {
            RebootOption::RebootIfNeeded => {
                let probe = self.evaluate(&[]);
                self.backend.reboot_reasons(
                    installed,
                    &probe,
                    &self.pending_before,
                    &self.settings.reboot_packages,
                )
            }
            RebootOption::NoReboot => Vec::new(),
        }
    }

    /// Records what now waits for a reboot and closes the journal entry; returns the
    /// pending keys.
    fn record_pending(
        &mut self,
        installed: &[String],
        reasons: &[String],
    ) -> Result<Vec<String>, AgentError> {
        let now = (self.clock)();
        let mut pending = self.pending_before.clone();
        let record = match self.settings.reboot_option {
            RebootOption::NoReboot => true,
            // About to reboot: keep the record in case the reboot command fails.
            RebootOption::RebootIfNeeded => !reasons.is_empty(),
        };
        if record && !installed.is_empty() {
            for key in installed {
                if !pending.contains(key) {
                    pending.push(key.clone());
                }
            }
            self.state.last_no_reboot_install_time = Some(rfc3339(now));
        }
        self.state.pending_reboot.clone_from(&pending);
        self.state.in_progress = None;
        self.store.save(&self.state)?;
        Ok(pending)
    }

    /// Reboots for `reasons` (unless the reboot is deferred to the daemon, which reboots
    /// once the report is delivered).
    fn reboot(&mut self, reasons: Vec<String>) -> Option<RebootDecision> {
        if reasons.is_empty() {
            return None;
        }
        let settings = self.settings;
        let mut decision = RebootDecision {
            reasons,
            command: settings.reboot_command.command.clone(),
            exit_code: None,
        };
        if !settings.defer_reboot {
            match pw_pkgmgr::hooks::reboot(&settings.reboot_command, hook_env(&self.id, "reboot")) {
                Ok(output) => decision.exit_code = output.termination.exit_code(),
                Err(error) => self
                    .notes
                    .push(format!("the reboot command failed: {error}")),
            }
        }
        Some(decision)
    }

    /// Records the operation (and its command) in the state, saves it, and completes the
    /// outcome with the release and the inventory.
    fn finish(mut self, outcome: OperationOutcome) -> Result<OperationOutcome, AgentError> {
        let settings = self.settings;
        self.state.last_operation =
            Some(self.record("done", Some(outcome.report.ended_at.clone()), Vec::new()));
        if let Some(command_id) = &settings.command_id
            && !self.state.executed_commands.contains(command_id)
        {
            self.state.executed_commands.push(command_id.clone());
            let excess = self
                .state
                .executed_commands
                .len()
                .saturating_sub(EXECUTED_COMMANDS_KEPT);
            self.state.executed_commands.drain(..excess);
        }
        let mut report = outcome.report;
        if let Some(context) = &self.release {
            report.host.release = Some(context.current());
            report.release = Some(context.report());
        }
        // A scan must work where the state directory is not writable (an unprivileged user
        // trying the agent out); an install must record its state.
        let saved = self
            .store
            .save(&self.state)
            .and_then(|()| self.backend.save_extra(&settings.state_dir));
        match saved {
            Ok(()) => {}
            Err(error) if self.kind == OperationKind::Scan => {
                report
                    .notes
                    .push(format!("the agent state was not saved: {error}"));
            }
            Err(error) => return Err(error.into()),
        }
        let inventory = self.backend.inventory_upload();
        Ok(OperationOutcome {
            report,
            inventory,
            ..outcome
        })
    }
}

/// What the install changed, from the package database before and after.
fn changes(before: &HashSet<String>, after: &HashSet<String>) -> Changes {
    let mut installed: Vec<String> = after.difference(before).cloned().collect();
    installed.sort();
    let touched: HashSet<(String, String)> = installed.iter().filter_map(|k| identity(k)).collect();
    let mut replaced: Vec<String> = before
        .difference(after)
        .filter(|k| identity(k).is_some_and(|id| touched.contains(&id)))
        .cloned()
        .collect();
    replaced.sort();
    Changes {
        installed,
        replaced,
    }
}

/// The environment a hook runs with.
pub(crate) fn hook_env<'a>(operation_id: &'a str, phase: &'a str) -> [(&'a str, &'a str); 2] {
    [
        ("PATCHWARDEN_OPERATION_ID", operation_id),
        ("PATCHWARDEN_PHASE", phase),
    ]
}

/// An install interrupted earlier (killed, power loss): say so, and keep its installed
/// packages pending a reboot when they need one and the host has not rebooted since.
fn recover_interrupted(
    state: &mut AgentState,
    backend: &dyn Backend,
    boot_time: Option<Timestamp>,
    notes: &mut Vec<String>,
    reboot_packages: &[String],
) {
    let Some(record) = state.in_progress.take() else {
        return;
    };
    notes.push(format!(
        "the previous install operation {} (started {}) was interrupted while {}; its results were re-read from the package database",
        record.id, record.started_at, record.phase
    ));
    let started = record.started_at.parse::<Timestamp>().ok();
    let rebooted_since = matches!((boot_time, started), (Some(boot), Some(start)) if boot > start);
    if rebooted_since {
        return;
    }
    let installed = backend.installed_keys();
    let no_reboot = record.reboot_option == RebootOption::NoReboot.as_str();
    let needing: Vec<&String> = record
        .targets
        .iter()
        .filter(|k| installed.contains(*k))
        .filter(|k| no_reboot || backend.key_needs_reboot(k, reboot_packages))
        .collect();
    if needing.is_empty() {
        return;
    }
    for key in needing {
        if !state.pending_reboot.contains(key) {
            state.pending_reboot.push(key.clone());
        }
    }
    state.last_no_reboot_install_time = Some(record.started_at);
}

/// With an override list: override targets that did not install are Failed; everything
/// else keeps its scan state.
fn mark_override_failures(evaluation: Evaluation, failed: &[String]) -> Evaluation {
    let failed: Vec<Nevra> = failed
        .iter()
        .filter_map(|key| Nevra::parse(key).ok())
        .collect();
    evaluation.mark_failed(|item| {
        failed
            .iter()
            .any(|t| t.name == item.name && t.arch == item.arch)
    })
}
