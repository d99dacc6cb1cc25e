//! The agent protocol under `/api/v1/agent`: enrollment, long-polled commands, the
//! acknowledgement gate, results, inventory and compliance uploads. A node authenticates
//! with its own credential and reaches only its own commands and reports.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use jiff::{SignedDuration, Timestamp};
use pw_api::server::agent::{
    AckResponse, CommandOutcome, CommandResult, CommandState, CommandsResponse, EnrollRequest,
    EnrollResponse, InventoryUpload, PatchCommand, ResultAccepted,
};
use pw_api::server::compliance::{ComplianceReportUpload, ReportAccepted};
use pw_core::baseline::OperatingSystem;
use pw_store::{
    AckOutcome, CompleteOutcome, ComplianceCounts, EnrollRefusal, InventoryRecord, NewReport,
    NodeFacts, TagRefusal, ids,
};

use crate::AppState;
use crate::api::{nodes::agent_command, tags_from_wire};
use crate::auth::{AgentNode, CREDENTIAL_PREFIX};
use crate::error::ApiError;
use crate::extract::{ApiJson, Params};
use crate::guard::Client;
use crate::service::{stored_json, to_json};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        // The one route without authentication: a small body, so that an unauthenticated
        // client cannot make the server buffer the 64 MiB that inventories may take.
        .route(
            "/agent/enroll",
            post(enroll).layer(axum::extract::DefaultBodyLimit::max(ENROLL_BODY_LIMIT)),
        )
        .route("/agent/commands", get(poll))
        .route("/agent/commands/{id}/ack", post(acknowledge))
        .route("/agent/commands/{id}/result", post(result))
        .route("/agent/inventory", put(inventory))
        .route("/agent/reports", post(report))
}

fn check_facts(facts: &pw_api::server::agent::NodeFacts) -> Result<NodeFacts, ApiError> {
    if facts.hostname.is_empty() || facts.hostname.len() > 255 {
        return Err(ApiError::field(
            "facts.hostname",
            "must be 1 to 255 characters",
        ));
    }
    let os = OperatingSystem::parse(&facts.operating_system).ok_or_else(|| {
        ApiError::field(
            "facts.operating_system",
            format!(
                "`{}` is not a supported operating system",
                facts.operating_system
            ),
        )
    })?;
    if facts.product.is_empty() || facts.product.len() > 128 {
        return Err(ApiError::field(
            "facts.product",
            "must be 1 to 128 characters",
        ));
    }
    if facts.agent_version.len() > 64 {
        return Err(ApiError::field(
            "facts.agent_version",
            "must be at most 64 characters",
        ));
    }
    Ok(NodeFacts {
        hostname: facts.hostname.clone(),
        operating_system: os.as_str().to_owned(),
        product: facts.product.clone(),
        agent_version: facts.agent_version.clone(),
        arch: facts.arch.clone(),
        machine_id: facts.machine_id.clone(),
    })
}

async fn enroll(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(request): ApiJson<EnrollRequest>,
) -> Result<(StatusCode, Json<EnrollResponse>), ApiError> {
    state.auth_allowed(client)?;
    let facts = check_facts(&request.facts)?;
    let tags = tags_from_wire("tags", &request.tags)?;
    let node_id = ids::short_id("mi-");
    let credential = ids::secret(CREDENTIAL_PREFIX);
    let now = state.now();
    let outcome = state
        .store()
        .enroll_node(
            &ids::hash_secret(request.activation_code.trim()),
            &node_id,
            &ids::hash_secret(&credential),
            &facts,
            &tags,
            now,
        )
        .await?;
    match outcome {
        Ok(node) => {
            state
                .store()
                .audit(
                    now,
                    &format!("node:{}", node.id),
                    "node.enroll",
                    Some(&node.id),
                    None,
                )
                .await?;
            tracing::info!(host_id = node.id, hostname = node.hostname, "node enrolled");
            Ok((
                StatusCode::CREATED,
                Json(EnrollResponse {
                    node_id: node.id,
                    credential,
                    max_poll_wait_seconds: u32::try_from(state.settings().max_poll_wait.as_secs())
                        .unwrap_or(30),
                }),
            ))
        }
        // A valid code's holder learns which of its tags it may not declare.
        Err(EnrollRefusal::Tags(refusal)) => {
            tracing::info!(?refusal, "enrollment refused: tags");
            Err(ApiError::field(
                "tags",
                match refusal {
                    TagRefusal::SetByCode { key, value } => format!(
                        "the activation code sets tag `{key}` to `{value}`; a host enrolling with it may not declare another value"
                    ),
                    TagRefusal::NotAllowed { key } => format!(
                        "the activation code lets hosts declare no tags of their own (`{key}`); its own tags are given to every host"
                    ),
                },
            ))
        }
        // One answer for every other refusal: a caller cannot probe which codes exist.
        Err(refusal) => {
            let reason = match refusal {
                EnrollRefusal::UnknownCode => "unknown",
                EnrollRefusal::Expired => "expired",
                EnrollRefusal::Exhausted => "exhausted",
                EnrollRefusal::Tags(_) => "tags",
            };
            tracing::info!(reason, "enrollment refused");
            state.auth_failed(client);
            Err(ApiError::unauthenticated(
                "the activation code is unknown, expired or used up",
            ))
        }
    }
}

fn redeliver_before(state: &AppState, now: Timestamp) -> Timestamp {
    let delay = SignedDuration::try_from(state.settings().redelivery_after)
        .unwrap_or(SignedDuration::from_secs(60));
    now.checked_sub(delay).unwrap_or(Timestamp::MIN)
}

/// `GET /agent/commands?wait=N`: answers at once when commands wait, else holds the request
/// up to N seconds (capped) until one is created for this node.
async fn poll(
    State(state): State<AppState>,
    node: AgentNode,
    params: Params,
) -> Result<Json<CommandsResponse>, ApiError> {
    let max = state.settings().max_poll_wait.as_secs();
    let wait = params.int("wait", 0, 0..=3600)?;
    let wait = Duration::from_secs(u64::try_from(wait).unwrap_or(0).min(max));
    state.record_check_in(&node.node_id, state.now());
    state
        .metrics()
        .count("pw_agent_check_ins_total", String::new(), 1);
    let deadline = tokio::time::Instant::now() + wait;
    let notify = state.inner.waiters.register(&node.node_id);
    let mut shutdown = state.shutdown_rx();
    let answer = loop {
        // Listen before looking, so a command created in between still wakes us.
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // Boxed: the queries' futures are large, and a held poll keeps its future's full
        // size while it waits (bench/server/RESULTS.md, "Long polls held at once").
        if let Some(commands) = Box::pin(deliverable(&state, &node.node_id)).await? {
            break commands;
        }
        if *shutdown.borrow() {
            break Vec::new();
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep_until(deadline) => break Vec::new(),
            _ = shutdown.changed() => break Vec::new(),
        }
    };
    state.inner.waiters.release(&node.node_id, notify);
    Ok(Json(CommandsResponse { commands: answer }))
}

/// The commands a poll hands out now, if any (delivering them).
async fn deliverable(
    state: &AppState,
    node_id: &str,
) -> Result<Option<Vec<pw_api::server::agent::AgentCommand>>, ApiError> {
    let now = state.now();
    let before = redeliver_before(state, now);
    if !state
        .store()
        .has_deliverable_commands(node_id, before)
        .await?
    {
        return Ok(None);
    }
    let records = state
        .store()
        .deliver_commands(node_id, now, before, 10)
        .await?;
    if records.is_empty() {
        return Ok(None);
    }
    state.metrics().count(
        "pw_agent_commands_delivered_total",
        String::new(),
        records.len() as u64,
    );
    Ok(Some(
        records
            .iter()
            .map(agent_command)
            .collect::<Result<Vec<_>, _>>()?,
    ))
}

async fn acknowledge(
    State(state): State<AppState>,
    node: AgentNode,
    Path(id): Path<String>,
) -> Result<Json<AckResponse>, ApiError> {
    let now = state.now();
    // A command of a window execution may not start after the window's cutoff.
    if let Some(command) = state.store().command(&id).await?
        && command.node_id == node.node_id
        && matches!(command.state.as_str(), "pending" | "delivered")
        && let Some(payload) = (command.kind == "patch")
            .then(|| stored_json::<PatchCommand>("command payload", &command.payload_json))
            .transpose()?
        && let Some(execution_id) = &payload.execution_id
        && let Some(execution) = state.store().execution(execution_id).await?
        && (execution.cancel_requested
            || execution
                .last_task_start_at
                .is_some_and(|cutoff| now > cutoff))
    {
        state.wake_runner();
        return Ok(Json(AckResponse {
            proceed: false,
            reason: Some(
                "the execution was cancelled or its window's cutoff has passed".to_owned(),
            ),
        }));
    }
    let outcome = state
        .store()
        .acknowledge_command(&node.node_id, &id, now)
        .await?;
    state.record_check_in(&node.node_id, now);
    match outcome {
        AckOutcome::Proceed { repeated } => {
            tracing::info!(
                host_id = node.node_id,
                command_id = id,
                repeated,
                "command acknowledged"
            );
            state.wake_runner();
            Ok(Json(AckResponse {
                proceed: true,
                reason: repeated.then(|| "already acknowledged".to_owned()),
            }))
        }
        AckOutcome::Refused {
            state: command_state,
        } => {
            state.wake_runner();
            Ok(Json(AckResponse {
                proceed: false,
                reason: Some(format!("the command is {command_state}")),
            }))
        }
        AckOutcome::NotFound => Err(ApiError::not_found("command", &id)),
    }
}

async fn result(
    State(state): State<AppState>,
    node: AgentNode,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CommandResult>,
) -> Result<Json<ResultAccepted>, ApiError> {
    let final_state = match body.outcome {
        CommandOutcome::Success => "succeeded",
        CommandOutcome::Failed => "failed",
        CommandOutcome::Unknown => {
            return Err(ApiError::field("outcome", "expected `success` or `failed`"));
        }
    };
    // A result points only at the node's own report.
    if let Some(report_id) = body.report_id {
        match state.store().report(report_id).await? {
            Some(report) if report.node_id == node.node_id => {}
            _ => {
                return Err(ApiError::field(
                    "report_id",
                    format!("report {report_id} is not a report of this node"),
                ));
            }
        }
    }
    let now = state.now();
    let outcome = state
        .store()
        .complete_command(&node.node_id, &id, final_state, &to_json(&body)?, now)
        .await?;
    state.record_check_in(&node.node_id, now);
    state.wake_runner();
    // A failed invocation of a window is an event (a command of no invocation is ad hoc).
    if matches!(&outcome, CompleteOutcome::Recorded { state } if state == "failed")
        && let Ok(Some(command)) = state.store().command(&id).await
        && let Some(invocation_id) = &command.invocation_id
    {
        let execution_id =
            serde_json::from_str::<pw_api::server::agent::PatchCommand>(&command.payload_json)
                .ok()
                .and_then(|payload| payload.execution_id);
        crate::service::webhooks::notify(
            &state,
            "invocation.failed",
            None,
            serde_json::json!({"invocation_id": invocation_id, "execution_id": execution_id,
                "node_id": node.node_id, "status": "FAILED",
                "status_details": pw_store::failure_details(command.result_json.as_deref())}),
        )
        .await;
    }
    match outcome {
        CompleteOutcome::Recorded { state: recorded }
        | CompleteOutcome::AlreadyFinal { state: recorded } => {
            tracing::info!(
                host_id = node.node_id,
                command_id = id,
                state = recorded,
                "command result"
            );
            Ok(Json(ResultAccepted {
                state: CommandState::parse(&recorded),
            }))
        }
        CompleteOutcome::NotFound => Err(ApiError::not_found("command", &id)),
    }
}

async fn inventory(
    State(state): State<AppState>,
    node: AgentNode,
    ApiJson(upload): ApiJson<InventoryUpload>,
) -> Result<StatusCode, ApiError> {
    let facts = check_facts(&upload.facts)?;
    let now = state.now();
    let record = InventoryRecord {
        node_id: node.node_id.clone(),
        captured_at: upload.captured_at,
        uploaded_at: now,
        inventory_json: to_json(&upload)?,
    };
    state.store().put_inventory(&record, &facts).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn parse_time(field: &str, text: &str) -> Result<Timestamp, ApiError> {
    text.parse::<Timestamp>()
        .or_else(|_| text.parse::<jiff::Zoned>().map(|zoned| zoned.timestamp()))
        .map_err(|_| ApiError::field(field, format!("`{text}` is not an RFC 3339 timestamp")))
}

fn count(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The largest enrollment request: facts and tags, never more than a few KiB.
const ENROLL_BODY_LIMIT: usize = 64 * 1024;

fn command_id_of(upload: &ComplianceReportUpload) -> &str {
    upload.command_id.as_deref().unwrap_or_default()
}

async fn report(
    State(state): State<AppState>,
    node: AgentNode,
    ApiJson(upload): ApiJson<ComplianceReportUpload>,
) -> Result<(StatusCode, Json<ReportAccepted>), ApiError> {
    let report = &upload.report;
    let operation = match report.operation.as_str() {
        "Scan" | "scan" => "Scan",
        "Install" | "install" => "Install",
        other => {
            return Err(ApiError::field(
                "report.operation",
                format!("`{other}` is not Scan or Install"),
            ));
        }
    };
    let status = report.summary.status.as_str();
    if status != "COMPLIANT" && status != "NON_COMPLIANT" {
        return Err(ApiError::field(
            "report.summary.status",
            format!("`{status}` is not COMPLIANT or NON_COMPLIANT"),
        ));
    }
    // What the command said, when the report answers one of this node's commands.
    let mut payload: Option<PatchCommand> = None;
    if let Some(command_id) = &upload.command_id {
        let command = state.store().command(command_id).await?;
        match command {
            Some(command) if command.node_id == node.node_id => {
                if command.kind == "patch" {
                    payload = Some(stored_json("command payload", &command.payload_json)?);
                }
            }
            _ => {
                return Err(ApiError::field(
                    "command_id",
                    format!("command `{command_id}` does not exist"),
                ));
            }
        }
    }
    // Where the report counts (its baseline, execution and patch group) comes from the
    // command it answers, never from the node's say-so: a node must not file its compliance
    // under another execution or another group's baseline.
    let (baseline_id, execution_id, patch_group) = match &payload {
        Some(command) => {
            if let Some(given) = &upload.baseline_id
                && *given != command.baseline_id
            {
                return Err(ApiError::field(
                    "baseline_id",
                    format!(
                        "`{given}` is not the baseline of command `{}`",
                        command_id_of(&upload)
                    ),
                ));
            }
            if let Some(given) = &upload.execution_id
                && Some(given) != command.execution_id.as_ref()
            {
                return Err(ApiError::field(
                    "execution_id",
                    format!(
                        "`{given}` is not the execution of command `{}`",
                        command_id_of(&upload)
                    ),
                ));
            }
            (
                Some(command.baseline_id.clone()),
                command.execution_id.clone(),
                command
                    .patch_group
                    .clone()
                    .or_else(|| report.patch_group.clone()),
            )
        }
        None => {
            if upload.execution_id.is_some() {
                return Err(ApiError::field(
                    "execution_id",
                    "a report names an execution only through the command it answers (`command_id`)",
                ));
            }
            if let Some(given) = &upload.baseline_id {
                let built_in = pw_core::baseline::default_baseline_names()
                    .iter()
                    .any(|(name, _)| name == given);
                if !built_in && state.store().baseline(given).await?.is_none() {
                    return Err(ApiError::field(
                        "baseline_id",
                        format!("baseline `{given}` does not exist"),
                    ));
                }
            }
            (upload.baseline_id.clone(), None, report.patch_group.clone())
        }
    };
    let summary = &report.summary;
    if let Some(release) = &report.host.release
        && (release.is_empty() || release.len() > 64 || release.chars().any(char::is_control))
    {
        return Err(ApiError::field(
            "report.host.release",
            "must be 1 to 64 characters without control characters",
        ));
    }
    let operation_end = parse_time("report.ended_at", &report.ended_at)?;
    let new = NewReport {
        reboot_why: crate::service::compliance::reboot_why(
            &report.patches,
            report
                .install
                .as_ref()
                .map_or(&[][..], |install| &install.stale_services),
        ),
        installs: install_records(report, operation_end),
        node_id: node.node_id.clone(),
        reported_at: state.now(),
        operation: operation.to_owned(),
        baseline_id,
        patch_group,
        execution_id,
        command_id: upload.command_id.clone(),
        operation_start: Some(parse_time("report.started_at", &report.started_at)?),
        operation_end: Some(operation_end),
        evaluated_at: Some(parse_time(
            "report.summary.evaluated_at",
            &summary.evaluated_at,
        )?),
        status: status.to_owned(),
        counts: ComplianceCounts {
            installed: count(summary.installed),
            installed_other: count(summary.installed_other),
            installed_rejected: count(summary.installed_rejected),
            installed_pending_reboot: count(summary.installed_pending_reboot),
            not_applicable: count(summary.not_applicable),
            missing: count(summary.missing),
            failed: count(summary.failed),
            critical_non_compliant: count(summary.critical_non_compliant),
            security_non_compliant: count(summary.security_non_compliant),
            other_non_compliant: count(summary.other_non_compliant),
        },
        non_compliant_severity: summary.non_compliant_severity.clone(),
        items_json: to_json(&report.patches)?,
        // The store keeps the patches once, as the items, and puts them back when the
        // report is read.
        report_json: to_json(&pw_api::agent::OperationReport {
            patches: Vec::new(),
            ..report.clone()
        })?,
        release: report.host.release.clone(),
    };
    let report_id = state.store().append_report(&new).await?;
    // Promotion policies whose staging side this report is reject what it shows failed.
    crate::service::promotions::on_report(
        &state,
        &node.node_id,
        report_id,
        new.baseline_id.as_deref(),
        new.patch_group.as_deref(),
        report,
    )
    .await;
    state
        .metrics()
        .count("pw_compliance_reports_total", String::new(), 1);
    state.record_check_in(&node.node_id, state.now());
    Ok((StatusCode::CREATED, Json(ReportAccepted { report_id })))
}

/// The packages an install put on, with their releases, for patch latency: the report's
/// patches at their target whose exact version the install records as installed.
fn install_records(
    report: &pw_api::agent::OperationReport,
    installed_at: jiff::Timestamp,
) -> Vec<pw_store::PatchInstall> {
    let Some(install) = &report.install else {
        return Vec::new();
    };
    let Some(os) = pw_core::baseline::OperatingSystem::parse(&report.host.operating_system) else {
        return Vec::new();
    };
    let family = os.family_for_product(&report.host.product);
    report
        .patches
        .iter()
        .filter(|p| p.state == "Installed" || p.state == "InstalledPendingReboot")
        .filter_map(|p| {
            let target = p.target.as_deref()?;
            let released = p.released?;
            let exact = pw_core::exact::Exact::parse(family, &p.name, &p.arch, target).ok()?;
            install
                .installed
                .iter()
                .any(|key| exact.is_install_key(key))
                .then(|| pw_store::PatchInstall {
                    name: p.name.clone(),
                    arch: p.arch.clone(),
                    version: target.to_owned(),
                    severity: p.severity.clone().unwrap_or_else(|| "None".to_owned()),
                    released,
                    installed_at,
                })
        })
        .collect()
}

/// Writes check-ins in batches.
pub(crate) async fn run_check_in_flusher(state: AppState) {
    let mut shutdown = state.shutdown_rx();
    loop {
        tokio::select! {
            () = tokio::time::sleep(state.settings().check_in_flush_interval) => {}
            _ = shutdown.changed() => return,
        }
        if let Err(error) = state.flush_check_ins().await {
            tracing::warn!(error = %crate::error::chain(&error), "failed to write check-ins");
        }
    }
}

/// Wakes the long polls of nodes for which another replica (or this one's runner) created
/// commands: every second, the pending commands of the last ten seconds.
pub(crate) async fn run_command_watcher(state: AppState) {
    let mut shutdown = state.shutdown_rx();
    let mut seen: HashMap<String, Timestamp> = HashMap::new();
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => return,
        }
        let now = state.now();
        let since = now
            .checked_sub(SignedDuration::from_secs(10))
            .unwrap_or(Timestamp::MIN);
        match state.store().recent_pending_commands(since).await {
            Ok(commands) => {
                for (command_id, node_id) in commands {
                    if seen.insert(command_id, now).is_none() {
                        state.wake_node(&node_id);
                    }
                }
                seen.retain(|_, at| *at >= since);
            }
            Err(error) => {
                tracing::warn!(error = %crate::error::chain(&error), "failed to look for new commands")
            }
        }
    }
}
