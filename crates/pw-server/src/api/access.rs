//! `/tokens`, `/activations`, `/audit` (admin only).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::SignedDuration;
use pw_api::limits;
use pw_api::server::tokens::{
    ActivationCreated, ActivationInfo, CreateActivation, CreateToken, Role, TokenCreated, TokenInfo,
};
use pw_store::{ActivationRecord, TokenRecord, ids};
use serde::Serialize;

use crate::AppState;
use crate::api::{tags_from_wire, tags_to_wire};
use crate::auth::{ACTIVATION_PREFIX, Admin, TOKEN_PREFIX};
use crate::error::ApiError;
use crate::extract::{ApiJson, Params};

fn token_to_wire(record: &TokenRecord) -> TokenInfo {
    TokenInfo {
        id: record.id.clone(),
        role: Role::parse(&record.role).unwrap_or(Role::ReadOnly),
        name: record.name.clone(),
        created_at: record.created_at,
        revoked_at: record.revoked_at,
    }
}

/// Creates a token and returns its secret (also used by `patchwarden server token create`).
pub(crate) async fn create_token_in(
    store: &pw_store::Store,
    role: Role,
    name: Option<String>,
    now: jiff::Timestamp,
) -> Result<TokenCreated, pw_store::StoreError> {
    let secret = ids::secret(TOKEN_PREFIX);
    let record = TokenRecord {
        id: ids::short_id("tok-"),
        name,
        role: role.as_str().to_owned(),
        created_at: now,
        revoked_at: None,
    };
    store
        .create_token(&record, &ids::hash_secret(&secret))
        .await?;
    Ok(TokenCreated {
        info: token_to_wire(&record),
        token: secret,
    })
}

pub(crate) async fn list_tokens(
    State(state): State<AppState>,
    _caller: Admin,
) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    Ok(Json(
        state
            .store()
            .tokens()
            .await?
            .iter()
            .map(token_to_wire)
            .collect(),
    ))
}

pub(crate) async fn create_token(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<(StatusCode, Json<TokenCreated>), ApiError> {
    if !limits::within(body.name.as_deref(), limits::NAME_MAX) {
        return Err(ApiError::field(
            "name",
            limits::length_message(limits::NAME_MAX),
        ));
    }
    let now = state.now();
    let created = create_token_in(state.store(), body.role, body.name, now).await?;
    state
        .store()
        .audit(
            now,
            &caller.actor(),
            "token.create",
            Some(&created.info.id),
            None,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let now = state.now();
    state.store().revoke_token(&id, now).await?;
    state.auth_cache_clear();
    state
        .store()
        .audit(now, &caller.actor(), "token.revoke", Some(&id), None)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn activation_to_wire(record: &ActivationRecord) -> ActivationInfo {
    ActivationInfo {
        id: record.id.clone(),
        description: record.description.clone(),
        expires_at: record.expires_at,
        max_uses: u32::try_from(record.max_uses).unwrap_or(u32::MAX),
        uses: u32::try_from(record.uses).unwrap_or(u32::MAX),
        created_at: record.created_at,
        tags: tags_to_wire(&record.tags),
        allow_node_tags: record.allow_node_tags,
    }
}

pub(crate) async fn list_activations(
    State(state): State<AppState>,
    _caller: Admin,
) -> Result<Json<Vec<ActivationInfo>>, ApiError> {
    Ok(Json(
        state
            .store()
            .activations()
            .await?
            .iter()
            .map(activation_to_wire)
            .collect(),
    ))
}

pub(crate) async fn create_activation(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiJson(body): ApiJson<CreateActivation>,
) -> Result<(StatusCode, Json<ActivationCreated>), ApiError> {
    let hours = body.expires_in_hours.unwrap_or(24);
    if !limits::EXPIRES_IN_HOURS.contains(&hours) {
        return Err(ApiError::field(
            "expires_in_hours",
            limits::range_message(&limits::EXPIRES_IN_HOURS),
        ));
    }
    let max_uses = body.max_uses.unwrap_or(1);
    if !limits::MAX_USES.contains(&max_uses) {
        return Err(ApiError::field(
            "max_uses",
            limits::range_message(&limits::MAX_USES),
        ));
    }
    if !limits::within(body.description.as_deref(), limits::DESCRIPTION_MAX) {
        return Err(ApiError::field(
            "description",
            limits::length_message(limits::DESCRIPTION_MAX),
        ));
    }
    let tags = tags_from_wire("tags", &body.tags)?;
    let now = state.now();
    let code = ids::secret(ACTIVATION_PREFIX);
    let record = ActivationRecord {
        id: ids::short_id("act-"),
        description: body.description,
        tags,
        expires_at: crate::later(now, SignedDuration::from_hours(i64::from(hours))),
        max_uses: i64::from(max_uses),
        uses: 0,
        created_at: now,
        allow_node_tags: body.allow_node_tags,
    };
    state
        .store()
        .create_activation(&record, &ids::hash_secret(&code))
        .await?;
    state
        .store()
        .audit(
            now,
            &caller.actor(),
            "activation.create",
            Some(&record.id),
            None,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ActivationCreated {
            info: activation_to_wire(&record),
            code,
        }),
    ))
}

pub(crate) async fn delete_activation(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.store().delete_activation(&id).await?;
    state
        .store()
        .audit(
            state.now(),
            &caller.actor(),
            "activation.delete",
            Some(&id),
            None,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An audit event on the wire.
#[derive(Debug, Serialize)]
pub(crate) struct AuditEventJson {
    id: i64,
    at: jiff::Timestamp,
    actor: String,
    action: String,
    target: Option<String>,
    /// What the action recorded beside it (a promotion's entry, reason and evidence, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<serde_json::Value>,
}

pub(crate) async fn audit(
    State(state): State<AppState>,
    _caller: Admin,
    params: Params,
) -> Result<Json<Vec<AuditEventJson>>, ApiError> {
    let limit = params.int("limit", 100, 1..=10_000)?;
    Ok(Json(
        state
            .store()
            .audit_events(limit)
            .await?
            .into_iter()
            .map(|event| AuditEventJson {
                id: event.id,
                at: event.at,
                actor: event.actor,
                action: event.action,
                target: event.target,
                details: event
                    .details_json
                    .as_deref()
                    .and_then(|text| serde_json::from_str(text).ok()),
            })
            .collect(),
    ))
}
