//! Health checks after an install: systemd units that must be active, URLs that must answer
//! 2xx, and commands the node's own configuration names. The server sends a command's name,
//! never shell text: what runs is what the node's operator configured.

use std::collections::BTreeMap;
use std::time::Duration;

use pw_api::agent::HealthCheckResult;
use pw_api::server::windows::{HealthCheck, HealthCheckKind};
use pw_pkgmgr::command::{self, CommandSpec};
use pw_pkgmgr::hooks::ShellCommand;

/// How much of a command's output a result keeps.
const TAIL: usize = 1000;

/// What the checks need from the node's configuration.
#[derive(Debug, Clone)]
pub struct HealthSettings {
    /// Named commands (`[health_commands]` in agent.toml): name → shell command line.
    pub commands: BTreeMap<String, String>,
    /// The `systemctl` program (unit checks run `systemctl is-active UNIT`).
    pub systemctl: String,
}

impl Default for HealthSettings {
    fn default() -> HealthSettings {
        HealthSettings {
            commands: BTreeMap::new(),
            systemctl: "systemctl".to_owned(),
        }
    }
}

/// Runs every check in order (all of them, so the report says which failed and which did
/// not) and notes each failure.
pub fn run_checks(
    checks: &[HealthCheck],
    settings: &HealthSettings,
    env: &[(&str, &str)],
    notes: &mut Vec<String>,
) -> Vec<HealthCheckResult> {
    checks
        .iter()
        .map(|check| {
            let (passed, detail) = match check.kind {
                HealthCheckKind::Unit => unit(&settings.systemctl, &check.target, check.timeout()),
                HealthCheckKind::Url => url(&check.target, check.timeout()),
                HealthCheckKind::Command => named_command(settings, check, env),
            };
            if !passed {
                notes.push(format!(
                    "health check failed: {} `{}`: {detail}",
                    check.kind.as_str(),
                    check.target
                ));
            }
            HealthCheckResult {
                kind: check.kind.as_str().to_owned(),
                target: check.target.clone(),
                passed,
                detail,
            }
        })
        .collect()
}

fn unit(systemctl: &str, name: &str, timeout: Duration) -> (bool, String) {
    let spec = CommandSpec::new(systemctl)
        .args(["is-active", name])
        .timeout(timeout);
    match command::run(&spec) {
        Ok(output) => {
            let state = output.stdout_tail(200).trim().to_owned();
            let state = if state.is_empty() {
                output.termination.to_string()
            } else {
                state
            };
            (output.success(), format!("unit is {state}"))
        }
        Err(error) => (
            false,
            format!("`{systemctl} is-active` could not run: {error}"),
        ),
    }
}

fn url(target: &str, timeout: Duration) -> (bool, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .user_agent(concat!("patchwarden-agent/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    match agent.get(target).call() {
        Ok(response) => {
            let status = response.status();
            (status.is_success(), format!("answered {}", status.as_u16()))
        }
        Err(error) => (false, format!("no answer: {error}")),
    }
}

fn named_command(
    settings: &HealthSettings,
    check: &HealthCheck,
    env: &[(&str, &str)],
) -> (bool, String) {
    let Some(line) = settings.commands.get(&check.target) else {
        return (
            false,
            format!(
                "this node's configuration names no health command `{}` ([health_commands] in agent.toml)",
                check.target
            ),
        );
    };
    let shell = ShellCommand {
        command: line.clone(),
        timeout: check.timeout(),
    };
    match pw_pkgmgr::hooks::run_hook(&shell, env.iter().copied()) {
        Ok(output) => {
            let mut detail = output.termination.to_string();
            let tail = output.stdout_tail(TAIL);
            let err = output.stderr_tail(TAIL);
            for part in [tail.trim(), err.trim()] {
                if !part.is_empty() {
                    detail.push_str(": ");
                    detail.push_str(part);
                }
            }
            (output.success(), detail)
        }
        Err(error) => (false, format!("could not run: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: HealthCheckKind, target: &str) -> HealthCheck {
        HealthCheck {
            kind,
            target: target.to_owned(),
            timeout_seconds: Some(5),
        }
    }

    #[test]
    fn commands_come_from_the_node_and_report_their_output() {
        let settings = HealthSettings {
            commands: BTreeMap::from([
                ("ok".to_owned(), "echo fine".to_owned()),
                ("bad".to_owned(), "echo broken >&2; exit 3".to_owned()),
            ]),
            systemctl: "false".to_owned(),
        };
        let mut notes = Vec::new();
        let results = run_checks(
            &[
                check(HealthCheckKind::Command, "ok"),
                check(HealthCheckKind::Command, "bad"),
                check(HealthCheckKind::Command, "unknown"),
                check(HealthCheckKind::Unit, "nginx.service"),
            ],
            &settings,
            &[],
            &mut notes,
        );
        let passed: Vec<bool> = results.iter().map(|r| r.passed).collect();
        assert_eq!(passed, [true, false, false, false]);
        assert_eq!(results[0].detail, "exit code 0: fine");
        assert_eq!(results[1].detail, "exit code 3: broken");
        assert!(
            results[2]
                .detail
                .contains("names no health command `unknown`")
        );
        assert!(
            results[3].detail.starts_with("unit is "),
            "{}",
            results[3].detail
        );
        assert_eq!(notes.len(), 3);
    }

    #[test]
    fn an_unreachable_url_fails() {
        let mut notes = Vec::new();
        // Port 9 (discard) on loopback: nothing listens in the test environment.
        let results = run_checks(
            &[check(HealthCheckKind::Url, "http://127.0.0.1:9/health")],
            &HealthSettings::default(),
            &[],
            &mut notes,
        );
        assert!(!results[0].passed);
        assert!(
            results[0].detail.starts_with("no answer"),
            "{}",
            results[0].detail
        );
    }
}
