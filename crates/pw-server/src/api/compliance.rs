//! `/compliance/...`: node summaries with the count filters of ssm-reference §5.4, items
//! with state / classification / severity filters, history, roll-ups per patch group and
//! per baseline, CSV / JSON export, and single reports whole.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use pw_api::agent::OperationReport;
use pw_api::evaluation::PatchJson;
use pw_api::server::compliance::{ComplianceSummary, ExportRow, GroupCompliance, NodeCompliance};
use pw_store::{NodeRecord, ReportRecord};

use crate::AppState;
use crate::api::nodes::{latest_reports, node_filter};
use crate::api::{stored_json, summary_to_wire};
use crate::auth::ReadOnly;
use crate::error::ApiError;
use crate::extract::Params;
use crate::resolve::node_patch_group;

/// One `filter=<key>:<Equal|NotEqual|LessThan|GreaterThan>:<integer>`.
#[derive(Debug, Clone)]
struct CountFilter {
    key: &'static str,
    comparison: Comparison,
    value: i64,
}

#[derive(Debug, Clone, Copy)]
enum Comparison {
    Equal,
    NotEqual,
    LessThan,
    GreaterThan,
}

const COUNT_KEYS: [(&str, &str); 10] = [
    ("installed", "InstalledCount"),
    ("installed_other", "InstalledOtherCount"),
    ("installed_rejected", "InstalledRejectedCount"),
    ("installed_pending_reboot", "InstalledPendingRebootCount"),
    ("not_applicable", "NotApplicableCount"),
    ("missing", "MissingCount"),
    ("failed", "FailedCount"),
    ("critical_non_compliant", "CriticalNonCompliantCount"),
    ("security_non_compliant", "SecurityNonCompliantCount"),
    ("other_non_compliant", "OtherNonCompliantCount"),
];

fn parse_filters(params: &Params) -> Result<Vec<CountFilter>, ApiError> {
    let mut filters = Vec::new();
    for (name, text) in params.0.iter().filter(|(name, _)| name == "filter") {
        let parts: Vec<&str> = text.split(':').collect();
        let [key, comparison, value] = parts.as_slice() else {
            return Err(ApiError::field(
                name.as_str(),
                format!(
                    "`{text}` is not `<count>:<Equal|NotEqual|LessThan|GreaterThan>:<integer>`"
                ),
            ));
        };
        let key = COUNT_KEYS
            .iter()
            .find(|(snake, aws)| snake == key || aws == key)
            .map(|(snake, _)| *snake)
            .ok_or_else(|| {
                let keys: Vec<&str> = COUNT_KEYS.iter().map(|(snake, _)| *snake).collect();
                ApiError::field(
                    "filter",
                    format!("`{key}` is not one of {}", keys.join(", ")),
                )
            })?;
        let comparison = match *comparison {
            "Equal" => Comparison::Equal,
            "NotEqual" => Comparison::NotEqual,
            "LessThan" => Comparison::LessThan,
            "GreaterThan" => Comparison::GreaterThan,
            other => {
                return Err(ApiError::field(
                    "filter",
                    format!("`{other}` is not one of Equal, NotEqual, LessThan, GreaterThan"),
                ));
            }
        };
        // `-?[0-9]{1,18}`, as the document's pattern: no `+`, no spaces, within i64.
        let digits = value.strip_prefix('-').unwrap_or(value);
        let value = (!digits.is_empty()
            && digits.len() <= 18
            && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| value.parse::<i64>().ok())
        .flatten()
        .ok_or_else(|| {
            ApiError::field(
                "filter",
                format!("`{value}` is not an integer of at most 18 digits"),
            )
        })?;
        filters.push(CountFilter {
            key,
            comparison,
            value,
        });
    }
    Ok(filters)
}

fn count_of(report: &ReportRecord, key: &str) -> i64 {
    let counts = &report.counts;
    match key {
        "installed" => counts.installed,
        "installed_other" => counts.installed_other,
        "installed_rejected" => counts.installed_rejected,
        "installed_pending_reboot" => counts.installed_pending_reboot,
        "not_applicable" => counts.not_applicable,
        "missing" => counts.missing,
        "failed" => counts.failed,
        "critical_non_compliant" => counts.critical_non_compliant,
        "security_non_compliant" => counts.security_non_compliant,
        _ => counts.other_non_compliant,
    }
}

fn passes(report: &ReportRecord, filters: &[CountFilter]) -> bool {
    filters.iter().all(|filter| {
        let count = count_of(report, filter.key);
        match filter.comparison {
            Comparison::Equal => count == filter.value,
            Comparison::NotEqual => count != filter.value,
            Comparison::LessThan => count < filter.value,
            Comparison::GreaterThan => count > filter.value,
        }
    })
}

/// The nodes (by the node filters) with their latest report, filtered by status,
/// baseline and the count filters.
async fn selected(
    state: &AppState,
    params: &Params,
) -> Result<Vec<(NodeRecord, ReportRecord)>, ApiError> {
    let filters = parse_filters(params)?;
    // Exactly as the OpenAPI document spells them: either case, not a mix.
    let status = match params.get("status") {
        None => None,
        Some(text @ ("COMPLIANT" | "NON_COMPLIANT" | "compliant" | "non_compliant")) => {
            Some(text.to_ascii_uppercase())
        }
        Some(other) => {
            return Err(ApiError::field(
                "status",
                format!("`{other}` is not COMPLIANT, NON_COMPLIANT, compliant or non_compliant"),
            ));
        }
    };
    let baseline = params.get("baseline_id");
    let keep = node_filter(params);
    let mut reports = latest_reports(state).await?;
    let mut out = Vec::new();
    for node in state.store().nodes().await? {
        if !keep(&node) {
            continue;
        }
        let Some(report) = reports.remove(&node.id) else {
            continue;
        };
        if status
            .as_ref()
            .is_some_and(|status| *status != report.status)
            || baseline.is_some_and(|baseline| report.baseline_id.as_deref() != Some(baseline))
            || !passes(&report, &filters)
        {
            continue;
        }
        out.push((node, report));
    }
    Ok(out)
}

pub(crate) async fn node_summaries(
    State(state): State<AppState>,
    _caller: ReadOnly,
    params: Params,
) -> Result<Json<Vec<ComplianceSummary>>, ApiError> {
    Ok(Json(
        selected(&state, &params)
            .await?
            .iter()
            .map(|(_, report)| summary_to_wire(report))
            .collect(),
    ))
}

/// Item filters: `state=`, `classification=`, `severity=` (comma-separated, any case).
fn item_filter(params: &Params) -> impl Fn(&PatchJson) -> bool + use<> {
    let states = params.all("state");
    let classifications = params.all("classification");
    let severities = params.all("severity");
    let any = |wanted: &[String], value: Option<&str>| {
        wanted.is_empty()
            || value.is_some_and(|value| wanted.iter().any(|w| w.eq_ignore_ascii_case(value)))
    };
    move |item: &PatchJson| {
        any(&states, Some(&item.state))
            && any(&classifications, item.classification.as_deref())
            && any(
                &severities,
                item.severity.as_deref().or(Some(&item.compliance_level)),
            )
    }
}

async fn items_of(state: &AppState, report_id: i64) -> Result<Vec<PatchJson>, ApiError> {
    let text = state
        .store()
        .report_items(report_id)
        .await?
        .ok_or_else(|| ApiError::not_found("compliance report", &report_id.to_string()))?;
    stored_json("report items", &text)
}

pub(crate) async fn node_items(
    State(state): State<AppState>,
    _caller: ReadOnly,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<NodeCompliance>, ApiError> {
    let node = state
        .store()
        .node(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("node", &id))?;
    let report_id = node
        .latest_report_id
        .ok_or_else(|| ApiError::not_found("compliance report of node", &id))?;
    let report = state
        .store()
        .report(report_id)
        .await?
        .ok_or_else(|| ApiError::not_found("compliance report", &report_id.to_string()))?;
    let keep = item_filter(&params);
    let items = items_of(&state, report_id)
        .await?
        .into_iter()
        .filter(|item| keep(item))
        .collect();
    Ok(Json(NodeCompliance {
        summary: summary_to_wire(&report),
        items,
    }))
}

pub(crate) async fn node_history(
    State(state): State<AppState>,
    _caller: ReadOnly,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<Vec<ComplianceSummary>>, ApiError> {
    let from = params.timestamp("from")?;
    let to = params.timestamp("to")?;
    let limit = params.int("limit", 100, 1..=10_000)?;
    if state.store().node(&id).await?.is_none() {
        return Err(ApiError::not_found("node", &id));
    }
    let history = state.store().node_history(&id, from, to, limit).await?;
    Ok(Json(history.iter().map(summary_to_wire).collect()))
}

/// `GET /compliance/reports/{report_id}`: one stored report whole, as the agent uploaded it
/// (install outcome, hook failures, notes), for readers such as `patchwarden promote`.
pub(crate) async fn report(
    State(state): State<AppState>,
    _caller: ReadOnly,
    Path(id): Path<String>,
) -> Result<Json<OperationReport>, ApiError> {
    let report_id: i64 = id
        .parse()
        .map_err(|_| ApiError::not_found("compliance report", &id))?;
    let text = state
        .store()
        .report_json(report_id)
        .await?
        .ok_or_else(|| ApiError::not_found("compliance report", &id))?;
    Ok(Json(stored_json("report", &text)?))
}

fn add(group: &mut GroupCompliance, report: Option<&ReportRecord>) {
    group.nodes += 1;
    let Some(report) = report else { return };
    let counts = &report.counts;
    group.nodes_reported += 1;
    if let Some(release) = &report.release {
        *group.releases.entry(release.clone()).or_default() += 1;
    }
    if report.status == "COMPLIANT" {
        group.nodes_compliant += 1;
    } else {
        group.nodes_non_compliant += 1;
    }
    for (count, field) in [
        (counts.installed, &mut group.nodes_with_installed),
        (
            counts.installed_other,
            &mut group.nodes_with_installed_other,
        ),
        (
            counts.installed_pending_reboot,
            &mut group.nodes_with_installed_pending_reboot,
        ),
        (
            counts.installed_rejected,
            &mut group.nodes_with_installed_rejected,
        ),
        (counts.missing, &mut group.nodes_with_missing),
        (counts.failed, &mut group.nodes_with_failed),
        (counts.not_applicable, &mut group.nodes_with_not_applicable),
        (
            counts.critical_non_compliant,
            &mut group.nodes_with_critical_non_compliant,
        ),
        (
            counts.security_non_compliant,
            &mut group.nodes_with_security_non_compliant,
        ),
        (
            counts.other_non_compliant,
            &mut group.nodes_with_other_non_compliant,
        ),
    ] {
        if count > 0 {
            *field += 1;
        }
    }
}

/// Roll-up by a key of each node (`None`: not counted).
async fn roll_up(
    state: &AppState,
    params: &Params,
    key: impl Fn(&NodeRecord, Option<&ReportRecord>) -> Option<String>,
) -> Result<Vec<GroupCompliance>, ApiError> {
    let keep = node_filter(params);
    let reports = latest_reports(state).await?;
    let mut groups: BTreeMap<String, GroupCompliance> = BTreeMap::new();
    for node in state.store().nodes().await? {
        if !keep(&node) {
            continue;
        }
        let report = reports.get(&node.id);
        if let Some(key) = key(&node, report) {
            let group = groups
                .entry(key.clone())
                .or_insert_with(|| GroupCompliance {
                    key,
                    ..GroupCompliance::default()
                });
            add(group, report);
        }
    }
    Ok(groups.into_values().collect())
}

pub(crate) async fn patch_groups(
    State(state): State<AppState>,
    _caller: ReadOnly,
    params: Params,
) -> Result<Json<Vec<GroupCompliance>>, ApiError> {
    Ok(Json(
        roll_up(&state, &params, |node, _| node_patch_group(node)).await?,
    ))
}

pub(crate) async fn baselines(
    State(state): State<AppState>,
    _caller: ReadOnly,
    params: Params,
) -> Result<Json<Vec<GroupCompliance>>, ApiError> {
    let registrations = crate::resolve::Registrations::load(state.store()).await?;
    Ok(Json(
        roll_up(&state, &params, |node, report| {
            report
                .and_then(|report| report.baseline_id.clone())
                .or_else(|| registrations.for_node(node).ok().map(|(_, id)| id))
        })
        .await?,
    ))
}

/// One CSV cell (shared by every CSV the server writes).
pub(crate) fn csv_field(out: &mut String, text: &str) {
    // A cell a spreadsheet would read as a formula (CSV injection) starts with a quote
    // character that makes it text: package names and reasons come from repositories.
    let neutralised;
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        neutralised = format!("'{text}");
        neutralised.as_str()
    } else {
        text
    };
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

const CSV_HEADER: &str = "node_id,hostname,patch_group,baseline_id,reported_at,operation,node_status,name,arch,state,installed,target,compliance_level,classification,severity,cves,advisories,reason";

fn csv(rows: &[ExportRow]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for row in rows {
        let patch = &row.patch;
        let reported_at = row.reported_at.to_string();
        let fields: [&str; 18] = [
            &row.node_id,
            &row.hostname,
            row.patch_group.as_deref().unwrap_or(""),
            row.baseline_id.as_deref().unwrap_or(""),
            &reported_at,
            row.operation.as_str(),
            &row.node_status,
            &patch.name,
            &patch.arch,
            &patch.state,
            patch.installed.as_deref().unwrap_or(""),
            patch.target.as_deref().unwrap_or(""),
            &patch.compliance_level,
            patch.classification.as_deref().unwrap_or(""),
            patch.severity.as_deref().unwrap_or(""),
            &patch.cves.join(" "),
            &patch.advisories.join(" "),
            &patch.reason,
        ];
        for (index, field) in fields.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            csv_field(&mut out, field);
        }
        let _ = writeln!(out);
    }
    out
}

pub(crate) async fn export(
    State(state): State<AppState>,
    _caller: ReadOnly,
    params: Params,
) -> Result<Response, ApiError> {
    let format = params.get("format").unwrap_or("json").to_owned();
    if format != "json" && format != "csv" {
        return Err(ApiError::field(
            "format",
            format!("`{format}` is not json or csv"),
        ));
    }
    let keep = item_filter(&params);
    let mut rows = Vec::new();
    for (node, report) in selected(&state, &params).await? {
        let summary = summary_to_wire(&report);
        for patch in items_of(&state, report.id).await? {
            if keep(&patch) {
                rows.push(ExportRow {
                    node_id: node.id.clone(),
                    hostname: node.hostname.clone(),
                    patch_group: report
                        .patch_group
                        .clone()
                        .or_else(|| node_patch_group(&node)),
                    baseline_id: report.baseline_id.clone(),
                    reported_at: report.reported_at,
                    operation: summary.operation,
                    node_status: report.status.clone(),
                    patch,
                });
            }
        }
    }
    if format == "csv" {
        Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"compliance.csv\"",
                ),
            ],
            csv(&rows),
        )
            .into_response())
    } else {
        Ok(Json(rows).into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_cells_never_start_a_formula() {
        let cell = |text: &str| {
            let mut out = String::new();
            csv_field(&mut out, text);
            out
        };
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("-cmd"), "'-cmd");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("openssl"), "openssl");
        assert_eq!(cell("a,b"), "\"a,b\"");
    }
}
