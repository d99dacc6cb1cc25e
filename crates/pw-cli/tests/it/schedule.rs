//! `patchwarden schedule next|check`.

use crate::patchwarden;

/// Runs `patchwarden schedule ARGS` and compares exit code, stdout and stderr.
#[track_caller]
fn check(args: &[&str], code: i32, stdout: &str, stderr: &str) {
    let mut full = vec!["schedule"];
    full.extend_from_slice(args);
    let output = patchwarden(&full, None);
    let actual_stdout = String::from_utf8_lossy(&output.stdout);
    let actual_stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(code),
        "{args:?}\nstdout:\n{actual_stdout}\nstderr:\n{actual_stderr}"
    );
    assert_eq!(actual_stdout, stdout, "{args:?}");
    assert_eq!(actual_stderr, stderr, "{args:?}");
}

/// Like [`check`], but only requires stderr to contain `needle`.
#[track_caller]
fn check_error_contains(args: &[&str], needle: &str) {
    let mut full = vec!["schedule"];
    full.extend_from_slice(args);
    let output = patchwarden(&full, None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(output.stdout.is_empty(), "{args:?}");
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
}

#[test]
fn next_in_los_angeles_from_the_start_date() {
    check(
        &[
            "next",
            "cron(0 09 ? * WED *)",
            "--tz",
            "America/Los_Angeles",
            "--start",
            "2021-01-01T00:00:00-08:00",
            "--after",
            "2020-12-15T00:00:00Z",
            "-n",
            "3",
        ],
        0,
        "2021-01-06T09:00:00-08:00\n2021-01-13T09:00:00-08:00\n2021-01-20T09:00:00-08:00\n",
        "",
    );
}

#[test]
fn next_prints_five_by_default_in_utc() {
    check(
        &[
            "next",
            "cron(0 2 * * ? *)",
            "--after",
            "2025-01-01T02:00:00Z",
        ],
        0,
        "2025-01-02T02:00:00+00:00\n2025-01-03T02:00:00+00:00\n2025-01-04T02:00:00+00:00\n\
         2025-01-05T02:00:00+00:00\n2025-01-06T02:00:00+00:00\n",
        "",
    );
}

#[test]
fn next_with_offset_and_the_offset_rule() {
    // Third Tuesday + 2 days; created after January's tick, so January is skipped.
    check(
        &[
            "next",
            "cron(30 23 ? * TUE#3 *)",
            "--offset",
            "2",
            "--after",
            "2021-01-20T00:00:00Z",
            "-n",
            "2",
        ],
        0,
        "2021-02-18T23:30:00+00:00\n2021-03-18T23:30:00+00:00\n",
        "",
    );
    check(
        &[
            "next",
            "cron(30 23 ? * TUE#3 *)",
            "--offset",
            "2",
            "--after",
            "2021-01-20T00:00:00Z",
            "--created",
            "2021-01-01T00:00:00Z",
            "-n",
            "1",
        ],
        0,
        "2021-01-21T23:30:00+00:00\n",
        "",
    );
}

#[test]
fn next_stops_at_the_end_date() {
    check(
        &[
            "next",
            "rate(7 days)",
            "--tz",
            "Asia/Tokyo",
            "--start",
            "2019-01-01T00:03:15+09:00",
            "--end",
            "2019-01-20T00:00:00+09:00",
            "--after",
            "2018-12-01T00:00:00Z",
        ],
        0,
        "2019-01-01T00:03:15+09:00\n2019-01-08T00:03:15+09:00\n2019-01-15T00:03:15+09:00\n",
        "",
    );
    check(
        &[
            "next",
            "at(2020-07-07T15:55:00)",
            "--after",
            "2020-07-01T00:00:00Z",
        ],
        0,
        "2020-07-07T15:55:00+00:00\n",
        "",
    );
    check(
        &[
            "next",
            "at(2020-07-07T15:55:00)",
            "--after",
            "2020-07-08T00:00:00Z",
        ],
        0,
        "",
        "",
    );
}

#[test]
fn next_skips_the_daylight_saving_gap() {
    check(
        &[
            "next",
            "cron(30 2 * * ? *)",
            "--tz",
            "America/Los_Angeles",
            "--after",
            "2021-03-13T00:00:00-08:00",
            "-n",
            "2",
        ],
        0,
        "2021-03-13T02:30:00-08:00\n2021-03-15T02:30:00-07:00\n",
        "",
    );
}

#[test]
fn next_defaults_to_now() {
    let before = jiff::Timestamp::now();
    let output = patchwarden(&["schedule", "next", "rate(5 minutes)", "-n", "3"], None);
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let runs: Vec<jiff::Timestamp> = stdout.lines().map(|line| line.parse().unwrap()).collect();
    assert_eq!(runs.len(), 3, "{stdout}");
    assert!(
        runs[0]
            > before
                .checked_sub(jiff::SignedDuration::from_secs(1))
                .unwrap(),
        "{stdout}"
    );
    assert!(
        runs.windows(2)
            .all(|pair| pair[1].duration_since(pair[0]).as_secs() == 300),
        "{stdout}"
    );
    assert!(
        stdout.lines().all(|line| line.ends_with("+00:00")),
        "{stdout}"
    );
}

#[test]
fn next_rejects_bad_input_with_exit_code_2() {
    check(
        &[
            "next",
            "cron(0 2 ? * MON-FOO *)",
            "--after",
            "2021-01-01T00:00:00Z",
        ],
        2,
        "",
        "error: day-of-week field `MON-FOO`: unknown day name `FOO`: expected one of SUN, MON, TUE, \
         WED, THU, FRI or SAT\n",
    );
    check_error_contains(
        &["next", "cron(0 2 * * ? *)", "--tz", "Mars/Olympus_Mons"],
        "invalid --tz `Mars/Olympus_Mons`",
    );
    check_error_contains(
        &["next", "cron(0 2 * * ? *)", "--after", "yesterday"],
        "--after",
    );
    check_error_contains(
        &[
            "next",
            "cron(0 2 * * ? *)",
            "--start",
            "2021-01-01T00:00:00",
        ],
        "--start",
    );
    check(
        &[
            "next",
            "rate(1 day)",
            "--offset",
            "2",
            "--after",
            "2021-01-01T00:00:00Z",
        ],
        2,
        "",
        "error: schedule offset applies to cron schedules only, not to `rate(1 day)`\n",
    );
    check(
        &[
            "next",
            "cron(0 2 * * ? *)",
            "--offset",
            "7",
            "--after",
            "2021-01-01T00:00:00Z",
        ],
        2,
        "",
        "error: schedule offset 7 is out of range: expected 1-6 days\n",
    );
}

#[test]
fn check_valid_and_invalid() {
    check(&["check", "cron(0 2 ? * THU#3 *)"], 0, "valid\n", "");
    check(&["check", "rate(12 hours)"], 0, "valid\n", "");
    check(&["check", "at(2020-07-07T15:55:00)"], 0, "valid\n", "");
    check(
        &["check", "rate(1 hours)"],
        2,
        "",
        "error: rate expression `rate(1 hours)`: use the singular unit `hour` exactly when the value is 1\n",
    );
    check(
        &["check", "cron(*/2 * * * ? *)"],
        2,
        "",
        "error: cron expression fires at 00:00:00 and again at 00:02:00, 120 seconds apart: \
         schedules that fire more often than every 5 minutes are not supported\n",
    );
    check(
        &["check", "cron(0 2 * * * *)"],
        2,
        "",
        "error: day-of-month `*` and day-of-week `*`: exactly one of the two fields must be `?`\n",
    );
}
