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
