//! Baselines, defaults per operating system and patch-group registrations.
//!
//! A baseline is created or replaced by sending its file as the request body: the native
//! TOML (`version = "1"`) or the AWS JSON shape, detected as `parse_baseline` does. The
//! server stores the native TOML text.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A baseline as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BaselineSummary {
    /// `pb-` and 17 hex digits for stored baselines; the name for built-in defaults.
    pub id: String,
    pub name: String,
    /// `AMAZON_LINUX_2`, `REDHAT_ENTERPRISE_LINUX`, ...
    pub operating_system: String,
    #[serde(default)]
    pub description: Option<String>,
    /// True for the built-in defaults (read-only).
    #[serde(default)]
    pub predefined: bool,
    /// True when this is the default baseline of its operating system.
    #[serde(default)]
    pub default_for_os: bool,
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
}

/// A baseline with its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BaselineDetail {
    pub summary: BaselineSummary,
    /// The native TOML text.
    pub toml: String,
    /// Patch groups this baseline is registered for.
    #[serde(default)]
    pub patch_groups: Vec<String>,
    /// Remarks made while reading the submitted file (unknown keys, entries with no
    /// effect). Only on create and update.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Approved and rejected entries whose expiry date has passed at the server's clock:
    /// they no longer apply.
    #[serde(default)]
    pub expired_exceptions: Vec<ExpiredException>,
}

/// An approved or rejected entry that no longer applies: its `expires` day is over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ExpiredException {
    /// `approved` or `rejected`.
    pub list: String,
    pub entry: String,
    /// The last day (UTC) it applied.
    pub expires: jiff::civil::Date,
}

/// The default baseline of one operating system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DefaultBaseline {
    pub operating_system: String,
    pub baseline_id: String,
    /// True when no default was registered and the built-in one applies.
    #[serde(default)]
    pub predefined: bool,
}

/// `PUT /api/v1/default-baselines/{os}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RegisterDefault {
    pub baseline_id: String,
}

/// A patch group registered to a baseline for one operating system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PatchGroupRegistration {
    pub patch_group: String,
    pub operating_system: String,
    pub baseline_id: String,
}

/// `POST /api/v1/patch-groups`: the operating system is the baseline's.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RegisterPatchGroup {
    pub patch_group: String,
    pub baseline_id: String,
}

/// `POST /api/v1/baselines/{id}/impact` (the body a draft of the baseline in TOML): what
/// saving the draft would change, before it is saved. Nothing is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BaselineImpact {
    pub baseline_id: String,
    /// The instant both versions were evaluated at.
    pub evaluated_at: Timestamp,
    /// The stored version against the draft, line by line, both in canonical TOML.
    pub diff: Vec<DiffLine>,
    /// What reading the draft noticed (unknown keys and the like).
    pub warnings: Vec<String>,
    /// How many nodes this baseline applies to now (by patch group or as a default).
    pub nodes_total: u64,
    /// The nodes evaluated (at most `limit`, by hostname), each with the patches whose state
    /// or target the draft changes.
    pub nodes: Vec<NodeImpact>,
}

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DiffLine {
    /// `same`, `removed` (only in the stored version) or `added` (only in the draft).
    pub change: String,
    pub text: String,
}

/// What the draft changes on one node, from the inventory it uploaded last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NodeImpact {
    pub node_id: String,
    pub hostname: String,
    /// Why the node could not be evaluated (no inventory yet, another operating system).
    #[serde(default)]
    pub error: Option<String>,
    pub changes: Vec<PatchChange>,
}

/// One patch whose state or target differs between the stored version and the draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PatchChange {
    /// `name.arch`.
    pub package: String,
    /// The state under the stored version; absent when it did not list the package.
    #[serde(default)]
    pub before_state: Option<String>,
    #[serde(default)]
    pub before_target: Option<String>,
    #[serde(default)]
    pub after_state: Option<String>,
    #[serde(default)]
    pub after_target: Option<String>,
    /// Why the patch has its state under the draft.
    pub after_reason: String,
}
