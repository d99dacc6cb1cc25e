//! Next occurrences: the documented examples (ssm-reference §7.2), calendar edge cases
//! (leap days, `L`, `W`, `#`), start and end dates, the schedule offset and rate anchoring.

use crate::schedule_support::{rfc3339, ts, window};

#[test]
fn daily_at_09_30() {
    window("cron(30 09 ? * * *)", "UTC").check(
        "2021-01-01T00:00:00Z",
        &[
            "2021-01-01T09:30:00+00:00",
            "2021-01-02T09:30:00+00:00",
            "2021-01-03T09:30:00+00:00",
        ],
    );
}

#[test]
fn seven_fields_with_seconds() {
    window("cron(24 30 09 ? * * *)", "UTC").check(
        "2021-01-01T09:30:24Z",
        &["2021-01-02T09:30:24+00:00", "2021-01-03T09:30:24+00:00"],
    );
    // Strictly after: one second before the run finds it.
    window("cron(24 30 09 ? * * *)", "UTC")
        .check("2021-01-01T09:30:23Z", &["2021-01-01T09:30:24+00:00"]);
    // Sub-second instants.
    window("cron(24 30 09 ? * * *)", "UTC")
        .check("2021-01-01T09:30:23.999Z", &["2021-01-01T09:30:24+00:00"]);
    window("cron(24 30 09 ? * * *)", "UTC")
        .check("2021-01-01T09:30:24.001Z", &["2021-01-02T09:30:24+00:00"]);
}

#[test]
fn third_thursday_at_02_00() {
    window("cron(0 2 ? * THU#3 *)", "UTC").check(
        "2021-01-01T00:00:00Z",
        &[
            "2021-01-21T02:00:00+00:00",
            "2021-02-18T02:00:00+00:00",
            "2021-03-18T02:00:00+00:00",
        ],
    );
}

#[test]
fn weekdays_at_10_15() {
    window("cron(15 10 ? * * *)", "UTC")
        .check("2021-01-01T10:15:00Z", &["2021-01-02T10:15:00+00:00"]);
    // 2021-01-01 is a Friday.
    window("cron(15 10 ? * MON-FRI *)", "UTC").check(
        "2021-01-01T12:00:00Z",
        &[
            "2021-01-04T10:15:00+00:00",
            "2021-01-05T10:15:00+00:00",
            "2021-01-06T10:15:00+00:00",
            "2021-01-07T10:15:00+00:00",
            "2021-01-08T10:15:00+00:00",
            "2021-01-11T10:15:00+00:00",
        ],
    );
}

#[test]
fn last_day_of_every_month() {
    window("cron(0 2 L * ? *)", "UTC").check(
        "2023-12-31T02:00:00Z",
        &[
            "2024-01-31T02:00:00+00:00",
            "2024-02-29T02:00:00+00:00",
            "2024-03-31T02:00:00+00:00",
            "2024-04-30T02:00:00+00:00",
        ],
    );
    window("cron(0 2 L 2 ? *)", "UTC").check(
        "2021-01-01T00:00:00Z",
        &[
            "2021-02-28T02:00:00+00:00",
            "2022-02-28T02:00:00+00:00",
            "2023-02-28T02:00:00+00:00",
            "2024-02-29T02:00:00+00:00",
        ],
    );
}

#[test]
fn last_friday_of_every_month() {
    window("cron(15 10 ? * 6L *)", "UTC").check(
        "2021-01-01T00:00:00Z",
        &[
            "2021-01-29T10:15:00+00:00",
            "2021-02-26T10:15:00+00:00",
            "2021-03-26T10:15:00+00:00",
            "2021-04-30T10:15:00+00:00",
        ],
    );
    // Named form, and `L` alone meaning Saturday.
    window("cron(15 10 ? * FRIL *)", "UTC")
        .check("2021-01-01T00:00:00Z", &["2021-01-29T10:15:00+00:00"]);
    window("cron(0 0 ? * L *)", "UTC").check(
        "2021-01-01T00:00:00Z",
        &["2021-01-02T00:00:00+00:00", "2021-01-09T00:00:00+00:00"],
    );
    // Association example: last Tuesday.
    window("cron(0 0 ? * 3L *)", "UTC").check(
        "2021-01-01T00:00:00Z",
        &["2021-01-26T00:00:00+00:00", "2021-02-23T00:00:00+00:00"],
    );
}

#[test]
fn third_tuesday_with_offset_two_days() {
    // Third Tuesdays of 2021: January 19th, February 16th, March 16th. Two days later is
    // the Thursday, same wall-clock time.
    let expected = [
        "2021-01-21T23:30:00+00:00",
        "2021-02-18T23:30:00+00:00",
        "2021-03-18T23:30:00+00:00",
    ];
    window("cron(30 23 ? * TUE#3 *)", "UTC")
        .offset(2)
        .check("2021-01-01T00:00:00Z", &expected);
    window("cron(0 30 23 ? * TUE#3 *)", "UTC")
        .offset(2)
        .check("2021-01-01T00:00:00Z", &expected);
    window("cron(30 23 ? * TUE#3 *)", "UTC").check(
        "2021-01-01T00:00:00Z",
        &["2021-01-19T23:30:00+00:00", "2021-02-16T23:30:00+00:00"],
    );
}

#[test]
fn offset_rule_tick_already_passed() {
    // "A cron expression that targets a day that has already passed in the current period,
    // but [with] a schedule offset date that falls in the future": the window, created on
    // January 20th (after the tick of the 19th, before its run on the 21st), skips January
    // and first runs in February.
    window("cron(30 23 ? * TUE#3 *)", "UTC").offset(2).check(
        "2021-01-20T00:00:00Z",
        &["2021-02-18T23:30:00+00:00", "2021-03-18T23:30:00+00:00"],
    );
    // A window created before the tick does run on the 21st, even when asked on the 20th.
    window("cron(30 23 ? * TUE#3 *)", "UTC")
        .offset(2)
        .created("2021-01-01T00:00:00Z")
        .check("2021-01-20T00:00:00Z", &["2021-01-21T23:30:00+00:00"]);
    // Created at the tick itself: the tick is not strictly after creation, so it is skipped.
    window("cron(30 23 ? * TUE#3 *)", "UTC")
        .offset(2)
        .check("2021-01-19T23:30:00Z", &["2021-02-18T23:30:00+00:00"]);
    // The same rule applies to the start date: a tick before the start date does not count,
    // even if its run would fall after it.
    window("cron(30 23 ? * TUE#3 *)", "UTC")
        .offset(2)
        .created("2021-01-01T00:00:00Z")
        .start("2021-01-20T00:00:00Z")
        .check("2021-01-01T00:00:00Z", &["2021-02-18T23:30:00+00:00"]);
}

#[test]
fn offset_runs_past_the_end_date_are_dropped() {
    // The tick of February 16th is before the end, its run on the 18th is not.
    window("cron(30 23 ? * TUE#3 *)", "UTC")
        .offset(2)
        .end("2021-02-17T00:00:00Z")
        .check_all("2021-01-01T00:00:00Z", &["2021-01-21T23:30:00+00:00"]);
}

#[test]
fn offset_across_month_and_year() {
    // Last day of the month plus 6 days.
    window("cron(0 4 L * ? *)", "UTC").offset(6).check(
        "2021-11-01T00:00:00Z",
        &[
            "2021-12-06T04:00:00+00:00",
            "2022-01-06T04:00:00+00:00",
            "2022-02-06T04:00:00+00:00",
        ],
    );
}

#[test]
fn tuesdays_16_00_los_angeles_within_start_and_end() {
    let schedule = window("cron(0 16 ? * TUE *)", "America/Los_Angeles")
        .start("2021-01-01T00:00:00-08:00")
        .end("2021-06-30T00:00:00-08:00")
        .created("2020-12-01T00:00:00Z")
        .build("2020-12-01T00:00:00Z");
    let runs: Vec<String> = schedule
        .occurrences_after(ts("2020-12-01T00:00:00Z"))
        .map(|z| rfc3339(&z))
        .collect();
    assert_eq!(runs.len(), 26, "{runs:#?}");
    assert_eq!(runs[0], "2021-01-05T16:00:00-08:00");
    // Daylight saving time starts on Sunday 2021-03-14: the wall-clock time stays 16:00.
    assert_eq!(runs[9], "2021-03-09T16:00:00-08:00");
    assert_eq!(runs[10], "2021-03-16T16:00:00-07:00");
    assert_eq!(runs[25], "2021-06-29T16:00:00-07:00");
}

#[test]
fn wednesdays_09_00_los_angeles_first_run_is_january_6th() {
    // The documentation says "Wednesday, January 4, 2021"; January 4th, 2021 is a Monday and
    // the first Wednesday on or after the start date is the 6th.
    window("cron(0 09 ? * WED *)", "America/Los_Angeles")
        .start("2021-01-01T00:00:00-08:00")
        .created("2020-12-15T00:00:00Z")
        .check(
            "2020-12-15T00:00:00Z",
            &["2021-01-06T09:00:00-08:00", "2021-01-13T09:00:00-08:00"],
        );
}

#[test]
fn rate_seven_days_tokyo_anchored_at_the_start_date() {
    let schedule = window("rate(7 days)", "Asia/Tokyo")
        .start("2019-01-01T00:03:15+09:00")
        .end("2019-06-30T00:06:15+09:00")
        .created("2018-12-01T00:00:00Z")
        .build("2018-12-01T00:00:00Z");
    let runs: Vec<String> = schedule
        .occurrences_after(ts("2018-12-01T00:00:00Z"))
        .map(|z| rfc3339(&z))
        .collect();
    assert_eq!(runs.len(), 26, "{runs:#?}");
    assert_eq!(runs[0], "2019-01-01T00:03:15+09:00");
    assert_eq!(runs[1], "2019-01-08T00:03:15+09:00");
    assert_eq!(runs[25], "2019-06-25T00:03:15+09:00");
    for run in schedule.occurrences_after(ts("2018-12-01T00:00:00Z")) {
        assert_eq!(run.weekday(), jiff::civil::Weekday::Tuesday, "{run}");
    }
    // Asked in the middle of the series, the anchor still holds.
    window("rate(7 days)", "Asia/Tokyo")
        .start("2019-01-01T00:03:15+09:00")
        .created("2018-12-01T00:00:00Z")
        .check("2019-03-01T00:00:00Z", &["2019-03-05T00:03:15+09:00"]);
}

#[test]
fn rate_anchoring() {
    // No start date: anchored at creation; the first run is one interval later.
    window("rate(30 minutes)", "UTC").check(
        "2021-01-01T10:17:00Z",
        &["2021-01-01T10:47:00+00:00", "2021-01-01T11:17:00+00:00"],
    );
    // A start date that had already passed at creation is ignored: anchored at creation.
    window("rate(12 hours)", "UTC")
        .start("2021-01-01T12:00:00Z")
        .check("2021-03-01T08:00:00Z", &["2021-03-01T20:00:00+00:00"]);
    // A future start date anchors the series and is itself the first run.
    window("rate(12 hours)", "UTC")
        .start("2021-01-01T12:00:00Z")
        .created("2020-12-31T09:00:00Z")
        .check(
            "2020-12-31T09:00:00Z",
            &[
                "2021-01-01T12:00:00+00:00",
                "2021-01-02T00:00:00+00:00",
                "2021-01-02T12:00:00+00:00",
            ],
        );
    window("rate(1 hour)", "UTC")
        .created("2021-01-01T00:00:00Z")
        .end("2021-01-01T03:00:00Z")
        .check_all(
            "2021-01-01T00:30:00Z",
            &["2021-01-01T01:00:00+00:00", "2021-01-01T02:00:00+00:00"],
        );
    window("rate(25 days)", "UTC").check(
        "2021-01-01T00:00:00Z",
        &["2021-01-26T00:00:00+00:00", "2021-02-20T00:00:00+00:00"],
    );
}

#[test]
fn at_runs_once() {
    window("at(2020-07-07T15:55:00)", "UTC")
        .created("2020-07-01T00:00:00Z")
        .check_all("2020-07-01T00:00:00Z", &["2020-07-07T15:55:00+00:00"]);
    window("at(2020-07-07T15:55:00)", "UTC")
        .created("2020-07-01T00:00:00Z")
        .check_all("2020-07-07T15:55:00Z", &[]);
    // Read in the window's time zone.
    window("at(2020-07-07T15:55:00)", "America/Los_Angeles")
        .created("2020-07-01T00:00:00Z")
        .check_all("2020-07-01T00:00:00Z", &["2020-07-07T15:55:00-07:00"]);
    // Created after the time: never runs.
    window("at(2020-07-07T15:55:00)", "UTC").check_all("2020-07-08T00:00:00Z", &[]);
    // Outside the start/end dates: never runs.
    window("at(2020-07-07T15:55:00)", "UTC")
        .created("2020-07-01T00:00:00Z")
        .end("2020-07-07T15:55:00Z")
        .check_all("2020-07-01T00:00:00Z", &[]);
    window("at(2020-07-07T15:55:00)", "UTC")
        .created("2020-07-01T00:00:00Z")
        .start("2020-07-07T15:55:01Z")
        .check_all("2020-07-01T00:00:00Z", &[]);
}

#[test]
fn association_examples() {
    window("cron(0 0 ? * THU#2 *)", "UTC").check(
        "2021-01-01T00:00:00Z",
        &["2021-01-14T00:00:00+00:00", "2021-02-11T00:00:00+00:00"],
    );
    window("cron(0/30 * * * ? *)", "UTC").check(
        "2021-01-01T00:10:00Z",
        &[
            "2021-01-01T00:30:00+00:00",
            "2021-01-01T01:00:00+00:00",
            "2021-01-01T01:30:00+00:00",
        ],
    );
    window("cron(0 0/4 * * ? *)", "UTC").check(
        "2021-01-01T21:00:00Z",
        &[
            "2021-01-02T00:00:00+00:00",
            "2021-01-02T04:00:00+00:00",
            "2021-01-02T08:00:00+00:00",
        ],
    );
    window("cron(15 13 ? * MON *)", "UTC").check(
        "2021-01-01T00:00:00Z",
        &["2021-01-04T13:15:00+00:00", "2021-01-11T13:15:00+00:00"],
    );
}

#[test]
fn leap_days() {
    window("cron(0 0 29 2 ? *)", "UTC").check(
        "2021-01-01T00:00:00Z",
        &[
            "2024-02-29T00:00:00+00:00",
            "2028-02-29T00:00:00+00:00",
            "2032-02-29T00:00:00+00:00",
            "2036-02-29T00:00:00+00:00",
        ],
    );
    // 2100 is not a leap year.
    window("cron(0 0 29 2 ? *)", "UTC").check(
        "2096-03-01T00:00:00Z",
        &["2104-02-29T00:00:00+00:00", "2108-02-29T00:00:00+00:00"],
    );
    // The last leap day the year field allows is 2196-02-29.
    window("cron(0 0 29 2 ? *)", "UTC").check_all(
        "2190-01-01T00:00:00Z",
        &["2192-02-29T00:00:00+00:00", "2196-02-29T00:00:00+00:00"],
    );
    // Every leap day in the range: 56 of them (1972 ... 2196, without 2100).
    let schedule = window("cron(0 0 29 2 ? *)", "UTC").build("1970-01-01T00:00:00Z");
    assert_eq!(
        schedule
            .occurrences_after(ts("1970-01-01T00:00:00Z"))
            .count(),
        56
    );
}

#[test]
fn sparse_and_exhausted_years() {
    window("cron(0 0 1 1 ? 2199)", "UTC")
        .check_all("1970-01-01T00:00:00Z", &["2199-01-01T00:00:00+00:00"]);
    window("cron(0 12 ? * MON#1 2030,2150)", "UTC").check(
        "2021-01-01T00:00:00Z",
        &["2030-01-07T12:00:00+00:00", "2030-02-04T12:00:00+00:00"],
    );
    window("cron(0 12 ? 1 MON#1 2030,2150)", "UTC").check_all(
        "2021-01-01T00:00:00Z",
        &["2030-01-07T12:00:00+00:00", "2150-01-05T12:00:00+00:00"],
    );
    window("cron(0 0 * * ? 2020)", "UTC").check_all("2021-01-01T00:00:00Z", &[]);
    window("cron(0 0 * * ? *)", "UTC")
        .check_all("2199-12-30T12:00:00Z", &["2199-12-31T00:00:00+00:00"]);
    window("cron(0 0 * * ? *)", "UTC").check_all("2300-01-01T00:00:00Z", &[]);
    // Never fires at all; the search gives up at 2199 without stepping through minutes.
    window("cron(0 0 30 2 ? *)", "UTC").check_all("1970-01-01T00:00:00Z", &[]);
    window("cron(0 0 31 APR,JUN,SEP,NOV ? *)", "UTC").check_all("1970-01-01T00:00:00Z", &[]);
    window("cron(0 0 ? 2 1#5 2021-2025)", "UTC").check_all("1970-01-01T00:00:00Z", &[]);
}

#[test]
fn nearest_weekday() {
    // 2022-01-01 is a Saturday: the nearest weekday inside January is Monday the 3rd.
    window("cron(0 0 1W * ? *)", "UTC").check(
        "2021-12-15T00:00:00Z",
        &["2022-01-03T00:00:00+00:00", "2022-02-01T00:00:00+00:00"],
    );
    // 2021-08-01 is a Sunday: Monday the 2nd.
    window("cron(0 0 1W 8 ? *)", "UTC")
        .check("2021-01-01T00:00:00Z", &["2021-08-02T00:00:00+00:00"]);
    // 2021-05-15 is a Saturday: Friday the 14th. 2021-08-15 is a Sunday: Monday the 16th.
    window("cron(0 0 15W MAY,AUG ? *)", "UTC").check(
        "2021-01-01T00:00:00Z",
        &["2021-05-14T00:00:00+00:00", "2021-08-16T00:00:00+00:00"],
    );
    // 2021-10-31 is a Sunday, the last day of the month: Friday the 29th.
    // 2021-07-31 is a Saturday: Friday the 30th. Months without a 31st never fire.
    window("cron(0 0 31W * ? *)", "UTC").check(
        "2021-06-01T00:00:00Z",
        &[
            "2021-07-30T00:00:00+00:00",
            "2021-08-31T00:00:00+00:00",
            "2021-10-29T00:00:00+00:00",
            "2021-12-31T00:00:00+00:00",
        ],
    );
    // February has no 30th.
    window("cron(0 0 30W 2 ? *)", "UTC").check_all("2021-01-01T00:00:00Z", &[]);
}

#[test]
fn last_weekday_of_month() {
    window("cron(0 0 LW * ? *)", "UTC").check(
        "2021-07-01T00:00:00Z",
        &[
            // Saturday 31st → Friday 30th.
            "2021-07-30T00:00:00+00:00",
            // Tuesday 31st.
            "2021-08-31T00:00:00+00:00",
            // Thursday 30th.
            "2021-09-30T00:00:00+00:00",
            // Sunday 31st → Friday 29th.
            "2021-10-29T00:00:00+00:00",
        ],
    );
    window("cron(0 0 LW 2 ? *)", "UTC").check(
        "2021-01-01T00:00:00Z",
        &[
            "2021-02-26T00:00:00+00:00",
            "2022-02-28T00:00:00+00:00",
            "2023-02-28T00:00:00+00:00",
            "2024-02-29T00:00:00+00:00",
        ],
    );
}

#[test]
fn fifth_weekday_only_in_months_that_have_one() {
    // Thursdays 2021: the months with five are April, July, September and December.
    window("cron(0 0 ? * 5#5 *)", "UTC").check(
        "2021-01-01T00:00:00Z",
        &[
            "2021-04-29T00:00:00+00:00",
            "2021-07-29T00:00:00+00:00",
            "2021-09-30T00:00:00+00:00",
            "2021-12-30T00:00:00+00:00",
        ],
    );
}

#[test]
fn wrap_around_ranges() {
    // FRI-MON = Friday, Saturday, Sunday, Monday; 2021-01-01 is a Friday.
    window("cron(0 2 ? * FRI-MON *)", "UTC").check(
        "2021-01-01T00:00:00Z",
        &[
            "2021-01-01T02:00:00+00:00",
            "2021-01-02T02:00:00+00:00",
            "2021-01-03T02:00:00+00:00",
            "2021-01-04T02:00:00+00:00",
            "2021-01-08T02:00:00+00:00",
        ],
    );
    window("cron(0 22-1 * * ? *)", "UTC").check(
        "2021-01-01T00:30:00Z",
        &[
            "2021-01-01T01:00:00+00:00",
            "2021-01-01T22:00:00+00:00",
            "2021-01-01T23:00:00+00:00",
            "2021-01-02T00:00:00+00:00",
        ],
    );
    window("cron(0 0 1 NOV-FEB ? *)", "UTC").check(
        "2021-01-15T00:00:00Z",
        &[
            "2021-02-01T00:00:00+00:00",
            "2021-11-01T00:00:00+00:00",
            "2021-12-01T00:00:00+00:00",
            "2022-01-01T00:00:00+00:00",
        ],
    );
}

#[test]
fn steps_and_ranges() {
    window("cron(10-50/20 8-9 * * ? *)", "UTC").check(
        "2021-01-01T00:00:00Z",
        &[
            "2021-01-01T08:10:00+00:00",
            "2021-01-01T08:30:00+00:00",
            "2021-01-01T08:50:00+00:00",
            "2021-01-01T09:10:00+00:00",
            "2021-01-01T09:30:00+00:00",
            "2021-01-01T09:50:00+00:00",
            "2021-01-02T08:10:00+00:00",
        ],
    );
    window("cron(0 0 1/10 * ? *)", "UTC").check(
        "2021-01-15T00:00:00Z",
        &[
            "2021-01-21T00:00:00+00:00",
            "2021-01-31T00:00:00+00:00",
            "2021-02-01T00:00:00+00:00",
        ],
    );
    window("cron(0 0 1 1 ? 2020/50)", "UTC").check_all(
        "1970-01-01T00:00:00Z",
        &[
            "2020-01-01T00:00:00+00:00",
            "2070-01-01T00:00:00+00:00",
            "2120-01-01T00:00:00+00:00",
            "2170-01-01T00:00:00+00:00",
        ],
    );
}

#[test]
fn start_date_is_inclusive_and_end_date_exclusive() {
    window("cron(0 2 * * ? *)", "UTC")
        .created("2020-12-01T00:00:00Z")
        .start("2021-01-02T02:00:00Z")
        .end("2021-01-05T02:00:00Z")
        .check_all(
            "2020-12-01T00:00:00Z",
            &[
                "2021-01-02T02:00:00+00:00",
                "2021-01-03T02:00:00+00:00",
                "2021-01-04T02:00:00+00:00",
            ],
        );
    // Start and end dates are instants, independent of the schedule's time zone.
    window("cron(0 2 * * ? *)", "Asia/Tokyo")
        .created("2020-12-01T00:00:00Z")
        .start("2021-01-01T17:00:00Z")
        .end("2021-01-02T18:00:00Z")
        .check_all(
            "2020-12-01T00:00:00Z",
            &["2021-01-02T02:00:00+09:00", "2021-01-03T02:00:00+09:00"],
        );
    // Asked after the end: nothing.
    window("cron(0 2 * * ? *)", "UTC")
        .end("2021-01-05T02:00:00Z")
        .check_all("2021-02-01T00:00:00Z", &[]);
}

#[test]
fn created_before_after() {
    // Nothing at or before creation, whatever is asked.
    window("cron(0 2 * * ? *)", "UTC")
        .created("2021-01-03T02:00:00Z")
        .check("2021-01-01T00:00:00Z", &["2021-01-04T02:00:00+00:00"]);
}

#[test]
fn strategy_one_from_noon_every_twelve_hours() {
    let expected = [
        "2025-01-01T12:00:00+00:00",
        "2025-01-02T00:00:00+00:00",
        "2025-01-02T12:00:00+00:00",
    ];
    window("cron(0 0/12 * * ? *)", "UTC").check("2025-01-01T06:00:00Z", &expected);
    window("cron(0 0,12 * * ? *)", "UTC").check("2025-01-01T06:00:00Z", &expected);
    window("rate(12 hours)", "UTC")
        .start("2025-01-01T12:00:00Z")
        .check("2025-01-01T06:00:00Z", &expected);
}

#[test]
fn strategies_two_to_four_daily_at_two() {
    window("cron(0 2 * * ? *)", "Europe/Berlin").check(
        "2025-01-01T06:00:00Z",
        &["2025-01-02T02:00:00+01:00", "2025-01-03T02:00:00+01:00"],
    );
}
