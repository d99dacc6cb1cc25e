//! The service layer: one function per operation, called by every face of the server (the
//! native API in `api/`, the SSM-compatible API in `ssm/`) with the caller and the state.
//! Validation that depends on stored state and every write (with its audit record) live
//! here; faces parse, authorize and render (ARCHITECTURE.md, "three faces, one service
//! layer").

pub(crate) mod baselines;
pub(crate) mod compliance;
pub(crate) mod executions;
pub(crate) mod fleet;
pub(crate) mod nodes;
pub(crate) mod preview;
pub(crate) mod promotions;
pub(crate) mod webhooks;
pub(crate) mod windows;

use crate::error::ApiError;

/// Parses a JSON column written by this server.
pub(crate) fn stored_json<T: serde::de::DeserializeOwned>(
    what: &str,
    text: &str,
) -> Result<T, ApiError> {
    serde_json::from_str(text)
        .map_err(|error| ApiError::internal(format!("stored {what} is unreadable: {error}")))
}

/// Serializes a wire value for a JSON column.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(ApiError::internal)
}
