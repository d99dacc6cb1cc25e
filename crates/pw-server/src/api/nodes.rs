//! `/nodes`: the enrolled hosts, their tags, inventories and commands.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::SignedDuration;
use pw_api::server::agent::{
    AgentCommand, CommandInfo, CommandKind, CommandState, CreateNodeCommand, PatchCommand,
};
use pw_api::server::nodes::{NodeSummary, SetTags};
use pw_api::server::windows::TaskOperation;
use pw_store::{CommandRecord, NodeRecord, ReportRecord, ids};

use crate::AppState;
use crate::api::{stored_json, summary_to_wire, tags_from_wire, tags_to_wire, to_json};
use crate::auth::{Admin, Operator, ReadOnly};
use crate::error::ApiError;
use crate::extract::{ApiJson, Params};
use crate::resolve::{Registrations, baseline_text};

pub(crate) fn node_to_wire(
    node: &NodeRecord,
    registrations: &Registrations,
    reports: &HashMap<String, ReportRecord>,
) -> NodeSummary {
    let resolved = registrations.for_node(node).ok();
    NodeSummary {
        id: node.id.clone(),
        hostname: node.hostname.clone(),
        operating_system: node.operating_system.clone(),
        product: node.product.clone(),
        agent_version: node.agent_version.clone(),
        tags: tags_to_wire(&node.tags),
        patch_group: crate::resolve::node_patch_group(node),
        baseline_id: resolved.map(|(_, id)| id),
        enrolled_at: node.enrolled_at,
        last_seen_at: node.last_seen_at,
        inventory_at: node.inventory_at,
        compliance: reports.get(&node.id).map(summary_to_wire),
    }
}

pub(crate) use crate::service::compliance::latest_reports;

/// `tag=Key=Value` (or `tag=Key` for any value), `os=`, `patch_group=`.
pub(crate) fn node_filter(params: &Params) -> impl Fn(&NodeRecord) -> bool + use<> {
    let tags: Vec<(String, Option<String>)> = params
        .all("tag")
        .into_iter()
        .map(|tag| match tag.split_once('=') {
            Some((key, value)) => (key.to_owned(), Some(value.to_owned())),
            None => (tag, None),
        })
        .collect();
    let os = params.get("os").map(ToOwned::to_owned);
    let group = params.get("patch_group").map(ToOwned::to_owned);
    move |node: &NodeRecord| {
        tags.iter().all(|(key, value)| {
            node.tags
                .iter()
                .any(|(k, v)| k == key && value.as_ref().is_none_or(|value| value == v))
        }) && os
            .as_ref()
            .is_none_or(|os| node.operating_system.eq_ignore_ascii_case(os))
            && group
                .as_ref()
                .is_none_or(|group| crate::resolve::node_patch_group(node).as_ref() == Some(group))
    }
}

pub(crate) async fn list(
    State(state): State<AppState>,
    _caller: ReadOnly,
    params: Params,
) -> Result<Json<Vec<NodeSummary>>, ApiError> {
    let registrations = Registrations::load(state.store()).await?;
    let reports = latest_reports(&state).await?;
    let keep = node_filter(&params);
    Ok(Json(
        state
            .store()
            .nodes()
            .await?
            .iter()
            .filter(|node| keep(node))
            .map(|node| node_to_wire(node, &registrations, &reports))
            .collect(),
    ))
}

async fn load_node(state: &AppState, id: &str) -> Result<NodeRecord, ApiError> {
    state
        .store()
        .node(id)
        .await?
        .ok_or_else(|| ApiError::not_found("node", id))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    _caller: ReadOnly,
    Path(id): Path<String>,
) -> Result<Json<NodeSummary>, ApiError> {
    let node = load_node(&state, &id).await?;
    let registrations = Registrations::load(state.store()).await?;
    let mut reports = HashMap::new();
    if let Some(report_id) = node.latest_report_id
        && let Some(report) = state.store().report(report_id).await?
    {
        reports.insert(node.id.clone(), report);
    }
    Ok(Json(node_to_wire(&node, &registrations, &reports)))
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.store().delete_node(&id).await?;
    state.auth_cache_clear();
    state
        .store()
        .audit(state.now(), &caller.actor(), "node.delete", Some(&id), None)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn set_tags(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SetTags>,
) -> Result<Json<NodeSummary>, ApiError> {
    let tags = tags_from_wire("tags", &body.tags)?;
    crate::service::nodes::set_tags(&state, &caller.actor(), &id, &tags).await?;
    show(State(state), ReadOnly(caller), Path(id)).await
}

pub(crate) async fn inventory(
    State(state): State<AppState>,
    _caller: ReadOnly,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let inventory = state
        .store()
        .inventory(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("inventory of node", &id))?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        inventory.inventory_json,
    )
        .into_response())
}

pub(crate) fn command_to_wire(record: &CommandRecord) -> Result<CommandInfo, ApiError> {
    let kind = if record.kind == "patch" {
        CommandKind::Patch
    } else {
        CommandKind::Unknown
    };
    Ok(CommandInfo {
        id: record.id.clone(),
        node_id: record.node_id.clone(),
        kind,
        state: CommandState::parse(&record.state),
        created_at: record.created_at,
        delivered_at: record.delivered_at,
        deliveries: u32::try_from(record.deliveries).unwrap_or(u32::MAX),
        acknowledged_at: record.acknowledged_at,
        completed_at: record.completed_at,
        invocation_id: record.invocation_id.clone(),
        result: record
            .result_json
            .as_deref()
            .map(|text| stored_json("command result", text))
            .transpose()?,
        patch: (kind == CommandKind::Patch)
            .then(|| stored_json("command payload", &record.payload_json))
            .transpose()?,
    })
}

/// The agent's view of a command.
pub(crate) fn agent_command(record: &CommandRecord) -> Result<AgentCommand, ApiError> {
    let info = command_to_wire(record)?;
    Ok(AgentCommand {
        id: info.id,
        kind: info.kind,
        created_at: info.created_at,
        delivery: info.deliveries,
        patch: info.patch,
    })
}

pub(crate) async fn commands(
    State(state): State<AppState>,
    _caller: ReadOnly,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Vec<CommandInfo>>, ApiError> {
    let limit = params.int("limit", 100, 1..=1000)?;
    if state.store().node(&id).await?.is_none() {
        return Err(ApiError::not_found("node", &id));
    }
    let records = state.store().node_commands(&id, limit).await?;
    Ok(Json(
        records
            .iter()
            .map(command_to_wire)
            .collect::<Result<_, _>>()?,
    ))
}

/// Default time a command may wait for its node before it is not run.
const AD_HOC_ACK_TIMEOUT: SignedDuration = SignedDuration::from_hours(1);

pub(crate) async fn create_command(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CreateNodeCommand>,
) -> Result<(StatusCode, Json<CommandInfo>), ApiError> {
    let node = load_node(&state, &id).await?;
    if body.operation == TaskOperation::Scan && !body.install_override_list.is_empty() {
        return Err(ApiError::field(
            "install_override_list",
            "applies to Install only",
        ));
    }
    let record = queue_command(
        &state,
        &caller.actor(),
        &node,
        AdHoc {
            operation: body.operation,
            baseline_id: body.baseline_id,
            reboot_option: body.reboot_option,
            install_override_list: body.install_override_list,
            rollback: Vec::new(),
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(command_to_wire(&record)?)))
}

/// What an ad-hoc command asks of a node.
struct AdHoc {
    operation: TaskOperation,
    baseline_id: Option<String>,
    reboot_option: pw_api::server::windows::RebootOption,
    install_override_list: Vec<String>,
    rollback: Vec<String>,
}

/// Queues an ad-hoc command for `node`, with the node's baseline unless one is named.
async fn queue_command(
    state: &AppState,
    actor: &str,
    node: &pw_store::NodeRecord,
    ask: AdHoc,
) -> Result<CommandRecord, ApiError> {
    let registrations = Registrations::load(state.store()).await?;
    let (patch_group, resolved) = registrations.for_node(node)?;
    let baseline_id = ask.baseline_id.clone().unwrap_or(resolved);
    let baseline_toml = baseline_text(state.store(), &baseline_id)
        .await?
        .ok_or_else(|| {
            ApiError::field(
                "baseline_id",
                format!("baseline `{baseline_id}` does not exist"),
            )
        })?;
    let now = state.now();
    let command_id = ids::guid();
    let (release, release_note) =
        crate::releases::choose(state, &baseline_toml, now, Some(now)).await?;
    let action = if ask.rollback.is_empty() {
        "node.command"
    } else {
        "node.rollback"
    };
    let payload = PatchCommand {
        operation: ask.operation,
        baseline_id,
        baseline_toml,
        evaluation_instant: now,
        snapshot_id: command_id.clone(),
        patch_group,
        reboot_option: ask.reboot_option,
        install_override_list: ask.install_override_list,
        execution_id: None,
        invocation_id: None,
        release,
        release_note,
        health_checks: Vec::new(),
        rollback: ask.rollback,
    };
    let record = CommandRecord {
        id: command_id,
        node_id: node.id.clone(),
        kind: "patch".to_owned(),
        payload_json: to_json(&payload)?,
        state: "pending".to_owned(),
        created_at: now,
        delivered_at: None,
        deliveries: 0,
        acknowledged_at: None,
        completed_at: None,
        ack_deadline_at: Some(crate::later(now, AD_HOC_ACK_TIMEOUT)),
        finish_deadline_at: None,
        result_json: None,
        invocation_id: None,
    };
    state.store().create_command(&record).await?;
    state.wake_node(&node.id);
    state
        .store()
        .audit(now, actor, action, Some(&node.id), None)
        .await?;
    Ok(record)
}

/// `POST /nodes/{id}/rollback`: puts back on the node what a window execution's install
/// replaced there (its report's `install.replaced`), through an ad-hoc command.
pub(crate) async fn rollback(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<pw_api::server::agent::RollbackRequest>,
) -> Result<(StatusCode, Json<CommandInfo>), ApiError> {
    let node = load_node(&state, &id).await?;
    let install = state
        .store()
        .node_history(&node.id, None, None, 1000)
        .await?
        .into_iter()
        .find(|r| {
            r.operation == "Install"
                && r.execution_id.as_deref() == Some(body.execution_id.as_str())
        })
        .ok_or_else(|| {
            ApiError::field(
                "execution_id",
                format!(
                    "node `{}` has no Install report of execution `{}`",
                    node.id, body.execution_id
                ),
            )
        })?;
    let text = state
        .store()
        .report_json(install.id)
        .await?
        .ok_or_else(|| ApiError::internal(format!("report {} has no body", install.id)))?;
    let report: pw_api::agent::OperationReport = crate::api::stored_json("report", &text)?;
    let replaced = report
        .install
        .map(|install| install.replaced)
        .unwrap_or_default();
    if replaced.is_empty() {
        return Err(ApiError::conflict(format!(
            "nothing to roll back: report {} of execution `{}` records no replaced versions \
             (the install replaced nothing, or the node's agent predates rollback records)",
            install.id, body.execution_id
        )));
    }
    let record = queue_command(
        &state,
        &caller.actor(),
        &node,
        AdHoc {
            operation: TaskOperation::Install,
            baseline_id: install.baseline_id.clone(),
            reboot_option: body.reboot_option,
            install_override_list: Vec::new(),
            rollback: replaced,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(command_to_wire(&record)?)))
}
