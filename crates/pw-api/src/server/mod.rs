//! Wire types of the server: the admin HTTP API (`/api/v1/...`) and the agent protocol
//! (`/api/v1/agent/...`). Every type here is a compatibility promise: fields are only
//! added (with `#[serde(default)]`), readers ignore unknown fields, and enums that may
//! grow carry an `Unknown` catch-all so an old reader does not fail on a new value.
//!
//! Times are RFC 3339 strings (`jiff::Timestamp`); ids are opaque strings.

pub mod agent;
pub mod baselines;
pub mod compliance;
pub mod error;
pub mod fleet;
pub mod nodes;
pub mod promotion;
pub mod releases;
pub mod tokens;
pub mod webhooks;
pub mod windows;

/// The version of the HTTP API; the path prefix is `/api/v1`.
pub const API_VERSION: &str = "v1";

/// A page of results with the total before paging.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default)]
    pub total: u64,
}
