//! Maintenance windows: the checks of a window's fields and its schedule, for the faces and
//! for the scheduler.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use pw_api::server::windows::WindowSpec;
use pw_core::schedule::{
    Schedule, ScheduledWindow, WindowSchedule, WindowScheduleSettings, WindowTiming,
};

use crate::error::ApiError;

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
    let name_ok = (3..=128).contains(&spec.name.len())
        && spec
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if !name_ok {
        return Err(ApiError::field(
            "name",
            "must be 3 to 128 of [a-zA-Z0-9_.-]",
        ));
    }
    if spec
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 128)
    {
        return Err(ApiError::field(
            "description",
            "must be at most 128 characters",
        ));
    }
    if spec.schedule.is_empty() || spec.schedule.len() > 256 {
        return Err(ApiError::field("schedule", "must be 1 to 256 characters"));
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
