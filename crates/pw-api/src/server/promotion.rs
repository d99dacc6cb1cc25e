//! Promotion policies (`/api/v1/promotions`): the server rejects in a production baseline what
//! broke its staging baseline as staging's reports arrive, and may approve what stayed
//! healthy there. Field names are a stable interface: the declarative files' `[[promotion]]`
//! and scripts reading `patchwarden promotion list --output json` use them.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

fn yes() -> bool {
    true
}

/// A policy as it is declared (`POST /api/v1/promotions`, `PUT /api/v1/promotions/{id}`,
/// `[[promotion]]` in declarative files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PromotionSpec {
    /// The staging baseline (id or name) whose nodes' reports are read.
    pub from: String,
    /// The production baseline (id or name, stored, not built-in) whose lists grow.
    pub to: String,
    /// Read the nodes of this patch group instead of the nodes whose reports name `from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_group: Option<String>,
    /// Reject in `to`, as soon as a staging report shows it, every exact version whose
    /// install or post-install hook failed on staging. On unless set to false.
    #[serde(default = "yes")]
    pub reject_failures: bool,
    /// Approve in `to` the exact versions installed and healthy on enough staging nodes for
    /// long enough (in addition to `to`'s own rules). Absent: approve nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approve_when_healthy: Option<HealthyApproval>,
}

/// When a version that broke nothing on staging is approved in production.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct HealthyApproval {
    /// Installed on at least this many staging nodes (1 to 10,000; 1 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(range(min = *crate::limits::PROMOTION_NODES.start(), max = *crate::limits::PROMOTION_NODES.end()))
    )]
    pub nodes: Option<u32>,
    /// And on at least this percentage of the staging nodes read (1 to 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(range(min = *crate::limits::PROMOTION_PERCENT.start(), max = *crate::limits::PROMOTION_PERCENT.end()))
    )]
    pub percent: Option<u8>,
    /// Each of those nodes has had it for at least this long: `3d`, `12h`, `90m`, `1d12h`
    /// (at most 366 days; none when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak: Option<String>,
}

/// What a policy decided on: the staging nodes, their reports and when.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PromotionEvidence {
    /// Hostnames of the staging nodes behind the decision.
    pub nodes: Vec<String>,
    /// Their compliance reports behind it (`GET /api/v1/compliance/reports/{id}`).
    pub reports: Vec<i64>,
    /// The latest of those reports' times.
    #[serde(default)]
    pub at: Option<Timestamp>,
}

/// One entry a policy added to its production baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PromotionChange {
    pub at: Timestamp,
    /// `approve`, `reject`, `verify-release` or `reject-release`.
    pub list: String,
    pub entry: String,
    pub reason: String,
    pub evidence: PromotionEvidence,
}

/// A stored policy, with what it has done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PromotionPolicy {
    pub id: String,
    /// The baselines' ids (the spec's `from` and `to` as given may be names).
    pub from_baseline_id: String,
    pub to_baseline_id: String,
    pub spec: PromotionSpec,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default)]
    pub last_run_at: Option<Timestamp>,
    /// Why the last run failed, when it did.
    #[serde(default)]
    pub last_error: Option<String>,
    /// The entries it added, newest first (the last 100).
    pub changes: Vec<PromotionChange>,
}

/// `POST /api/v1/promotions/{id}/run` (and `?dry_run=true`): what one run added, or would add.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PromotionRun {
    pub policy_id: String,
    pub dry_run: bool,
    pub nodes_read: u64,
    pub install_reports_read: u64,
    pub added: Vec<PromotionChange>,
    /// Entries due that did not fit under the 50-entry limit of their list.
    pub not_added: Vec<PromotionChange>,
    /// Report items left out because their target is not a version of the family.
    pub skipped: Vec<String>,
}

/// A version staging installed without failure that production neither approves nor rejects
/// yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PendingApproval {
    /// The exact-version entry the policy would add.
    pub entry: String,
    /// The staging nodes it is installed on.
    pub nodes: u64,
    /// When the policy approves it as things stand; absent when it does not (too few nodes
    /// yet, or the policy does not approve: production's own rules decide).
    #[serde(default)]
    pub due_at: Option<Timestamp>,
}

/// `GET /api/v1/promotions/{id}/pending`: what production will get from staging, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PromotionOutlook {
    pub policy_id: String,
    pub as_of: Timestamp,
    pub nodes_read: u64,
    pub pending: Vec<PendingApproval>,
}
