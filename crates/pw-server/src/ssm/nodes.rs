//! SSM operations on managed nodes and their patch states: DescribeInstanceInformation,
//! DescribeInstancePatchStates(ForPatchGroup), DescribeInstancePatches,
//! DescribePatchGroupState. They read the same latest reports as the native compliance API
//! (`crate::service::compliance`), so `aws ssm describe-instance-patch-states` says what
//! `patchwarden compliance summary` says.

use std::collections::HashMap;

use pw_api::evaluation::PatchJson;
use pw_store::{NodeRecord, ReportRecord};
use serde_json::{Map, Value, json};

use super::{Input, Principal, SsmError, epoch, key_values, paged, strings};
use crate::AppState;
use crate::resolve::{Registrations, node_patch_group};
use crate::service::compliance::latest_reports;

pub(crate) const OPERATIONS: &[&str] = &[
    "DescribeInstanceInformation",
    "DescribeInstancePatchStates",
    "DescribeInstancePatchStatesForPatchGroup",
    "DescribeInstancePatches",
    "DescribePatchGroupState",
];

/// A node that checked in within this long is `Online`.
const ONLINE_WITHIN: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);

fn instance_information(node: &NodeRecord, now: jiff::Timestamp) -> Value {
    let online = node
        .last_seen_at
        .is_some_and(|seen| now.duration_since(seen) <= ONLINE_WITHIN);
    let mut map = Map::new();
    map.insert("InstanceId".to_owned(), json!(node.id));
    map.insert(
        "PingStatus".to_owned(),
        json!(if online { "Online" } else { "ConnectionLost" }),
    );
    if let Some(seen) = node.last_seen_at {
        map.insert("LastPingDateTime".to_owned(), epoch(seen));
    }
    let version_ok = {
        let parts: Vec<&str> = node.agent_version.split('.').collect();
        (3..=4).contains(&parts.len())
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit()))
    };
    if version_ok {
        map.insert("AgentVersion".to_owned(), json!(node.agent_version));
    }
    map.insert("PlatformType".to_owned(), json!("Linux"));
    map.insert("PlatformName".to_owned(), json!(node.operating_system));
    map.insert("PlatformVersion".to_owned(), json!(node.product));
    map.insert("RegistrationDate".to_owned(), epoch(node.enrolled_at));
    map.insert("ResourceType".to_owned(), json!("ManagedInstance"));
    map.insert("Name".to_owned(), json!(node.hostname));
    map.insert("ComputerName".to_owned(), json!(node.hostname));
    map.insert("SourceType".to_owned(), json!("AWS::SSM::ManagedInstance"));
    map.insert("SourceId".to_owned(), json!(node.id));
    Value::Object(map)
}

fn count(n: i64) -> Value {
    json!(n.max(0))
}

/// One `InstancePatchState` from a node's latest report.
fn patch_state(
    node: &NodeRecord,
    report: &ReportRecord,
    region: &str,
    registrations: &Registrations,
) -> Value {
    let counts = &report.counts;
    let baseline = report
        .baseline_id
        .clone()
        .or_else(|| registrations.for_node(node).ok().map(|(_, id)| id))
        .unwrap_or_default();
    let mut map = Map::new();
    map.insert("InstanceId".to_owned(), json!(node.id));
    map.insert(
        "PatchGroup".to_owned(),
        json!(
            report
                .patch_group
                .clone()
                .or_else(|| node_patch_group(node))
                .unwrap_or_default()
        ),
    );
    map.insert(
        "BaselineId".to_owned(),
        json!(super::baselines::ssm_id(&baseline, region)),
    );
    if let Some(execution) = &report.execution_id {
        map.insert("SnapshotId".to_owned(), json!(execution));
    }
    for (member, value) in [
        ("InstalledCount", counts.installed),
        ("InstalledOtherCount", counts.installed_other),
        (
            "InstalledPendingRebootCount",
            counts.installed_pending_reboot,
        ),
        ("InstalledRejectedCount", counts.installed_rejected),
        ("MissingCount", counts.missing),
        ("FailedCount", counts.failed),
        ("NotApplicableCount", counts.not_applicable),
        ("CriticalNonCompliantCount", counts.critical_non_compliant),
        ("SecurityNonCompliantCount", counts.security_non_compliant),
        ("OtherNonCompliantCount", counts.other_non_compliant),
    ] {
        map.insert(member.to_owned(), count(value));
    }
    map.insert("UnreportedNotApplicableCount".to_owned(), json!(0));
    // Available security updates not approved are counted on Windows only (ssm-reference
    // §1.8).
    map.insert("AvailableSecurityUpdateCount".to_owned(), json!(0));
    let start = report.operation_start.unwrap_or(report.reported_at);
    map.insert("OperationStartTime".to_owned(), epoch(start));
    map.insert(
        "OperationEndTime".to_owned(),
        epoch(report.operation_end.unwrap_or(report.reported_at)),
    );
    map.insert("Operation".to_owned(), json!(report.operation));
    Value::Object(map)
}

/// `InstancePatchStateFilter`: a count member, a comparison, one integer.
type CountFilter = (String, String, i64);

fn state_filter_matches(state: &Value, filters: &[CountFilter]) -> bool {
    filters.iter().all(|(key, kind, value)| {
        let Some(n) = state.get(key).and_then(Value::as_i64) else {
            return false;
        };
        match kind.as_str() {
            "Equal" => n == *value,
            "NotEqual" => n != *value,
            "LessThan" => n < *value,
            _ => n > *value,
        }
    })
}

fn state_filters(input: &Input) -> Result<Vec<CountFilter>, SsmError> {
    const KEYS: [&str; 10] = [
        "InstalledCount",
        "InstalledOtherCount",
        "InstalledPendingRebootCount",
        "InstalledRejectedCount",
        "MissingCount",
        "FailedCount",
        "NotApplicableCount",
        "CriticalNonCompliantCount",
        "SecurityNonCompliantCount",
        "OtherNonCompliantCount",
    ];
    let Some(list) = input.get("Filters").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    if list.len() > 4 {
        return Err(SsmError::validation("at most 4 filters"));
    }
    list.iter()
        .map(|filter| {
            let key = filter.get("Key").and_then(Value::as_str).unwrap_or("");
            let kind = filter.get("Type").and_then(Value::as_str).unwrap_or("");
            let value = filter
                .get("Values")
                .and_then(Value::as_array)
                .and_then(|v| v.first())
                .and_then(Value::as_str)
                .and_then(|v| v.parse::<i64>().ok());
            if !KEYS.contains(&key) {
                return Err(SsmError::new(
                    "InvalidFilter",
                    format!("filter key `{key}` is not one of {}", KEYS.join(", ")),
                ));
            }
            if !["Equal", "NotEqual", "LessThan", "GreaterThan"].contains(&kind) {
                return Err(SsmError::new(
                    "InvalidFilter",
                    format!(
                        "filter type `{kind}` is not one of Equal, NotEqual, LessThan, GreaterThan"
                    ),
                ));
            }
            let value = value.ok_or_else(|| {
                SsmError::new("InvalidFilter", "a filter takes one integer value")
            })?;
            Ok((key.to_owned(), kind.to_owned(), value))
        })
        .collect()
}

/// SSM's `PatchComplianceDataState` of a patch state (`InstalledPendingReboot` →
/// `INSTALLED_PENDING_REBOOT`).
pub(crate) fn state_enum(state: &str) -> String {
    let mut out = String::new();
    for (index, c) in state.chars().enumerate() {
        if c.is_ascii_uppercase() && index > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn patch_data(item: &PatchJson, installed_time: Value) -> Value {
    let version = item.target.as_ref().or(item.installed.as_ref());
    let mut map = Map::new();
    map.insert(
        "Title".to_owned(),
        json!(match version {
            Some(v) => format!("{}.{}:{v}", item.name, item.arch),
            None => format!("{}.{}", item.name, item.arch),
        }),
    );
    map.insert(
        "KBId".to_owned(),
        json!(format!("{}.{}", item.name, item.arch)),
    );
    map.insert(
        "Classification".to_owned(),
        json!(item.classification.clone().unwrap_or_default()),
    );
    map.insert(
        "Severity".to_owned(),
        json!(item.severity.clone().unwrap_or_default()),
    );
    map.insert("State".to_owned(), json!(state_enum(&item.state)));
    map.insert("InstalledTime".to_owned(), installed_time);
    if !item.cves.is_empty() {
        map.insert("CVEIds".to_owned(), json!(item.cves.join(",")));
    }
    Value::Object(map)
}

pub(crate) async fn dispatch(
    state: &AppState,
    principal: &Principal,
    operation: &str,
    input: &Input,
) -> Result<Value, SsmError> {
    let now = state.now();
    match operation {
        "DescribeInstanceInformation" => {
            let max = input.max_results(5..=50, 10)?;
            if input.has("Filters") && input.has("InstanceInformationFilterList") {
                return Err(SsmError::validation(
                    "give Filters or InstanceInformationFilterList, not both",
                ));
            }
            // `Filters` (Key/Values) or the older `InstanceInformationFilterList`
            // (key/valueSet).
            let (list, key_member, values_member) = match input.get("InstanceInformationFilterList")
            {
                Some(list) => (Some(list), "key", "valueSet"),
                None => (input.get("Filters"), "Key", "Values"),
            };
            let filters = key_values(list, key_member, values_member);
            const KEYS: [&str; 6] = [
                "InstanceIds",
                "PingStatus",
                "PlatformTypes",
                "ResourceType",
                "tag-key",
                "AgentVersion",
            ];
            if let Some((key, _)) = filters
                .iter()
                .find(|(key, _)| !key.starts_with("tag:") && !KEYS.contains(&key.as_str()))
            {
                return Err(SsmError::new(
                    "InvalidFilterKey",
                    format!(
                        "filter key `{key}` is not supported; use tag:<key> or one of {}",
                        KEYS.join(", ")
                    ),
                ));
            }
            let mut nodes = state.store().nodes().await?;
            nodes.sort_by(|a, b| a.id.cmp(&b.id));
            let mut items = Vec::new();
            for node in &nodes {
                let info = instance_information(node, now);
                let keep = filters.iter().all(|(key, values)| {
                    let field = |name: &str| info.get(name).and_then(Value::as_str).unwrap_or("");
                    if let Some(tag) = key.strip_prefix("tag:") {
                        return node
                            .tags
                            .iter()
                            .any(|(k, v)| k == tag && values.iter().any(|x| x == v));
                    }
                    match key.as_str() {
                        "tag-key" => node.tags.iter().any(|(k, _)| values.contains(k)),
                        "InstanceIds" => values.contains(&node.id),
                        "PingStatus" => values.iter().any(|v| v == field("PingStatus")),
                        "PlatformTypes" => values.iter().any(|v| v == "Linux"),
                        "ResourceType" => values.iter().any(|v| v == "ManagedInstance"),
                        _ => values.contains(&node.agent_version),
                    }
                });
                if keep {
                    items.push(info);
                }
            }
            paged(&items, input, max, "InstanceInformationList")
        }
        "DescribeInstancePatchStates" | "DescribeInstancePatchStatesForPatchGroup" => {
            let max = input.max_results(10..=100, 100)?;
            let reports = latest_reports(state).await?;
            let registrations = Registrations::load(state.store()).await?;
            let nodes: HashMap<String, NodeRecord> = state
                .store()
                .nodes()
                .await?
                .into_iter()
                .map(|n| (n.id.clone(), n))
                .collect();
            let (ids, group, filters): (Vec<String>, Option<String>, Vec<CountFilter>) =
                if operation == "DescribeInstancePatchStates" {
                    let ids: Vec<String> = input
                        .get("InstanceIds")
                        .and_then(Value::as_array)
                        .map(|_| strings(input.get("InstanceIds")))
                        .ok_or_else(|| {
                            SsmError::validation(
                                "1 validation error detected: Value null at 'instanceIds' failed to satisfy constraint: Member must not be null",
                            )
                        })?;
                    if ids.len() > 50 {
                        return Err(SsmError::validation("InstanceIds: at most 50"));
                    }
                    (ids, None, Vec::new())
                } else {
                    let group = input.required("PatchGroup", 1..=256)?;
                    let mut ids: Vec<String> = nodes.keys().cloned().collect();
                    ids.sort();
                    (ids, Some(group), state_filters(input)?)
                };
            let mut items = Vec::new();
            for id in ids {
                let (Some(node), Some(report)) = (nodes.get(&id), reports.get(&id)) else {
                    continue;
                };
                if let Some(group) = &group
                    && node_patch_group(node).as_ref() != Some(group)
                {
                    continue;
                }
                let value = patch_state(node, report, &principal.region, &registrations);
                if state_filter_matches(&value, &filters) {
                    items.push(value);
                }
            }
            let mut page = paged(&items, input, max, "InstancePatchStates")?;
            // What only the full report says, for the states on this page.
            if let Some(list) = page
                .get_mut("InstancePatchStates")
                .and_then(Value::as_array_mut)
            {
                for item in list {
                    let Some(report) = item
                        .get("InstanceId")
                        .and_then(Value::as_str)
                        .and_then(|id| reports.get(id))
                    else {
                        continue;
                    };
                    let Some(text) = state.store().report_json(report.id).await? else {
                        continue;
                    };
                    let Ok(full) = serde_json::from_str::<pw_api::agent::OperationReport>(&text)
                    else {
                        continue;
                    };
                    let Some(map) = item.as_object_mut() else {
                        continue;
                    };
                    map.insert("RebootOption".to_owned(), json!(full.reboot_option));
                    if let Some(list) = full.install_override_list {
                        map.insert("InstallOverrideList".to_owned(), json!(list));
                    }
                    if let Some(at) = full
                        .last_no_reboot_install_time
                        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                    {
                        map.insert("LastNoRebootInstallOperationTime".to_owned(), epoch(at));
                    }
                }
            }
            Ok(page)
        }
        "DescribeInstancePatches" => {
            let max = input.max_results(10..=100, 100)?;
            let id = input.required("InstanceId", 1..=64)?;
            let reports = latest_reports(state).await?;
            if state.store().node(&id).await?.is_none() {
                return Err(SsmError::new(
                    "InvalidInstanceId",
                    format!("{id} is not a managed node"),
                ));
            }
            let Some(report) = reports.get(&id) else {
                return Ok(json!({"Patches": []}));
            };
            let items_text = state
                .store()
                .report_items(report.id)
                .await?
                .unwrap_or_else(|| "[]".to_owned());
            let items: Vec<PatchJson> = serde_json::from_str(&items_text)
                .map_err(|e| SsmError::new("InternalServerError", e.to_string()))?;
            let filters = key_values(input.get("Filters"), "Key", "Values");
            if let Some((bad, _)) = filters.iter().find(|(key, _)| {
                !["Classification", "Severity", "State", "KBId"].contains(&key.as_str())
            }) {
                return Err(SsmError::new(
                    "InvalidFilter",
                    format!(
                        "filter key `{bad}` is not one of Classification, KBId, Severity, State"
                    ),
                ));
            }
            let installed_time = epoch(report.operation_end.unwrap_or(report.reported_at));
            let patches: Vec<Value> = items
                .iter()
                .filter(|item| {
                    filters.iter().all(|(key, values)| {
                        let field = match key.as_str() {
                            "Classification" => item.classification.clone().unwrap_or_default(),
                            "Severity" => item.severity.clone().unwrap_or_default(),
                            "State" => state_enum(&item.state),
                            "KBId" => format!("{}.{}", item.name, item.arch),
                            _ => return true,
                        };
                        values.is_empty()
                            || values
                                .iter()
                                .any(|v| v.eq_ignore_ascii_case(&field) || state_enum(v) == field)
                    })
                })
                .map(|item| patch_data(item, installed_time.clone()))
                .collect();
            paged(&patches, input, max, "Patches")
        }
        "DescribePatchGroupState" => {
            let group = input.required("PatchGroup", 1..=256)?;
            let reports = latest_reports(state).await?;
            let mut out: Vec<(&str, i64)> = vec![
                ("Instances", 0),
                ("InstancesWithInstalledPatches", 0),
                ("InstancesWithInstalledOtherPatches", 0),
                ("InstancesWithInstalledPendingRebootPatches", 0),
                ("InstancesWithInstalledRejectedPatches", 0),
                ("InstancesWithMissingPatches", 0),
                ("InstancesWithFailedPatches", 0),
                ("InstancesWithNotApplicablePatches", 0),
                ("InstancesWithUnreportedNotApplicablePatches", 0),
                ("InstancesWithCriticalNonCompliantPatches", 0),
                ("InstancesWithSecurityNonCompliantPatches", 0),
                ("InstancesWithOtherNonCompliantPatches", 0),
                ("InstancesWithAvailableSecurityUpdates", 0),
            ];
            for node in state.store().nodes().await? {
                if node_patch_group(&node).as_ref() != Some(&group) {
                    continue;
                }
                out[0].1 += 1;
                let Some(report) = reports.get(&node.id) else {
                    continue;
                };
                let c = &report.counts;
                for (index, n) in [
                    (1, c.installed),
                    (2, c.installed_other),
                    (3, c.installed_pending_reboot),
                    (4, c.installed_rejected),
                    (5, c.missing),
                    (6, c.failed),
                    (7, c.not_applicable),
                    (9, c.critical_non_compliant),
                    (10, c.security_non_compliant),
                    (11, c.other_non_compliant),
                ] {
                    if n > 0 {
                        out[index].1 += 1;
                    }
                }
            }
            Ok(Value::Object(
                out.into_iter()
                    .map(|(k, v)| (k.to_owned(), json!(v)))
                    .collect(),
            ))
        }
        _ => Err(SsmError::new(
            "UnknownOperationException",
            format!("{operation} is not supported"),
        )),
    }
}
