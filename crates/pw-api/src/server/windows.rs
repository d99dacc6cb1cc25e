//! Maintenance windows (ssm-reference §7): the window, its targets, its tasks, and the
//! executions the scheduler opens, with task and per-node invocation statuses.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// `POST /api/v1/windows` and `PUT /api/v1/windows/{id}` (§7.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WindowSpec {
    /// `^[a-zA-Z0-9_\-.]{3,128}$`.
    #[cfg_attr(feature = "schema", schemars(length(min = *crate::limits::WINDOW_NAME.start(), max = *crate::limits::WINDOW_NAME.end()), pattern(crate::limits::WINDOW_NAME_PATTERN)))]
    pub name: String,
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = crate::limits::WINDOW_DESCRIPTION_MAX)))]
    pub description: Option<String>,
    /// `cron(...)`, `rate(...)` or `at(...)`.
    #[cfg_attr(feature = "schema", schemars(length(min = *crate::limits::SCHEDULE.start(), max = *crate::limits::SCHEDULE.end())))]
    pub schedule: String,
    /// IANA time-zone name; UTC when absent.
    #[serde(default)]
    pub schedule_timezone: Option<String>,
    /// Days after each cron occurrence (1-6, cron only).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = *crate::limits::SCHEDULE_OFFSET.start(), max = *crate::limits::SCHEDULE_OFFSET.end())))]
    pub schedule_offset: Option<u8>,
    #[serde(default)]
    pub start_date: Option<Timestamp>,
    #[serde(default)]
    pub end_date: Option<Timestamp>,
    /// Hours, 1-24.
    #[cfg_attr(feature = "schema", schemars(range(min = *crate::limits::DURATION_HOURS.start(), max = *crate::limits::DURATION_HOURS.end())))]
    pub duration_hours: u8,
    /// Hours, 0-23, smaller than the duration.
    #[cfg_attr(feature = "schema", schemars(range(min = *crate::limits::CUTOFF_HOURS.start(), max = *crate::limits::CUTOFF_HOURS.end())))]
    pub cutoff_hours: u8,
    #[serde(default)]
    pub allow_unassociated_targets: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A window as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Window {
    /// `mw-` and 17 hex digits.
    pub id: String,
    pub spec: WindowSpec,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The next opening, or null when the window is disabled or its schedule has ended.
    #[serde(default)]
    pub next_execution_at: Option<Timestamp>,
    /// The same instant in the window's zone at minute precision (`2021-01-06T09:00-08:00`),
    /// as the original's `NextExecutionTime`.
    #[serde(default)]
    pub next_execution_time: Option<String>,
}

/// `POST /api/v1/windows/{id}/enable` and `/disable` answer with the window.
/// `GET /api/v1/windows/{id}/next?count=N` answers with this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NextExecutions {
    pub window_id: String,
    pub occurrences: Vec<Occurrence>,
}

/// One future opening of a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Occurrence {
    pub start: Timestamp,
    pub end: Timestamp,
    /// No task starts after this instant (end minus cutoff).
    pub last_task_start: Timestamp,
    /// `start` in the window's zone (`2021-01-06T09:00:00-08:00[America/Los_Angeles]`).
    pub local_start: String,
}

/// One `Key=...,Values=...` entry of a window target (§7.3). Entries of one target are
/// combined with AND; the values of one entry with OR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TargetFilter {
    /// `InstanceIds` (or `NodeIds`): node ids; `tag:<key>`: nodes with that tag and one of
    /// the values; `tag-key`: nodes that have one of the tag keys.
    pub key: String,
    pub values: Vec<String>,
}

/// `POST /api/v1/windows/{id}/targets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WindowTargetSpec {
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = crate::limits::NAME_MAX)))]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Echoed in the invocations (≤ 128 characters).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = crate::limits::NAME_MAX)))]
    pub owner_information: Option<String>,
    /// 1-5 entries, each with 1-50 values.
    pub targets: Vec<TargetFilter>,
}

/// A registered window target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WindowTarget {
    pub id: String,
    pub window_id: String,
    pub spec: WindowTargetSpec,
}

/// What a patch task does (the `Operation` parameter of AWS-RunPatchBaseline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum TaskOperation {
    Scan,
    Install,
}

impl TaskOperation {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskOperation::Scan => "Scan",
            TaskOperation::Install => "Install",
        }
    }
}

/// Reboot after an install: `RebootIfNeeded` (default) or `NoReboot`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum RebootOption {
    #[default]
    RebootIfNeeded,
    NoReboot,
}

impl RebootOption {
    pub fn as_str(self) -> &'static str {
        match self {
            RebootOption::RebootIfNeeded => "RebootIfNeeded",
            RebootOption::NoReboot => "NoReboot",
        }
    }
}

/// What happens to running invocations at the cutoff (§7.4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CutoffBehavior {
    /// Running invocations finish (default).
    #[default]
    ContinueTask,
    /// Running invocations are cancelled (best effort) and end as `TIMED_OUT`.
    CancelTask,
}

impl CutoffBehavior {
    pub fn as_str(self) -> &'static str {
        match self {
            CutoffBehavior::ContinueTask => "CONTINUE_TASK",
            CutoffBehavior::CancelTask => "CANCEL_TASK",
        }
    }
}

/// `POST /api/v1/windows/{id}/tasks` (§7.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TaskSpec {
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = crate::limits::NAME_MAX)))]
    pub name: Option<String>,
    /// What the task is for (at most 128 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub operation: TaskOperation,
    /// `WindowTargetIds` (registered targets) or `InstanceIds`/`NodeIds` (only with
    /// `allow_unassociated_targets`).
    pub targets: Vec<TargetFilter>,
    /// Lower runs first; equal priorities run in parallel. Default 1.
    #[serde(default = "one")]
    pub priority: u32,
    /// A count (`1`..) or a percentage (`1%`..`100%`) of the targets. Default `1`.
    #[serde(default = "one_text")]
    pub max_concurrency: String,
    /// A count (`0`..) or a percentage (`0%`..`100%`); stop after more errors. Default `0`.
    #[serde(default = "zero_text")]
    pub max_errors: String,
    #[serde(default)]
    pub cutoff_behavior: CutoffBehavior,
    #[serde(default)]
    pub reboot_option: RebootOption,
    /// Install exactly these packages instead of the baseline's targets (Install only).
    #[serde(default)]
    pub install_override_list: Vec<String>,
    /// Use this baseline for every node instead of patch group / OS default resolution.
    #[serde(default)]
    pub baseline_override: Option<String>,
    /// A command not acknowledged by its node within this many seconds is not run and the
    /// invocation ends `TIMED_OUT` (30-2592000; default 3600).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = *crate::limits::TASK_TIMEOUT_SECONDS.start(), max = *crate::limits::TASK_TIMEOUT_SECONDS.end())))]
    pub timeout_seconds: Option<u32>,
    /// A started command that has not reported within this many seconds ends `TIMED_OUT`
    /// (default 7200).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = *crate::limits::EXECUTION_TIMEOUT_SECONDS.start(), max = *crate::limits::EXECUTION_TIMEOUT_SECONDS.end())))]
    pub execution_timeout_seconds: Option<u32>,
    /// Install tasks: checks each node runs after installing; a failing one fails the node's
    /// invocation (which counts toward `max_errors`) and rejects through promotion policies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "schema", schemars(length(max = HealthCheck::MAX)))]
    pub health_checks: Vec<HealthCheck>,
}

/// A health check a node runs after an install.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    pub kind: HealthCheckKind,
    /// The systemd unit (`nginx.service`), the URL (`http://127.0.0.1:8080/health`), or the
    /// name of a command in the node's agent configuration (`[health_commands]`).
    pub target: String,
    /// Seconds the check may take (1 to 600; 30 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
}

/// What a health check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum HealthCheckKind {
    /// A systemd unit that must be active (`systemctl is-active`).
    Unit,
    /// An `http://` or `https://` URL that must answer 2xx to a GET.
    Url,
    /// A command the node's own configuration names, which must exit 0. The server sends the
    /// name only, never shell text.
    Command,
}

impl HealthCheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthCheckKind::Unit => "unit",
            HealthCheckKind::Url => "url",
            HealthCheckKind::Command => "command",
        }
    }
}

impl HealthCheck {
    /// The most checks a task may name.
    pub const MAX: usize = 10;

    /// The check's time limit.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.timeout_seconds.unwrap_or(30)))
    }

    /// Why the check is not valid, naming the field under `field`.
    pub fn problem(&self) -> Option<(&'static str, String)> {
        let target = self.target.as_str();
        if let Some(seconds) = self.timeout_seconds
            && !(1..=600).contains(&seconds)
        {
            return Some(("timeout_seconds", "must be 1 to 600".to_owned()));
        }
        let ok = match self.kind {
            HealthCheckKind::Unit => {
                (1..=256).contains(&target.len())
                    && target
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ":-_.@\\".contains(c))
            }
            HealthCheckKind::Url => {
                (target.starts_with("http://") || target.starts_with("https://"))
                    && target.len() <= 2048
                    && !target.chars().any(char::is_whitespace)
            }
            HealthCheckKind::Command => {
                (1..=64).contains(&target.len())
                    && target
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            }
        };
        (!ok).then(|| {
            (
                "target",
                match self.kind {
                    HealthCheckKind::Unit => format!("`{target}` is not a systemd unit name"),
                    HealthCheckKind::Url => {
                        format!(
                            "`{target}` is not an http:// or https:// URL (at most 2048 characters)"
                        )
                    }
                    HealthCheckKind::Command => format!(
                        "`{target}` is not a command name (1 to 64 letters, digits, `-`, `_`, `.`)"
                    ),
                },
            )
        })
    }
}

fn one() -> u32 {
    1
}
fn one_text() -> String {
    "1".to_owned()
}
fn zero_text() -> String {
    "0".to_owned()
}

/// A registered task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WindowTask {
    pub id: String,
    pub window_id: String,
    pub spec: TaskSpec,
}

/// The status of a window execution, a task execution or an invocation (§7.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Pending,
    InProgress,
    Success,
    Failed,
    TimedOut,
    Cancelling,
    Cancelled,
    SkippedOverlapping,
    #[serde(other)]
    Unknown,
}

impl ExecutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Pending => "PENDING",
            ExecutionStatus::InProgress => "IN_PROGRESS",
            ExecutionStatus::Success => "SUCCESS",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Cancelling => "CANCELLING",
            ExecutionStatus::Cancelled => "CANCELLED",
            ExecutionStatus::SkippedOverlapping => "SKIPPED_OVERLAPPING",
            ExecutionStatus::Unknown => "UNKNOWN",
        }
    }

    pub fn parse(text: &str) -> ExecutionStatus {
        match text {
            "PENDING" => ExecutionStatus::Pending,
            "IN_PROGRESS" => ExecutionStatus::InProgress,
            "SUCCESS" => ExecutionStatus::Success,
            "FAILED" => ExecutionStatus::Failed,
            "TIMED_OUT" => ExecutionStatus::TimedOut,
            "CANCELLING" => ExecutionStatus::Cancelling,
            "CANCELLED" => ExecutionStatus::Cancelled,
            "SKIPPED_OVERLAPPING" => ExecutionStatus::SkippedOverlapping,
            _ => ExecutionStatus::Unknown,
        }
    }

    /// Whether nothing more will happen.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ExecutionStatus::Success
                | ExecutionStatus::Failed
                | ExecutionStatus::TimedOut
                | ExecutionStatus::Cancelled
                | ExecutionStatus::SkippedOverlapping
        )
    }
}

/// One window execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Execution {
    pub id: String,
    pub window_id: String,
    pub status: ExecutionStatus,
    #[serde(default)]
    pub status_details: Option<String>,
    /// The occurrence this execution is for.
    pub scheduled_at: Timestamp,
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    #[serde(default)]
    pub ended_at: Option<Timestamp>,
    #[serde(default)]
    pub window_end_at: Option<Timestamp>,
    /// No invocation starts after this instant (window end minus cutoff).
    #[serde(default)]
    pub last_task_start_at: Option<Timestamp>,
    /// The one evaluation instant of every node's snapshot in this execution.
    #[serde(default)]
    pub evaluation_instant: Option<Timestamp>,
    #[serde(default)]
    pub tasks: Vec<TaskExecution>,
}

/// One task of an execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TaskExecution {
    pub id: String,
    pub task_id: String,
    pub priority: u32,
    pub operation: TaskOperation,
    pub status: ExecutionStatus,
    #[serde(default)]
    pub status_details: Option<String>,
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    #[serde(default)]
    pub ended_at: Option<Timestamp>,
    pub targets: u64,
    /// The resolved concurrency (at least 1).
    pub concurrency: u64,
    /// Errors tolerated; the task stops at error number `error_threshold + 1`.
    pub error_threshold: u64,
    #[serde(default)]
    pub invocations: Vec<Invocation>,
}

/// One node's part of a task execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Invocation {
    pub id: String,
    pub node_id: String,
    pub status: ExecutionStatus,
    #[serde(default)]
    pub status_details: Option<String>,
    #[serde(default)]
    pub command_id: Option<String>,
    #[serde(default)]
    pub baseline_id: Option<String>,
    #[serde(default)]
    pub patch_group: Option<String>,
    #[serde(default)]
    pub window_target_id: Option<String>,
    #[serde(default)]
    pub owner_information: Option<String>,
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    #[serde(default)]
    pub ended_at: Option<Timestamp>,
}
