//! Nodes (hosts running the agent) as the admin API shows them.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::server::compliance::ComplianceSummary;
use crate::server::tokens::Tag;

/// A node as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NodeSummary {
    pub id: String,
    pub hostname: String,
    pub operating_system: String,
    pub product: String,
    #[serde(default)]
    pub agent_version: String,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// From the `Patch Group` (else `PatchGroup`) tag.
    #[serde(default)]
    pub patch_group: Option<String>,
    /// The baseline that applies now (patch group registration, else the OS default).
    #[serde(default)]
    pub baseline_id: Option<String>,
    pub enrolled_at: Timestamp,
    #[serde(default)]
    pub last_seen_at: Option<Timestamp>,
    #[serde(default)]
    pub inventory_at: Option<Timestamp>,
    /// The latest compliance report's summary.
    #[serde(default)]
    pub compliance: Option<ComplianceSummary>,
}

/// `PUT /api/v1/nodes/{id}/tags`: replaces every tag.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SetTags {
    #[cfg_attr(feature = "schema", schemars(length(max = crate::limits::TAGS_MAX)))]
    pub tags: Vec<Tag>,
}
