//! No result is lost when the server goes away mid-operation (issue 15, defect 1, and the
//! faults that follow from it): the real server as a process, killed with SIGKILL while a
//! real agent installs on a real installroot (dnf), restarted on the same database (SQLite,
//! and a PostgreSQL cluster of the test's own); the agent keeps what it owes in its state
//! directory and delivers the report and the result exactly once when the server is back.
//! An agent that is itself offline past the execution timeout delivers once as well: the
//! report joins the node's history, and the invocation keeps the `TIMED_OUT` it ended with.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pw_api::server::agent::{CommandState, CreateNodeCommand};
use pw_api::server::tokens::CreateActivation;
use pw_api::server::windows::{ExecutionStatus, RebootOption, TaskOperation};
use serde_json::json;

use crate::faults::Cluster;

fn spawn(cwd: &Path, args: &[String]) -> Child {
    #[expect(clippy::disallowed_methods, reason = "tests run the real binary")]
    let child = Command::new(env!("CARGO_BIN_EXE_patchwarden"))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
}

fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The server's database.
enum Database {
    Sqlite,
    Postgres(Cluster),
}

/// A server process that can be killed and started again on the same database, a real agent
/// on an installroot enrolled with it, and the admin's client.
struct Fixture {
    dir: tempfile::TempDir,
    server_args: Vec<String>,
    server: Child,
    agent_args: Vec<String>,
    agent: Option<Child>,
    admin: pw_client::Client,
    node: String,
    state: PathBuf,
    _root: pw_test_support::InstallRoot,
    _database: Database,
}

impl Fixture {
    /// `pre_install_hook` makes the install last long enough to kill something during it.
    fn new(database: Database, pre_install_hook: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let storage: Vec<String> = match &database {
            Database::Sqlite => vec![
                "--data-dir".to_owned(),
                dir.path().join("data").display().to_string(),
            ],
            Database::Postgres(cluster) => vec!["--database".to_owned(), cluster.url()],
        };
        let token =
            crate::faults::admin_token(&storage.iter().map(String::as_str).collect::<Vec<_>>());
        let port = crate::faults::free_port();
        let listen = format!("127.0.0.1:{port}");
        let url = format!("http://{listen}");
        let mut server_args: Vec<String> = ["server", "--no-config", "--listen", &listen]
            .map(str::to_owned)
            .to_vec();
        server_args.extend(storage);
        let server = spawn(dir.path(), &server_args);
        let admin = pw_client::Client::new(pw_client::ClientSettings::new(&url).with_secret(token))
            .unwrap();
        wait_for("the server start", Duration::from_secs(30), || {
            admin.health().is_ok()
        });
        let code = admin
            .create_activation(&CreateActivation {
                allow_node_tags: true,
                expires_in_hours: None,
                max_uses: Some(1),
                description: None,
                tags: Vec::new(),
            })
            .unwrap()
            .code;

        let root = pw_test_support::standard().unwrap().old_root().unwrap();
        let proc_dir = dir.path().join("proc");
        fs_err::create_dir_all(&proc_dir).unwrap();
        fs_err::write(proc_dir.join("stat"), "btime 1704067200\n").unwrap();
        let state = dir.path().join("state");
        let agent_args: Vec<String> = [
            "agent",
            "run",
            "--no-config",
            "--poll-wait",
            "1",
            "--inventory-interval",
            "0",
            "--root",
            &root.path().display().to_string(),
            "--state-dir",
            &state.display().to_string(),
            "--proc-dir",
            &proc_dir.display().to_string(),
            "--os",
            "AMAZON_LINUX_2023",
            "--product",
            "AmazonLinux2023",
            "--package-manager",
            "dnf",
            "--releasever",
            "1",
            "--reboot-command",
            "true",
            "--pre-install-hook",
            pre_install_hook,
            "--server",
            &url,
            "--activation-code",
            &code,
        ]
        .map(str::to_owned)
        .to_vec();
        let agent = spawn(dir.path(), &agent_args);
        let mut node = None;
        wait_for("the enrollment", Duration::from_secs(30), || {
            node = admin.nodes(&[]).unwrap().into_iter().next().map(|n| n.id);
            node.is_some()
        });
        Fixture {
            server_args,
            server,
            agent_args,
            agent: Some(agent),
            admin,
            node: node.unwrap(),
            state,
            _root: root,
            _database: database,
            dir,
        }
    }

    fn kill_server(&mut self) {
        self.server.kill().unwrap();
        self.server.wait().unwrap();
    }

    fn start_server(&mut self) {
        self.server = spawn(self.dir.path(), &self.server_args);
        wait_for("the server restart", Duration::from_secs(30), || {
            self.admin.health().is_ok()
        });
    }

    fn start_agent(&mut self) {
        self.agent = Some(spawn(self.dir.path(), &self.agent_args));
    }

    /// Stops the agent (SIGKILL when `kill`, else SIGTERM) and returns its log.
    fn stop_agent(&mut self, kill: bool) -> String {
        let agent = self.agent.take().expect("the agent runs");
        let signal = if kill {
            rustix::process::Signal::KILL
        } else {
            rustix::process::Signal::TERM
        };
        let _ = rustix::process::kill_process(rustix::process::Pid::from_child(&agent), signal);
        let output = agent.wait_with_output().unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// What the agent owes for `command` while nobody listens.
    fn delivery(&self, command: &str) -> PathBuf {
        self.state
            .join("commands")
            .join(format!("{command}.delivery.json"))
    }

    /// The state of the node's (one) command; `None` before there is one.
    fn command_state(&self) -> Option<CommandState> {
        self.admin
            .node_commands(&self.node)
            .unwrap()
            .first()
            .map(|command| command.state)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        if let Some(mut agent) = self.agent.take() {
            let _ = agent.kill();
            let _ = agent.wait();
        }
    }
}

/// The server dies (SIGKILL) while the agent installs; the agent delivers once it is back.
fn delivered_once_after_a_server_kill(database: Database) {
    let mut fixture = Fixture::new(database, "sleep 4");
    let id = fixture
        .admin
        .create_node_command(
            &fixture.node,
            &CreateNodeCommand {
                operation: TaskOperation::Install,
                baseline_id: None,
                reboot_option: RebootOption::NoReboot,
                install_override_list: Vec::new(),
            },
        )
        .unwrap()
        .id;
    wait_for("the acknowledgement", Duration::from_secs(30), || {
        fixture.command_state() == Some(CommandState::Acknowledged)
    });
    fixture.kill_server();
    // The operation ends with nobody to tell: what it owes stays in the state directory.
    let delivery = fixture.delivery(&id);
    wait_for("the operation's end", Duration::from_secs(120), || {
        delivery.try_exists().unwrap()
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        delivery.try_exists().unwrap(),
        "kept while the server is down"
    );
    fixture.start_server();
    wait_for("the delivery", Duration::from_secs(120), || {
        fixture.command_state() == Some(CommandState::Succeeded)
    });
    let command = fixture
        .admin
        .node_commands(&fixture.node)
        .unwrap()
        .remove(0);
    let report_id = command
        .result
        .as_ref()
        .unwrap()
        .report_id
        .expect("the result points at its report");
    let report = fixture.admin.compliance_report(report_id).unwrap();
    assert!(
        report.install.is_some(),
        "the install's report: {report:#?}"
    );
    assert_eq!(
        fixture
            .admin
            .node_compliance_history(&fixture.node, &[])
            .unwrap()
            .len(),
        1,
        "delivered once"
    );
    assert!(!delivery.try_exists().unwrap());
    // Nothing was run twice: the agent answered the command once and never ran it again.
    let log = fixture.stop_agent(false);
    assert_eq!(
        log.matches(&format!("ran command {id}")).count(),
        0,
        "{log}"
    );
    assert!(log.contains(&format!("answered command {id}")), "{log}");
}

#[test]
fn a_result_posted_while_the_server_is_down_is_delivered_once_it_is_back() {
    delivered_once_after_a_server_kill(Database::Sqlite);
}

#[test]
fn the_server_killed_on_postgresql_loses_no_result() {
    delivered_once_after_a_server_kill(Database::Postgres(Cluster::new()));
}

/// The agent is offline (killed, and kept down) from the end of its install until well past
/// the execution timeout. The invocation ends `TIMED_OUT` at its timeout; when the agent is
/// back it delivers the report and the result once. The report joins the node's history;
/// the late result is accepted but changes nothing (the invocation stays `TIMED_OUT`), so the
/// agent drops it instead of retrying forever.
#[test]
fn an_agent_offline_past_the_execution_timeout_delivers_once_and_the_timeout_stands() {
    let mut fixture = Fixture::new(Database::Sqlite, "sleep 6");
    let admin = &fixture.admin;
    let window = admin
        .create_window(
            &serde_json::from_value(json!({"name": "outage", "schedule": "cron(0 3 ? * SUN *)",
                "duration_hours": 2, "cutoff_hours": 1, "enabled": false,
                "allow_unassociated_targets": true}))
            .unwrap(),
        )
        .unwrap();
    admin
        .create_window_task(
            &window.id,
            &serde_json::from_value(json!({"operation": "Install",
                "targets": [{"key": "NodeIds", "values": [fixture.node]}],
                "execution_timeout_seconds": 60}))
            .unwrap(),
        )
        .unwrap();
    let execution = admin.run_window(&window.id).unwrap().id;
    wait_for("the acknowledgement", Duration::from_secs(30), || {
        fixture.command_state() == Some(CommandState::Acknowledged)
    });
    let id = fixture.admin.node_commands(&fixture.node).unwrap()[0]
        .id
        .clone();
    // The server goes away during the install, so the agent keeps what it owes; the agent
    // itself then goes offline before the server is back.
    fixture.kill_server();
    let delivery = fixture.delivery(&id);
    wait_for("the operation's end", Duration::from_secs(120), || {
        delivery.try_exists().unwrap()
    });
    fixture.stop_agent(true);
    fixture.start_server();
    let invocation = |fixture: &Fixture| {
        let shown = fixture.admin.execution(&execution).unwrap();
        let invocation = shown.tasks[0].invocations[0].clone();
        (shown.status, invocation.status, invocation.status_details)
    };
    wait_for("the execution timeout", Duration::from_secs(150), || {
        fixture.admin.execution(&execution).unwrap().status != ExecutionStatus::InProgress
    });
    let timed_out = invocation(&fixture);
    assert_eq!(timed_out.1, ExecutionStatus::TimedOut, "{timed_out:?}");
    assert!(delivery.try_exists().unwrap(), "still owed");
    assert!(
        fixture
            .admin
            .node_compliance_history(&fixture.node, &[])
            .unwrap()
            .is_empty()
    );

    fixture.start_agent();
    wait_for("the late delivery", Duration::from_secs(60), || {
        !delivery.try_exists().unwrap()
    });
    let history = fixture
        .admin
        .node_compliance_history(&fixture.node, &[])
        .unwrap();
    assert_eq!(history.len(), 1, "delivered once: {history:#?}");
    assert_eq!(invocation(&fixture), timed_out, "the timeout stands");
    assert_eq!(fixture.command_state(), Some(CommandState::TimedOut));
    std::thread::sleep(Duration::from_secs(3));
    let log = fixture.stop_agent(false);
    assert_eq!(
        log.matches(&format!("ran command {id}")).count(),
        0,
        "{log}"
    );
    assert_eq!(
        fixture
            .admin
            .node_compliance_history(&fixture.node, &[])
            .unwrap()
            .len(),
        1
    );
}
