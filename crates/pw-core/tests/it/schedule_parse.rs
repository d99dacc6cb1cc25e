//! Parsing schedule expressions: what is accepted, and what each rejection says.

use pw_core::schedule::{RateUnit, Schedule, ScheduleKind};

#[track_caller]
fn check_valid(expression: &str) {
    if let Err(error) = Schedule::parse(expression) {
        panic!("`{expression}` should be valid: {error}");
    }
}

#[track_caller]
fn check_error(expression: &str, expected: &str) {
    match Schedule::parse(expression) {
        Ok(schedule) => panic!("`{expression}` should be invalid, parsed as {schedule:?}"),
        Err(error) => assert_eq!(error.to_string(), expected, "`{expression}`"),
    }
}

#[track_caller]
fn check_rate(expression: &str, value: u32, unit: RateUnit, seconds: i64) {
    let schedule = Schedule::parse(expression).unwrap();
    let ScheduleKind::Rate(rate) = schedule.kind() else {
        panic!("{schedule:?}")
    };
    assert_eq!(
        (rate.value(), rate.unit(), rate.interval().as_secs()),
        (value, unit, seconds)
    );
    assert_eq!(rate.to_string(), expression);
}

#[test]
fn documented_cron_examples_are_valid() {
    for expression in [
        "cron(30 09 ? * * *)",
        "cron(24 30 09 ? * * *)",
        "cron(0 2 ? * THU#3 *)",
        "cron(15 10 ? * * *)",
        "cron(15 10 ? * MON-FRI *)",
        "cron(0 2 L * ? *)",
        "cron(15 10 ? * 6L *)",
        "cron(30 23 ? * TUE#3 *)",
        "cron(0 30 23 ? * TUE#3 *)",
        "cron(0 16 ? * TUE *)",
        "cron(0 09 ? * WED *)",
        "cron(0 0 ? * THU#2 *)",
        "cron(0 0 ? * 3L *)",
        "cron(0/30 * * * ? *)",
        "cron(0 0/4 * * ? *)",
        "cron(15 13 ? * MON *)",
    ] {
        check_valid(expression);
    }
}

#[test]
fn cron_syntax_forms() {
    for expression in [
        // Steps, ranges, lists, stepped ranges.
        "cron(0/15 * * * ? *)",
        "cron(*/5 * * * ? *)",
        "cron(10-50/10 8-17 * * ? *)",
        "cron(5,20,35,50 * * * ? *)",
        // Names in any case, ranges of names, numbers and names mixed.
        "cron(0 2 ? jan-Mar mon-FRI *)",
        "cron(0 2 ? JAN,7,dec SUN,3-5 *)",
        // Wrap-around ranges.
        "cron(0 22-2 * * ? *)",
        "cron(0 2 ? NOV-FEB FRI-MON *)",
        // Day-of-month specials.
        "cron(0 2 L * ? *)",
        "cron(0 2 lw * ? *)",
        "cron(0 2 15W * ? *)",
        "cron(0 2 1/2 * ? *)",
        // Day-of-week specials, numbers and names.
        "cron(0 2 ? * 5#3 *)",
        "cron(0 2 ? * thu#3 *)",
        "cron(0 2 ? * FRIL *)",
        "cron(0 2 ? * L *)",
        // Years.
        "cron(0 2 * * ? 2025)",
        "cron(0 2 * * ? 2025-2030,2199)",
        "cron(0 2 * * ? 1970/10)",
        // Exactly every five minutes is allowed; so is every five minutes across hours.
        "cron(0/5 * * * ? *)",
        "cron(55 0 * * ? *)",
        "cron(0,55 * * * ? *)",
        // Seven fields.
        "cron(30 0/5 * * * ? *)",
        // Surrounding white space and runs of spaces.
        "  cron(0  2 * *   ? *)  ",
        // Two minutes apart on the wall clock, but never on consecutive days.
        "cron(0,58 0,23 ? * MON *)",
        "cron(0,58 0,23 L * ? *)",
        // Never fires (February has no 30th), but is well-formed.
        "cron(0 0 30 2 ? *)",
    ] {
        check_valid(expression);
    }
}

#[test]
fn cron_errors_name_the_field_and_value() {
    check_error(
        "cron(0 2 ? * MON-FOO *)",
        "day-of-week field `MON-FOO`: unknown day name `FOO`: expected one of SUN, MON, TUE, WED, \
         THU, FRI or SAT",
    );
    check_error(
        "cron(0 2 * FOO ? *)",
        "month field `FOO`: unknown month name `FOO`: expected one of JAN, FEB, MAR, APR, MAY, JUN, \
         JUL, AUG, SEP, OCT, NOV or DEC",
    );
    check_error(
        "cron(60 2 * * ? *)",
        "minutes field `60`: `60` is out of range 0-59",
    );
    check_error(
        "cron(0 24 * * ? *)",
        "hours field `24`: `24` is out of range 0-23",
    );
    check_error(
        "cron(0 2 0 * ? *)",
        "day-of-month field `0`: `0` is out of range 1-31",
    );
    check_error(
        "cron(0 2 32 * ? *)",
        "day-of-month field `32`: `32` is out of range 1-31",
    );
    check_error(
        "cron(0 2 * 13 ? *)",
        "month field `13`: `13` is out of range 1-12",
    );
    check_error(
        "cron(0 2 ? * 0 *)",
        "day-of-week field `0`: `0` is out of range 1-7",
    );
    check_error(
        "cron(0 2 ? * 1-8 *)",
        "day-of-week field `1-8`: `8` is out of range 1-7",
    );
    check_error(
        "cron(0 2 * * ? 1969)",
        "year field `1969`: `1969` is out of range 1970-2199",
    );
    check_error(
        "cron(0 2 * * ? 2200)",
        "year field `2200`: `2200` is out of range 1970-2199",
    );
    check_error(
        "cron(0 2 * * ? 2030-2020)",
        "year field `2030-2020`: range `2030-2020` runs backwards",
    );
    check_error(
        "cron(61 30 2 * * ? *)",
        "seconds field `61`: `61` is out of range 0-59",
    );
    check_error(
        "cron(x 2 * * ? *)",
        "minutes field `x`: `x` is not a number",
    );
    check_error(
        "cron(0 2.5 * * ? *)",
        "hours field `2.5`: `2.5` is not a number",
    );
    check_error(
        "cron(*/0 2 * * ? *)",
        "minutes field `*/0`: step `/0` must be a number of at least 1",
    );
    check_error(
        "cron(0/x 2 * * ? *)",
        "minutes field `0/x`: step `/x` must be a number of at least 1",
    );
    check_error(
        "cron(0 1,,2 * * ? *)",
        "hours field `1,,2`: empty list item",
    );
    check_error("cron(0 1, * * ? *)", "hours field `1,`: empty list item");
    check_error(
        "cron(? 2 * * ? *)",
        "minutes field `?`: `?` is only allowed as the whole day-of-month or day-of-week field",
    );
    check_error(
        "cron(0 2 1,? * ? *)",
        "day-of-month field `1,?`: `?` is only allowed as the whole day-of-month or day-of-week field",
    );
    check_error(
        "cron(5L 2 * * ? *)",
        "minutes field `5L`: `L` is only allowed in the day-of-month or day-of-week field",
    );
    check_error(
        "cron(0 2 ? * 5W *)",
        "day-of-week field `5W`: `W` is only allowed in the day-of-month field",
    );
    check_error(
        "cron(0 2 1#2 * ? *)",
        "day-of-month field `1#2`: `#` is only allowed in the day-of-week field",
    );
}

#[test]
fn cron_special_day_errors() {
    check_error(
        "cron(0 2 L-3 * ? *)",
        "day-of-month field `L-3`: offsets from the last day (`L-n`) are not supported, only `L` \
         and `LW`",
    );
    check_error(
        "cron(0 2 1-5W * ? *)",
        "day-of-month field `1-5W`: `W` takes a single day of the month, e.g. `15W`",
    );
    check_error(
        "cron(0 2 32W * ? *)",
        "day-of-month field `32W`: `32` is out of range 1-31",
    );
    check_error(
        "cron(0 2 1,L * ? *)",
        "day-of-month field `1,L`: `L` must be the whole field: it cannot be combined with other \
         values",
    );
    check_error(
        "cron(0 2 ? * MON#1,FRI#3 *)",
        "day-of-week field `MON#1,FRI#3`: `MON#1` must be the whole field: it cannot be combined \
         with other values",
    );
    check_error(
        "cron(0 2 ? * 3#1,6 *)",
        "day-of-week field `3#1,6`: `3#1` must be the whole field: it cannot be combined with other \
         values",
    );
    check_error(
        "cron(0 2 ? * 2,6L *)",
        "day-of-week field `2,6L`: `6L` must be the whole field: it cannot be combined with other \
         values",
    );
    check_error(
        "cron(0 2 ? * 2#6 *)",
        "day-of-week field `2#6`: the occurrence after `#` must be 1-5",
    );
    check_error(
        "cron(0 2 ? * 2#0 *)",
        "day-of-week field `2#0`: the occurrence after `#` must be 1-5",
    );
    check_error(
        "cron(0 2 ? * 8#1 *)",
        "day-of-week field `8#1`: `8` is out of range 1-7",
    );
    check_error(
        "cron(0 2 ? * FOO#1 *)",
        "day-of-week field `FOO#1`: unknown day name `FOO`: expected one of SUN, MON, TUE, WED, THU, \
         FRI or SAT",
    );
}

#[test]
fn exactly_one_day_field_is_a_question_mark() {
    check_error(
        "cron(0 2 * * * *)",
        "day-of-month `*` and day-of-week `*`: exactly one of the two fields must be `?`",
    );
    check_error(
        "cron(0 2 1 * MON *)",
        "day-of-month `1` and day-of-week `MON`: exactly one of the two fields must be `?`",
    );
    check_error(
        "cron(0 2 ? * ? *)",
        "day-of-month `?` and day-of-week `?`: exactly one of the two fields must be `?`",
    );
}

#[test]
fn field_count() {
    let message = |found| {
        format!(
            "cron expression has {found} fields: expected 6 (minutes hours day-of-month month \
             day-of-week year) or 7 (seconds first)"
        )
    };
    check_error("cron(0 2 * * ?)", &message(5));
    check_error("cron(0 0 2 * * ? * *)", &message(8));
    check_error("cron()", &message(0));
}

#[test]
fn more_often_than_every_five_minutes_is_rejected() {
    let suffix = "schedules that fire more often than every 5 minutes are not supported";
    check_error(
        "cron(0,1 2 * * ? *)",
        &format!(
            "cron expression fires at 02:00:00 and again at 02:01:00, 60 seconds apart: {suffix}"
        ),
    );
    check_error(
        "cron(*/2 * * * ? *)",
        &format!(
            "cron expression fires at 00:00:00 and again at 00:02:00, 120 seconds apart: {suffix}"
        ),
    );
    check_error(
        "cron(0-4 * * * ? *)",
        &format!(
            "cron expression fires at 00:00:00 and again at 00:01:00, 60 seconds apart: {suffix}"
        ),
    );
    // `*/7` fires at :56 and then at :00 of the next hour.
    check_error(
        "cron(*/7 * * * ? *)",
        &format!(
            "cron expression fires at 00:56:00 and again at 01:00:00, 240 seconds apart: {suffix}"
        ),
    );
    check_error(
        "cron(* 2 * * ? *)",
        &format!(
            "cron expression fires at 02:00:00 and again at 02:01:00, 60 seconds apart: {suffix}"
        ),
    );
    check_error(
        "cron(0/30 0 2 * * ? *)",
        &format!(
            "cron expression fires at 02:00:00 and again at 02:00:30, 30 seconds apart: {suffix}"
        ),
    );
    // Across midnight, when two consecutive days can fire.
    check_error(
        "cron(0,58 0,23 * * ? *)",
        &format!(
            "cron expression fires at 23:58:00 and again at 00:00:00 the next day, 120 seconds \
             apart: {suffix}"
        ),
    );
    check_error(
        "cron(0,58 0,23 ? * MON,TUE *)",
        &format!(
            "cron expression fires at 23:58:00 and again at 00:00:00 the next day, 120 seconds \
             apart: {suffix}"
        ),
    );
    // The 31st and the 1st of the next month are consecutive days.
    check_error(
        "cron(0,58 0,23 1,31 * ? *)",
        &format!(
            "cron expression fires at 23:58:00 and again at 00:00:00 the next day, 120 seconds \
             apart: {suffix}"
        ),
    );
    // December 31st and January 1st too.
    check_error(
        "cron(0,58 0,23 1,31 JAN,DEC ? *)",
        &format!(
            "cron expression fires at 23:58:00 and again at 00:00:00 the next day, 120 seconds \
             apart: {suffix}"
        ),
    );
    // ... but not when the year after is excluded, and not January 31st to March 1st.
    check_valid("cron(0,58 0,23 1,31 JAN,DEC ? 2030)");
    check_valid("cron(0,58 0,23 1,31 JAN,MAR ? *)");
}

#[test]
fn rate_expressions() {
    check_rate("rate(30 minutes)", 30, RateUnit::Minutes, 1_800);
    check_rate("rate(5 minutes)", 5, RateUnit::Minutes, 300);
    check_rate("rate(1 hour)", 1, RateUnit::Hours, 3_600);
    check_rate("rate(5 hours)", 5, RateUnit::Hours, 18_000);
    check_rate("rate(1 day)", 1, RateUnit::Days, 86_400);
    check_rate("rate(25 days)", 25, RateUnit::Days, 2_160_000);
    check_rate("rate(7 days)", 7, RateUnit::Days, 604_800);
}

#[test]
fn rate_errors() {
    check_error(
        "rate(1 hours)",
        "rate expression `rate(1 hours)`: use the singular unit `hour` exactly when the value is 1",
    );
    check_error(
        "rate(5 hour)",
        "rate expression `rate(5 hour)`: use the singular unit `hours` exactly when the value is 1",
    );
    check_error(
        "rate(1 minutes)",
        "rate expression `rate(1 minutes)`: use the singular unit `minute` exactly when the value is 1",
    );
    check_error(
        "rate(2 day)",
        "rate expression `rate(2 day)`: use the singular unit `days` exactly when the value is 1",
    );
    check_error(
        "rate(0 minutes)",
        "rate expression `rate(0 minutes)`: value `0` must be a whole number of at least 1",
    );
    check_error(
        "rate(-5 minutes)",
        "rate expression `rate(-5 minutes)`: value `-5` must be a whole number of at least 1",
    );
    check_error(
        "rate(1.5 hours)",
        "rate expression `rate(1.5 hours)`: value `1.5` must be a whole number of at least 1",
    );
    check_error(
        "rate(4 minutes)",
        "rate expression `rate(4 minutes)`: rates faster than every 5 minutes are not supported",
    );
    check_error(
        "rate(1 minute)",
        "rate expression `rate(1 minute)`: rates faster than every 5 minutes are not supported",
    );
    check_error(
        "rate(2 weeks)",
        "rate expression `rate(2 weeks)`: unknown unit `weeks`: expected minute(s), hour(s) or day(s)",
    );
    check_error(
        "rate(5 Minutes)",
        "rate expression `rate(5 Minutes)`: unknown unit `Minutes`: expected minute(s), hour(s) or day(s)",
    );
    check_error(
        "rate(5)",
        "rate expression `rate(5)`: expected `rate(value unit)`, e.g. `rate(30 minutes)`",
    );
    check_error(
        "rate(5 minutes now)",
        "rate expression `rate(5 minutes now)`: expected `rate(value unit)`, e.g. `rate(30 minutes)`",
    );
}

#[test]
fn at_expressions() {
    let schedule = Schedule::parse("at(2020-07-07T15:55:00)").unwrap();
    let ScheduleKind::At(at) = schedule.kind() else {
        panic!("{schedule:?}")
    };
    assert_eq!(
        at.datetime(),
        jiff::civil::datetime(2020, 7, 7, 15, 55, 0, 0)
    );
    assert_eq!(at.to_string(), "at(2020-07-07T15:55:00)");
    check_valid("at(2024-02-29T23:59:59)");
}

#[test]
fn at_errors() {
    let shape = "expected `at(yyyy-mm-ddThh:mm:ss)`, e.g. `at(2020-07-07T15:55:00)`";
    for expression in [
        "at(2020-07-07 15:55:00)",
        "at(2020-07-07T15:55)",
        "at(2020-07-07T15:55:00Z)",
        "at(2020-07-07T15:55:00.5)",
        "at(2020-7-7T15:55:00)",
        "at()",
    ] {
        check_error(
            expression,
            &format!("at expression `{expression}`: {shape}"),
        );
    }
    check_error(
        "at(2021-02-29T00:00:00)",
        "at expression `at(2021-02-29T00:00:00)`: `2021-02-29T00:00:00` is not a valid date and time",
    );
    check_error(
        "at(2020-07-07T24:00:00)",
        "at expression `at(2020-07-07T24:00:00)`: `2020-07-07T24:00:00` is not a valid date and time",
    );
}

#[test]
fn not_a_schedule() {
    check_error(
        "",
        "empty schedule expression: expected `cron(...)`, `rate(...)` or `at(...)`",
    );
    check_error(
        "   ",
        "empty schedule expression: expected `cron(...)`, `rate(...)` or `at(...)`",
    );
    for expression in [
        "0 2 * * ? *",
        "cron(0 2 * * ? *",
        "CRON(0 2 * * ? *)",
        "every(5 minutes)",
        "cron (0 2 * * ? *)",
    ] {
        check_error(
            expression,
            &format!(
                "`{expression}` is not a schedule expression: expected `cron(...)`, `rate(...)` or \
                 `at(...)`"
            ),
        );
    }
}

#[test]
fn display_keeps_the_text_and_equality_compares_meaning() {
    let schedule = Schedule::parse("  cron(0 2 ? * mon-fri *) ").unwrap();
    assert_eq!(schedule.to_string(), "cron(0 2 ? * mon-fri *)");
    assert_eq!(schedule.as_str(), "cron(0 2 ? * mon-fri *)");
    assert_eq!(
        schedule,
        Schedule::parse("cron(0 2 ? * 2,3,4,5,6 *)").unwrap()
    );
    assert_eq!(
        Schedule::parse("cron(0 0/12 * * ? *)").unwrap(),
        Schedule::parse("cron(0 0,12 * * ? *)").unwrap()
    );
    assert_ne!(
        schedule,
        Schedule::parse("cron(0 2 ? * MON-SAT *)").unwrap()
    );
    let parsed: Schedule = "rate(1 hour)".parse().unwrap();
    assert_eq!(parsed.to_string(), "rate(1 hour)");
}
