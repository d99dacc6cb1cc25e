//! `POST /preview`: what each node would get from a baseline (`service::preview`).

use axum::Json;
use axum::extract::State;
use pw_api::server::agent::{PreviewRequest, PreviewResponse};

use crate::AppState;
use crate::auth::ReadOnly;
use crate::error::ApiError;
use crate::extract::ApiJson;

pub(crate) async fn preview(
    State(state): State<AppState>,
    _caller: ReadOnly,
    ApiJson(request): ApiJson<PreviewRequest>,
) -> Result<Json<PreviewResponse>, ApiError> {
    Ok(Json(
        crate::service::preview::preview(&state, &request).await?,
    ))
}
