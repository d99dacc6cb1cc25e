//! The agent under a server: enrollment, then a loop that long-polls for commands, runs each
//! patch command exactly once, and reports back.
//!
//! A command is run at most once per host, even when the server hands it out again after a
//! lost answer: the agent acknowledges it first (the server refuses to let a command that
//! was cancelled, or whose window closed, start), records its id in the state file as it
//! finishes, and answers an already-executed id with its result without running it again.
//! Results, the report and the inventory are posted before any reboot.
//!
//! An acknowledged command is written to `<state>/commands/<id>.json` before it runs and
//! removed once the server has its answer. If the agent dies in between (killed while a
//! package transaction runs: the transaction, started with its output in files and outside
//! the service's kill scope, goes on), [`resume_pending`] answers it on the next start: an
//! operation that finished is answered from the state file; one that did not is run again,
//! which waits for the package manager's lock, installs only what is still missing and notes
//! the interruption in its report.

use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;
use pw_api::agent::PendingDelivery;
use pw_api::server::agent::AgentCredential;
use pw_api::server::agent::{
    AgentCommand, CommandKind, CommandOutcome, CommandResult, EnrollRequest, InventoryUpload,
    NodeFacts,
};
use pw_api::server::compliance::ComplianceReportUpload;
use pw_api::server::tokens::Tag;
use pw_api::server::windows::{RebootOption as WireRebootOption, TaskOperation};
use pw_client::credential;
use pw_client::{Client, ClientSettings};

use crate::override_list::{OverrideEntry, OverrideList};
use crate::state::StateStore;
use crate::{AgentExit, AgentSettings, OperationKind, RebootOption};

/// The credential file in the state directory.
pub const CREDENTIAL_FILE: &str = "credential.json";

/// Enrollment or the loop failed in a way the caller must hear about.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("the server refused or could not be reached")]
    Client(#[source] Box<pw_client::ClientError>),
    #[error("the agent credential")]
    Credential(#[from] pw_client::credential::CredentialError),
    #[error("agent state")]
    State(#[from] crate::state::StateError),
    #[error("the local scan failed")]
    Scan(#[source] Box<crate::AgentError>),
}

impl From<crate::AgentError> for DaemonError {
    fn from(error: crate::AgentError) -> DaemonError {
        DaemonError::Scan(Box::new(error))
    }
}

impl From<pw_client::ClientError> for DaemonError {
    fn from(error: pw_client::ClientError) -> DaemonError {
        DaemonError::Client(Box::new(error))
    }
}

/// How the agent reaches its server besides the URL: a private CA and a proxy.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// PEM certificates trusted for the server instead of the web roots.
    pub ca_pem: Option<Vec<u8>>,
    /// An HTTP(S) proxy; without one, `HTTPS_PROXY`/`NO_PROXY` apply.
    pub proxy: Option<String>,
}

impl Connection {
    fn settings(&self, server_url: &str) -> ClientSettings {
        let mut settings = ClientSettings::new(server_url);
        settings.ca_pem.clone_from(&self.ca_pem);
        settings.proxy.clone_from(&self.proxy);
        settings
    }
}

/// Enrolls this host with an activation code and stores the credential (mode 0600).
pub fn enroll(
    server_url: &str,
    activation_code: &str,
    facts: NodeFacts,
    tags: Vec<Tag>,
    state_dir: &Path,
    now: Timestamp,
) -> Result<AgentCredential, DaemonError> {
    enroll_with(
        &Connection::default(),
        server_url,
        activation_code,
        facts,
        tags,
        state_dir,
        now,
    )
}

/// [`enroll`] through a private CA or a proxy.
pub fn enroll_with(
    connection: &Connection,
    server_url: &str,
    activation_code: &str,
    facts: NodeFacts,
    tags: Vec<Tag>,
    state_dir: &Path,
    now: Timestamp,
) -> Result<AgentCredential, DaemonError> {
    let client = Client::new(connection.settings(server_url))?;
    let response = client.enroll(&EnrollRequest {
        activation_code: activation_code.to_owned(),
        facts,
        tags,
    })?;
    let stored = AgentCredential {
        version: 1,
        server_url: server_url.to_owned(),
        node_id: response.node_id,
        credential: response.credential,
        enrolled_at: Some(now),
    };
    credential::save(&state_dir.join(CREDENTIAL_FILE), &stored)?;
    Ok(stored)
}

/// The client of an enrolled agent.
pub fn client(state_dir: &Path) -> Result<(Client, AgentCredential), DaemonError> {
    client_with(&Connection::default(), state_dir)
}

/// [`client`] through a private CA or a proxy.
pub fn client_with(
    connection: &Connection,
    state_dir: &Path,
) -> Result<(Client, AgentCredential), DaemonError> {
    let stored = credential::load(&state_dir.join(CREDENTIAL_FILE))?;
    let client = Client::new(
        connection
            .settings(&stored.server_url)
            .with_secret(stored.credential.clone()),
    )?;
    Ok((client, stored))
}

/// What one poll did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PollSummary {
    /// Commands run now.
    pub ran: Vec<String>,
    /// Commands answered from an earlier run (redelivered after a lost answer).
    pub already_done: Vec<String>,
    /// Commands the server said not to start.
    pub dropped: Vec<String>,
    /// Commands an earlier run left unanswered, answered now.
    pub resumed: Vec<String>,
}

/// Polls once (waiting up to `wait`) and handles every command received. `template` holds
/// the host settings; each command supplies its baseline, instant and options.
pub fn poll_once(
    client: &Client,
    facts: &NodeFacts,
    template: &AgentSettings,
    wait: Duration,
    clock: &dyn Fn() -> Timestamp,
) -> Result<PollSummary, DaemonError> {
    let mut summary = PollSummary::default();
    let store = StateStore::new(&template.state_dir);
    // What earlier runs still owe the server goes first.
    summary.resumed = resume_pending(client, facts, template, clock)?;
    for command in client.poll_commands(wait)? {
        if store.load()?.executed_commands.contains(&command.id) {
            // Ran already; the answer was lost. Report again, never run again.
            client.post_command_result(
                &command.id,
                &CommandResult {
                    outcome: CommandOutcome::Success,
                    message: Some("already executed on this host; not run again".to_owned()),
                    exit_code: None,
                    started_at: None,
                    finished_at: Some(clock()),
                    report_id: None,
                    summary: None,
                },
            )?;
            summary.already_done.push(command.id);
            continue;
        }
        let ack = client.acknowledge_command(&command.id)?;
        if !ack.proceed {
            tracing::info!(command_id = %command.id, reason = ?ack.reason, "command dropped on the server's word");
            summary.dropped.push(command.id);
            continue;
        }
        store.save_pending_command(&command)?;
        run_command(client, facts, template, &command, clock)?;
        // A result that waits for checks after a reboot keeps the command pending.
        if store.load_delivery(&command.id)?.is_none() {
            store.remove_pending_command(&command.id)?;
        }
        summary.ran.push(command.id);
    }
    Ok(summary)
}

/// Answers the commands a previous run of the agent acknowledged and never answered (see
/// the module documentation). Call it at start, before polling. Returns their ids.
pub fn resume_pending(
    client: &Client,
    facts: &NodeFacts,
    template: &AgentSettings,
    clock: &dyn Fn() -> Timestamp,
) -> Result<Vec<String>, DaemonError> {
    let store = StateStore::new(&template.state_dir);
    let mut resumed = Vec::new();
    for command in store.pending_commands()? {
        let answered = if let Some(delivery) = store.load_delivery(&command.id)? {
            tracing::info!(command_id = %command.id, "delivering the result of an earlier run");
            deliver(client, &store, delivery, template)
        } else if store.load()?.executed_commands.contains(&command.id) {
            // It finished; only the answer was lost with the process.
            client
                .post_command_result(
                    &command.id,
                    &CommandResult {
                        outcome: CommandOutcome::Success,
                        message: Some(
                            "finished on this host before the agent restarted; its report was not delivered"
                                .to_owned(),
                        ),
                        exit_code: None,
                        started_at: None,
                        finished_at: Some(clock()),
                        report_id: None,
                        summary: None,
                    },
                )
                .map(|_| ())
                .map_err(DaemonError::from)
        } else {
            tracing::warn!(command_id = %command.id, "the agent stopped while running this command; running it again");
            run_command(client, facts, template, &command, clock)
        };
        match answered {
            Ok(()) => {}
            // The server will not take an answer any more (the command was cancelled or
            // timed out meanwhile): nothing is left to deliver.
            Err(DaemonError::Client(error)) if matches!(*error, pw_client::ClientError::Api { status, .. } if (400..500).contains(&status)) =>
            {
                tracing::warn!(command_id = %command.id, error = %error, "the server refused the late answer; dropped");
                store.remove_delivery(&command.id)?;
            }
            Err(error) => return Err(error),
        }
        // A result that still waits for checks after a reboot stays pending.
        if store.load_delivery(&command.id)?.is_none() {
            store.remove_pending_command(&command.id)?;
        }
        resumed.push(command.id);
    }
    Ok(resumed)
}

fn failed(message: String, started: Timestamp, finished: Timestamp) -> CommandResult {
    CommandResult {
        outcome: CommandOutcome::Failed,
        message: Some(message),
        exit_code: None,
        started_at: Some(started),
        finished_at: Some(finished),
        report_id: None,
        summary: None,
    }
}

fn run_command(
    client: &Client,
    facts: &NodeFacts,
    template: &AgentSettings,
    command: &AgentCommand,
    clock: &dyn Fn() -> Timestamp,
) -> Result<(), DaemonError> {
    let started = clock();
    let (CommandKind::Patch, Some(patch)) = (&command.kind, &command.patch) else {
        let result = failed(
            format!(
                "this agent does not know commands of kind {:?}",
                command.kind
            ),
            started,
            clock(),
        );
        client.post_command_result(&command.id, &result)?;
        return Ok(());
    };
    let baseline = match pw_api::baseline::parse_toml(&patch.baseline_toml) {
        Ok(loaded) => loaded.baseline,
        Err(error) => {
            let result = failed(
                format!("the command's baseline is invalid: {error}"),
                started,
                clock(),
            );
            client.post_command_result(&command.id, &result)?;
            return Ok(());
        }
    };
    if template.scan_only && matches!(patch.operation, TaskOperation::Install) {
        let result = failed(
            "this agent runs with --scan-only: it refuses Install commands; nothing was changed"
                .to_owned(),
            started,
            clock(),
        );
        client.post_command_result(&command.id, &result)?;
        return Ok(());
    }
    let mut settings = template.clone();
    settings.baseline = baseline;
    settings.patch_group.clone_from(&patch.patch_group);
    settings.reboot_option = match patch.reboot_option {
        WireRebootOption::RebootIfNeeded => RebootOption::RebootIfNeeded,
        WireRebootOption::NoReboot => RebootOption::NoReboot,
    };
    settings.install_override = (!patch.install_override_list.is_empty()).then(|| {
        (
            "server".to_owned(),
            OverrideList {
                entries: patch
                    .install_override_list
                    .iter()
                    .map(|id| OverrideEntry {
                        id: id.clone(),
                        title: None,
                    })
                    .collect(),
            },
        )
    });
    settings.command_id = Some(command.id.clone());
    settings.evaluation_instant = Some(patch.evaluation_instant);
    settings.chosen_release = match (&patch.release, &patch.release_note) {
        (Some(text), _) => {
            Some(pw_core::release::ReleaseVersion::parse(text).map_err(|error| error.to_string()))
        }
        (None, Some(note)) => Some(Err(note.clone())),
        (None, None) => None,
    };
    settings.defer_reboot = true;
    settings.health_checks.clone_from(&patch.health_checks);
    settings.rollback.clone_from(&patch.rollback);
    let kind = match patch.operation {
        TaskOperation::Scan => OperationKind::Scan,
        TaskOperation::Install => OperationKind::Install,
    };
    let outcome = match crate::run(&settings, kind, clock) {
        Ok(outcome) => outcome,
        Err(error) => {
            let result = failed(
                format!("{error}: {}", error_chain(&error)),
                started,
                clock(),
            );
            client.post_command_result(&command.id, &result)?;
            return Ok(());
        }
    };
    let (outcome_kind, message) = match outcome.exit {
        AgentExit::Success | AgentExit::RebootRequested => (CommandOutcome::Success, None),
        AgentExit::PreInstallHookFailed => (
            CommandOutcome::Failed,
            Some("the pre-install hook failed; nothing was installed".to_owned()),
        ),
        AgentExit::InstallFailures | AgentExit::RebootRequestedWithFailures => {
            (CommandOutcome::Failed, Some(failure_message(&outcome)))
        }
    };
    // What is owed to the server, kept before anything is posted: a server that is down
    // now gets it at the next poll, and the reboot waits for the delivery.
    let delivery = PendingDelivery {
        version: 1,
        command_id: command.id.clone(),
        report: Some(ComplianceReportUpload {
            command_id: Some(command.id.clone()),
            execution_id: patch.execution_id.clone(),
            baseline_id: Some(patch.baseline_id.clone()),
            report: outcome.report.clone(),
        }),
        report_id: None,
        result: CommandResult {
            outcome: outcome_kind,
            message,
            exit_code: None,
            started_at: Some(started),
            finished_at: Some(clock()),
            report_id: None,
            summary: Some(outcome.report.summary.clone()),
        },
        reboot: outcome.report.reboot.is_some(),
        // With a reboot coming, the task's checks run again once the host is back.
        after_reboot_checks: if outcome.report.reboot.is_some() {
            patch.health_checks.clone()
        } else {
            Vec::new()
        },
    };
    let store = StateStore::new(&settings.state_dir);
    store.save_delivery(&delivery)?;
    if let Err(error) = upload_inventory(client, facts, &outcome, clock) {
        tracing::warn!(error = %error, "inventory upload failed; the next operation sends it again");
    }
    deliver(client, &store, delivery, &settings)
}

/// Why an install is answered failed: the first failed health check, the post-install hook,
/// or how many patches failed.
fn failure_message(outcome: &crate::OperationOutcome) -> String {
    let install = outcome.report.install.as_ref();
    if let Some(check) = install.and_then(pw_api::agent::InstallOutcome::failed_health_check) {
        let mut detail = check.detail.clone();
        if detail.len() > 500 {
            let cut = detail.floor_char_boundary(500);
            detail.truncate(cut);
            detail.push_str("...");
        }
        return format!(
            "health check failed: {} `{}`: {detail}",
            check.kind, check.target
        );
    }
    if let Some(hook) = install.and_then(|i| i.post_install_hook_failure.as_ref()) {
        return format!(
            "the post-install hook `{}` failed ({})",
            hook.command, hook.termination
        );
    }
    format!(
        "{} patches failed to install",
        outcome.report.summary.failed
    )
}

/// Posts what a delivery file holds, report first, then the result; updates the file after
/// each step, so a failure in between neither loses nor repeats anything; removes it when the
/// server has the result; then reboots when the operation decided to. Errors leave the file
/// for the next attempt.
fn deliver(
    client: &Client,
    store: &StateStore,
    mut delivery: PendingDelivery,
    settings: &AgentSettings,
) -> Result<(), DaemonError> {
    let reboot_command = &settings.reboot_command;
    if let Some(report) = &delivery.report {
        let accepted = client.post_report(report)?;
        delivery.report = None;
        delivery.report_id = Some(accepted.report_id);
        store.save_delivery(&delivery)?;
    }
    if !delivery.after_reboot_checks.is_empty() {
        if delivery.reboot {
            // The result waits for the checks after the reboot: reboot now, answer later
            // (the next start of the agent delivers what is pending first).
            delivery.reboot = false;
            store.save_delivery(&delivery)?;
            if let Err(error) =
                pw_pkgmgr::hooks::reboot(reboot_command, [("PATCHWARDEN_PHASE", "reboot")])
            {
                tracing::error!(error = %error, command_id = %delivery.command_id, "the reboot command failed");
            }
            return Ok(());
        }
        // Back from the reboot: the checks again, folded into the result.
        let mut notes = Vec::new();
        let results = crate::health::run_checks(
            &delivery.after_reboot_checks,
            &settings.health,
            &[("PATCHWARDEN_PHASE", "health-check-after-reboot")],
            &mut notes,
        );
        if let Some(failed) = results.iter().find(|r| !r.passed) {
            delivery.result.outcome = CommandOutcome::Failed;
            delivery.result.message = Some(format!(
                "health check failed after the reboot: {} `{}`: {}",
                failed.kind, failed.target, failed.detail
            ));
        }
        delivery.after_reboot_checks.clear();
        store.save_delivery(&delivery)?;
    }
    delivery.result.report_id = delivery.report_id;
    client.post_command_result(&delivery.command_id, &delivery.result)?;
    store.remove_delivery(&delivery.command_id)?;
    // Everything is reported: now the reboot, if one was decided.
    if delivery.reboot
        && let Err(error) =
            pw_pkgmgr::hooks::reboot(reboot_command, [("PATCHWARDEN_PHASE", "reboot")])
    {
        tracing::error!(error = %error, command_id = %delivery.command_id, "the reboot command failed");
    }
    Ok(())
}

/// Uploads the inventory (installed packages and the compact catalog previews evaluate)
/// an operation read, when its backend provides one. `Ok(false)` when none.
fn upload_inventory(
    client: &Client,
    facts: &NodeFacts,
    outcome: &crate::OperationOutcome,
    clock: &dyn Fn() -> Timestamp,
) -> Result<bool, DaemonError> {
    let Some(inventory) = &outcome.inventory else {
        return Ok(false);
    };
    let upload = InventoryUpload {
        captured_at: clock(),
        facts: facts.clone(),
        packages: inventory.packages.clone(),
        pending_reboot: Vec::new(),
        last_boot_at: outcome
            .report
            .host
            .boot_time
            .as_deref()
            .and_then(|t| t.parse().ok()),
        catalog: inventory.catalog.clone(),
        apt: inventory.apt.clone(),
    };
    client.put_inventory(&upload)?;
    Ok(true)
}

/// Reads the host (a local, read-only scan with the template's settings; nothing is
/// reported as compliance) and uploads its inventory, so previews and `plan` know the node
/// before any command ran on it. `agent run` calls it at start and then periodically.
/// `Ok(false)` when the host's backend has no inventory to upload.
pub fn refresh_inventory(
    client: &Client,
    facts: &NodeFacts,
    template: &AgentSettings,
    clock: &dyn Fn() -> Timestamp,
) -> Result<bool, DaemonError> {
    let mut settings = template.clone();
    settings.defer_reboot = true;
    let outcome = crate::run(&settings, OperationKind::Scan, clock)?;
    upload_inventory(client, facts, &outcome, clock)
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    parts.join(": ")
}

/// How long to wait before the next attempt after `failures` failed polls in a row:
/// exponential from 5 s, capped at 5 minutes, with "equal jitter" (half fixed, half random
/// from `random`), so a fleet whose server restarts does not retry in lockstep.
pub fn retry_delay(failures: u32, random: u64) -> Duration {
    let exponent = failures.saturating_sub(1).min(6);
    let base_ms: u64 = (5_000u64 << exponent).min(300_000);
    let half = base_ms / 2;
    Duration::from_millis(half + random % (half + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_jittered_and_capped() {
        assert_eq!(retry_delay(1, 0), Duration::from_millis(2_500));
        assert_eq!(retry_delay(1, 2_500), Duration::from_millis(5_000));
        assert_eq!(retry_delay(2, 0), Duration::from_millis(5_000));
        assert_eq!(retry_delay(4, 0), Duration::from_millis(20_000));
        assert_eq!(
            retry_delay(20, u64::MAX).as_secs(),
            150 + (u64::MAX % 150_001) / 1000
        );
        assert!(retry_delay(20, 7) <= Duration::from_secs(300));
        assert!(retry_delay(20, 7) >= Duration::from_secs(150));
    }
}
