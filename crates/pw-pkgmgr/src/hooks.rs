//! Configured shell commands: the reboot command and the pre-install, post-install and
//! on-exit hooks. Each runs as `sh -c COMMAND` from `/`, through [`crate::command::run`]
//! (so with `LC_ALL=C`, a null stdin, captured output and a timeout), with the environment
//! the caller passes added to the agent's own.

use std::time::Duration;

use crate::command::{self, CommandError, CommandSpec, Output};

/// The reboot command used when the configuration names none.
pub const DEFAULT_REBOOT_COMMAND: &str = "systemctl reboot";

/// A command line from the configuration, and how long it may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellCommand {
    pub command: String,
    pub timeout: Duration,
}

impl ShellCommand {
    /// `systemctl reboot` with a one-minute limit: systemd returns as soon as the reboot job
    /// is queued.
    pub fn default_reboot() -> ShellCommand {
        ShellCommand {
            command: DEFAULT_REBOOT_COMMAND.to_owned(),
            timeout: Duration::from_secs(60),
        }
    }

    /// The argv and limits for running this command with extra environment variables.
    pub fn spec<'a>(&self, env: impl IntoIterator<Item = (&'a str, &'a str)>) -> CommandSpec {
        let mut spec = CommandSpec::new("sh")
            .args(["-c", self.command.as_str()])
            .current_dir("/")
            .timeout(self.timeout)
            .kill_grace(Duration::from_secs(5));
        for (key, value) in env {
            spec = spec.env(key, value);
        }
        spec
    }
}

/// Runs a hook. A non-zero exit or a timeout is reported in the [`Output`], not as an error:
/// the caller decides what a failing hook means (a failing pre-install hook stops the
/// install). `Err` means `sh` could not be started.
pub fn run_hook<'a>(
    hook: &ShellCommand,
    env: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Output, CommandError> {
    let output = command::run(&hook.spec(env))?;
    tracing::info!(command = %hook.command, termination = %output.termination, "hook finished");
    Ok(output)
}

/// Runs the reboot command and requires it to succeed. On a real host the process usually
/// returns before the system goes down; the caller should stop work after this.
pub fn reboot<'a>(
    reboot_command: &ShellCommand,
    env: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Output, CommandError> {
    tracing::warn!(command = %reboot_command.command, "rebooting the node");
    command::run(&reboot_command.spec(env))?.check()
}
