//! `/windows`: maintenance windows (ssm-reference §7.1), their targets (§7.3) and tasks
//! (§7.4); enable, disable, next openings; run now.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use pw_api::server::windows::{
    Execution, NextExecutions, Occurrence, TaskSpec, Window, WindowSpec, WindowTarget,
    WindowTargetSpec, WindowTask,
};
use pw_store::WindowPart;

use crate::AppState;
use crate::api::stored_json;
use crate::auth::{Admin, Operator, ReadOnly};
use crate::error::ApiError;
use crate::extract::{ApiJson, Params};
use crate::service::windows::{
    self as service, load, part_to_target, part_to_task, scheduled_window, window_to_wire,
};

pub(crate) async fn list(
    State(state): State<AppState>,
    _caller: ReadOnly,
) -> Result<Json<Vec<Window>>, ApiError> {
    Ok(Json(
        state
            .store()
            .windows()
            .await?
            .iter()
            .map(window_to_wire)
            .collect::<Result<_, _>>()?,
    ))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    _caller: ReadOnly,
    Path(id): Path<String>,
) -> Result<Json<Window>, ApiError> {
    Ok(Json(window_to_wire(&load(&state, &id).await?)?))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    Operator(caller): Operator,
    ApiJson(spec): ApiJson<WindowSpec>,
) -> Result<(StatusCode, Json<Window>), ApiError> {
    let record = service::create(&state, &caller.actor(), &spec).await?;
    Ok((StatusCode::CREATED, Json(window_to_wire(&record)?)))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path(id): Path<String>,
    ApiJson(spec): ApiJson<WindowSpec>,
) -> Result<Json<Window>, ApiError> {
    let record = service::update(&state, &caller.actor(), &id, &spec).await?;
    Ok(Json(window_to_wire(&record)?))
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service::delete(&state, &caller.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_enabled(
    state: &AppState,
    caller: &crate::auth::Caller,
    id: &str,
    enabled: bool,
) -> Result<Json<Window>, ApiError> {
    let record = service::set_enabled(state, &caller.actor(), id, enabled).await?;
    Ok(Json(window_to_wire(&record)?))
}

pub(crate) async fn enable(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path(id): Path<String>,
) -> Result<Json<Window>, ApiError> {
    set_enabled(&state, &caller, &id, true).await
}

pub(crate) async fn disable(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path(id): Path<String>,
) -> Result<Json<Window>, ApiError> {
    set_enabled(&state, &caller, &id, false).await
}

pub(crate) async fn next(
    State(state): State<AppState>,
    _caller: ReadOnly,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<NextExecutions>, ApiError> {
    let count = params.int("count", 5, 1..=100)?;
    let after = params.timestamp("after")?.unwrap_or_else(|| state.now());
    let record = load(&state, &id).await?;
    let spec: WindowSpec = stored_json("window", &record.spec_json)?;
    let window = scheduled_window(&spec, record.schedule_anchor_at)?;
    let occurrences = window
        .occurrences_after(after)
        .take(usize::try_from(count).unwrap_or(5))
        .map(|occurrence| Occurrence {
            start: occurrence.start().timestamp(),
            end: occurrence.end().timestamp(),
            last_task_start: occurrence.last_task_start().timestamp(),
            local_start: occurrence.start().to_string(),
        })
        .collect();
    Ok(Json(NextExecutions {
        window_id: id,
        occurrences,
    }))
}

/// `POST /windows/{id}/run`: opens an execution of the window now, through the scheduler's
/// path (see [`crate::scheduler::run_now`]).
pub(crate) async fn run(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Execution>), ApiError> {
    let record = load(&state, &id).await?;
    let execution_id =
        crate::scheduler::run_now(&state, &record, &caller.actor(), state.now()).await?;
    let execution = super::executions::load(&state, &execution_id).await?;
    Ok((StatusCode::CREATED, Json(execution)))
}

pub(crate) async fn list_targets(
    State(state): State<AppState>,
    _caller: ReadOnly,
    Path(id): Path<String>,
) -> Result<Json<Vec<WindowTarget>>, ApiError> {
    load(&state, &id).await?;
    let parts = state.store().window_parts(WindowPart::Target, &id).await?;
    Ok(Json(
        parts.iter().map(part_to_target).collect::<Result<_, _>>()?,
    ))
}

pub(crate) async fn create_target(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path(id): Path<String>,
    ApiJson(spec): ApiJson<WindowTargetSpec>,
) -> Result<(StatusCode, Json<WindowTarget>), ApiError> {
    let record = service::create_target(&state, &caller.actor(), &id, &spec).await?;
    Ok((StatusCode::CREATED, Json(part_to_target(&record)?)))
}

pub(crate) async fn delete_target(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path((id, target_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    service::delete_target(&state, &caller.actor(), &id, &target_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn list_tasks(
    State(state): State<AppState>,
    _caller: ReadOnly,
    Path(id): Path<String>,
) -> Result<Json<Vec<WindowTask>>, ApiError> {
    load(&state, &id).await?;
    let parts = state.store().window_parts(WindowPart::Task, &id).await?;
    Ok(Json(
        parts.iter().map(part_to_task).collect::<Result<_, _>>()?,
    ))
}

pub(crate) async fn create_task(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path(id): Path<String>,
    ApiJson(spec): ApiJson<TaskSpec>,
) -> Result<(StatusCode, Json<WindowTask>), ApiError> {
    let record = service::create_task(&state, &caller.actor(), &id, &spec).await?;
    Ok((StatusCode::CREATED, Json(part_to_task(&record)?)))
}

pub(crate) async fn delete_task(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path((id, task_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    service::delete_task(&state, &caller.actor(), &id, &task_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
