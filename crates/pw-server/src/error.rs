//! The API error: a code from the closed `ErrorCode` set, a message for the client, the
//! field at fault, and (logged, never sent) the internal detail. Every handler returns
//! `Result<_, ApiError>`; the response body is always `pw_api::server::error::ErrorBody`.

use std::fmt;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pw_api::server::error::{ErrorBody, ErrorCode};
use pw_store::StoreError;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    /// For the log only (the chain of the internal error).
    pub detail: Option<String>,
    /// For `Conflict`: whether something exists already or is in use (faces that tell them
    /// apart, like the SSM API, need it).
    pub conflict: Option<pw_store::ConflictKind>,
    /// Something the request names does not exist (a 404, or a 400 for a reference in a
    /// body); the SSM API answers `DoesNotExistException` for both.
    pub missing: bool,
    /// For `TooManyRequests`: seconds until a retry may succeed (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            field: None,
            detail: None,
            conflict: None,
            missing: false,
            retry_after: None,
        }
    }

    /// A bad value in one field: the message names it.
    pub fn field(field: impl Into<String>, message: impl fmt::Display) -> ApiError {
        let field = field.into();
        ApiError {
            code: ErrorCode::BadRequest,
            message: format!("{field}: {message}"),
            field: Some(field),
            detail: None,
            conflict: None,
            missing: false,
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::BadRequest, message)
    }

    pub fn not_found(what: &str, id: &str) -> ApiError {
        ApiError {
            missing: true,
            retry_after: None,
            ..ApiError::new(ErrorCode::NotFound, format!("{what} `{id}` does not exist"))
        }
    }

    /// A field of the request names something that does not exist (400, naming the field).
    pub fn missing_reference(field: &str, what: &str, id: &str) -> ApiError {
        ApiError {
            missing: true,
            retry_after: None,
            ..ApiError::field(field, format!("{what} `{id}` does not exist"))
        }
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Conflict, message)
    }

    /// A conflict because the object is in use (registered, referenced).
    pub fn in_use(message: impl Into<String>) -> ApiError {
        ApiError {
            conflict: Some(pw_store::ConflictKind::InUse),
            ..ApiError::new(ErrorCode::Conflict, message)
        }
    }

    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Unauthenticated, message)
    }

    /// Too many failed attempts: retry in `seconds`.
    pub fn too_many(message: impl Into<String>, seconds: u64) -> ApiError {
        ApiError {
            retry_after: Some(seconds),
            ..ApiError::new(ErrorCode::TooManyRequests, message)
        }
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Forbidden, message)
    }

    /// An unexpected failure: the client sees a generic message, the log the detail.
    pub fn internal(detail: impl fmt::Display) -> ApiError {
        ApiError {
            code: ErrorCode::Internal,
            message: "internal error; the request id finds the details in the server log"
                .to_owned(),
            field: None,
            detail: Some(detail.to_string()),
            conflict: None,
            missing: false,
            retry_after: None,
        }
    }

    /// The body, with the request id.
    pub fn body(&self, request_id: &str) -> ErrorBody {
        ErrorBody {
            code: self.code,
            message: self.message.clone(),
            request_id: request_id.to_owned(),
            field: self.field.clone(),
        }
    }
}

/// The full chain of an error, for logs.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match &error {
            StoreError::NotFound { .. } => ApiError {
                missing: true,
                retry_after: None,
                ..ApiError::new(ErrorCode::NotFound, error.to_string())
            },
            StoreError::Conflict { kind, .. } => ApiError {
                conflict: Some(*kind),
                ..ApiError::new(ErrorCode::Conflict, error.to_string())
            },
            StoreError::Unavailable(_) | StoreError::Connect { .. } => ApiError {
                code: ErrorCode::Unavailable,
                message: "the database is unavailable; retry later".to_owned(),
                field: None,
                detail: Some(chain(&error)),
                conflict: None,
                missing: false,
                retry_after: None,
            },
            _ => ApiError::internal(chain(&error)),
        }
    }
}

/// The request id of the current request, put in the response extensions by the request
/// middleware, which then writes the body.
#[derive(Debug, Clone)]
pub(crate) struct PendingError(pub(crate) std::sync::Arc<ApiError>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // The middleware replaces this body with one carrying the request id.
        let mut response = status.into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
            .extensions_mut()
            .insert(PendingError(std::sync::Arc::new(self)));
        response
    }
}
