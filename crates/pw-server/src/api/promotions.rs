//! `/promotions`: promotion policies (docs/promotion.md): from a staging baseline to a
//! production one, rejecting what broke staging as reports arrive and approving what stayed
//! healthy.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use pw_api::server::promotion::{PromotionPolicy, PromotionRun, PromotionSpec};

use crate::AppState;
use crate::auth::{Operator, ReadOnly};
use crate::error::ApiError;
use crate::extract::{ApiJson, Params};
use crate::service::promotions as service;

pub(crate) async fn list(
    State(state): State<AppState>,
    _caller: ReadOnly,
) -> Result<Json<Vec<PromotionPolicy>>, ApiError> {
    Ok(Json(service::list(&state).await?))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    Operator(caller): Operator,
    ApiJson(spec): ApiJson<PromotionSpec>,
) -> Result<(StatusCode, Json<PromotionPolicy>), ApiError> {
    let policy = service::create(&state, &caller.actor(), &spec).await?;
    Ok((StatusCode::CREATED, Json(policy)))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    _caller: ReadOnly,
    Path(id): Path<String>,
) -> Result<Json<PromotionPolicy>, ApiError> {
    Ok(Json(service::get(&state, &id).await?))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path(id): Path<String>,
    ApiJson(spec): ApiJson<PromotionSpec>,
) -> Result<Json<PromotionPolicy>, ApiError> {
    Ok(Json(
        service::update(&state, &caller.actor(), &id, &spec).await?,
    ))
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service::delete(&state, &caller.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /promotions/{id}/pending`: what production will get from staging, and when.
pub(crate) async fn pending(
    State(state): State<AppState>,
    _caller: ReadOnly,
    Path(id): Path<String>,
) -> Result<Json<pw_api::server::promotion::PromotionOutlook>, ApiError> {
    Ok(Json(service::outlook(&state, &id).await?))
}

/// `POST /promotions/{id}/run[?dry_run=true]`: runs the policy on every staging node's
/// reports now (what the scheduler does every 5 minutes for policies that approve).
pub(crate) async fn run(
    State(state): State<AppState>,
    Operator(_caller): Operator,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<PromotionRun>, ApiError> {
    let dry_run = params.flag("dry_run")?;
    Ok(Json(service::run(&state, &id, dry_run).await?))
}
