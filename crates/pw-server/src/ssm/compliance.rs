//! SSM compliance listings (`ComplianceType` `Patch`, `ResourceType` `ManagedInstance`):
//! ListComplianceItems, ListComplianceSummaries, ListResourceComplianceSummaries, from each
//! node's latest report; and DescribePatchProperties.

use pw_api::evaluation::PatchJson;
use pw_core::baseline::{Family, OperatingSystem};
use pw_store::ReportRecord;
use serde_json::{Map, Value, json};

use super::{Input, SsmError, epoch, paged, strings};
use crate::AppState;
use crate::service::compliance::latest_reports;

pub(crate) const OPERATIONS: &[&str] = &[
    "ListComplianceItems",
    "ListComplianceSummaries",
    "ListResourceComplianceSummaries",
    "DescribePatchProperties",
];

/// Whether a patch state counts against compliance.
fn non_compliant(state: &str) -> bool {
    matches!(
        state,
        "Missing" | "Failed" | "InstalledPendingReboot" | "InstalledRejected"
    )
}

struct Filter {
    key: String,
    values: Vec<String>,
    kind: String,
}

impl Filter {
    fn matches(&self, field: &str) -> bool {
        let hit = self.values.iter().any(|v| match self.kind.as_str() {
            "BEGIN_WITH" => field.starts_with(v.as_str()),
            "LESS_THAN" => field < v.as_str(),
            "GREATER_THAN" => field > v.as_str(),
            _ => field == v,
        });
        if self.kind == "NOT_EQUAL" { !hit } else { hit }
    }
}

/// The filter keys each listing answers.
fn filter_keys(operation: &str) -> &'static [&'static str] {
    match operation {
        "ListComplianceItems" => &[
            "ComplianceType",
            "Status",
            "Severity",
            "Id",
            "ComplianceItemId",
        ],
        "ListResourceComplianceSummaries" => &["ComplianceType", "Status", "OverallSeverity"],
        _ => &["ComplianceType"],
    }
}

fn filters(input: &Input, operation: &str) -> Result<Vec<Filter>, SsmError> {
    let Some(list) = input.get("Filters") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| SsmError::new("SerializationException", "Filters must be a list"))?;
    let keys = filter_keys(operation);
    if let Some(bad) = list
        .iter()
        .map(|f| f.get("Key").and_then(Value::as_str).unwrap_or(""))
        .find(|key| !keys.contains(key))
    {
        return Err(SsmError::new(
            "InvalidFilter",
            format!(
                "filter key `{bad}` is not supported by {operation}; the keys are {}",
                keys.join(", ")
            ),
        ));
    }
    list.iter()
        .map(|f| {
            let kind = f
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or("EQUAL")
                .to_owned();
            if ![
                "EQUAL",
                "NOT_EQUAL",
                "BEGIN_WITH",
                "LESS_THAN",
                "GREATER_THAN",
            ]
            .contains(&kind.as_str())
            {
                return Err(SsmError::new(
                    "InvalidFilter",
                    format!("filter type `{kind}` is not valid"),
                ));
            }
            Ok(Filter {
                key: f
                    .get("Key")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                values: strings(f.get("Values")),
                kind,
            })
        })
        .collect()
}

/// Every filter whose key `field` knows accepts; unknown keys accept.
fn keep(filters: &[Filter], field: impl Fn(&str) -> Option<String>) -> bool {
    filters
        .iter()
        .all(|f| field(&f.key).is_none_or(|value| f.matches(&value)))
}

fn execution_summary(report: &ReportRecord) -> Value {
    let mut map = Map::new();
    map.insert(
        "ExecutionTime".to_owned(),
        epoch(report.operation_end.unwrap_or(report.reported_at)),
    );
    if let Some(id) = &report.execution_id {
        map.insert("ExecutionId".to_owned(), json!(id));
    }
    map.insert("ExecutionType".to_owned(), json!("Command"));
    Value::Object(map)
}

fn severity_summary(counts: &[u64; 6]) -> Value {
    json!({
        "CriticalCount": counts[0], "HighCount": counts[1], "MediumCount": counts[2],
        "LowCount": counts[3], "InformationalCount": counts[4], "UnspecifiedCount": counts[5],
    })
}

/// The compliance levels, highest first (`CRITICAL` ... `UNSPECIFIED`).
fn severities() -> impl Iterator<Item = &'static str> {
    pw_core::baseline::ComplianceLevel::ALL
        .into_iter()
        .map(|level| level.as_str())
}

fn severity_index(level: &str) -> usize {
    severities().position(|s| s == level).unwrap_or(5)
}

async fn items_of(state: &AppState, report: &ReportRecord) -> Result<Vec<PatchJson>, SsmError> {
    let text = state
        .store()
        .report_items(report.id)
        .await?
        .unwrap_or_else(|| "[]".to_owned());
    serde_json::from_str(&text).map_err(|e| SsmError::new("InternalServerError", e.to_string()))
}

/// (compliant, non-compliant) counts by severity of one report's items.
fn tally(items: &[PatchJson]) -> ([u64; 6], [u64; 6]) {
    let (mut ok, mut bad) = ([0u64; 6], [0u64; 6]);
    for item in items {
        let index = severity_index(&item.compliance_level);
        if non_compliant(&item.state) {
            bad[index] += 1;
        } else {
            ok[index] += 1;
        }
    }
    (ok, bad)
}

pub(crate) async fn dispatch(
    state: &AppState,
    operation: &str,
    input: &Input,
) -> Result<Value, SsmError> {
    if operation == "DescribePatchProperties" {
        return patch_properties(input);
    }
    let max = input.max_results(1..=50, 50)?;
    let filters = filters(input, operation)?;
    let types_ok = |member: &str, allowed: &str| {
        input
            .get(member)
            .and_then(Value::as_array)
            .is_none_or(|v| v.iter().filter_map(Value::as_str).any(|t| t == allowed))
    };
    if !types_ok("ResourceTypes", "ManagedInstance") {
        return Ok(json!({"ComplianceItems": []}));
    }
    let reports = latest_reports(state).await?;
    let mut ids: Vec<&String> = reports.keys().collect();
    ids.sort();
    if let Some(wanted) = input.get("ResourceIds").and_then(Value::as_array) {
        let wanted: Vec<&str> = wanted.iter().filter_map(Value::as_str).collect();
        ids.retain(|id| wanted.contains(&id.as_str()));
    }
    let type_filter_ok = keep(&filters, |key| {
        (key == "ComplianceType").then(|| "Patch".to_owned())
    });
    match operation {
        "ListComplianceItems" => {
            let mut out = Vec::new();
            if type_filter_ok {
                for id in ids {
                    let report = &reports[id];
                    for item in items_of(state, report).await? {
                        let status = if non_compliant(&item.state) {
                            "NON_COMPLIANT"
                        } else {
                            "COMPLIANT"
                        };
                        let kb = format!("{}.{}", item.name, item.arch);
                        if !keep(&filters, |key| match key {
                            "Status" => Some(status.to_owned()),
                            "Severity" => Some(item.compliance_level.clone()),
                            "Id" | "ComplianceItemId" => Some(kb.clone()),
                            _ => None,
                        }) {
                            continue;
                        }
                        let version = item.target.as_ref().or(item.installed.as_ref());
                        out.push(json!({
                            "ComplianceType": "Patch",
                            "ResourceType": "ManagedInstance",
                            "ResourceId": id,
                            "Id": kb,
                            "Title": version.map_or_else(|| kb.clone(), |v| format!("{kb}:{v}")),
                            "Status": status,
                            "Severity": item.compliance_level,
                            "ExecutionSummary": execution_summary(report),
                            "Details": {
                                "PatchState": item.state,
                                "PatchGroup": report.patch_group.clone().unwrap_or_default(),
                                "Classification": item.classification.clone().unwrap_or_default(),
                                "PatchSeverity": item.severity.clone().unwrap_or_default(),
                                "CVEIds": item.cves.join(","),
                            },
                        }));
                    }
                }
            }
            paged(&out, input, max, "ComplianceItems")
        }
        "ListResourceComplianceSummaries" => {
            let mut out = Vec::new();
            if type_filter_ok {
                for id in ids {
                    let report = &reports[id];
                    let items = items_of(state, report).await?;
                    let (ok, bad) = tally(&items);
                    let status = if report.status == "COMPLIANT" {
                        "COMPLIANT"
                    } else {
                        "NON_COMPLIANT"
                    };
                    let overall = severities()
                        .zip(bad.iter())
                        .find(|(_, n)| **n > 0)
                        .map_or("UNSPECIFIED", |(s, _)| s);
                    if !keep(&filters, |key| match key {
                        "Status" => Some(status.to_owned()),
                        "OverallSeverity" => Some(overall.to_owned()),
                        _ => None,
                    }) {
                        continue;
                    }
                    out.push(json!({
                        "ComplianceType": "Patch",
                        "ResourceType": "ManagedInstance",
                        "ResourceId": id,
                        "Status": status,
                        "OverallSeverity": overall,
                        "ExecutionSummary": execution_summary(report),
                        "CompliantSummary": {"CompliantCount": ok.iter().sum::<u64>(), "SeveritySummary": severity_summary(&ok)},
                        "NonCompliantSummary": {"NonCompliantCount": bad.iter().sum::<u64>(), "SeveritySummary": severity_summary(&bad)},
                    }));
                }
            }
            paged(&out, input, max, "ResourceComplianceSummaryItems")
        }
        _ => {
            // ListComplianceSummaries: resources (nodes) per status and severity.
            let (mut ok, mut bad) = ([0u64; 6], [0u64; 6]);
            if type_filter_ok {
                for id in ids {
                    let report = &reports[id];
                    let items = items_of(state, report).await?;
                    let (_, node_bad) = tally(&items);
                    match node_bad.iter().position(|n| *n > 0) {
                        Some(worst) => bad[worst] += 1,
                        None => ok[5] += 1,
                    }
                }
            }
            let out = vec![json!({
                "ComplianceType": "Patch",
                "CompliantSummary": {"CompliantCount": ok.iter().sum::<u64>(), "SeveritySummary": severity_summary(&ok)},
                "NonCompliantSummary": {"NonCompliantCount": bad.iter().sum::<u64>(), "SeveritySummary": severity_summary(&bad)},
            })];
            paged(&out, input, max, "ComplianceSummaryItems")
        }
    }
}

fn patch_properties(input: &Input) -> Result<Value, SsmError> {
    let os_text = input.required("OperatingSystem", 1..=64)?;
    let os = OperatingSystem::parse(&os_text).ok_or_else(|| {
        SsmError::validation(format!(
            "OperatingSystem {os_text} is not supported by Patchwarden"
        ))
    })?;
    match input.string("PatchSet", false, 1..=16)?.as_deref() {
        None | Some("OS") => {}
        Some("APPLICATION") => {
            return Err(SsmError::validation(
                "PatchSet APPLICATION applies to Windows only; Linux systems have the OS patch set",
            ));
        }
        Some(other) => {
            return Err(SsmError::validation(format!(
                "PatchSet {other} is not one of OS, APPLICATION"
            )));
        }
    }
    let property = input.required("Property", 1..=32)?;
    let max = input.max_results(1..=50, 50)?;
    let (key, values): (&str, Vec<String>) = match (property.as_str(), os.family()) {
        ("CLASSIFICATION", Family::Yum | Family::Dnf) => (
            "Name",
            [
                "Security",
                "Bugfix",
                "Enhancement",
                "Recommended",
                "Newpackage",
            ]
            .map(str::to_owned)
            .to_vec(),
        ),
        ("SEVERITY", Family::Yum | Family::Dnf) => (
            "Name",
            ["Critical", "Important", "Medium", "Moderate", "Low", "None"]
                .map(str::to_owned)
                .to_vec(),
        ),
        ("PRIORITY", Family::Apt) => (
            "Name",
            ["Required", "Important", "Standard", "Optional", "Extra"]
                .map(str::to_owned)
                .to_vec(),
        ),
        ("PRODUCT" | "PRODUCT_FAMILY", _) => (
            "Name",
            vec![crate::ssm::compliance::product_of(os).to_owned()],
        ),
        (other, _) => {
            return Err(SsmError::validation(format!(
                "Property {other} does not apply to {}",
                os.as_str()
            )));
        }
    };
    let items: Vec<Value> = values.into_iter().map(|v| json!({ key: v })).collect();
    paged(&items, input, max, "Properties")
}

/// The product name of the system's default (what `PRODUCT` filters match first).
pub(crate) fn product_of(os: OperatingSystem) -> &'static str {
    match os {
        OperatingSystem::AmazonLinux => "AmazonLinux2018.03",
        OperatingSystem::AmazonLinux2 => "AmazonLinux2",
        OperatingSystem::AmazonLinux2022 => "AmazonLinux2022",
        OperatingSystem::AmazonLinux2023 => "AmazonLinux2023",
        OperatingSystem::RedhatEnterpriseLinux => "RedhatEnterpriseLinux9",
        OperatingSystem::Centos => "CentOS7",
        OperatingSystem::OracleLinux => "OracleLinux9",
        OperatingSystem::RockyLinux => "RockyLinux9",
        OperatingSystem::AlmaLinux => "AlmaLinux9",
        OperatingSystem::Debian => "Debian12",
        OperatingSystem::Ubuntu => "Ubuntu24.04",
    }
}
