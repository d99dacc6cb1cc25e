//! Integration tests of the `patchwarden` binary: they run the real executable.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test the same way `#[test]` bodies do"
)]

mod admin;
mod agent;
mod console;
mod declare;
mod delivery;
mod evaluate;
mod faults;
mod follow;
mod promote;
mod repo;
mod schedule;
mod self_upgrade;
mod server;
mod service;
mod ssm;
mod strategies;
mod vercmp;

use std::process::{Command, Output};

/// Runs the built `patchwarden` binary with `args` and `stdin`.
pub(crate) fn patchwarden(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    #[expect(clippy::disallowed_methods, reason = "tests run the real binary")]
    let mut child = Command::new(env!("CARGO_BIN_EXE_patchwarden"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn patchwarden");
    if let Some(input) = stdin {
        // The binary may exit before reading its input (a usage error): that is its answer,
        // not a test failure, so a broken pipe is ignored.
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait for patchwarden")
}

/// The Python of a virtualenv `.ci/deps` creates under `/opt/pw-tools/VENV`, or the one the
/// environment variable `VARIABLE` names (a developer's own virtualenv).
pub(crate) fn venv_python(variable: &str, venv: &str) -> String {
    #[expect(
        clippy::disallowed_methods,
        reason = "a developer may point the test at another virtualenv"
    )]
    std::env::var(variable).unwrap_or_else(|_| format!("/opt/pw-tools/{venv}/bin/python3"))
}

/// Runs a system tool with `stdin`, returning its stdout; fails the test when it fails.
pub(crate) fn run_tool(program: &str, args: &[&str], stdin: Option<&[u8]>) -> String {
    use std::io::Write;
    use std::process::Stdio;
    #[expect(
        clippy::disallowed_methods,
        reason = "tests use system tools as references"
    )]
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    drop(child.stdin.take());
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}
