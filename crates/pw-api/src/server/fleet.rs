//! The fleet at a glance (`GET /api/v1/fleet`, `/api/v1/fleet/nodes`): what the console's
//! overview and node list show, from the same service functions.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// How many nodes are in one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StateCount {
    /// `compliant`, `non_compliant`, `pending_reboot`, `failed`, `stale`, `never_reported`.
    pub state: String,
    pub nodes: u64,
}

/// How many nodes of a patch group have each highest non-compliant severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct GroupSeverities {
    /// `None`: nodes without a `Patch Group` tag.
    #[serde(default)]
    pub patch_group: Option<String>,
    /// (`CRITICAL`, ..., `NONE`) → nodes.
    pub severities: Vec<SeverityCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SeverityCount {
    pub severity: String,
    pub nodes: u64,
}

/// One opening of a window in the coming days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UpcomingWindow {
    pub window_id: String,
    pub name: String,
    pub start: Timestamp,
    /// No task starts after this instant (the end less the cutoff).
    pub last_task_start: Timestamp,
    pub end: Timestamp,
}

/// An execution that has not ended, with its invocations by status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RunningExecution {
    pub execution_id: String,
    pub window_id: String,
    pub window_name: String,
    pub status: String,
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    pub invocations: Vec<StateCount>,
}

/// `GET /api/v1/fleet`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FleetOverview {
    pub as_of: Timestamp,
    /// A node whose latest report is older than this many hours is `stale`.
    pub stale_after_hours: u64,
    pub nodes: u64,
    /// Every state, in a fixed order, zeros included.
    pub states: Vec<StateCount>,
    pub patch_groups: Vec<GroupSeverities>,
    /// Window openings in the next 7 days, soonest first.
    pub upcoming: Vec<UpcomingWindow>,
    pub running: Vec<RunningExecution>,
}

/// One node of the fleet list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FleetNode {
    pub id: String,
    pub hostname: String,
    pub operating_system: String,
    #[serde(default)]
    pub patch_group: Option<String>,
    pub state: String,
    /// The baseline of the latest report.
    #[serde(default)]
    pub baseline_id: Option<String>,
    /// The highest non-compliant severity of the latest report.
    #[serde(default)]
    pub severity: Option<String>,
    pub missing: u64,
    pub failed: u64,
    pub pending_reboot: u64,
    /// Why the node waits for a reboot (the packages installed without one), when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reboot_why: Option<String>,
    /// Since when it has been waiting (the first report pending a reboot after one that was
    /// not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reboot_since: Option<Timestamp>,
    pub critical_non_compliant: u64,
    pub security_non_compliant: u64,
    pub other_non_compliant: u64,
    #[serde(default)]
    pub last_report_at: Option<Timestamp>,
    /// The node's last Scan and Install reports.
    #[serde(default)]
    pub last_scan_at: Option<Timestamp>,
    #[serde(default)]
    pub last_install_at: Option<Timestamp>,
    #[serde(default)]
    pub last_operation: Option<String>,
    #[serde(default)]
    pub last_seen_at: Option<Timestamp>,
    pub agent_version: String,
}

/// `GET /api/v1/fleet/nodes`: one page; `next` is the `after` of the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FleetNodePage {
    pub nodes: Vec<FleetNode>,
    #[serde(default)]
    pub next: Option<String>,
}

/// One node's package that a CVE or advisory names, in the node's latest report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReferenceNode {
    pub node_id: String,
    pub hostname: String,
    pub operating_system: String,
    #[serde(default)]
    pub patch_group: Option<String>,
    /// `name.arch`.
    pub package: String,
    /// The patch state (`Missing`, `Failed`, `InstalledPendingReboot`, `Installed`, ...).
    pub state: String,
    /// Why the patch has this state (the rule, exception or error).
    pub reason: String,
    /// When the node's baseline approved the patch's target (absent for an approved-patches
    /// entry, and in reports of agents that predate it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<Timestamp>,
}

/// Where one CVE or advisory stands in one patch group: the decision its nodes' baselines
/// made (the rule or entry that approved it, the entry that rejected it, or why it is not
/// approved), since when it is approved, and on how many nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ApprovalGroup {
    #[serde(default)]
    pub patch_group: Option<String>,
    pub decision: String,
    /// The earliest approval among these nodes' patches, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<Timestamp>,
    pub nodes: u64,
}

/// The nodes whose failures share one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FailureGroup {
    pub reason: String,
    pub nodes: u64,
}

/// `GET /api/v1/fleet/references/{id}`: where a CVE or advisory stands across the fleet, from
/// every node's latest report (rpm and deb nodes together).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReferenceReport {
    /// The CVE or advisory id, upper case.
    pub reference: String,
    pub as_of: Timestamp,
    /// Nodes by their worst state for this id (a node with several packages counts once):
    /// `Failed` > `Missing` > `InstalledPendingReboot` > `InstalledRejected` > `Installed` >
    /// `InstalledOther` > `NotApplicable`.
    pub nodes_by_state: Vec<StateCount>,
    /// Failed packages grouped by their reason.
    pub failures: Vec<FailureGroup>,
    /// Per patch group, what its baselines decided about the id's patches.
    #[serde(default)]
    pub approvals: Vec<ApprovalGroup>,
    /// Every (node, package), by hostname; filtered by `state` when asked.
    pub rows: Vec<ReferenceNode>,
}
