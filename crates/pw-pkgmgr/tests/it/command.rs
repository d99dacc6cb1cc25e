//! The process helper: locale, stdin, capture, errors, timeouts.

use std::time::Duration;

use pw_pkgmgr::command::{CommandError, CommandSpec, Output, Termination, run};

fn sh(script: &str) -> CommandSpec {
    CommandSpec::new("sh").args(["-c", script])
}

#[track_caller]
fn check(spec: &CommandSpec, termination: Termination, stdout: &str) -> Output {
    let output = run(spec).unwrap();
    assert_eq!(output.termination, termination, "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), stdout);
    output
}

#[test]
fn locale_is_c_and_stdin_is_empty() {
    check(
        &sh(r#"echo "$LC_ALL $LANG ${LANGUAGE-unset} $EXTRA"; cat"#)
            .env("LC_ALL", "fr_FR.UTF-8")
            .env("EXTRA", "kept"),
        Termination::Exited(0),
        "C C unset kept\n",
    );
}

#[test]
fn stdout_and_stderr_are_captured_separately() {
    let output = check(
        &sh("echo out; echo err >&2; exit 3"),
        Termination::Exited(3),
        "out\n",
    );
    assert_eq!(output.stderr, b"err\n");
    assert_eq!(output.argv, ["sh", "-c", "echo out; echo err >&2; exit 3"]);
}

#[test]
fn a_failure_names_the_argv_and_the_end_of_stderr() {
    let error = run(&sh("echo first >&2; echo 'last words' >&2; exit 3"))
        .unwrap()
        .check()
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("`sh -c 'echo first"), "{message}");
    assert!(message.contains("exit code 3"), "{message}");
    assert!(message.contains("last words"), "{message}");
}

#[test]
fn a_missing_program_is_a_spawn_error() {
    let error = run(&CommandSpec::new("/nonexistent/pw-no-such-program").arg("x")).unwrap_err();
    assert!(matches!(error, CommandError::Spawn { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("/nonexistent/pw-no-such-program x"),
        "{error}"
    );
}

#[test]
fn a_signal_is_reported() {
    check(&sh("kill -TERM $$"), Termination::Signalled(15), "");
}

/// The timeout kills the command and everything it started: the background `sleep`'s pid
/// is printed first and must be gone afterwards.
#[test]
fn timeout_kills_the_whole_process_group() {
    let spec = sh("sleep 600 & echo $!; wait")
        .timeout(Duration::from_millis(300))
        .kill_grace(Duration::from_millis(200));
    let output = run(&spec).unwrap();
    assert_eq!(
        output.termination,
        Termination::TimedOut(Duration::from_millis(300))
    );
    assert!(
        output.duration < Duration::from_secs(60),
        "{:?}",
        output.duration
    );
    let pid = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(!pid.is_empty());
    // The group was sent SIGKILL; on a loaded machine the orphaned `sleep` may take a moment
    // to act on it, so allow a few seconds before calling it a survivor.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while is_running(&pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !is_running(&pid),
        "the background sleep {pid} survived the timeout"
    );
    let error = output.check().unwrap_err().to_string();
    assert!(
        error.contains("timed out after 0.3s and was killed"),
        "{error}"
    );
}

/// A command that leaves a background process holding its stdout returns anyway, once the
/// grace period is over.
#[test]
fn a_leftover_background_process_does_not_block_the_caller() {
    let spec = sh("sleep 600 & echo started").kill_grace(Duration::from_millis(200));
    let output = check(&spec, Termination::Exited(0), "started\n");
    assert!(
        output.duration < Duration::from_secs(60),
        "{:?}",
        output.duration
    );
}

#[test]
fn output_past_the_limit_is_dropped_and_flagged() {
    let spec = sh("printf '%s' 0123456789").max_output(4);
    let output = check(&spec, Termination::Exited(0), "0123");
    assert!(output.truncated);
    assert!(matches!(
        output.check(),
        Err(CommandError::OutputTooLarge { .. })
    ));
}

/// Alive means "exists and is not a zombie": the killed `sleep` may linger as a zombie until
/// its new parent reaps it.
fn is_running(pid: &str) -> bool {
    match fs_err::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Transactions write to files, not pipes: the same capture, exit codes and limits.
#[test]
fn detached_output_is_captured_like_piped_output() {
    let output = check(
        &sh("echo out; echo err >&2; exit 3").detached_output(),
        Termination::Exited(3),
        "out\n",
    );
    assert_eq!(output.stderr, b"err\n");
    let output = check(
        &sh("printf '%s' 0123456789").max_output(4).detached_output(),
        Termination::Exited(0),
        "0123",
    );
    assert!(output.truncated);
    // A background process holding the files cannot delay the caller: nothing waits for EOF.
    let output = check(
        &sh("sleep 600 & echo started").detached_output(),
        Termination::Exited(0),
        "started\n",
    );
    assert!(
        output.duration < Duration::from_secs(60),
        "{:?}",
        output.duration
    );
}

/// With detached output the process has no pipe to the caller: its stdout is a file, so a
/// caller that dies (and with it every pipe it held) cannot break it with `SIGPIPE`.
#[test]
fn detached_output_gives_the_process_files_not_pipes() {
    let output = run(&sh("readlink /proc/self/fd/1").detached_output()).unwrap();
    assert_eq!(output.termination, Termination::Exited(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("pipe:"), "{stdout}");
    assert!(
        stdout.contains("(deleted)") || stdout.starts_with('/'),
        "{stdout}"
    );
    let piped = run(&sh("readlink /proc/self/fd/1")).unwrap();
    assert!(String::from_utf8_lossy(&piped.stdout).contains("pipe:"));
}
