//! `/windows`: maintenance windows (ssm-reference §7.1), their targets (§7.3) and tasks
//! (§7.4); enable, disable, next openings; run now.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use pw_api::server::windows::{
    Execution, NextExecutions, Occurrence, TaskOperation, TaskSpec, Window, WindowSpec,
    WindowTarget, WindowTargetSpec, WindowTask,
};
use pw_store::{WindowPart, WindowPartRecord, WindowRecord, ids};

use crate::AppState;
use crate::api::{stored_json, to_json};
use crate::auth::{Admin, Operator, ReadOnly};
use crate::error::ApiError;
use crate::extract::{ApiJson, Params};
use crate::rate::{parse_max_concurrency, parse_max_errors};
use crate::resolve::validate_filters;
use crate::service::windows::{scheduled_window, time_zone};

/// The next opening strictly after `after`, if the window is enabled.
pub(crate) fn next_opening(
    record: &WindowRecord,
    spec: &WindowSpec,
    after: Timestamp,
) -> Result<Option<Timestamp>, ApiError> {
    if !record.enabled {
        return Ok(None);
    }
    let window = scheduled_window(spec, record.schedule_anchor_at)?;
    Ok(window
        .next_after(after)
        .map(|occurrence| occurrence.start().timestamp()))
}

pub(crate) fn window_to_wire(record: &WindowRecord) -> Result<Window, ApiError> {
    let mut spec: WindowSpec = stored_json("window", &record.spec_json)?;
    spec.enabled = record.enabled;
    let next_execution_time = match record.next_execution_at {
        Some(next) => {
            let zone = time_zone(spec.schedule_timezone.as_deref()).unwrap_or(TimeZone::UTC);
            Some(
                next.to_zoned(zone)
                    .strftime("%Y-%m-%dT%H:%M%:z")
                    .to_string(),
            )
        }
        None => None,
    };
    Ok(Window {
        id: record.id.clone(),
        spec,
        created_at: record.created_at,
        updated_at: record.updated_at,
        next_execution_at: record.next_execution_at,
        next_execution_time,
    })
}

async fn load(state: &AppState, id: &str) -> Result<WindowRecord, ApiError> {
    state
        .store()
        .window(id)
        .await?
        .ok_or_else(|| ApiError::not_found("window", id))
}

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
    let now = state.now();
    scheduled_window(&spec, now)?;
    let mut record = WindowRecord {
        id: ids::short_id("mw-"),
        name: spec.name.clone(),
        enabled: spec.enabled,
        spec_json: to_json(&spec)?,
        created_at: now,
        updated_at: now,
        schedule_anchor_at: now,
        next_execution_at: None,
    };
    record.next_execution_at = next_opening(&record, &spec, now)?;
    state.store().create_window(&record).await?;
    state
        .store()
        .audit(
            now,
            &caller.actor(),
            "window.create",
            Some(&record.id),
            None,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(window_to_wire(&record)?)))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path(id): Path<String>,
    ApiJson(spec): ApiJson<WindowSpec>,
) -> Result<Json<Window>, ApiError> {
    let now = state.now();
    let mut record = load(&state, &id).await?;
    let old: WindowSpec = stored_json("window", &record.spec_json)?;
    let schedule_changed = old.schedule != spec.schedule
        || old.schedule_timezone != spec.schedule_timezone
        || old.schedule_offset != spec.schedule_offset
        || old.start_date != spec.start_date
        || old.end_date != spec.end_date;
    if schedule_changed {
        record.schedule_anchor_at = now;
    }
    scheduled_window(&spec, record.schedule_anchor_at)?;
    record.name = spec.name.clone();
    record.enabled = spec.enabled;
    record.spec_json = to_json(&spec)?;
    record.updated_at = now;
    record.next_execution_at = next_opening(&record, &spec, now)?;
    state.store().update_window(&record).await?;
    state
        .store()
        .audit(now, &caller.actor(), "window.update", Some(&id), None)
        .await?;
    Ok(Json(window_to_wire(&record)?))
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.store().delete_window(&id).await?;
    state
        .store()
        .audit(
            state.now(),
            &caller.actor(),
            "window.delete",
            Some(&id),
            None,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_enabled(
    state: &AppState,
    caller: &crate::auth::Caller,
    id: &str,
    enabled: bool,
) -> Result<Json<Window>, ApiError> {
    let now = state.now();
    let mut record = load(state, id).await?;
    let mut spec: WindowSpec = stored_json("window", &record.spec_json)?;
    spec.enabled = enabled;
    record.enabled = enabled;
    record.spec_json = to_json(&spec)?;
    record.updated_at = now;
    record.next_execution_at = next_opening(&record, &spec, now)?;
    state.store().update_window(&record).await?;
    let action = if enabled {
        "window.enable"
    } else {
        "window.disable"
    };
    state
        .store()
        .audit(now, &caller.actor(), action, Some(id), None)
        .await?;
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

fn validate_target(spec: &WindowTargetSpec) -> Result<(), ApiError> {
    validate_filters("targets", &spec.targets, false)?;
    if spec
        .owner_information
        .as_ref()
        .is_some_and(|o| o.chars().count() > 128)
    {
        return Err(ApiError::field(
            "owner_information",
            "must be at most 128 characters",
        ));
    }
    if spec.name.as_ref().is_some_and(|n| n.chars().count() > 128) {
        return Err(ApiError::field("name", "must be at most 128 characters"));
    }
    Ok(())
}

fn part_to_target(record: &WindowPartRecord) -> Result<WindowTarget, ApiError> {
    Ok(WindowTarget {
        id: record.id.clone(),
        window_id: record.window_id.clone(),
        spec: stored_json("window target", &record.spec_json)?,
    })
}

fn part_to_task(record: &WindowPartRecord) -> Result<WindowTask, ApiError> {
    Ok(WindowTask {
        id: record.id.clone(),
        window_id: record.window_id.clone(),
        spec: stored_json("window task", &record.spec_json)?,
    })
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
    validate_target(&spec)?;
    let now = state.now();
    let record = WindowPartRecord {
        id: ids::guid(),
        window_id: id.clone(),
        priority: 0,
        spec_json: to_json(&spec)?,
        created_at: now,
    };
    state
        .store()
        .create_window_part(WindowPart::Target, &record)
        .await?;
    state
        .store()
        .audit(
            now,
            &caller.actor(),
            "window.target.create",
            Some(&record.id),
            None,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(part_to_target(&record)?)))
}

pub(crate) async fn delete_target(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path((id, target_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tasks = state.store().window_parts(WindowPart::Task, &id).await?;
    for task in &tasks {
        let spec: TaskSpec = stored_json("window task", &task.spec_json)?;
        if spec
            .targets
            .iter()
            .any(|t| t.key == "WindowTargetIds" && t.values.contains(&target_id))
        {
            return Err(ApiError::conflict(format!(
                "task `{}` uses target `{target_id}`; remove it from the task first",
                task.id
            )));
        }
    }
    state
        .store()
        .delete_window_part(WindowPart::Target, &id, &target_id)
        .await?;
    state
        .store()
        .audit(
            state.now(),
            &caller.actor(),
            "window.target.delete",
            Some(&target_id),
            None,
        )
        .await?;
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

async fn validate_task(
    state: &AppState,
    window: &WindowRecord,
    spec: &TaskSpec,
) -> Result<(), ApiError> {
    let window_spec: WindowSpec = stored_json("window", &window.spec_json)?;
    validate_filters("targets", &spec.targets, true)?;
    let registered = state
        .store()
        .window_parts(WindowPart::Target, &window.id)
        .await?;
    for (index, filter) in spec.targets.iter().enumerate() {
        match filter.key.as_str() {
            "WindowTargetIds" => {
                for value in &filter.values {
                    if !registered.iter().any(|target| target.id == *value) {
                        return Err(ApiError::field(
                            format!("targets[{index}].values"),
                            format!("`{value}` is not a target of window `{}`", window.id),
                        ));
                    }
                }
            }
            "InstanceIds" | "NodeIds" if window_spec.allow_unassociated_targets => {}
            "InstanceIds" | "NodeIds" => {
                return Err(ApiError::field(
                    format!("targets[{index}].key"),
                    "node ids need a window with `allow_unassociated_targets`; register a window target instead",
                ));
            }
            other => {
                return Err(ApiError::field(
                    format!("targets[{index}].key"),
                    format!(
                        "`{other}` is not a task target key: expected `WindowTargetIds`, `InstanceIds` or `NodeIds`"
                    ),
                ));
            }
        }
    }
    parse_max_concurrency(&spec.max_concurrency)
        .map_err(|error| ApiError::field("max_concurrency", error))?;
    parse_max_errors(&spec.max_errors).map_err(|error| ApiError::field("max_errors", error))?;
    if spec.operation == TaskOperation::Scan && !spec.install_override_list.is_empty() {
        return Err(ApiError::field(
            "install_override_list",
            "applies to Install tasks only",
        ));
    }
    if let Some(seconds) = spec.timeout_seconds
        && !(30..=2_592_000).contains(&seconds)
    {
        return Err(ApiError::field("timeout_seconds", "must be 30 to 2592000"));
    }
    if let Some(seconds) = spec.execution_timeout_seconds
        && !(60..=172_800).contains(&seconds)
    {
        return Err(ApiError::field(
            "execution_timeout_seconds",
            "must be 60 to 172800",
        ));
    }
    if spec.name.as_ref().is_some_and(|n| n.chars().count() > 128) {
        return Err(ApiError::field("name", "must be at most 128 characters"));
    }
    if let Some(baseline_id) = &spec.baseline_override
        && crate::resolve::baseline_text(state.store(), baseline_id)
            .await?
            .is_none()
    {
        return Err(ApiError::field(
            "baseline_override",
            format!("baseline `{baseline_id}` does not exist"),
        ));
    }
    Ok(())
}

pub(crate) async fn create_task(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path(id): Path<String>,
    ApiJson(spec): ApiJson<TaskSpec>,
) -> Result<(StatusCode, Json<WindowTask>), ApiError> {
    let window = load(&state, &id).await?;
    validate_task(&state, &window, &spec).await?;
    let now = state.now();
    let record = WindowPartRecord {
        id: ids::guid(),
        window_id: id,
        priority: i64::from(spec.priority),
        spec_json: to_json(&spec)?,
        created_at: now,
    };
    state
        .store()
        .create_window_part(WindowPart::Task, &record)
        .await?;
    state
        .store()
        .audit(
            now,
            &caller.actor(),
            "window.task.create",
            Some(&record.id),
            None,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(part_to_task(&record)?)))
}

pub(crate) async fn delete_task(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path((id, task_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .store()
        .delete_window_part(WindowPart::Task, &id, &task_id)
        .await?;
    state
        .store()
        .audit(
            state.now(),
            &caller.actor(),
            "window.task.delete",
            Some(&task_id),
            None,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
