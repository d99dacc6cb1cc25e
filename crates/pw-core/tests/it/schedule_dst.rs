//! Daylight-saving behaviour, in America/Los_Angeles and Europe/Berlin (which change) and
//! Asia/Tokyo (which does not).
//!
//! The rules (docs/schedules.md): a wall-clock time that does not exist (spring forward) is
//! skipped; a wall-clock time that happens twice (fall back) runs once, at the first instant;
//! rates and durations are elapsed time.

use pw_core::schedule::{Schedule, WindowSchedule, WindowScheduleError, WindowScheduleSettings};

use crate::schedule_support::{ts, window, zone};

// Los Angeles, 2021: 02:00 PST → 03:00 PDT on March 14th; 02:00 PDT → 01:00 PST on
// November 7th.

#[test]
fn los_angeles_spring_forward_skips_the_missing_time() {
    window("cron(30 2 * * ? *)", "America/Los_Angeles").check(
        "2021-03-12T00:00:00-08:00",
        &[
            "2021-03-12T02:30:00-08:00",
            "2021-03-13T02:30:00-08:00",
            "2021-03-15T02:30:00-07:00",
        ],
    );
    // Every 30 minutes: 02:00 and 02:30 do not exist that night.
    window("cron(0/30 * * * ? *)", "America/Los_Angeles").check(
        "2021-03-14T00:45:00-08:00",
        &[
            "2021-03-14T01:00:00-08:00",
            "2021-03-14T01:30:00-08:00",
            "2021-03-14T03:00:00-07:00",
            "2021-03-14T03:30:00-07:00",
        ],
    );
    // A time just outside the gap is kept.
    window("cron(59 1 * * ? *)", "America/Los_Angeles").check(
        "2021-03-14T00:00:00-08:00",
        &["2021-03-14T01:59:00-08:00", "2021-03-15T01:59:00-07:00"],
    );
    window("cron(0 3 * * ? *)", "America/Los_Angeles")
        .check("2021-03-14T00:00:00-08:00", &["2021-03-14T03:00:00-07:00"]);
}

#[test]
fn los_angeles_fall_back_runs_once_at_the_first_instant() {
    window("cron(30 1 * * ? *)", "America/Los_Angeles").check(
        "2021-11-06T00:00:00-07:00",
        &[
            "2021-11-06T01:30:00-07:00",
            "2021-11-07T01:30:00-07:00",
            "2021-11-08T01:30:00-08:00",
        ],
    );
    window("cron(0/30 * * * ? *)", "America/Los_Angeles").check(
        "2021-11-07T00:15:00-07:00",
        &[
            "2021-11-07T00:30:00-07:00",
            "2021-11-07T01:00:00-07:00",
            "2021-11-07T01:30:00-07:00",
            // 01:00 and 01:30 PST (the second pass) do not run again.
            "2021-11-07T02:00:00-08:00",
            "2021-11-07T02:30:00-08:00",
        ],
    );
    // Asked during the second pass of the repeated hour: the next run is 02:00 PST, not a
    // wall-clock match that resolves to the (earlier) first pass.
    window("cron(0/30 * * * ? *)", "America/Los_Angeles")
        .check("2021-11-07T01:15:00-08:00", &["2021-11-07T02:00:00-08:00"]);
    window("cron(45 1 * * ? *)", "America/Los_Angeles")
        .check("2021-11-07T01:50:00-07:00", &["2021-11-08T01:45:00-08:00"]);
}

#[test]
fn los_angeles_weekly_sunday_window_in_the_gap() {
    // DST starts on a Sunday at 02:00 in the US: a Sunday 02:30 window skips that week.
    window("cron(30 2 ? * SUN *)", "America/Los_Angeles").check(
        "2021-03-01T00:00:00-08:00",
        &[
            "2021-03-07T02:30:00-08:00",
            "2021-03-21T02:30:00-07:00",
            "2021-03-28T02:30:00-07:00",
        ],
    );
}

#[test]
fn los_angeles_offset_landing_in_the_gap_is_skipped() {
    // Friday 2021-03-12 02:30 plus two days is Sunday 02:30, which does not exist.
    window("cron(30 2 ? * FRI *)", "America/Los_Angeles")
        .offset(2)
        .check(
            "2021-03-01T00:00:00-08:00",
            &["2021-03-07T02:30:00-08:00", "2021-03-21T02:30:00-07:00"],
        );
    // The offset is counted in calendar days: the wall-clock time stays the same across
    // the change.
    window("cron(0 12 ? * FRI *)", "America/Los_Angeles")
        .offset(3)
        .check(
            "2021-03-01T00:00:00-08:00",
            &["2021-03-08T12:00:00-08:00", "2021-03-15T12:00:00-07:00"],
        );
}

#[test]
fn los_angeles_rate_is_elapsed_time() {
    // rate(1 day) is 24 hours: across the spring change the wall-clock time moves an hour.
    window("rate(1 day)", "America/Los_Angeles")
        .start("2021-03-13T12:00:00-08:00")
        .created("2021-03-01T00:00:00Z")
        .check(
            "2021-03-01T00:00:00Z",
            &[
                "2021-03-13T12:00:00-08:00",
                "2021-03-14T13:00:00-07:00",
                "2021-03-15T13:00:00-07:00",
            ],
        );
    window("rate(1 hour)", "America/Los_Angeles")
        .start("2021-11-07T00:30:00-07:00")
        .created("2021-11-01T00:00:00Z")
        .check(
            "2021-11-01T00:00:00Z",
            &[
                "2021-11-07T00:30:00-07:00",
                "2021-11-07T01:30:00-07:00",
                "2021-11-07T01:30:00-08:00",
                "2021-11-07T02:30:00-08:00",
            ],
        );
}

#[test]
fn los_angeles_at_in_the_gap_is_rejected_and_in_the_fold_takes_the_first() {
    let settings = |expression: &str| WindowScheduleSettings {
        schedule: Schedule::parse(expression).unwrap(),
        time_zone: zone("America/Los_Angeles"),
        offset_days: None,
        start: None,
        end: None,
        created: ts("2021-01-01T00:00:00Z"),
    };
    let error = WindowSchedule::new(settings("at(2021-03-14T02:30:00)")).unwrap_err();
    assert!(
        matches!(error, WindowScheduleError::AtInGap { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "`at(2021-03-14T02:30:00)` names a local time that does not exist in America/Los_Angeles: \
         a daylight-saving change skips it"
    );
    window("at(2021-11-07T01:30:00)", "America/Los_Angeles")
        .created("2021-01-01T00:00:00Z")
        .check_all("2021-01-01T00:00:00Z", &["2021-11-07T01:30:00-07:00"]);
}

// Berlin, 2021: 02:00 CET → 03:00 CEST on March 28th; 03:00 CEST → 02:00 CET on
// October 31st. Both are Sundays.

#[test]
fn berlin_spring_forward_and_fall_back() {
    window("cron(30 2 ? * SUN *)", "Europe/Berlin").check(
        "2021-03-20T00:00:00+01:00",
        &["2021-03-21T02:30:00+01:00", "2021-04-04T02:30:00+02:00"],
    );
    window("cron(30 2 ? * SUN *)", "Europe/Berlin").check(
        "2021-10-24T12:00:00+02:00",
        &["2021-10-31T02:30:00+02:00", "2021-11-07T02:30:00+01:00"],
    );
    window("cron(0 * * * ? *)", "Europe/Berlin").check(
        "2021-10-31T00:30:00+02:00",
        &[
            "2021-10-31T01:00:00+02:00",
            "2021-10-31T02:00:00+02:00",
            "2021-10-31T03:00:00+01:00",
            "2021-10-31T04:00:00+01:00",
        ],
    );
    window("cron(0 * * * ? *)", "Europe/Berlin").check(
        "2021-03-28T00:30:00+01:00",
        &[
            "2021-03-28T01:00:00+01:00",
            "2021-03-28T03:00:00+02:00",
            "2021-03-28T04:00:00+02:00",
        ],
    );
    // The strategies' daily 02:00 window.
    window("cron(0 2 * * ? *)", "Europe/Berlin").check(
        "2021-03-26T12:00:00+01:00",
        &["2021-03-27T02:00:00+01:00", "2021-03-29T02:00:00+02:00"],
    );
}

#[test]
fn tokyo_has_no_transitions() {
    window("cron(30 2 * * ? *)", "Asia/Tokyo").check(
        "2021-03-13T00:00:00+09:00",
        &[
            "2021-03-13T02:30:00+09:00",
            "2021-03-14T02:30:00+09:00",
            "2021-03-15T02:30:00+09:00",
        ],
    );
    window("cron(0/30 1-2 * * ? *)", "Asia/Tokyo").check(
        "2021-11-07T00:00:00+09:00",
        &[
            "2021-11-07T01:00:00+09:00",
            "2021-11-07T01:30:00+09:00",
            "2021-11-07T02:00:00+09:00",
            "2021-11-07T02:30:00+09:00",
            "2021-11-08T01:00:00+09:00",
        ],
    );
}

#[test]
fn cron_is_read_in_the_zone_not_in_utc() {
    // 09:30 Tokyo is 00:30 UTC.
    let schedule = window("cron(30 9 * * ? *)", "Asia/Tokyo").build("2021-01-01T00:00:00Z");
    let next = schedule.next_after(ts("2021-01-01T00:00:00Z")).unwrap();
    assert_eq!(next.timestamp(), ts("2021-01-01T00:30:00Z"));
}
