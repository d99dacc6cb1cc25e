//! `/executions`: window executions with task and invocation statuses (ssm-reference §7.5);
//! cancel.

use axum::Json;
use axum::extract::{Path, State};
use pw_api::server::windows::Execution;

use crate::AppState;
use crate::auth::{Operator, ReadOnly};
use crate::error::ApiError;
use crate::extract::Params;
pub(crate) use crate::service::executions::load;
use crate::service::executions::{self as service, execution_to_wire};

pub(crate) async fn list(
    State(state): State<AppState>,
    _caller: ReadOnly,
    params: Params,
) -> Result<Json<Vec<Execution>>, ApiError> {
    let limit = params.int("limit", 50, 1..=1000)?;
    let records = state
        .store()
        .executions(params.get("window_id"), limit)
        .await?;
    Ok(Json(
        records
            .iter()
            .map(|record| execution_to_wire(record, Vec::new()))
            .collect(),
    ))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    _caller: ReadOnly,
    Path(id): Path<String>,
) -> Result<Json<Execution>, ApiError> {
    Ok(Json(load(&state, &id).await?))
}

pub(crate) async fn cancel(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path(id): Path<String>,
) -> Result<Json<Execution>, ApiError> {
    service::cancel(&state, &caller.actor(), &id).await?;
    Ok(Json(load(&state, &id).await?))
}
