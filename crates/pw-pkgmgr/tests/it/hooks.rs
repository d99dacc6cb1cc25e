//! Hooks and the reboot command.

use std::time::Duration;

use pw_pkgmgr::command::Termination;
use pw_pkgmgr::hooks::{ShellCommand, reboot, run_hook};

fn shell(command: &str) -> ShellCommand {
    ShellCommand {
        command: command.to_owned(),
        timeout: Duration::from_secs(60),
    }
}

#[test]
fn a_hook_gets_its_environment_and_runs_from_the_root_directory() {
    let output = run_hook(
        &shell("echo \"$PW_OPERATION $PW_PHASE\"; pwd; echo warn >&2"),
        [("PW_OPERATION", "install"), ("PW_PHASE", "pre")],
    )
    .unwrap();
    assert_eq!(output.termination, Termination::Exited(0));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "install pre\n/\n");
    assert_eq!(output.stderr_tail(100), "warn");
}

#[test]
fn a_failing_hook_is_an_outcome_not_an_error() {
    let output = run_hook(&shell("echo no; exit 7"), []).unwrap();
    assert_eq!(output.termination, Termination::Exited(7));
    assert!(!output.success());
}

#[test]
fn a_hook_that_hangs_is_killed_at_its_timeout() {
    let hook = ShellCommand {
        command: "sleep 600".to_owned(),
        timeout: Duration::from_millis(200),
    };
    let output = run_hook(&hook, []).unwrap();
    assert_eq!(
        output.termination,
        Termination::TimedOut(Duration::from_millis(200))
    );
}

/// Tests observe the reboot through a command that leaves a mark.
#[test]
fn the_reboot_command_runs_and_must_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("rebooted");
    let command = shell(&format!("echo \"$PW_REASON\" > '{}'", mark.display()));
    reboot(&command, [("PW_REASON", "kernel")]).unwrap();
    assert_eq!(fs_err::read_to_string(&mark).unwrap(), "kernel\n");

    let error = reboot(&shell("echo 'Failed to reboot' >&2; exit 1"), [])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("exit code 1") && error.contains("Failed to reboot"),
        "{error}"
    );
    assert_eq!(ShellCommand::default_reboot().command, "systemctl reboot");
}
