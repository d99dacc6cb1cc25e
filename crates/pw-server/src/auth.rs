//! Authentication and roles. Every request but enrollment, `/healthz` and `/openapi.json`
//! carries `Authorization: Bearer <secret>`:
//!
//! * API tokens (`pwt_...`) carry a role: read-only < operator < admin;
//! * node credentials (`pwn_...`) identify one node, which may use only the agent routes
//!   and only for itself.
//!
//! Secrets are stored as sha256 hashes; a lookup result is cached for a short time
//! (`auth_cache_ttl`, 120 s) so that polls do not each cost a database read. Revoking a token or
//! deleting a node clears this replica's cache at once; other replicas within the TTL.

use std::time::Instant;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use pw_api::server::tokens::Role;
use pw_store::ids;

use crate::AppState;
use crate::error::ApiError;
use crate::guard::ClientAddr;

/// The prefix of API tokens.
pub const TOKEN_PREFIX: &str = "pwt_";
/// The prefix of node credentials.
pub const CREDENTIAL_PREFIX: &str = "pwn_";
/// The prefix of activation codes.
pub const ACTIVATION_PREFIX: &str = "pwa_";

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Token { id: String, role: Role },
    Node { id: String },
}

impl Principal {
    /// The audit-log actor (`token:<id>`, `node:<id>`).
    pub fn actor(&self) -> String {
        match self {
            Principal::Token { id, .. } => format!("token:{id}"),
            Principal::Node { id } => format!("node:{id}"),
        }
    }
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthenticated("missing `Authorization: Bearer <token>` header")
        })?;
    let text = header
        .to_str()
        .map_err(|_| ApiError::unauthenticated("the Authorization header is not valid text"))?;
    let secret = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .ok_or_else(|| {
            ApiError::unauthenticated("the Authorization header must be `Bearer <token>`")
        })?;
    Ok(secret.trim())
}

/// Resolves the caller of a request.
pub(crate) async fn principal(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    let secret = bearer(parts)?;
    let hash = ids::hash_secret(secret);
    if let Some(principal) = state.auth_cache_get(&hash) {
        return Ok(principal);
    }
    let client = parts.extensions.get::<ClientAddr>().copied();
    state.auth_allowed(client)?;
    let principal = if secret.starts_with(TOKEN_PREFIX) {
        let token = state.store().token_by_hash(&hash).await?;
        token.and_then(|token| {
            Role::parse(&token.role).map(|role| Principal::Token { id: token.id, role })
        })
    } else if secret.starts_with(CREDENTIAL_PREFIX) {
        state
            .store()
            .node_id_by_credential(&hash)
            .await?
            .map(|id| Principal::Node { id })
    } else {
        None
    };
    let Some(principal) = principal else {
        state.auth_failed(client);
        return Err(ApiError::unauthenticated("unknown or revoked credentials"));
    };
    state.auth_cache_put(hash, principal.clone(), Instant::now());
    Ok(principal)
}

async fn with_role(parts: &Parts, state: &AppState, needed: Role) -> Result<Caller, ApiError> {
    match principal(parts, state).await? {
        Principal::Token { id, role } if role >= needed => Ok(Caller { token_id: id, role }),
        Principal::Token { role, .. } => Err(ApiError::forbidden(format!(
            "this needs the {} role; the token has {}",
            needed.as_str(),
            role.as_str()
        ))),
        Principal::Node { .. } => Err(ApiError::forbidden(
            "node credentials may use only the agent API",
        )),
    }
}

/// An API token holder.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: String,
    pub role: Role,
}

impl Caller {
    pub fn actor(&self) -> String {
        format!("token:{}", self.token_id)
    }
}

macro_rules! role_extractor {
    ($name:ident, $role:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone)]
        pub struct $name(pub Caller);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, Self::Rejection> {
                with_role(parts, state, $role).await.map($name)
            }
        }
    };
}

role_extractor!(
    ReadOnly,
    Role::ReadOnly,
    "A caller with at least the read-only role."
);
role_extractor!(
    Operator,
    Role::Operator,
    "A caller with at least the operator role."
);
role_extractor!(Admin, Role::Admin, "A caller with the admin role.");

/// A node calling the agent API with its own credential.
#[derive(Debug, Clone)]
pub struct AgentNode {
    pub node_id: String,
}

impl FromRequestParts<AppState> for AgentNode {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match principal(parts, state).await? {
            Principal::Node { id } => Ok(AgentNode { node_id: id }),
            Principal::Token { .. } => Err(ApiError::forbidden(
                "the agent API needs a node credential, not an API token",
            )),
        }
    }
}
