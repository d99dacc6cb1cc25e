//! Maintenance windows: the checks of a window's fields and its schedule, for the faces and
//! for the scheduler.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use pw_api::limits;
use pw_api::server::windows::{
    TaskOperation, TaskSpec, Window, WindowSpec, WindowTarget, WindowTargetSpec, WindowTask,
};
use pw_core::schedule::{
    Schedule, ScheduledWindow, WindowSchedule, WindowScheduleSettings, WindowTiming,
};
use pw_store::{WindowPart, WindowPartRecord, WindowRecord, ids};

use crate::AppState;
use crate::error::ApiError;
use crate::rate::{parse_max_concurrency, parse_max_errors};
use crate::resolve::validate_filters;
use crate::service::{stored_json, to_json};

/// Looks up an IANA zone (the tz database is bundled, so results do not depend on the host).
pub(crate) fn time_zone(name: Option<&str>) -> Result<TimeZone, ApiError> {
    match name {
        None | Some("UTC") => Ok(TimeZone::UTC),
        Some(name) => TimeZone::get(name).map_err(|_| {
            ApiError::field(
                "schedule_timezone",
                format!("`{name}` is not an IANA time zone"),
            )
        }),
    }
}

/// Checks every field of a window and builds its schedule, anchored at `anchor` (when the
/// schedule took effect).
pub(crate) fn scheduled_window(
    spec: &WindowSpec,
    anchor: Timestamp,
) -> Result<ScheduledWindow, ApiError> {
    if !limits::window_name_ok(&spec.name) {
        return Err(ApiError::field(
            "name",
            format!(
                "{} of [a-zA-Z0-9_.-]",
                limits::range_message(&limits::WINDOW_NAME)
            ),
        ));
    }
    if !limits::within(spec.description.as_deref(), limits::WINDOW_DESCRIPTION_MAX) {
        return Err(ApiError::field(
            "description",
            limits::length_message(limits::WINDOW_DESCRIPTION_MAX),
        ));
    }
    if !limits::SCHEDULE.contains(&spec.schedule.chars().count()) {
        return Err(ApiError::field(
            "schedule",
            format!("{} characters", limits::range_message(&limits::SCHEDULE)),
        ));
    }
    let schedule =
        Schedule::parse(&spec.schedule).map_err(|error| ApiError::field("schedule", error))?;
    let time_zone = time_zone(spec.schedule_timezone.as_deref())?;
    let timing = WindowTiming::new(spec.duration_hours, spec.cutoff_hours).map_err(|error| {
        let field = match error {
            pw_core::schedule::WindowTimingError::Duration { .. } => "duration_hours",
            _ => "cutoff_hours",
        };
        ApiError::field(field, error)
    })?;
    let window_schedule = WindowSchedule::new(WindowScheduleSettings {
        schedule,
        time_zone,
        offset_days: spec.schedule_offset,
        start: spec.start_date,
        end: spec.end_date,
        created: anchor,
    })
    .map_err(|error| {
        let field = match error {
            pw_core::schedule::WindowScheduleError::OffsetOutOfRange { .. }
            | pw_core::schedule::WindowScheduleError::OffsetNotCron { .. } => "schedule_offset",
            pw_core::schedule::WindowScheduleError::EndNotAfterStart { .. } => "end_date",
            _ => "schedule",
        };
        ApiError::field(field, error)
    })?;
    Ok(ScheduledWindow::new(window_schedule, timing))
}

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

pub(crate) async fn load(state: &AppState, id: &str) -> Result<WindowRecord, ApiError> {
    state
        .store()
        .window(id)
        .await?
        .ok_or_else(|| ApiError::not_found("window", id))
}

pub(crate) fn validate_target(spec: &WindowTargetSpec) -> Result<(), ApiError> {
    validate_filters("targets", &spec.targets, false)?;
    if !limits::within(spec.owner_information.as_deref(), limits::NAME_MAX) {
        return Err(ApiError::field(
            "owner_information",
            limits::length_message(limits::NAME_MAX),
        ));
    }
    if !limits::within(spec.name.as_deref(), limits::NAME_MAX) {
        return Err(ApiError::field(
            "name",
            limits::length_message(limits::NAME_MAX),
        ));
    }
    Ok(())
}

pub(crate) fn part_to_target(record: &WindowPartRecord) -> Result<WindowTarget, ApiError> {
    Ok(WindowTarget {
        id: record.id.clone(),
        window_id: record.window_id.clone(),
        spec: stored_json("window target", &record.spec_json)?,
    })
}

pub(crate) fn part_to_task(record: &WindowPartRecord) -> Result<WindowTask, ApiError> {
    Ok(WindowTask {
        id: record.id.clone(),
        window_id: record.window_id.clone(),
        spec: stored_json("window task", &record.spec_json)?,
    })
}

pub(crate) async fn validate_task(
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
    if !spec.health_checks.is_empty() && spec.operation == TaskOperation::Scan {
        return Err(ApiError::field(
            "health_checks",
            "apply to Install tasks only (they run after installing)",
        ));
    }
    if spec.health_checks.len() > pw_api::server::windows::HealthCheck::MAX {
        return Err(ApiError::field(
            "health_checks",
            format!(
                "at most {} checks per task",
                pw_api::server::windows::HealthCheck::MAX
            ),
        ));
    }
    for (index, check) in spec.health_checks.iter().enumerate() {
        if let Some((field, message)) = check.problem() {
            return Err(ApiError::field(
                format!("health_checks[{index}].{field}"),
                message,
            ));
        }
    }
    if let Some(seconds) = spec.timeout_seconds
        && !limits::TASK_TIMEOUT_SECONDS.contains(&seconds)
    {
        return Err(ApiError::field(
            "timeout_seconds",
            limits::range_message(&limits::TASK_TIMEOUT_SECONDS),
        ));
    }
    if let Some(seconds) = spec.execution_timeout_seconds
        && !limits::EXECUTION_TIMEOUT_SECONDS.contains(&seconds)
    {
        return Err(ApiError::field(
            "execution_timeout_seconds",
            limits::range_message(&limits::EXECUTION_TIMEOUT_SECONDS),
        ));
    }
    if !limits::within(spec.name.as_deref(), limits::NAME_MAX) {
        return Err(ApiError::field(
            "name",
            limits::length_message(limits::NAME_MAX),
        ));
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

/// Creates a window from its checked fields.
pub(crate) async fn create(
    state: &AppState,
    actor: &str,
    spec: &WindowSpec,
) -> Result<WindowRecord, ApiError> {
    let now = state.now();
    scheduled_window(spec, now)?;
    let mut record = WindowRecord {
        id: ids::short_id("mw-"),
        name: spec.name.clone(),
        enabled: spec.enabled,
        spec_json: to_json(spec)?,
        created_at: now,
        updated_at: now,
        schedule_anchor_at: now,
        next_execution_at: None,
    };
    record.next_execution_at = next_opening(&record, spec, now)?;
    state.store().create_window(&record).await?;
    state
        .store()
        .audit(now, actor, "window.create", Some(&record.id), None)
        .await?;
    Ok(record)
}

/// Replaces a window's own fields (targets and tasks stay). A changed schedule takes
/// effect now: no occurrence at or before this instant.
pub(crate) async fn update(
    state: &AppState,
    actor: &str,
    id: &str,
    spec: &WindowSpec,
) -> Result<WindowRecord, ApiError> {
    let now = state.now();
    let mut record = load(state, id).await?;
    let old: WindowSpec = stored_json("window", &record.spec_json)?;
    let schedule_changed = old.schedule != spec.schedule
        || old.schedule_timezone != spec.schedule_timezone
        || old.schedule_offset != spec.schedule_offset
        || old.start_date != spec.start_date
        || old.end_date != spec.end_date;
    if schedule_changed {
        record.schedule_anchor_at = now;
    }
    scheduled_window(spec, record.schedule_anchor_at)?;
    record.name = spec.name.clone();
    record.enabled = spec.enabled;
    record.spec_json = to_json(spec)?;
    record.updated_at = now;
    record.next_execution_at = next_opening(&record, spec, now)?;
    state.store().update_window(&record).await?;
    state
        .store()
        .audit(now, actor, "window.update", Some(id), None)
        .await?;
    Ok(record)
}

/// Deletes a window with its targets and tasks.
pub(crate) async fn delete(state: &AppState, actor: &str, id: &str) -> Result<(), ApiError> {
    state.store().delete_window(id).await?;
    state
        .store()
        .audit(state.now(), actor, "window.delete", Some(id), None)
        .await?;
    Ok(())
}

/// Enables or disables a window.
pub(crate) async fn set_enabled(
    state: &AppState,
    actor: &str,
    id: &str,
    enabled: bool,
) -> Result<WindowRecord, ApiError> {
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
        .audit(now, actor, action, Some(id), None)
        .await?;
    Ok(record)
}

/// Registers a target with a window.
pub(crate) async fn create_target(
    state: &AppState,
    actor: &str,
    window_id: &str,
    spec: &WindowTargetSpec,
) -> Result<WindowPartRecord, ApiError> {
    load(state, window_id).await?;
    validate_target(spec)?;
    insert_part(
        state,
        actor,
        WindowPart::Target,
        window_id,
        0,
        to_json(spec)?,
    )
    .await
}

fn action(kind: WindowPart, verb: &str) -> String {
    match kind {
        WindowPart::Target => format!("window.target.{verb}"),
        WindowPart::Task => format!("window.task.{verb}"),
    }
}

/// Stores a new target or task (already checked) and audits it.
async fn insert_part(
    state: &AppState,
    actor: &str,
    kind: WindowPart,
    window_id: &str,
    priority: i64,
    spec_json: String,
) -> Result<WindowPartRecord, ApiError> {
    let now = state.now();
    let record = WindowPartRecord {
        id: ids::guid(),
        window_id: window_id.to_owned(),
        priority,
        spec_json,
        created_at: now,
    };
    state.store().create_window_part(kind, &record).await?;
    state
        .store()
        .audit(now, actor, &action(kind, "create"), Some(&record.id), None)
        .await?;
    Ok(record)
}

/// Stores a changed target or task (already checked) and audits it.
async fn save_part(
    state: &AppState,
    actor: &str,
    kind: WindowPart,
    record: &WindowPartRecord,
) -> Result<(), ApiError> {
    state.store().update_window_part(kind, record).await?;
    state
        .store()
        .audit(
            state.now(),
            actor,
            &action(kind, "update"),
            Some(&record.id),
            None,
        )
        .await?;
    Ok(())
}

/// A window's target or task by id; `NotFound` otherwise.
pub(crate) async fn part(
    state: &AppState,
    kind: WindowPart,
    window_id: &str,
    part_id: &str,
) -> Result<WindowPartRecord, ApiError> {
    load(state, window_id).await?;
    state
        .store()
        .window_parts(kind, window_id)
        .await?
        .into_iter()
        .find(|p| p.id == part_id)
        .ok_or_else(|| {
            let what = match kind {
                WindowPart::Target => "window target",
                WindowPart::Task => "window task",
            };
            ApiError::not_found(what, part_id)
        })
}

/// Replaces a target's fields.
pub(crate) async fn update_target(
    state: &AppState,
    actor: &str,
    window_id: &str,
    target_id: &str,
    spec: &WindowTargetSpec,
) -> Result<WindowPartRecord, ApiError> {
    let mut record = part(state, WindowPart::Target, window_id, target_id).await?;
    validate_target(spec)?;
    record.spec_json = to_json(spec)?;
    save_part(state, actor, WindowPart::Target, &record).await?;
    Ok(record)
}

/// Deregisters a target no task uses.
pub(crate) async fn delete_target(
    state: &AppState,
    actor: &str,
    window_id: &str,
    target_id: &str,
) -> Result<(), ApiError> {
    let tasks = state
        .store()
        .window_parts(WindowPart::Task, window_id)
        .await?;
    for task in &tasks {
        let spec: TaskSpec = stored_json("window task", &task.spec_json)?;
        if spec
            .targets
            .iter()
            .any(|t| t.key == "WindowTargetIds" && t.values.iter().any(|v| v == target_id))
        {
            return Err(ApiError::in_use(format!(
                "task `{}` uses target `{target_id}`; remove it from the task first",
                task.id
            )));
        }
    }
    state
        .store()
        .delete_window_part(WindowPart::Target, window_id, target_id)
        .await?;
    state
        .store()
        .audit(
            state.now(),
            actor,
            "window.target.delete",
            Some(target_id),
            None,
        )
        .await?;
    Ok(())
}

/// Registers a task with a window.
pub(crate) async fn create_task(
    state: &AppState,
    actor: &str,
    window_id: &str,
    spec: &TaskSpec,
) -> Result<WindowPartRecord, ApiError> {
    let window = load(state, window_id).await?;
    validate_task(state, &window, spec).await?;
    insert_part(
        state,
        actor,
        WindowPart::Task,
        window_id,
        i64::from(spec.priority),
        to_json(spec)?,
    )
    .await
}

/// Replaces a task's fields.
pub(crate) async fn update_task(
    state: &AppState,
    actor: &str,
    window_id: &str,
    task_id: &str,
    spec: &TaskSpec,
) -> Result<WindowPartRecord, ApiError> {
    let window = load(state, window_id).await?;
    let mut record = part(state, WindowPart::Task, window_id, task_id).await?;
    validate_task(state, &window, spec).await?;
    record.priority = i64::from(spec.priority);
    record.spec_json = to_json(spec)?;
    save_part(state, actor, WindowPart::Task, &record).await?;
    Ok(record)
}

/// Deregisters a task.
pub(crate) async fn delete_task(
    state: &AppState,
    actor: &str,
    window_id: &str,
    task_id: &str,
) -> Result<(), ApiError> {
    state
        .store()
        .delete_window_part(WindowPart::Task, window_id, task_id)
        .await?;
    state
        .store()
        .audit(
            state.now(),
            actor,
            "window.task.delete",
            Some(task_id),
            None,
        )
        .await?;
    Ok(())
}
