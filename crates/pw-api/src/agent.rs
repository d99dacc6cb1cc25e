//! The agent's on-disk state and its operation report. Both are read back by later agent
//! versions (and the report by the server), so fields are only ever added, with defaults.

use serde::{Deserialize, Serialize};

use crate::evaluation::{PatchJson, SummaryJson};

/// `state.json` in the agent's state directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AgentState {
    /// Format version of this file.
    #[serde(default = "state_version")]
    pub version: u32,
    /// When the last install operation with NoReboot installed something (RFC 3339).
    #[serde(default)]
    pub last_no_reboot_install_time: Option<String>,
    /// Packages installed by install operations that still wait for a reboot, as
    /// `name-[epoch:]version-release.arch`.
    #[serde(default)]
    pub pending_reboot: Vec<String>,
    /// An install operation that started and has not finished: if the agent finds one,
    /// the previous run was interrupted.
    #[serde(default)]
    pub in_progress: Option<OperationRecord>,
    /// The last operation that finished.
    #[serde(default)]
    pub last_operation: Option<OperationRecord>,
    /// Command ids (from the server) already executed, newest last, so a redelivered
    /// command never runs twice.
    #[serde(default)]
    pub executed_commands: Vec<String>,
}

fn state_version() -> u32 {
    1
}

/// One operation as recorded in the state file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OperationRecord {
    pub id: String,
    /// `Scan` or `Install`.
    pub operation: String,
    /// RFC 3339.
    pub started_at: String,
    #[serde(default)]
    pub ended_at: Option<String>,
    /// Where an install was when it was recorded: `installing`, `verifying`, `done`.
    #[serde(default)]
    pub phase: String,
    /// The versions the install asked for.
    #[serde(default)]
    pub targets: Vec<String>,
    #[serde(default)]
    pub reboot_option: String,
    /// The command id from the server, when the operation came from one.
    #[serde(default)]
    pub command_id: Option<String>,
}

/// The report of one scan or install (`--report FILE`, stdout with `--json`, uploads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OperationReport {
    pub operation_id: String,
    /// `Scan` or `Install`.
    pub operation: String,
    pub started_at: String,
    pub ended_at: String,
    pub host: HostFacts,
    #[serde(default)]
    pub patch_group: Option<String>,
    pub baseline: String,
    /// `RebootIfNeeded` or `NoReboot`.
    pub reboot_option: String,
    #[serde(default)]
    pub install_override_list: Option<String>,
    #[serde(default)]
    pub last_no_reboot_install_time: Option<String>,
    /// What the install did (absent for scans).
    #[serde(default)]
    pub install: Option<InstallOutcome>,
    /// Why a reboot was requested, or null when none was.
    #[serde(default)]
    pub reboot: Option<RebootDecision>,
    /// Remarks: interrupted earlier operations, repository diagnostics, hook output.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Hosts with versioned repositories (Amazon Linux 2023): the release before and after,
    /// and what the baseline approved (docs/releases.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<ReleaseReport>,
    pub summary: SummaryJson,
    pub patches: Vec<PatchJson>,
}

/// Facts about the host the report was made on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HostFacts {
    #[serde(default)]
    pub hostname: Option<String>,
    pub operating_system: String,
    pub product: String,
    #[serde(default)]
    pub boot_time: Option<String>,
    #[serde(default)]
    pub agent_version: String,
    /// The release the host is locked to when the report is made (Amazon Linux 2023: a
    /// release version, `latest` or `unknown`); absent on other systems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
}

/// The release of versioned repositories around one operation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReleaseReport {
    /// The host's lock when the operation started: a release, `latest` or `unknown`.
    pub before: String,
    /// Where the lock came from: `/etc/dnf/vars/releasever`, `system-release`, or `none`.
    pub source: String,
    /// The release the baseline approved; null when it has no `[release]` or none was
    /// eligible (`note` says why).
    #[serde(default)]
    pub approved: Option<String>,
    /// The release whose metadata the operation evaluated against.
    #[serde(default)]
    pub evaluated: Option<String>,
    /// `current` (on the approved release), `move` (evaluated against the newer approved
    /// release), `ahead` (on a newer release than approved; never downgraded) or `none`.
    pub plan: String,
    /// The host's lock when the operation ended.
    pub after: String,
    /// Whether this operation moved the lock.
    #[serde(default)]
    pub lock_moved: bool,
    /// Why the lock moved or stayed, or why no release was approved.
    #[serde(default)]
    pub note: Option<String>,
}

/// What an install operation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct InstallOutcome {
    /// Versions asked of the package manager.
    pub requested: Vec<String>,
    /// Versions the rpm database shows installed afterwards.
    pub installed: Vec<String>,
    /// Versions still not installed afterwards.
    pub failed: Vec<String>,
    #[serde(default)]
    pub package_manager_exit: Option<i32>,
    #[serde(default)]
    pub package_manager_output_tail: Option<String>,
    /// The post-install hook, when it ran and failed (exited non-zero, was killed, timed out
    /// or could not start); null when it succeeded, did not run or none is configured. Every
    /// version in `installed` is then suspect: `patchwarden promote` rejects them
    /// (docs/promotion.md).
    #[serde(default)]
    pub post_install_hook_failure: Option<HookFailure>,
    /// The versions the install replaced (what a rollback puts back), in the same forms as
    /// `installed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaced: Vec<String>,
    /// Processes left running on deleted code after the install (grouped by systemd unit),
    /// with the packages that own those paths now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stale_services: Vec<StaleService>,
    /// The health checks run after the install, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_checks: Vec<HealthCheckResult>,
}

/// A hook that failed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HookFailure {
    /// The hook's command line.
    pub command: String,
    /// Its exit code, when it exited by itself.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// How it ended: `exit code 3`, `killed by signal 9`, `timed out after 30s and was
    /// killed`, or `could not run: ...`.
    pub termination: String,
}

/// A service (or a process outside any unit) still running code an update deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StaleService {
    /// The systemd unit (`nginx.service`), when the processes have one.
    #[serde(default)]
    pub unit: Option<String>,
    pub pids: Vec<u32>,
    /// The first process's command name.
    pub command: String,
    /// The deleted files it maps.
    pub files: Vec<String>,
    /// The packages that own those paths now (the update that caused it).
    pub packages: Vec<String>,
    /// Whether the agent restarted the unit (the node's configuration names it): `Some(true)`
    /// restarted, `Some(false)` the restart failed, `None` not asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarted: Option<bool>,
}

/// How one health check went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HealthCheckResult {
    /// `unit`, `url` or `command`.
    pub kind: String,
    pub target: String,
    pub passed: bool,
    /// What it saw: the unit's state, the HTTP status, the command's end and output tail.
    pub detail: String,
}

impl InstallOutcome {
    /// The first health check that failed, if any.
    pub fn failed_health_check(&self) -> Option<&HealthCheckResult> {
        self.health_checks.iter().find(|check| !check.passed)
    }
}

/// A reboot the agent requested, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RebootDecision {
    pub reasons: Vec<String>,
    /// The command that was run.
    pub command: String,
    #[serde(default)]
    pub exit_code: Option<i32>,
}

/// `<state-dir>/daemon.json`: what `agent run` is doing, for `patchwarden agent status`.
/// Written atomically after every poll; informational only (nothing decides on it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DaemonStatus {
    #[serde(default = "state_version")]
    pub version: u32,
    /// The version of the agent that wrote the file.
    pub agent_version: String,
    /// The process id of `agent run`.
    pub pid: u32,
    /// When this `agent run` started (RFC 3339).
    pub started_at: String,
    /// The last poll that reached the server (RFC 3339).
    #[serde(default)]
    pub last_poll_at: Option<String>,
    /// The last poll that failed, and why, when it came after the last good one.
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub last_error_at: Option<String>,
    /// The last command this agent ran (id).
    #[serde(default)]
    pub last_command: Option<String>,
}

/// `<state-dir>/commands/<id>.delivery.json`: what the agent owes the server for one command
/// that ran. Written atomically when the operation ends, before anything is posted, and
/// removed once the server has the result: a server down or unreachable at that moment
/// loses nothing, and the next poll delivers it first (docs/agent.md, "Delivery").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingDelivery {
    #[serde(default = "state_version")]
    pub version: u32,
    pub command_id: String,
    /// The compliance report, until the server has stored it.
    #[serde(default)]
    pub report: Option<crate::server::compliance::ComplianceReportUpload>,
    /// The id the server gave the report, once it has it.
    #[serde(default)]
    pub report_id: Option<i64>,
    /// The command's result (its `report_id` filled in on delivery).
    pub result: crate::server::agent::CommandResult,
    /// The operation decided to reboot: done after the result is delivered.
    #[serde(default)]
    pub reboot: bool,
    /// Health checks to run again once the host is back from the reboot; the result waits
    /// for them (the report goes before the reboot).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_reboot_checks: Vec<crate::server::windows::HealthCheck>,
}

/// Report items as promotion evidence: every item with a target.
pub fn item_evidence(patches: &[PatchJson]) -> Vec<pw_core::promotion::ItemEvidence> {
    patches
        .iter()
        .filter_map(|p| {
            Some(pw_core::promotion::ItemEvidence {
                name: p.name.clone(),
                arch: p.arch.clone(),
                target: p.target.clone()?,
                state: p.state.clone(),
            })
        })
        .collect()
}

impl OperationReport {
    /// This report as the evidence of an install for promotion (`pw_core::promotion`): what it
    /// put on, and whether the install, its post-install hook or a health check failed.
    /// `None` for a report without an install. `report` is its id on the server, when known.
    pub fn install_evidence(
        &self,
        report: Option<i64>,
        at: jiff::Timestamp,
    ) -> Option<pw_core::promotion::InstallEvidence> {
        let install = self.install.as_ref()?;
        Some(pw_core::promotion::InstallEvidence {
            report,
            at,
            installed: install.installed.clone(),
            failed: !install.failed.is_empty(),
            hook_failed: install.post_install_hook_failure.is_some(),
            health_failed: install.failed_health_check().is_some(),
            items: item_evidence(&self.patches),
            release: self
                .release
                .as_ref()
                .map(|r| pw_core::promotion::ReleaseEvidence {
                    evaluated: r.evaluated.clone(),
                    after: r.after.clone(),
                    ahead: r.plan == "ahead",
                }),
        })
    }
}
