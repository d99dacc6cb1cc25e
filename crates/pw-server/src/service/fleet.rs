//! The fleet at a glance: the overview and the node list the console and `GET
//! /api/v1/fleet...` show. Counts and lists come from one store predicate
//! (`pw_store::fleet`), so a count and the list it links to always agree.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use pw_api::server::fleet::{
    FleetNode, FleetNodePage, FleetOverview, GroupSeverities, RunningExecution, SeverityCount,
    StateCount, UpcomingWindow,
};
use pw_api::server::windows::WindowSpec;
use pw_store::{FleetFilter, FleetRow, NodeState};

use crate::AppState;
use crate::error::ApiError;
use crate::service::stored_json;

/// The largest page of the node list.
pub(crate) const MAX_PAGE: i64 = 500;

/// How far ahead the overview lists window openings.
const UPCOMING_DAYS: i64 = 7;

/// The instant before which a latest report makes a node stale.
pub(crate) fn stale_before(state: &AppState) -> Timestamp {
    let age = SignedDuration::try_from(state.settings().stale_report_after)
        .unwrap_or(SignedDuration::MAX);
    state.now().checked_sub(age).unwrap_or(Timestamp::MIN)
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The query parameters of the fleet list: its filters and paging.
pub(crate) const PARAMS: [&str; 10] = [
    "state",
    "patch_group",
    "os",
    "hostname",
    "severity",
    "reference",
    "package",
    "tag",
    "after",
    "limit",
];

/// A filter from query parameters (`state`, `patch_group`, `os`, `hostname`, `severity`,
/// `reference` (a CVE or advisory id), `package` (a package name, Missing, Failed or pending
/// a reboot), `tag` (`KEY=VALUE`));
/// an unknown parameter or state is an error that names it.
pub(crate) fn filter_from(pairs: &[(String, String)]) -> Result<FleetFilter, ApiError> {
    if let Some((key, _)) = pairs.iter().find(|(k, _)| !PARAMS.contains(&k.as_str())) {
        return Err(ApiError::field(
            key.clone(),
            format!(
                "is not a parameter of the fleet list ({})",
                PARAMS.join(", ")
            ),
        ));
    }
    let params: BTreeMap<&str, &str> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let get = |key: &str| {
        params
            .get(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    // An enumeration: exactly one of its values, or empty for any state (a select's "all").
    let state = match params.get("state").copied().filter(|text| !text.is_empty()) {
        None => None,
        Some(text) => Some(NodeState::parse(text).ok_or_else(|| {
            let names: Vec<&str> = NodeState::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::field(
                "state",
                format!("`{text}` is not one of {}", names.join(", ")),
            )
        })?),
    };
    Ok(FleetFilter {
        state,
        patch_group: get("patch_group"),
        operating_system: get("os"),
        hostname_prefix: get("hostname"),
        severity: get("severity").map(|s| s.to_ascii_uppercase()),
        reference: get("reference"),
        package: get("package"),
        tag: match get("tag") {
            None => None,
            Some(text) => {
                let (key, value) = text
                    .split_once('=')
                    .ok_or_else(|| ApiError::field("tag", format!("`{text}` is not KEY=VALUE")))?;
                Some((key.to_owned(), value.to_owned()))
            }
        },
    })
}

/// The opaque cursor of the row after which the next page starts.
pub(crate) fn cursor(row: &FleetRow) -> String {
    let mut text = String::new();
    for byte in format!("{}\n{}", row.node.hostname, row.node.id).bytes() {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

fn parse_cursor(text: &str) -> Result<(String, String), ApiError> {
    let bad = || ApiError::field("after", "is not a cursor this server gave");
    if !text.len().is_multiple_of(2) {
        return Err(bad());
    }
    let bytes: Result<Vec<u8>, _> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2).unwrap_or("zz"), 16))
        .collect();
    let decoded = String::from_utf8(bytes.map_err(|_| bad())?).map_err(|_| bad())?;
    let (hostname, id) = decoded.split_once('\n').ok_or_else(bad)?;
    Ok((hostname.to_owned(), id.to_owned()))
}

pub(crate) fn node_to_wire(row: &FleetRow) -> FleetNode {
    FleetNode {
        id: row.node.id.clone(),
        hostname: row.node.hostname.clone(),
        operating_system: row.node.operating_system.clone(),
        patch_group: row.patch_group.clone(),
        state: row.state.as_str().to_owned(),
        baseline_id: row.baseline_id.clone(),
        severity: row.severity.clone(),
        missing: count(row.missing),
        failed: count(row.failed),
        pending_reboot: count(row.pending_reboot),
        reboot_why: row.reboot_why.clone(),
        reboot_since: row.reboot_since,
        critical_non_compliant: count(row.critical),
        security_non_compliant: count(row.security),
        other_non_compliant: count(row.other),
        last_report_at: row.reported_at,
        last_scan_at: row.last_scan_at,
        last_install_at: row.last_install_at,
        last_operation: row.operation.clone(),
        last_seen_at: row.node.last_seen_at,
        agent_version: row.node.agent_version.clone(),
    }
}

/// One page of the nodes `filter` selects, after the cursor `after`.
pub(crate) async fn nodes_page(
    state: &AppState,
    filter: &FleetFilter,
    after: Option<&str>,
    limit: i64,
) -> Result<(Vec<FleetRow>, Option<String>), ApiError> {
    let limit = limit.clamp(1, MAX_PAGE);
    let after = after.map(parse_cursor).transpose()?;
    let mut rows = state
        .store()
        .fleet_page(
            stale_before(state),
            filter,
            after.as_ref().map(|(h, i)| (h.as_str(), i.as_str())),
            limit + 1,
        )
        .await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = if more { rows.last().map(cursor) } else { None };
    Ok((rows, next))
}

/// The page in its wire form.
pub(crate) async fn node_page_wire(
    state: &AppState,
    filter: &FleetFilter,
    after: Option<&str>,
    limit: i64,
) -> Result<FleetNodePage, ApiError> {
    let (rows, next) = nodes_page(state, filter, after, limit).await?;
    Ok(FleetNodePage {
        nodes: rows.iter().map(node_to_wire).collect(),
        next,
    })
}

/// Every node `filter` selects (all pages), for exports.
pub(crate) async fn all_nodes(
    state: &AppState,
    filter: &FleetFilter,
) -> Result<Vec<FleetRow>, ApiError> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let (rows, next) = nodes_page(state, filter, after.as_deref(), MAX_PAGE).await?;
        out.extend(rows);
        match next {
            Some(cursor) => after = Some(cursor),
            None => return Ok(out),
        }
    }
}

/// Counts of every state for `filter` (its own state ignored), in the fixed order.
pub(crate) async fn state_counts(
    state: &AppState,
    filter: &FleetFilter,
) -> Result<Vec<StateCount>, ApiError> {
    Ok(state
        .store()
        .fleet_counts(stale_before(state), filter)
        .await?
        .into_iter()
        .map(|(s, n)| StateCount {
            state: s.as_str().to_owned(),
            nodes: count(n),
        })
        .collect())
}

/// The overview: states, severities per patch group, the next 7 days of windows, and the
/// executions that have not ended.
pub(crate) async fn overview(state: &AppState) -> Result<FleetOverview, ApiError> {
    let now = state.now();
    let states = state_counts(state, &FleetFilter::default()).await?;
    let nodes = states.iter().map(|s| s.nodes).sum();
    let mut groups: Vec<GroupSeverities> = Vec::new();
    for (group, severity, n) in state.store().fleet_severities().await? {
        let entry = SeverityCount {
            severity,
            nodes: count(n),
        };
        match groups.iter_mut().find(|g| g.patch_group == group) {
            Some(existing) => existing.severities.push(entry),
            None => groups.push(GroupSeverities {
                patch_group: group,
                severities: vec![entry],
            }),
        }
    }
    let horizon = now
        .checked_add(SignedDuration::from_hours(24 * UPCOMING_DAYS))
        .unwrap_or(Timestamp::MAX);
    let mut upcoming = Vec::new();
    let mut names = BTreeMap::new();
    for record in state.store().windows().await? {
        names.insert(record.id.clone(), record.name.clone());
        if !record.enabled {
            continue;
        }
        let spec: WindowSpec = stored_json("window", &record.spec_json)?;
        let Ok(window) =
            crate::service::windows::scheduled_window(&spec, record.schedule_anchor_at)
        else {
            continue;
        };
        for occurrence in window.occurrences_after(now).take(200) {
            let start = occurrence.start().timestamp();
            if start > horizon {
                break;
            }
            upcoming.push(UpcomingWindow {
                window_id: record.id.clone(),
                name: record.name.clone(),
                start,
                last_task_start: occurrence.last_task_start().timestamp(),
                end: occurrence.end().timestamp(),
            });
        }
    }
    upcoming.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.name.cmp(&b.name)));
    let mut running = Vec::new();
    for record in state.store().executions(None, 200).await? {
        let status = pw_api::server::windows::ExecutionStatus::parse(&record.status);
        if crate::runner::is_final_status(&record.status) {
            continue;
        }
        let execution = crate::service::executions::load(state, &record.id).await?;
        let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
        for task in &execution.tasks {
            for invocation in &task.invocations {
                *by_status
                    .entry(invocation.status.as_str().to_owned())
                    .or_default() += 1;
            }
        }
        running.push(RunningExecution {
            execution_id: record.id.clone(),
            window_id: record.window_id.clone(),
            window_name: names.get(&record.window_id).cloned().unwrap_or_default(),
            status: status.as_str().to_owned(),
            started_at: record.started_at,
            invocations: by_status
                .into_iter()
                .map(|(state, nodes)| StateCount { state, nodes })
                .collect(),
        });
    }
    Ok(FleetOverview {
        as_of: now,
        stale_after_hours: state.settings().stale_report_after.as_secs() / 3600,
        nodes,
        states,
        patch_groups: groups,
        upcoming,
        running,
    })
}

/// Patch states from worst to best, as a CVE or advisory view ranks a node.
pub(crate) const PATCH_STATES: [&str; 7] = [
    "Failed",
    "Missing",
    "InstalledPendingReboot",
    "InstalledRejected",
    "Installed",
    "InstalledOther",
    "NotApplicable",
];

fn rank(state: &str) -> usize {
    PATCH_STATES
        .iter()
        .position(|s| *s == state)
        .unwrap_or(PATCH_STATES.len())
}

/// Where a CVE or advisory stands across the fleet: nodes by their worst state for it,
/// failures by reason, and the (node, package) rows — of one node state when `state` is
/// given, so that a count and its list agree.
pub(crate) async fn reference(
    state: &AppState,
    reference: &str,
    only: Option<&str>,
) -> Result<pw_api::server::fleet::ReferenceReport, ApiError> {
    use pw_api::server::fleet::{ApprovalGroup, FailureGroup, ReferenceNode, ReferenceReport};
    let reference = reference.trim().to_ascii_uppercase();
    if reference.is_empty() || reference.len() > 128 {
        return Err(ApiError::field(
            "id",
            "must be a CVE or advisory id of 1 to 128 characters",
        ));
    }
    if let Some(wanted) = only
        && !PATCH_STATES.contains(&wanted)
    {
        return Err(ApiError::field(
            "state",
            format!("`{wanted}` is not one of {}", PATCH_STATES.join(", ")),
        ));
    }
    let found = state.store().patch_refs(&reference).await?;
    // Each node's worst state for this id.
    let mut worst: BTreeMap<&str, &str> = BTreeMap::new();
    for (node, patch) in &found {
        let entry = worst
            .entry(node.id.as_str())
            .or_insert(patch.state.as_str());
        if rank(&patch.state) < rank(entry) {
            *entry = patch.state.as_str();
        }
    }
    let nodes_by_state = PATCH_STATES
        .iter()
        .map(|s| StateCount {
            state: (*s).to_owned(),
            nodes: worst.values().filter(|w| *w == s).count() as u64,
        })
        .collect();
    let mut failures: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, patch) in found.iter().filter(|(_, p)| p.state == "Failed") {
        *failures.entry(patch.reason.as_str()).or_default() += 1;
    }
    // Per patch group and decision: the nodes, and the earliest approval.
    type Decided = (std::collections::BTreeSet<String>, Option<Timestamp>);
    let mut decided: BTreeMap<(Option<String>, &str), Decided> = BTreeMap::new();
    for (node, patch) in &found {
        let slot = decided
            .entry((
                crate::resolve::node_patch_group(node),
                patch.reason.as_str(),
            ))
            .or_default();
        slot.0.insert(node.id.clone());
        slot.1 = match (slot.1, patch.approved_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    let approvals = decided
        .into_iter()
        .map(
            |((patch_group, decision), (nodes, approved_at))| ApprovalGroup {
                patch_group,
                decision: decision.to_owned(),
                approved_at,
                nodes: nodes.len() as u64,
            },
        )
        .collect();
    let rows = found
        .iter()
        .filter(|(node, _)| only.is_none_or(|wanted| worst.get(node.id.as_str()) == Some(&wanted)))
        .map(|(node, patch)| ReferenceNode {
            node_id: node.id.clone(),
            hostname: node.hostname.clone(),
            operating_system: node.operating_system.clone(),
            patch_group: crate::resolve::node_patch_group(node),
            package: format!("{}.{}", patch.name, patch.arch),
            state: patch.state.clone(),
            reason: patch.reason.clone(),
            approved_at: patch.approved_at,
        })
        .collect();
    let mut failures: Vec<FailureGroup> = failures
        .into_iter()
        .map(|(reason, nodes)| FailureGroup {
            reason: reason.to_owned(),
            nodes,
        })
        .collect();
    failures.sort_by(|a, b| b.nodes.cmp(&a.nodes).then_with(|| a.reason.cmp(&b.reason)));
    Ok(ReferenceReport {
        reference,
        as_of: state.now(),
        nodes_by_state,
        failures,
        approvals,
        rows,
    })
}

/// Patch latency for one severity: how long installs came after releases.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Latency {
    pub(crate) severity: String,
    pub(crate) installs: usize,
    /// Days from release to install, nearest-rank percentiles.
    pub(crate) p50_days: f64,
    pub(crate) p95_days: f64,
}

/// The nearest-rank `p` percentile of sorted `values`.
fn percentile(sorted: &[i64], p: f64) -> i64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Where a severity sorts: the most severe first, unknown ones after, `None` last.
fn severity_rank(severity: &str) -> usize {
    const ORDER: [&str; 6] = ["Critical", "Important", "High", "Medium", "Moderate", "Low"];
    ORDER
        .iter()
        .position(|s| s.eq_ignore_ascii_case(severity))
        .unwrap_or(if severity == "None" { 8 } else { 7 })
}

/// Patch latency per severity for the packages installs put on since `since`: p50 and p95 of
/// the time from release to install.
pub(crate) async fn patch_latency(
    state: &AppState,
    since: Timestamp,
) -> Result<Vec<Latency>, ApiError> {
    let mut by_severity: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (severity, seconds) in state.store().patch_latencies(since).await? {
        by_severity
            .entry(severity)
            .or_default()
            .push(seconds.max(0));
    }
    let days = |seconds: i64| seconds as f64 / 86_400.0;
    let mut rows: Vec<Latency> = by_severity
        .into_iter()
        .map(|(severity, mut values)| {
            values.sort_unstable();
            Latency {
                installs: values.len(),
                p50_days: days(percentile(&values, 0.50)),
                p95_days: days(percentile(&values, 0.95)),
                severity,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        severity_rank(&a.severity)
            .cmp(&severity_rank(&b.severity))
            .then_with(|| a.severity.cmp(&b.severity))
    });
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<i64> = (1..=20).collect();
        assert_eq!(percentile(&values, 0.50), 10);
        assert_eq!(percentile(&values, 0.95), 19);
        assert_eq!(percentile(&[7], 0.95), 7);
        assert!(severity_rank("Critical") < severity_rank("Low"));
        assert!(severity_rank("unheard-of") < severity_rank("None"));
    }
}
