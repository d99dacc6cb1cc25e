//! The one error body of the API and its closed set of codes. [`ErrorCode::http_status`] is
//! the only place where an HTTP status code is chosen.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What went wrong, as a closed set. New codes are added at the end; an old client reads an
/// unknown code as [`ErrorCode::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed or a field is invalid (the message names the field).
    BadRequest,
    /// No such resource.
    NotFound,
    /// The request conflicts with the current state (name taken, still referenced, ...).
    Conflict,
    /// No credentials, or unknown / revoked / expired credentials.
    Unauthenticated,
    /// Valid credentials without the right to do this.
    Forbidden,
    /// The body is larger than the server accepts.
    PayloadTooLarge,
    /// Too many requests; retry later.
    TooManyRequests,
    /// The server cannot serve now (database down, shutting down); retry later.
    Unavailable,
    /// A bug or an unexpected failure; the request id finds the details in the server log.
    Internal,
    /// A code this client does not know.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The HTTP status of this code: the only mapping in the code base.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal | ErrorCode::Unknown => 500,
        }
    }

    /// The code for an HTTP status, for clients that got a status without a usable body.
    pub fn from_http_status(status: u16) -> ErrorCode {
        match status {
            400 | 422 => ErrorCode::BadRequest,
            401 => ErrorCode::Unauthenticated,
            403 => ErrorCode::Forbidden,
            404 | 405 => ErrorCode::NotFound,
            409 => ErrorCode::Conflict,
            413 => ErrorCode::PayloadTooLarge,
            429 => ErrorCode::TooManyRequests,
            502..=504 => ErrorCode::Unavailable,
            _ => ErrorCode::Internal,
        }
    }

    /// The wire spelling (`bad_request`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::TooManyRequests => "too_many_requests",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error response: `{"code": "bad_request", "message": "...",
/// "request_id": "...", "field": "duration_hours"}`. The message never contains SQL text or
/// a backtrace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default)]
    pub request_id: String,
    /// The request field at fault, for `bad_request` errors about one field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
