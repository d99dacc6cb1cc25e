//! Window timing (duration, cutoff), occurrences `[start, start + duration)`, and the
//! validation of window schedule settings.

use pw_core::schedule::{
    Schedule, ScheduledWindow, WindowOccurrence, WindowSchedule, WindowScheduleError,
    WindowScheduleSettings, WindowTiming, WindowTimingError,
};

use crate::schedule_support::{rfc3339, ts, window, zone};

#[track_caller]
fn check_timing(duration_hours: u8, cutoff_hours: u8, expected: Result<(), &str>) {
    let actual = WindowTiming::new(duration_hours, cutoff_hours)
        .map(|_| ())
        .map_err(|error| error.to_string());
    assert_eq!(
        actual,
        expected.map_err(str::to_owned),
        "duration {duration_hours}, cutoff {cutoff_hours}"
    );
}

/// `start end last_task_start`, each RFC 3339.
fn describe(occurrence: &WindowOccurrence) -> String {
    format!(
        "{} {} {}",
        rfc3339(occurrence.start()),
        rfc3339(occurrence.end()),
        rfc3339(occurrence.last_task_start())
    )
}

fn scheduled(
    expression: &str,
    time_zone: &str,
    created: &str,
    duration: u8,
    cutoff: u8,
) -> ScheduledWindow {
    let schedule = window(expression, time_zone)
        .created(created)
        .build(created);
    ScheduledWindow::new(schedule, WindowTiming::new(duration, cutoff).unwrap())
}

#[test]
fn timing_limits() {
    check_timing(1, 0, Ok(()));
    check_timing(24, 23, Ok(()));
    check_timing(4, 1, Ok(()));
    check_timing(
        0,
        0,
        Err("duration 0 h is out of range: expected 1-24 hours"),
    );
    check_timing(
        25,
        0,
        Err("duration 25 h is out of range: expected 1-24 hours"),
    );
    check_timing(
        24,
        24,
        Err("cutoff 24 h is out of range: expected 0-23 hours"),
    );
    check_timing(
        5,
        5,
        Err("cutoff 5 h must be smaller than the duration 5 h"),
    );
    check_timing(
        5,
        12,
        Err("cutoff 12 h must be smaller than the duration 5 h"),
    );
    assert_eq!(
        WindowTiming::new(1, 1),
        Err(WindowTimingError::CutoffNotBelowDuration {
            duration_hours: 1,
            cutoff_hours: 1
        })
    );
}

#[test]
fn console_example_three_pm_three_hours_cutoff_one() {
    let window = scheduled("cron(0 15 * * ? *)", "UTC", "2021-01-01T00:00:00Z", 3, 1);
    let occurrence = window.next_after(ts("2021-01-01T00:00:00Z")).unwrap();
    assert_eq!(
        describe(&occurrence),
        "2021-01-01T15:00:00+00:00 2021-01-01T18:00:00+00:00 2021-01-01T17:00:00+00:00"
    );
    assert!(occurrence.may_start_task(ts("2021-01-01T17:00:00Z")));
    assert!(!occurrence.may_start_task(ts("2021-01-01T17:00:01Z")));
    assert!(occurrence.contains(ts("2021-01-01T17:30:00Z")));
}

#[test]
fn at_example_duration_five_cutoff_two() {
    let window = scheduled(
        "at(2020-07-07T15:55:00)",
        "UTC",
        "2020-07-01T00:00:00Z",
        5,
        2,
    );
    let occurrences: Vec<String> = window
        .occurrences_after(ts("2020-07-01T00:00:00Z"))
        .map(|o| describe(&o))
        .collect();
    assert_eq!(
        occurrences,
        ["2020-07-07T15:55:00+00:00 2020-07-07T20:55:00+00:00 2020-07-07T18:55:00+00:00"]
    );
}

#[test]
fn strategies_daily_two_to_three() {
    // Strategies 2-4: daily 02:00-03:00, duration 1, cutoff 0.
    let window = scheduled("cron(0 2 * * ? *)", "UTC", "2025-01-01T00:00:00Z", 1, 0);
    let occurrence = window.next_after(ts("2025-01-01T00:00:00Z")).unwrap();
    assert_eq!(
        describe(&occurrence),
        "2025-01-01T02:00:00+00:00 2025-01-01T03:00:00+00:00 2025-01-01T03:00:00+00:00"
    );
    // Open during [02:00, 03:00); with cutoff 0 tasks may start until the window closes.
    let check = |instant: &str, open: bool, may_start: bool| {
        let containing = window.containing(ts(instant));
        assert_eq!(containing.is_some(), open, "{instant}");
        assert_eq!(
            containing.is_some_and(|o| o.may_start_task(ts(instant))),
            may_start,
            "{instant}"
        );
    };
    check("2025-01-01T01:59:59Z", false, false);
    check("2025-01-01T02:00:00Z", true, true);
    check("2025-01-01T02:59:59Z", true, true);
    check("2025-01-01T03:00:00Z", false, false);
    check("2025-01-02T02:30:00Z", true, true);
    assert_eq!(
        window
            .containing(ts("2025-01-02T02:30:00Z"))
            .map(|o| rfc3339(o.start()))
            .as_deref(),
        Some("2025-01-02T02:00:00+00:00")
    );
}

#[test]
fn strategy_one_twelve_hour_windows() {
    let window = scheduled("cron(0 0/12 * * ? *)", "UTC", "2025-01-01T06:00:00Z", 2, 1);
    let starts: Vec<String> = window
        .occurrences_after(ts("2025-01-01T06:00:00Z"))
        .take(3)
        .map(|o| rfc3339(o.start()))
        .collect();
    assert_eq!(
        starts,
        [
            "2025-01-01T12:00:00+00:00",
            "2025-01-02T00:00:00+00:00",
            "2025-01-02T12:00:00+00:00"
        ]
    );
    let occurrence = window.containing(ts("2025-01-01T13:30:00Z")).unwrap();
    assert!(!occurrence.may_start_task(ts("2025-01-01T13:30:00Z")));
    assert!(occurrence.may_start_task(ts("2025-01-01T12:59:00Z")));
}

#[test]
fn containing_with_overlapping_occurrences_gives_the_earliest() {
    // Every hour for three hours: three occurrences are open at 03:30.
    let window = scheduled("rate(1 hour)", "UTC", "2025-01-01T00:00:00Z", 3, 0);
    let occurrence = window.containing(ts("2025-01-01T03:30:00Z")).unwrap();
    assert_eq!(rfc3339(occurrence.start()), "2025-01-01T01:00:00+00:00");
    // Before the first run nothing is open.
    assert!(window.containing(ts("2025-01-01T00:30:00Z")).is_none());
}

#[test]
fn durations_are_elapsed_time_across_daylight_saving() {
    let window = scheduled(
        "cron(0 1 * * ? *)",
        "America/Los_Angeles",
        "2021-11-01T00:00:00Z",
        2,
        1,
    );
    // Fall back: 01:00 PDT + 2 h = 02:00 PST.
    let occurrence = window.next_after(ts("2021-11-07T00:00:00-07:00")).unwrap();
    assert_eq!(
        describe(&occurrence),
        "2021-11-07T01:00:00-07:00 2021-11-07T02:00:00-08:00 2021-11-07T01:00:00-08:00"
    );
    // Spring forward: 01:00 PST + 2 h = 04:00 PDT.
    let occurrence = window.next_after(ts("2022-03-13T00:00:00-08:00")).unwrap();
    assert_eq!(
        describe(&occurrence),
        "2022-03-13T01:00:00-08:00 2022-03-13T04:00:00-07:00 2022-03-13T03:00:00-07:00"
    );
}

#[test]
fn window_schedule_settings_are_validated() {
    let settings = |expression: &str, offset_days, start: Option<&str>, end: Option<&str>| {
        WindowScheduleSettings {
            schedule: Schedule::parse(expression).unwrap(),
            time_zone: zone("UTC"),
            offset_days,
            start: start.map(ts),
            end: end.map(ts),
            created: ts("2021-01-01T00:00:00Z"),
        }
    };
    let check = |settings: WindowScheduleSettings, expected: Result<(), &str>| {
        let actual = WindowSchedule::new(settings)
            .map(|_| ())
            .map_err(|error| error.to_string());
        assert_eq!(actual, expected.map_err(str::to_owned));
    };
    check(settings("cron(0 2 * * ? *)", Some(1), None, None), Ok(()));
    check(settings("cron(0 2 * * ? *)", Some(6), None, None), Ok(()));
    check(
        settings("cron(0 2 * * ? *)", Some(0), None, None),
        Err("schedule offset 0 is out of range: expected 1-6 days"),
    );
    check(
        settings("cron(0 2 * * ? *)", Some(7), None, None),
        Err("schedule offset 7 is out of range: expected 1-6 days"),
    );
    check(
        settings("rate(1 day)", Some(2), None, None),
        Err("schedule offset applies to cron schedules only, not to `rate(1 day)`"),
    );
    check(
        settings("at(2021-05-01T00:00:00)", Some(2), None, None),
        Err("schedule offset applies to cron schedules only, not to `at(2021-05-01T00:00:00)`"),
    );
    check(
        settings(
            "cron(0 2 * * ? *)",
            None,
            Some("2021-02-01T00:00:00Z"),
            Some("2021-02-01T00:00:00Z"),
        ),
        Err("end date 2021-02-01T00:00:00Z is not after start date 2021-02-01T00:00:00Z"),
    );
    check(
        settings(
            "cron(0 2 * * ? *)",
            None,
            Some("2021-02-01T00:00:00Z"),
            Some("2021-02-01T00:00:01Z"),
        ),
        Ok(()),
    );
    let error = WindowSchedule::new(settings("rate(1 day)", Some(7), None, None)).unwrap_err();
    assert!(
        matches!(error, WindowScheduleError::OffsetNotCron { .. }),
        "{error:?}"
    );
}
