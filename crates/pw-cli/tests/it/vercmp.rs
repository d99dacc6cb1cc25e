//! `patchwarden vercmp`: single comparisons, batch mode and usage errors.

use crate::patchwarden;

/// Runs `patchwarden vercmp ARGS` and checks the exit code, stdout and (a part of) stderr.
#[track_caller]
fn check(args: &[&str], stdin: Option<&str>, code: i32, stdout: &str, stderr_contains: &str) {
    let mut full_args = vec!["vercmp"];
    full_args.extend_from_slice(args);
    let output = patchwarden(&full_args, stdin);
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit code of {args:?}; stdout {out:?}; stderr {err:?}"
    );
    assert_eq!(out, stdout, "stdout of {args:?}");
    assert!(
        err.contains(stderr_contains),
        "stderr of {args:?} is {err:?}, expected it to contain {stderr_contains:?}"
    );
}

#[test]
fn rpm_single() {
    check(&["rpm", "1.0-1", "1.0-2"], None, 0, "-1\n", "");
    check(&["rpm", "1:1.0", "2.0"], None, 0, "1\n", "");
    check(&["rpm", "1.01-1", "0:1.1-1"], None, 0, "0\n", "");
    check(&["rpm", "1.0~rc1", "1.0"], None, 0, "-1\n", "");
    check(&["rpm", "1.0^git1", "1.0"], None, 0, "1\n", "");
    check(&["rpm", "1.0", "1.0-1"], None, 0, "-1\n", "");
}

#[test]
fn deb_single() {
    check(&["deb", "1.0-1", "1.0-1ubuntu1"], None, 0, "-1\n", "");
    check(&["deb", "1:1.0", "2.0"], None, 0, "1\n", "");
    check(&["deb", "1.0", "1.0-0"], None, 0, "0\n", "");
    check(&["deb", "1.0~rc1", "1.0"], None, 0, "-1\n", "");
    check(&["deb", "1.0a", "1.0+"], None, 0, "-1\n", "");
}

#[test]
fn invalid_version_is_a_usage_error() {
    check(
        &["rpm", "1.0-", "1.0"],
        None,
        2,
        "",
        "error: rpm version `1.0-` has an empty release after `-`",
    );
    check(
        &["deb", "1.0", "x:1"],
        None,
        2,
        "",
        "error: epoch `x` in debian version `x:1` is not a number",
    );
    check(
        &["deb", "1.0_1", "1.0"],
        None,
        2,
        "",
        "has the character `_` in its upstream version",
    );
    check(
        &["deb", "", "1.0"],
        None,
        2,
        "",
        "error: debian version is empty",
    );
}

#[test]
fn usage_errors() {
    // No stdin here: the binary exits before reading it, and writing to it could then fail.
    check(&["rpm", "1.0"], None, 2, "", "required");
    check(&["rpm"], None, 2, "", "required");
    check(
        &["rpm", "1.0", "2.0", "--batch"],
        None,
        2,
        "",
        "cannot be used with",
    );
    check(
        &["rpm", "--batch", "1.0"],
        None,
        2,
        "",
        "cannot be used with",
    );
    check(&["dnf", "1.0", "2.0"], None, 2, "", "invalid value 'dnf'");
    check(&[], None, 2, "", "");
}

#[test]
fn batch_prints_one_result_per_line() {
    let input = "1.0-1\t1.0-2\n2.0\t1.0\n1.01\t1.1\n";
    check(&["rpm", "--batch"], Some(input), 0, "-1\n1\n0\n", "");
    check(
        &["deb", "--batch"],
        Some("1.0~rc1\t1.0\r\n1:0.1\t2.0"),
        0,
        "-1\n1\n",
        "",
    );
    check(&["rpm", "--batch"], Some(""), 0, "", "");
}

#[test]
fn batch_reports_bad_lines_in_place_and_continues() {
    let input = "1.0\t2.0\n1.0-\t1.0\nno tab here\n\n1.0\t2.0\t3.0\n2.0\t1.0\n";
    let expected = "-1\n\
        error: rpm version `1.0-` has an empty release after `-`\n\
        error: expected two versions separated by one tab, got `no tab here`\n\
        error: expected two versions separated by one tab, got ``\n\
        error: expected two versions separated by one tab, got `1.0\t2.0\t3.0`\n\
        1\n";
    check(&["rpm", "--batch"], Some(input), 0, expected, "");
    check(
        &["deb", "--batch"],
        Some("1.0\t1:\n1.0\t0.9\n"),
        0,
        "error: debian version `1:` has nothing after the epoch's `:`\n1\n",
        "",
    );
}

#[test]
fn batch_handles_many_lines() {
    let input: String = (0..10_000)
        .map(|number| format!("1.{number}\t1.{}\n", 5_000))
        .collect();
    let output = patchwarden(&["vercmp", "rpm", "--batch"], Some(&input));
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 10_000);
    assert_eq!((lines[0], lines[5_000], lines[9_999]), ("-1", "0", "1"));
}
