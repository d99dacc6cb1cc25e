//! `window run --follow` and `execution follow` against the real server started in-process,
//! with the test thread acting as the node's agent through pw-client: the status changes,
//! the progress line, the final table and the exit code (0 on SUCCESS, 1 otherwise); and
//! `baseline show` marking approved and rejected entries active or expired (and `plan`
//! warning about expired ones).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pw_api::server::agent::{CommandOutcome, CommandResult};
use pw_api::server::tokens::{CreateActivation, Tag};
use pw_client::{Client, ClientSettings};
use serde_json::json;

use crate::admin::{Server, check, start_server, stdout};

fn admin(server: &Server) -> Client {
    Client::new(ClientSettings::new(&server.url).with_secret(&server.admin)).unwrap()
}

/// Enrolls an AL2 node tagged `Env=ci`; returns a client with its credential.
fn enroll(server: &Server, hostname: &str) -> Client {
    let code = admin(server)
        .create_activation(&CreateActivation {
            allow_node_tags: true,
            expires_in_hours: Some(1),
            max_uses: Some(1),
            description: None,
            tags: vec![Tag {
                key: "Env".to_owned(),
                value: "ci".to_owned(),
            }],
        })
        .unwrap()
        .code;
    let enrolled = Client::new(ClientSettings::new(&server.url))
        .unwrap()
        .enroll(
            &serde_json::from_value(json!({"activation_code": code, "tags": [],
                "facts": {"hostname": hostname, "operating_system": "AMAZON_LINUX_2",
                    "product": "AmazonLinux2", "agent_version": "test"}}))
            .unwrap(),
        )
        .unwrap();
    Client::new(ClientSettings::new(&server.url).with_secret(&enrolled.credential)).unwrap()
}

/// A disabled window with one Scan task on the `Env=ci` nodes; returns its id.
fn window(server: &Server) -> String {
    let client = admin(server);
    let window = client
        .create_window(
            &serde_json::from_value(json!({"name": "ci-now", "schedule": "cron(0 3 ? * SUN *)",
                "duration_hours": 2, "cutoff_hours": 1, "enabled": false}))
            .unwrap(),
        )
        .unwrap();
    let target = client
        .create_window_target(
            &window.id,
            &serde_json::from_value(json!({"targets": [{"key": "tag:Env", "values": ["ci"]}]}))
                .unwrap(),
        )
        .unwrap();
    client
        .create_window_task(
            &window.id,
            &serde_json::from_value(json!({"operation": "Scan",
                "targets": [{"key": "WindowTargetIds", "values": [target.id]}]}))
            .unwrap(),
        )
        .unwrap();
    window.id
}

/// Starts `patchwarden` with the admin connection, stdout and stderr piped (not a terminal).
fn spawn(server: &Server, args: &[&str]) -> Child {
    #[expect(clippy::disallowed_methods, reason = "tests run the real binary")]
    let mut command = Command::new(env!("CARGO_BIN_EXE_patchwarden"));
    command
        .args(args)
        .args(["--server", &server.url, "--token", &server.admin])
        .env("HOME", server.dir.path())
        .env_remove("PATCHWARDEN_SERVER")
        .env_remove("PATCHWARDEN_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.spawn().unwrap()
}

/// Acts as the node's agent for one command: waits for it, acknowledges it, lets the
/// follower see it running, then posts `outcome`.
fn answer_one_command(node: &Client, outcome: CommandOutcome) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let command = loop {
        assert!(Instant::now() < deadline, "no command reached the node");
        if let Some(command) = node
            .poll_commands(Duration::from_secs(1))
            .unwrap()
            .into_iter()
            .next()
        {
            break command;
        }
    };
    assert!(node.acknowledge_command(&command.id).unwrap().proceed);
    std::thread::sleep(Duration::from_millis(800));
    node.post_command_result(
        &command.id,
        &CommandResult {
            outcome,
            message: Some("scan done".to_owned()),
            exit_code: None,
            started_at: None,
            finished_at: None,
            report_id: None,
            summary: None,
        },
    )
    .unwrap();
}

#[test]
fn window_run_follow_shows_transitions_and_exits_0_on_success() {
    let server = start_server();
    let node = enroll(&server, "ci-web-1");
    let window_id = window(&server);
    let child = spawn(
        &server,
        &["window", "run", "ci-now", "--follow", "--interval", "0.2"],
    );
    answer_one_command(&node, CommandOutcome::Success);
    let output = child.wait_with_output().unwrap();
    check(&output, 0);
    let text = stdout(&output);
    assert!(
        text.contains(&format!("of window {window_id} opened")),
        "{text}"
    );
    let transitions: Vec<&str> = text.lines().filter(|l| l.contains(" → ")).collect();
    assert!(
        transitions.iter().all(|l| l.contains("(ci-web-1)")),
        "{text}"
    );
    assert!(
        transitions
            .iter()
            .any(|l| l.contains("IN_PROGRESS → SUCCESS")),
        "{text}"
    );
    assert!(
        text.contains("1/1 nodes done: 1 succeeded, 0 failed, 0 running, 0 pending"),
        "{text}"
    );
    assert!(text.contains("0/1 nodes done"), "{text}");
    // Without a terminal the progress line is printed only when it changes.
    let progress: Vec<&str> = text.lines().filter(|l| l.contains("nodes done")).collect();
    let mut deduped = progress.clone();
    deduped.dedup();
    assert_eq!(progress, deduped, "{text}");
    // The final execution table ends the output.
    let tail = text.rsplit_once("1/1 nodes done").unwrap().1;
    assert!(
        tail.contains("status:") && tail.contains("SUCCESS"),
        "{text}"
    );
    assert!(tail.contains("TASK") && tail.contains("Scan"), "{text}");

    // Following an execution that already ended prints it at once, same exit code.
    let executions = admin(&server).executions(Some(&window_id)).unwrap();
    let again = spawn(&server, &["execution", "follow", &executions[0].id]);
    let output = again.wait_with_output().unwrap();
    check(&output, 0);
    assert!(
        stdout(&output).contains("- → SUCCESS"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn execution_follow_json_exits_1_when_a_node_fails() {
    let server = start_server();
    let node = enroll(&server, "ci-db-1");
    let window_id = window(&server);
    let execution = admin(&server).run_window(&window_id).unwrap();
    // A second run while this one runs is refused (409: exit code 1).
    check(&server.cli(&["window", "run", &window_id]), 1);
    let child = spawn(
        &server,
        &[
            "execution",
            "follow",
            &execution.id,
            "--interval",
            "0.2",
            "-o",
            "json",
        ],
    );
    answer_one_command(&node, CommandOutcome::Failed);
    let output = child.wait_with_output().unwrap();
    check(&output, 1);
    let text = stdout(&output);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let (last, events) = lines.split_last().unwrap();
    assert_eq!(last["id"], execution.id.as_str(), "{text}");
    assert_eq!(last["status"], "FAILED", "{text}");
    assert!(
        events
            .iter()
            .all(|e| e["node_id"].is_string() && e["at"].is_string())
    );
    assert!(
        events
            .iter()
            .any(|e| e["from"] == "IN_PROGRESS" && e["to"] == "FAILED"),
        "{text}"
    );
    assert_eq!(events[0]["from"], serde_json::Value::Null, "{text}");
}

#[test]
fn baseline_show_marks_expired_exceptions() {
    let server = start_server();
    let file = server.dir.path().join("exceptions.toml");
    fs_err::write(
        &file,
        r#"version = "1"
name = "AL2-EXC"
operating_system = "AMAZON_LINUX_2"

[[approved_patches]]
id = "CVE-2020-0001"
owner = "alice"
reason = "old hotfix"
expires = "2020-01-31"

[[approved_patches]]
id = "CVE-2099-0002"
owner = "bob"
expires = "2099-12-31"

[[rejected_patches]]
id = "kernel-4.14.2*"
"#,
    )
    .unwrap();
    let plan_dir = server.dir.path().join("decl");
    fs_err::create_dir_all(&plan_dir).unwrap();
    fs_err::copy(&file, plan_dir.join("exceptions.toml")).unwrap();
    let plan = server.cli(&["plan", "-f", plan_dir.to_str().unwrap()]);
    check(&plan, 0);
    let warnings = String::from_utf8_lossy(&plan.stderr).into_owned();
    assert!(
        warnings.contains("approved_patches entry `CVE-2020-0001` expired on 2020-01-31"),
        "{warnings}"
    );
    assert!(!warnings.contains("CVE-2099-0002"), "{warnings}");

    let created = server.cli(&[
        "baseline",
        "create",
        "-f",
        file.to_str().unwrap(),
        "-o",
        "json",
    ]);
    check(&created, 0);
    let detail: serde_json::Value = serde_json::from_str(&stdout(&created)).unwrap();
    let id = detail["summary"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        detail["expired_exceptions"],
        json!([{"list": "approved", "entry": "CVE-2020-0001", "expires": "2020-01-31"}])
    );

    let show = server.cli(&["baseline", "show", &id]);
    check(&show, 0);
    let text = stdout(&show);
    let row = |entry: &str| {
        text.lines()
            .find(|line| line.starts_with(entry))
            .unwrap_or_else(|| panic!("no row for {entry}: {text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert!(text.contains("ENTRY") && text.contains("STATUS"), "{text}");
    assert_eq!(
        row("CVE-2020-0001"),
        [
            "CVE-2020-0001",
            "alice",
            "old",
            "hotfix",
            "2020-01-31",
            "expired"
        ]
    );
    assert_eq!(
        row("CVE-2099-0002"),
        ["CVE-2099-0002", "bob", "-", "2099-12-31", "active"]
    );
    assert_eq!(
        row("kernel-4.14.2*"),
        ["kernel-4.14.2*", "-", "-", "-", "active"]
    );

    let json = server.cli(&["baseline", "show", &id, "-o", "json"]);
    check(&json, 0);
    let detail: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(detail["expired_exceptions"][0]["entry"], "CVE-2020-0001");
}
