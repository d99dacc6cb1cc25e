//! `/webhooks` (admin): signed JSON POSTs on events, with a delivery log.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use pw_api::server::webhooks::{Webhook, WebhookDelivery, WebhookSpec, WebhookUpdate};

use crate::AppState;
use crate::auth::Admin;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::service::webhooks as service;

pub(crate) async fn list(
    State(state): State<AppState>,
    _caller: Admin,
) -> Result<Json<Vec<Webhook>>, ApiError> {
    Ok(Json(service::list(&state).await?))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiJson(spec): ApiJson<WebhookSpec>,
) -> Result<(StatusCode, Json<Webhook>), ApiError> {
    let created = service::create(&state, &caller.actor(), &spec).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    ApiJson(update): ApiJson<WebhookUpdate>,
) -> Result<Json<Webhook>, ApiError> {
    Ok(Json(
        service::update(&state, &caller.actor(), &id, &update).await?,
    ))
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service::delete(&state, &caller.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn deliveries(
    State(state): State<AppState>,
    _caller: Admin,
    Path(id): Path<String>,
) -> Result<Json<Vec<WebhookDelivery>>, ApiError> {
    Ok(Json(service::deliveries(&state, &id).await?))
}
