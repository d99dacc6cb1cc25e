//! No result is lost when the server goes away mid-operation (issue 15, defect 1): the real
//! server as a process, killed with SIGKILL while a real agent installs on a real installroot
//! (dnf), restarted on the same database; the agent keeps what it owes in its state directory
//! and delivers the report and the result exactly once when the server is back.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pw_api::server::agent::{CommandState, CreateNodeCommand};
use pw_api::server::tokens::{CreateActivation, Role};
use pw_api::server::windows::{RebootOption, TaskOperation};

fn spawn(args: &[&str]) -> Child {
    #[expect(clippy::disallowed_methods, reason = "tests run the real binary")]
    let child = Command::new(env!("CARGO_BIN_EXE_patchwarden"))
        .args(args)
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

#[test]
fn a_result_posted_while_the_server_is_down_is_delivered_once_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.display().to_string();
    let _ = Role::Admin;
    let token = String::from_utf8(
        crate::patchwarden(
            &[
                "server",
                "token",
                "create",
                "--role",
                "admin",
                "--no-config",
                "--data-dir",
                &data_arg,
            ],
            None,
        )
        .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("http://{listen}");
    let server_args = [
        "server",
        "--no-config",
        "--listen",
        listen.as_str(),
        "--data-dir",
        data_arg.as_str(),
    ];
    let mut server = spawn(&server_args);
    let admin =
        pw_client::Client::new(pw_client::ClientSettings::new(&url).with_secret(token)).unwrap();
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
    let (root_arg, state_arg, proc_arg) = (
        root.path().display().to_string(),
        state.display().to_string(),
        proc_dir.display().to_string(),
    );
    let agent = spawn(&[
        "agent",
        "run",
        "--no-config",
        "--poll-wait",
        "1",
        "--inventory-interval",
        "0",
        "--root",
        &root_arg,
        "--state-dir",
        &state_arg,
        "--proc-dir",
        &proc_arg,
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
        // Long enough to kill the server while the operation runs.
        "--pre-install-hook",
        "sleep 4",
        "--server",
        &url,
        "--activation-code",
        &code,
    ]);
    let mut node = None;
    wait_for("the enrollment", Duration::from_secs(30), || {
        node = admin.nodes(&[]).unwrap().into_iter().next().map(|n| n.id);
        node.is_some()
    });
    let node = node.unwrap();
    let id = admin
        .create_node_command(
            &node,
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
        admin.node_commands(&node).unwrap()[0].state == CommandState::Acknowledged
    });
    // The server dies while the agent runs the install.
    server.kill().unwrap();
    server.wait().unwrap();
    // The operation ends with nobody to tell: what it owes stays in the state directory.
    let delivery = state.join("commands").join(format!("{id}.delivery.json"));
    wait_for("the operation's end", Duration::from_secs(120), || {
        delivery.try_exists().unwrap()
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        delivery.try_exists().unwrap(),
        "kept while the server is down"
    );
    // Back, on the same database.
    let mut server = spawn(&server_args);
    wait_for("the server restart", Duration::from_secs(30), || {
        admin.health().is_ok()
    });
    wait_for("the delivery", Duration::from_secs(120), || {
        admin.node_commands(&node).unwrap()[0].state == CommandState::Succeeded
    });
    let command = admin.node_commands(&node).unwrap().remove(0);
    let report_id = command
        .result
        .as_ref()
        .unwrap()
        .report_id
        .expect("the result points at its report");
    let report = admin.compliance_report(report_id).unwrap();
    assert!(
        report.install.is_some(),
        "the install's report: {report:#?}"
    );
    assert_eq!(
        admin.node_compliance_history(&node, &[]).unwrap().len(),
        1,
        "delivered once"
    );
    assert!(!delivery.try_exists().unwrap());
    // Nothing was run twice: the packages are in once and the agent ran the command once.
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_child(&agent),
        rustix::process::Signal::TERM,
    );
    let output = agent.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        log.matches(&format!("ran command {id}")).count(),
        0,
        "{log}"
    );
    assert!(log.contains(&format!("answered command {id}")), "{log}");
    let _ = server.kill();
    let _ = server.wait();
}
