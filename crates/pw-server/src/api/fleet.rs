//! `/fleet`: the fleet at a glance, as the console shows it (`service::fleet`).

use axum::Json;
use axum::extract::{Path, State};
use pw_api::server::fleet::{FleetNodePage, FleetOverview, ReferenceReport};

use crate::AppState;
use crate::auth::ReadOnly;
use crate::error::ApiError;
use crate::extract::Params;
use crate::service::fleet as service;

pub(crate) async fn overview(
    State(state): State<AppState>,
    _caller: ReadOnly,
) -> Result<Json<FleetOverview>, ApiError> {
    Ok(Json(service::overview(&state).await?))
}

pub(crate) async fn nodes(
    State(state): State<AppState>,
    _caller: ReadOnly,
    params: Params,
) -> Result<Json<FleetNodePage>, ApiError> {
    let filter = service::filter_from(&params.0)?;
    let get = |key: &str| {
        params
            .0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let limit = match get("limit") {
        None => 100,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=service::MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::field("limit", format!("must be 1 to {}", service::MAX_PAGE))
            })?,
    };
    Ok(Json(
        service::node_page_wire(
            &state,
            &filter,
            get("after").filter(|a| !a.is_empty()),
            limit,
        )
        .await?,
    ))
}

pub(crate) async fn reference(
    State(state): State<AppState>,
    _caller: ReadOnly,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<ReferenceReport>, ApiError> {
    // The OpenAPI document declares `state` only, so no other parameter reaches here.
    let only = params
        .0
        .iter()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty());
    Ok(Json(service::reference(&state, &id, only).await?))
}
