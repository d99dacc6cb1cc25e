//! Compliance as the API reports it: per-node summaries (ssm-reference §5.4's
//! `InstancePatchState`), per-node items, patch-group and baseline roll-ups, history.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::agent::OperationReport;
use crate::evaluation::PatchJson;

/// `Scan` or `Install`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Operation {
    Scan,
    Install,
    #[serde(other)]
    Unknown,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Scan => "Scan",
            Operation::Install => "Install",
            Operation::Unknown => "Unknown",
        }
    }
}

/// The compliance summary of one report (one scan or install of one node).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ComplianceSummary {
    pub report_id: i64,
    pub node_id: String,
    pub reported_at: Timestamp,
    pub operation: Operation,
    #[serde(default)]
    pub baseline_id: Option<String>,
    #[serde(default)]
    pub patch_group: Option<String>,
    /// The window execution whose task produced this report, if any (the snapshot id).
    #[serde(default)]
    pub execution_id: Option<String>,
    #[serde(default)]
    pub operation_start: Option<Timestamp>,
    #[serde(default)]
    pub operation_end: Option<Timestamp>,
    /// The evaluation instant of the snapshot the node evaluated against.
    #[serde(default)]
    pub evaluated_at: Option<Timestamp>,
    /// `COMPLIANT` or `NON_COMPLIANT`.
    pub status: String,
    pub installed: u64,
    pub installed_other: u64,
    pub installed_rejected: u64,
    pub installed_pending_reboot: u64,
    pub not_applicable: u64,
    pub missing: u64,
    pub failed: u64,
    pub critical_non_compliant: u64,
    pub security_non_compliant: u64,
    pub other_non_compliant: u64,
    #[serde(default)]
    pub non_compliant_severity: Option<String>,
    /// The release the node was locked to when it reported (Amazon Linux 2023).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
}

/// A node's latest report with its items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NodeCompliance {
    pub summary: ComplianceSummary,
    pub items: Vec<PatchJson>,
}

/// How many nodes of a group have at least one patch in each state
/// (`DescribePatchGroupState`); used for patch groups and for baselines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GroupCompliance {
    /// The patch group or baseline id this counts.
    pub key: String,
    pub nodes: u64,
    /// Nodes that have reported at least once.
    pub nodes_reported: u64,
    pub nodes_compliant: u64,
    pub nodes_non_compliant: u64,
    pub nodes_with_installed: u64,
    pub nodes_with_installed_other: u64,
    pub nodes_with_installed_pending_reboot: u64,
    pub nodes_with_installed_rejected: u64,
    pub nodes_with_missing: u64,
    pub nodes_with_failed: u64,
    pub nodes_with_not_applicable: u64,
    pub nodes_with_critical_non_compliant: u64,
    pub nodes_with_security_non_compliant: u64,
    pub nodes_with_other_non_compliant: u64,
    /// Release drift: how many reporting nodes are locked to each release (Amazon Linux
    /// 2023 nodes only; empty for other systems).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub releases: std::collections::BTreeMap<String, u64>,
}

/// One row of a compliance export: one item of one node's latest report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ExportRow {
    pub node_id: String,
    pub hostname: String,
    #[serde(default)]
    pub patch_group: Option<String>,
    #[serde(default)]
    pub baseline_id: Option<String>,
    pub reported_at: Timestamp,
    pub operation: Operation,
    pub node_status: String,
    pub patch: PatchJson,
}

/// `POST /api/v1/agent/reports`: the agent's report of a scan or install (the same
/// [`OperationReport`] it writes locally), appended to the node's compliance history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ComplianceReportUpload {
    /// The command this report answers, when it answers one.
    #[serde(default)]
    pub command_id: Option<String>,
    /// The window execution (snapshot id) of that command.
    #[serde(default)]
    pub execution_id: Option<String>,
    /// The baseline id of that command (the report names the baseline by name).
    #[serde(default)]
    pub baseline_id: Option<String>,
    pub report: OperationReport,
}

/// The answer to a report upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReportAccepted {
    pub report_id: i64,
}
