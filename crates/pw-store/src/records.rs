//! The records the store reads and writes. JSON columns are carried as text; pw-server
//! types them.

use jiff::Timestamp;

/// A stored baseline (the built-in defaults are not stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaselineRecord {
    pub id: String,
    pub name: String,
    pub operating_system: String,
    pub description: Option<String>,
    /// The native TOML text.
    pub toml: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A baseline registered for a patch group and an operating system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchGroupRecord {
    pub patch_group: String,
    pub operating_system: String,
    pub baseline_id: String,
}

/// An API token (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub name: Option<String>,
    /// `read-only`, `operator` or `admin`.
    pub role: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// An activation code (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationRecord {
    pub id: String,
    pub description: Option<String>,
    pub tags: Vec<(String, String)>,
    pub expires_at: Timestamp,
    pub max_uses: i64,
    pub uses: i64,
    pub created_at: Timestamp,
    /// Whether a node enrolling with the code may declare tags of its own (for keys the code
    /// does not set; the code's own tags always bind).
    pub allow_node_tags: bool,
}

/// A node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    pub id: String,
    pub hostname: String,
    pub operating_system: String,
    pub product: String,
    pub agent_version: String,
    pub arch: Option<String>,
    pub machine_id: Option<String>,
    pub tags: Vec<(String, String)>,
    pub activation_id: Option<String>,
    pub enrolled_at: Timestamp,
    pub last_seen_at: Option<Timestamp>,
    pub inventory_at: Option<Timestamp>,
    pub latest_report_id: Option<i64>,
}

/// What a node says about itself (enrollment, inventory uploads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFacts {
    pub hostname: String,
    pub operating_system: String,
    pub product: String,
    pub agent_version: String,
    pub arch: Option<String>,
    pub machine_id: Option<String>,
}

/// The latest inventory of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryRecord {
    pub node_id: String,
    pub captured_at: Timestamp,
    pub uploaded_at: Timestamp,
    pub inventory_json: String,
}

/// The counts of a compliance report (ssm-reference §5.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComplianceCounts {
    pub installed: i64,
    pub installed_other: i64,
    pub installed_rejected: i64,
    pub installed_pending_reboot: i64,
    pub not_applicable: i64,
    pub missing: i64,
    pub failed: i64,
    pub critical_non_compliant: i64,
    pub security_non_compliant: i64,
    pub other_non_compliant: i64,
}

/// A compliance report to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    pub node_id: String,
    pub reported_at: Timestamp,
    pub operation: String,
    pub baseline_id: Option<String>,
    pub patch_group: Option<String>,
    pub execution_id: Option<String>,
    pub command_id: Option<String>,
    pub operation_start: Option<Timestamp>,
    pub operation_end: Option<Timestamp>,
    pub evaluated_at: Option<Timestamp>,
    /// `COMPLIANT` or `NON_COMPLIANT`.
    pub status: String,
    pub counts: ComplianceCounts,
    pub non_compliant_severity: Option<String>,
    /// The report's patches: a JSON array of pw-api `PatchJson`.
    pub items_json: String,
    /// The whole report as uploaded (pw-api `OperationReport`). Its `patches` may be left
    /// empty: they are `items_json`, and `Store::report_json` puts them back.
    pub report_json: String,
    /// The release the node was locked to (Amazon Linux 2023).
    pub release: Option<String>,
    /// Why the node waits for a reboot (the packages installed without one), when it does.
    pub reboot_why: Option<String>,
    /// The packages this report's install put on, with their releases (for patch latency).
    pub installs: Vec<PatchInstall>,
}

/// One package an install put on a node: what it was, when it was released and installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchInstall {
    pub name: String,
    pub arch: String,
    pub version: String,
    /// The patch's severity; `None` when it has none.
    pub severity: String,
    pub released: Timestamp,
    pub installed_at: Timestamp,
}

/// A stored compliance report, without its items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRecord {
    pub id: i64,
    pub node_id: String,
    pub reported_at: Timestamp,
    pub operation: String,
    pub baseline_id: Option<String>,
    pub patch_group: Option<String>,
    pub execution_id: Option<String>,
    pub command_id: Option<String>,
    pub operation_start: Option<Timestamp>,
    pub operation_end: Option<Timestamp>,
    pub evaluated_at: Option<Timestamp>,
    pub status: String,
    pub counts: ComplianceCounts,
    pub non_compliant_severity: Option<String>,
    /// The release the node was locked to (Amazon Linux 2023).
    pub release: Option<String>,
}

/// A maintenance window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowRecord {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    /// The window's fields (pw-api `WindowSpec`).
    pub spec_json: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When the current schedule took effect: no occurrence at or before it.
    pub schedule_anchor_at: Timestamp,
    pub next_execution_at: Option<Timestamp>,
}

/// A window target or task: an id, its window, a JSON spec (and a priority for tasks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowPartRecord {
    pub id: String,
    pub window_id: String,
    /// Tasks only; 0 for targets.
    pub priority: i64,
    pub spec_json: String,
    pub created_at: Timestamp,
}

/// A window execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionRecord {
    pub id: String,
    pub window_id: String,
    pub status: String,
    pub status_details: Option<String>,
    pub scheduled_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub window_end_at: Option<Timestamp>,
    pub last_task_start_at: Option<Timestamp>,
    pub evaluation_instant: Option<Timestamp>,
    pub cancel_requested: bool,
    pub created_at: Timestamp,
}

/// A task of an execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskExecutionRecord {
    pub id: String,
    pub execution_id: String,
    pub task_id: String,
    pub priority: i64,
    pub operation: String,
    pub status: String,
    pub status_details: Option<String>,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub targets: i64,
    pub concurrency: i64,
    pub error_threshold: i64,
    /// The final status decided before the task ends (`FAILED` after too many errors,
    /// `TIMED_OUT` when the cutoff left invocations unstarted); applied when the last
    /// running invocation ends.
    pub outcome: Option<String>,
    /// The task's spec as it was at execution start (pw-api `TaskSpec`).
    pub spec_json: String,
}

/// One node's part of a task execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationRecord {
    pub id: String,
    pub task_execution_id: String,
    pub execution_id: String,
    pub node_id: String,
    /// Dispatch order within the task.
    pub seq: i64,
    pub status: String,
    pub status_details: Option<String>,
    pub command_id: Option<String>,
    pub baseline_id: Option<String>,
    pub patch_group: Option<String>,
    pub window_target_id: Option<String>,
    pub owner_information: Option<String>,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
}

/// A command for an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRecord {
    pub id: String,
    pub node_id: String,
    /// `patch`, ...
    pub kind: String,
    /// pw-api `PatchCommand` for `patch`.
    pub payload_json: String,
    /// pw-api `CommandState` spelling: `pending`, `delivered`, `acknowledged`, ...
    pub state: String,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    pub deliveries: i64,
    pub acknowledged_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    /// Not acknowledged by then: the command is not run (`timed_out`).
    pub ack_deadline_at: Option<Timestamp>,
    /// Acknowledged but not finished by then: `timed_out`.
    pub finish_deadline_at: Option<Timestamp>,
    /// pw-api `CommandResult`.
    pub result_json: Option<String>,
    pub invocation_id: Option<String>,
}

/// An audit event: who did what to which object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: i64,
    pub at: Timestamp,
    /// `token:<id>`, `node:<id>`, `scheduler`, `cli`.
    pub actor: String,
    /// `baseline.create`, `window.delete`, `execution.cancel`, ...
    pub action: String,
    pub target: Option<String>,
    pub details_json: Option<String>,
}

/// A release of versioned repositories the server learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRecord {
    pub operating_system: String,
    pub version: String,
    /// `YYYY-MM-DD`, the date in the version.
    pub release_date: String,
    pub learned_at: Timestamp,
    /// `releasemd:URL` or `import:ACTOR`.
    pub source: String,
}

/// An access key of the SSM-compatible API (its secret is derived, never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyRecord {
    pub id: String,
    /// `admin`, `operator` or `read-only`.
    pub role: String,
    pub description: Option<String>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// A promotion policy: from a staging baseline to a production one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionRecord {
    pub id: String,
    pub from_baseline: String,
    pub to_baseline: String,
    /// pw-api `PromotionSpec` as JSON.
    pub spec_json: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_run_at: Option<Timestamp>,
    /// Why the last run failed, when it did.
    pub last_error: Option<String>,
}

/// One entry a promotion policy added to its production baseline, with its evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionChangeRecord {
    pub id: i64,
    pub policy_id: String,
    pub at: Timestamp,
    /// `approve`, `reject`, `verify-release` or `reject-release`.
    pub list: String,
    pub entry: String,
    pub reason: String,
    /// pw-api `PromotionEvidence` as JSON.
    pub evidence_json: String,
}

/// A webhook: where to POST, the secret that signs each body, and its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRecord {
    pub id: String,
    pub url: String,
    pub secret: String,
    /// pw-api `WebhookSpec` as JSON, without the secret.
    pub spec_json: String,
    pub created_at: Timestamp,
}

/// One event owed to one webhook, and how its delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: i64,
    pub webhook_id: String,
    pub event: String,
    pub dedupe_key: Option<String>,
    /// The JSON body, as signed and sent (the same on every attempt).
    pub body: String,
    /// `pending`, `delivered` or `failed` (no more attempts).
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub response_status: Option<i64>,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
}
