//! The agent upgrades its own package through a server command while other packages update
//! in the same transaction, and the package's scriptlet restarts the agent's service in the
//! middle of it. Real processes: the real server (in-process), the real `patchwarden agent
//! run`, real dnf and rpm on an installroot.
//!
//! systemd cannot run here, so its part is played honestly: our packages' `%post` runs
//! `systemctl try-restart --no-block patchwarden-agent.service` on upgrade, and under the
//! unit's `KillMode=process` systemd then sends SIGTERM to the agent's main process only,
//! leaves the dnf/rpm children alone, and starts the agent again once it has exited. The
//! test package's `%post` (Lua: installroots have no `/bin/sh`) sends that signal to the
//! agent itself; the test starts the second agent when the first has exited. The second test
//! sends SIGKILL instead: what systemd does when `TimeoutStopSec` runs out, and what an OOM
//! kill does.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use pw_api::server::agent::{CommandState, CreateNodeCommand};
use pw_api::server::tokens::CreateActivation;
use pw_api::server::windows::{RebootOption, TaskOperation};
use pw_test_support::{AdvisoryKind, AdvisorySpec, InstallRoot, RepoBuilder, RpmSpec};

/// `%post` of the new `patchwarden`: what the unit's restart does to the agent, then a
/// pause so the transaction is still running when the agent gets the signal.
fn restart_scriptlet(signal: u8) -> String {
    format!(
        r#"local f = io.open("/run/pw-test/agent.pid")
if f then
  local pid = tonumber(f:read("*l"))
  f:close()
  posix.kill(pid, {signal})
  local log = io.open("/run/pw-test/restarts.log", "a")
  log:write("signal {signal} to " .. pid .. "\n")
  log:close()
end
posix.sleep(3)"#
    )
}

struct Lab {
    server: crate::admin::Server,
    admin: pw_client::Client,
    root: InstallRoot,
    dir: tempfile::TempDir,
    _repo: tempfile::TempDir,
}

impl Lab {
    fn new(signal: u8) -> Lab {
        let repo_dir = tempfile::tempdir().unwrap();
        let built = pw_test_support::build_rpms(
            &[
                RpmSpec::new("patchwarden", "0.1.0-1"),
                RpmSpec::new("patchwarden", "0.2.0-1")
                    .scriptlet("%post -p <lua>", &restart_scriptlet(signal)),
                RpmSpec::new("demo-lib", "1.0-1"),
                RpmSpec::new("demo-lib", "1.1-1"),
            ],
            &repo_dir.path().join("rpms"),
        )
        .unwrap();
        let issued: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let repo = RepoBuilder::new()
            .rpms(&built[1..2])
            .rpms(&built[3..4])
            .advisory(
                AdvisorySpec::new("PW-2024-1", AdvisoryKind::Bugfix, issued)
                    .package(built[1].nevra.clone()),
            )
            .advisory(
                AdvisorySpec::new("DEMO-2024-1", AdvisoryKind::Bugfix, issued)
                    .package(built[3].nevra.clone()),
            )
            .build(&repo_dir.path().join("repo"))
            .unwrap();
        let root = InstallRoot::new().unwrap();
        root.add_repo("fixture", &repo).unwrap();
        root.rpm_install(&[&built[0], &built[2]]).unwrap();
        fs_err::create_dir_all(root.path().join("run/pw-test")).unwrap();
        let server = crate::admin::start_server();
        let admin = pw_client::Client::new(
            pw_client::ClientSettings::new(&server.url).with_secret(server.admin.clone()),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("proc")).unwrap();
        fs_err::write(dir.path().join("proc/stat"), "btime 1704067200\n").unwrap();
        Lab {
            server,
            admin,
            root,
            dir,
            _repo: repo_dir,
        }
    }

    /// `patchwarden agent run` as the unit runs it (plus the installroot's settings).
    fn agent(&self, extra: &[&str]) -> Child {
        let state = self.dir.path().join("state");
        let proc_dir = self.dir.path().join("proc");
        #[expect(clippy::disallowed_methods, reason = "tests run the real binary")]
        let mut command = Command::new(env!("CARGO_BIN_EXE_patchwarden"));
        command
            .args([
                "agent",
                "run",
                "--no-config",
                "--poll-wait",
                "1",
                "--inventory-interval",
                "0",
            ])
            .arg("--root")
            .arg(self.root.path())
            .arg("--state-dir")
            .arg(&state)
            .arg("--proc-dir")
            .arg(&proc_dir)
            .args(["--os", "AMAZON_LINUX_2023", "--product", "AmazonLinux2023"])
            .args(["--package-manager", "dnf", "--releasever", "1"])
            .args(["--reboot-command", "true"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = command.spawn().unwrap();
        fs_err::write(
            self.root.path().join("run/pw-test/agent.pid"),
            format!("{}\n", child.id()),
        )
        .unwrap();
        child
    }

    fn enroll_args(&self) -> Vec<String> {
        let code = self
            .admin
            .create_activation(&CreateActivation {
                allow_node_tags: true,
                expires_in_hours: None,
                max_uses: Some(1),
                description: None,
                tags: Vec::new(),
            })
            .unwrap()
            .code;
        vec![
            "--server".to_owned(),
            self.server.url.clone(),
            "--activation-code".to_owned(),
            code,
        ]
    }

    fn node_id(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(node) = self.admin.nodes(&[]).unwrap().into_iter().next() {
                return node.id;
            }
            assert!(Instant::now() < deadline, "the agent never enrolled");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn install_command(&self, node: &str) -> String {
        self.admin
            .create_node_command(
                node,
                &CreateNodeCommand {
                    operation: TaskOperation::Install,
                    baseline_id: None,
                    reboot_option: RebootOption::NoReboot,
                    install_override_list: Vec::new(),
                },
            )
            .unwrap()
            .id
    }

    fn versions(&self) -> Vec<String> {
        let mut versions: Vec<String> = pw_pkgmgr::rpm::installed_packages(&self.root.settings())
            .unwrap()
            .into_iter()
            .map(|p| format!("{}-{}", p.nevra.name, p.nevra.evr))
            .collect();
        versions.sort();
        versions
    }

    fn restarts(&self) -> String {
        fs_err::read_to_string(self.root.path().join("run/pw-test/restarts.log"))
            .unwrap_or_default()
    }
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the agent did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn output_of(child: Child) -> String {
    let output = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Processes whose command line names `root` (the orphaned dnf, if any), with where their
/// stdout goes.
fn processes_in(root: &Path) -> Vec<(String, String)> {
    let needle = root.display().to_string();
    let mut found = Vec::new();
    for entry in fs_err::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = fs_err::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(&needle) && !text.contains("agent run") {
                let stdout = fs_err::read_link(entry.path().join("fd/1"))
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                found.push((text, stdout));
            }
        }
    }
    found
}

fn final_command(lab: &Lab, node: &str, id: &str) -> pw_api::server::agent::CommandInfo {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let command = lab
            .admin
            .node_commands(node)
            .unwrap()
            .into_iter()
            .find(|c| c.id == id)
            .unwrap();
        if matches!(
            command.state,
            CommandState::Succeeded | CommandState::Failed | CommandState::Cancelled
        ) || Instant::now() > deadline
        {
            return command;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The unit's restart during the agent's own upgrade: the transaction completes, the first
/// agent reports the command and exits, the second does not run it again.
#[test]
fn a_restart_during_the_agents_own_upgrade_reports_once() {
    let lab = Lab::new(15);
    let mut first = lab.agent(
        &lab.enroll_args()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let node = lab.node_id();
    let id = lab.install_command(&node);
    let status = wait_exit(&mut first, Duration::from_secs(180));
    let log = output_of(first);
    assert!(status.success(), "{status}: {log}");
    assert!(
        lab.restarts().contains("signal 15"),
        "the scriptlet never ran: {log}"
    );
    assert!(log.contains(&format!("ran command {id}")), "{log}");
    assert!(log.contains("stopping on signal"), "{log}");
    assert_eq!(
        lab.versions(),
        ["demo-lib-1.1-1", "patchwarden-0.2.0-1"],
        "the transaction completed"
    );
    // What systemd does next: start the agent again. It has nothing to answer or run.
    let second = lab.agent(&["--once"]);
    let log = output_of(second);
    assert!(!log.contains(&id), "{log}");
    let command = final_command(&lab, &node, &id);
    assert_eq!(command.state, CommandState::Succeeded, "{command:#?}");
    assert!(command.result.as_ref().unwrap().report_id.is_some());
    let history = lab.admin.node_compliance_history(&node, &[]).unwrap();
    assert_eq!(history.len(), 1, "one report, once: {history:#?}");
}

/// The agent killed outright during its own upgrade: the transaction, whose output goes to
/// files and which is outside the killed process, still completes; the next start answers
/// the command exactly once, from a run that installs nothing more.
#[test]
fn a_kill_during_the_agents_own_upgrade_is_answered_once_by_the_next_start() {
    let lab = Lab::new(9);
    let mut first = lab.agent(
        &lab.enroll_args()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let node = lab.node_id();
    let id = lab.install_command(&node);
    let status = wait_exit(&mut first, Duration::from_secs(180));
    assert_eq!(status.code(), None, "killed: {}", output_of(first));
    // The orphaned transaction runs to its end, writing to a file: no pipe to the dead
    // agent that could end it with SIGPIPE/EPIPE.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    loop {
        let running = processes_in(lab.root.path());
        if running.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "{running:?}");
        seen.extend(running);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        seen.iter().any(|(cmdline, _)| cmdline.contains("dnf")),
        "the transaction outlived the agent: {seen:?}"
    );
    assert!(
        seen.iter().all(|(_, stdout)| !stdout.starts_with("pipe:")),
        "{seen:?}"
    );
    assert_eq!(lab.versions(), ["demo-lib-1.1-1", "patchwarden-0.2.0-1"]);
    assert_eq!(
        lab.admin.node_commands(&node).unwrap()[0].state,
        CommandState::Acknowledged,
        "unanswered so far"
    );
    let second = lab.agent(&["--once"]);
    let log = output_of(second);
    assert!(log.contains(&format!("answered command {id}")), "{log}");
    let command = final_command(&lab, &node, &id);
    assert_eq!(command.state, CommandState::Succeeded, "{command:#?}");
    let report = lab
        .admin
        .compliance_report(command.result.as_ref().unwrap().report_id.unwrap())
        .unwrap();
    assert!(
        report.notes.iter().any(|n| n.contains("interrupted")),
        "{:?}",
        report.notes
    );
    assert!(
        report
            .install
            .as_ref()
            .is_none_or(|i| i.requested.is_empty()),
        "{:?}",
        report.install
    );
    // A third start has nothing left to answer.
    let log = output_of(lab.agent(&["--once"]));
    assert!(!log.contains(&id), "{log}");
    assert_eq!(
        lab.admin.node_compliance_history(&node, &[]).unwrap().len(),
        1
    );
}
