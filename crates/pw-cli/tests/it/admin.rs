//! The server commands (`baseline`, `node`, `compliance`) against the real server started
//! in-process on `127.0.0.1:0`: tables and JSON, the precedence of flag over environment over
//! config file, and the exit codes for not found, refused and unreachable.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use jiff::Timestamp;
use pw_api::server::agent::{EnrollRequest, NodeFacts};
use pw_api::server::tokens::{CreateActivation, Role, Tag};
use pw_client::{Client, ClientSettings};

const BASELINE: &str = r#"version = "1"
name = "AL2023-STG"
operating_system = "AMAZON_LINUX_2023"
description = "staging"
[[rules]]
classification = ["Security"]
severity = ["Critical", "Important"]
approve_after_days = 1
"#;

pub(crate) struct Server {
    pub(crate) url: String,
    pub(crate) admin: String,
    pub(crate) dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

pub(crate) fn start_server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let db = dir.path().join("server.db");
    let (url, admin) = runtime.block_on(async move {
        let store = pw_store::Store::connect(&pw_store::StoreSettings::sqlite(&db))
            .await
            .unwrap();
        let admin = pw_server::create_token(&store, Role::Admin, None, Timestamp::now())
            .await
            .unwrap()
            .token;
        let state = pw_server::AppState::new(
            store,
            Arc::new(pw_server::SystemClock),
            pw_server::ServerSettings::default(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        tokio::spawn(async move {
            pw_server::serve(state, listener, None, std::future::pending::<()>())
                .await
                .unwrap();
        });
        (url, admin)
    });
    Server {
        url,
        admin,
        dir,
        _runtime: runtime,
    }
}

/// Runs `patchwarden` with HOME in `home`, the connection variables removed, then `env` set.
pub(crate) fn run(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    #[expect(clippy::disallowed_methods, reason = "tests run the real binary")]
    let mut command = Command::new(env!("CARGO_BIN_EXE_patchwarden"));
    command
        .args(args)
        .env("HOME", home)
        .env_remove("PATCHWARDEN_SERVER")
        .env_remove("PATCHWARDEN_TOKEN")
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run patchwarden")
}

impl Server {
    /// Runs a command against this server with the admin token given as flags.
    pub(crate) fn cli(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--server", &self.url, "--token", &self.admin]);
        run(self.dir.path(), &all, &[])
    }
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn check(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn baseline_create_list_show_delete() {
    let server = start_server();
    let file = server.dir.path().join("stg.toml");
    fs_err::write(&file, BASELINE).unwrap();
    let file = file.to_str().unwrap();

    let created = server.cli(&["baseline", "create", "-f", file, "--output", "json"]);
    check(&created, 0);
    let detail: serde_json::Value = serde_json::from_str(&stdout(&created)).unwrap();
    let id = detail["summary"]["id"].as_str().unwrap().to_owned();
    assert_eq!(detail["summary"]["name"], "AL2023-STG");

    let list = server.cli(&["baseline", "list"]);
    check(&list, 0);
    let text = stdout(&list);
    let header = text.lines().next().unwrap();
    assert!(header.starts_with("ID"), "{text}");
    assert!(header.contains("OPERATING SYSTEM"), "{text}");
    let row = text.lines().find(|line| line.starts_with(&id)).unwrap();
    assert!(
        row.contains("AL2023-STG") && row.contains("AMAZON_LINUX_2023"),
        "{text}"
    );

    let list = server.cli(&["baseline", "list", "--output", "json"]);
    check(&list, 0);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&list)).unwrap();
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .any(|b| b["id"] == id.as_str())
    );

    let show = server.cli(&["baseline", "show", &id]);
    check(&show, 0);
    let text = stdout(&show);
    assert!(text.contains("id:") && text.contains(&id), "{text}");
    assert!(
        text.contains("description:") && text.contains("staging"),
        "{text}"
    );

    let toml = server.cli(&["baseline", "show", &id, "--format", "toml"]);
    check(&toml, 0);
    assert!(stdout(&toml).contains("AMAZON_LINUX_2023"));
    // By name as well as by id (docs/cli.md: names everywhere).
    let by_name = server.cli(&["baseline", "show", "AL2023-STG"]);
    check(&by_name, 0);
    assert_eq!(stdout(&by_name), text);

    let deleted = server.cli(&["baseline", "delete", &id, "-o", "json"]);
    check(&deleted, 0);
    assert_eq!(stdout(&deleted), "");

    // Gone now: 404 is exit code 3, for show and delete alike.
    check(&server.cli(&["baseline", "show", &id]), 3);
    check(&server.cli(&["baseline", "delete", &id]), 3);
}

#[test]
fn node_and_compliance_on_an_empty_fleet() {
    let server = start_server();
    let nodes = server.cli(&["node", "list", "--output", "json"]);
    check(&nodes, 0);
    assert_eq!(stdout(&nodes).trim(), "[]");
    let table = server.cli(&["node", "list", "--tag", "Env=prod"]);
    check(&table, 0);
    assert!(stdout(&table).starts_with("ID"));
    check(&server.cli(&["node", "show", "no-such-node"]), 3);
    check(&server.cli(&["node", "scan", "no-such-node"]), 3);
    let summary = server.cli(&["compliance", "summary"]);
    check(&summary, 0);
    assert!(stdout(&summary).starts_with("NODE"));
    check(
        &server.cli(&["compliance", "export", "--format", "json"]),
        0,
    );
}

#[test]
fn flag_beats_environment_beats_config_file() {
    let server = start_server();
    let home = server.dir.path();
    let dead = "http://127.0.0.1:1";
    let config_dir = home.join(".config/patchwarden");
    fs_err::create_dir_all(&config_dir).unwrap();
    let config = config_dir.join("cli.toml");
    let write_config = |server_url: &str, token: &str| {
        fs_err::write(
            &config,
            format!("version = \"1\"\nserver = \"{server_url}\"\ntoken = \"{token}\"\n"),
        )
        .unwrap();
    };
    let list = ["baseline", "list", "--output", "json"];

    // The config file alone is enough.
    write_config(&server.url, &server.admin);
    check(&run(home, &list, &[]), 0);

    // An unknown key is a warning, not an error.
    fs_err::write(
        &config,
        format!(
            "version = \"1\"\nserver = \"{}\"\ntoken = \"{}\"\ncolour = \"auto\"\n",
            server.url, server.admin
        ),
    )
    .unwrap();
    let warned = run(home, &list, &[]);
    check(&warned, 0);
    assert!(String::from_utf8_lossy(&warned.stderr).contains("unknown key `colour`"));

    // The environment beats the config file: a dead server there is unreachable (5).
    let env = [("PATCHWARDEN_SERVER", dead)];
    check(&run(home, &list, &env), 5);
    // A bad token in the environment beats the good one in the file: refused (4).
    let env = [("PATCHWARDEN_TOKEN", "pw_bogus")];
    check(&run(home, &list, &env), 4);

    // An empty variable counts as unset: the config file applies.
    let env = [("PATCHWARDEN_SERVER", ""), ("PATCHWARDEN_TOKEN", "")];
    check(&run(home, &list, &env), 0);

    // The flag beats the environment.
    let mut args = list.to_vec();
    args.extend(["--server", &server.url]);
    let env = [("PATCHWARDEN_SERVER", dead)];
    check(&run(home, &args, &env), 0);
    let mut args = list.to_vec();
    args.extend(["--token", &server.admin]);
    let env = [("PATCHWARDEN_TOKEN", "pw_bogus")];
    check(&run(home, &args, &env), 0);

    // `--config` names another file; a missing one named explicitly is an error (1).
    write_config(dead, "pw_bogus");
    let other = home.join("other.toml");
    fs_err::write(
        &other,
        format!(
            "version = \"1\"\nserver = \"{}\"\ntoken = \"{}\"\n",
            server.url, server.admin
        ),
    )
    .unwrap();
    let mut args = list.to_vec();
    args.extend(["--config", other.to_str().unwrap()]);
    check(&run(home, &args, &[]), 0);
    let mut args = list.to_vec();
    args.extend(["--config", "/nonexistent/cli.toml"]);
    check(&run(home, &args, &[]), 1);
}

#[test]
fn exit_codes_for_refused_and_unreachable() {
    let server = start_server();
    let home = server.dir.path();
    let bad = run(
        home,
        &[
            "baseline",
            "list",
            "--server",
            &server.url,
            "--token",
            "pw_bogus",
        ],
        &[],
    );
    check(&bad, 4);
    let none = run(home, &["baseline", "list", "--server", &server.url], &[]);
    check(&none, 4);
    let dead = run(
        home,
        &[
            "node",
            "list",
            "--server",
            "http://127.0.0.1:1",
            "--token",
            "x",
        ],
        &[],
    );
    check(&dead, 5);
    assert!(String::from_utf8_lossy(&dead.stderr).contains("failed to reach"));
    // A server URL that is not http(s) is a usage error (2).
    check(
        &run(home, &["compliance", "summary", "--server", "ftp://x"], &[]),
        2,
    );
    // A usage error is 2.
    check(&run(home, &["baseline", "show"], &[]), 2);
}

#[test]
fn window_create_next_disable_delete_and_executions() {
    let server = start_server();
    let file = server.dir.path().join("window.json");
    fs_err::write(
        &file,
        r#"{"name": "prod-tuesday", "schedule": "cron(0 2 ? * TUE *)",
            "schedule_timezone": "Europe/Paris", "duration_hours": 4, "cutoff_hours": 1}"#,
    )
    .unwrap();
    let created = server.cli(&[
        "window",
        "create",
        "-f",
        file.to_str().unwrap(),
        "-o",
        "json",
    ]);
    check(&created, 0);
    let window: serde_json::Value = serde_json::from_str(&stdout(&created)).unwrap();
    let id = window["id"].as_str().unwrap().to_owned();

    let list = server.cli(&["window", "list"]);
    check(&list, 0);
    let text = stdout(&list);
    let row = text.lines().find(|line| line.starts_with(&id)).unwrap();
    assert!(
        row.contains("prod-tuesday") && row.contains("yes"),
        "{text}"
    );

    let next = server.cli(&["window", "next", &id, "-n", "3"]);
    check(&next, 0);
    let text = stdout(&next);
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.lines().nth(1).unwrap().contains("02:00"), "{text}");

    let disabled = server.cli(&["window", "disable", &id]);
    check(&disabled, 0);
    assert!(stdout(&disabled).contains("enabled:") && stdout(&disabled).contains("false"));
    check(&server.cli(&["window", "show", &id]), 0);

    let executions = server.cli(&["execution", "list", "--window", &id, "-o", "json"]);
    check(&executions, 0);
    assert_eq!(stdout(&executions).trim(), "[]");
    check(&server.cli(&["execution", "show", "no-such-execution"]), 3);

    // By name: update the window's own fields; show, next and delete by name too.
    fs_err::write(
        &file,
        r#"{"name": "prod-tuesday", "schedule": "cron(0 3 ? * TUE *)",
            "schedule_timezone": "Europe/Paris", "duration_hours": 4, "cutoff_hours": 1,
            "enabled": false}"#,
    )
    .unwrap();
    let updated = server.cli(&[
        "window",
        "update",
        "prod-tuesday",
        "-f",
        file.to_str().unwrap(),
    ]);
    check(&updated, 0);
    assert!(
        stdout(&updated).contains("cron(0 3 ? * TUE *)"),
        "{}",
        stdout(&updated)
    );
    assert!(stdout(&updated).contains(&id), "{}", stdout(&updated));
    check(
        &server.cli(&["window", "next", "prod-tuesday", "-n", "1"]),
        0,
    );
    let missing = server.cli(&["window", "show", "no-such-window"]);
    check(&missing, 3);
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("no window has the id or name `no-such-window`")
    );

    check(&server.cli(&["window", "delete", "prod-tuesday"]), 0);
    check(&server.cli(&["window", "show", &id]), 3);
}

#[test]
fn activation_create_list_delete_and_nodes_by_hostname() {
    let server = start_server();
    let created = server.cli(&[
        "activation",
        "create",
        "--tag",
        "Patch Group=AL2-STG",
        "--max-uses",
        "2",
        "--description",
        "ci",
    ]);
    check(&created, 0);
    // The code alone on stdout, so `CODE=$(patchwarden activation create ...)` works.
    let code = stdout(&created).trim().to_owned();
    assert!(code.starts_with("pwa_") && !code.contains(' '), "{code}");
    assert!(String::from_utf8_lossy(&created.stderr).contains("up to 2 host(s)"));

    let list = server.cli(&["activation", "list"]);
    check(&list, 0);
    let text = stdout(&list);
    assert!(
        text.contains("0/2") && text.contains("Patch Group=AL2-STG"),
        "{text}"
    );
    assert!(!text.contains(&code), "a listing never shows the code");

    // A node enrolled with it carries the code's tag and is found by its hostname.
    let enrolled = Client::new(ClientSettings::new(&server.url))
        .unwrap()
        .enroll(&EnrollRequest {
            activation_code: code,
            facts: NodeFacts {
                hostname: "stg-9".to_owned(),
                operating_system: "AMAZON_LINUX_2".to_owned(),
                product: "AmazonLinux2".to_owned(),
                agent_version: "test".to_owned(),
                arch: None,
                machine_id: None,
            },
            tags: Vec::new(),
        })
        .unwrap();
    let shown = server.cli(&["node", "show", "stg-9", "-o", "json"]);
    check(&shown, 0);
    let node: serde_json::Value = serde_json::from_str(&stdout(&shown)).unwrap();
    assert_eq!(node["id"], enrolled.node_id.as_str());
    assert_eq!(node["patch_group"], "AL2-STG");

    let listed: serde_json::Value =
        serde_json::from_str(&stdout(&server.cli(&["activation", "list", "-o", "json"]))).unwrap();
    let activation_id = listed[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(listed[0]["uses"], 1);
    check(&server.cli(&["activation", "delete", &activation_id]), 0);
    let after = server.cli(&["activation", "list", "-o", "json"]);
    assert_eq!(stdout(&after).trim(), "[]");
}

#[test]
fn patch_group_register_list_deregister_and_set_default() {
    let server = start_server();
    let file = server.dir.path().join("stg.toml");
    fs_err::write(&file, BASELINE).unwrap();
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

    let registered = server.cli(&["patch-group", "register", "STG", &id]);
    check(&registered, 0);
    assert!(stdout(&registered).contains("AMAZON_LINUX_2023"));
    let list = server.cli(&["patch-group", "list"]);
    check(&list, 0);
    let text = stdout(&list);
    let row = text.lines().find(|line| line.starts_with("STG")).unwrap();
    assert!(row.contains(&id), "{text}");
    let deregistered = server.cli(&[
        "patch-group",
        "deregister",
        "STG",
        "--os",
        "AMAZON_LINUX_2023",
    ]);
    check(&deregistered, 0);
    let list = server.cli(&["patch-group", "list", "-o", "json"]);
    assert_eq!(stdout(&list).trim(), "[]");

    check(&server.cli(&["baseline", "set-default", &id]), 0);
    let shown = server.cli(&["baseline", "show", &id, "-o", "json"]);
    let detail: serde_json::Value = serde_json::from_str(&stdout(&shown)).unwrap();
    assert_eq!(detail["summary"]["default_for_os"], true);

    // A preview of a node that does not exist: not found (3), naming what was asked for.
    let preview = server.cli(&["preview", "--baseline", &id, "--node", "no-such-node"]);
    check(&preview, 3);
    assert!(
        String::from_utf8_lossy(&preview.stderr)
            .contains("no node has the id or name `no-such-node`")
    );
}

/// Enrolls a node named `hostname` tagged `Env=stg` through the API, returning its id.
pub(crate) fn enroll(server: &Server, hostname: &str) -> String {
    let admin = Client::new(ClientSettings::new(&server.url).with_secret(&server.admin)).unwrap();
    let code = admin
        .create_activation(&CreateActivation {
            allow_node_tags: true,
            expires_in_hours: Some(1),
            max_uses: Some(1),
            description: None,
            tags: vec![Tag {
                key: "Env".to_owned(),
                value: "stg".to_owned(),
            }],
        })
        .unwrap()
        .code;
    let anonymous = Client::new(ClientSettings::new(&server.url)).unwrap();
    anonymous
        .enroll(&EnrollRequest {
            activation_code: code,
            facts: NodeFacts {
                hostname: hostname.to_owned(),
                operating_system: "AMAZON_LINUX_2023".to_owned(),
                product: "AmazonLinux2023".to_owned(),
                agent_version: "test".to_owned(),
                arch: None,
                machine_id: None,
            },
            tags: Vec::new(),
        })
        .unwrap()
        .node_id
}

#[test]
fn node_list_show_tag_scan_install() {
    let server = start_server();
    let id = enroll(&server, "stg-1");

    let list = server.cli(&["node", "list", "--tag", "Env=stg"]);
    check(&list, 0);
    let text = stdout(&list);
    let row = text.lines().find(|line| line.starts_with(&id)).unwrap();
    assert!(
        row.contains("stg-1") && row.contains("AMAZON_LINUX_2023"),
        "{text}"
    );
    let none = server.cli(&["node", "list", "--tag", "Env=prd", "-o", "json"]);
    check(&none, 0);
    assert_eq!(stdout(&none).trim(), "[]");

    let tagged = server.cli(&["node", "tag", &id, "Env=prd", "Patch Group=PRD"]);
    check(&tagged, 0);
    let text = stdout(&tagged);
    assert!(text.contains("Env=prd,Patch Group=PRD"), "{text}");
    let shown = server.cli(&["node", "show", &id, "-o", "json"]);
    check(&shown, 0);
    let node: serde_json::Value = serde_json::from_str(&stdout(&shown)).unwrap();
    assert_eq!(node["hostname"], "stg-1");
    assert_eq!(node["tags"].as_array().unwrap().len(), 2);

    let scan = server.cli(&["node", "scan", &id, "-o", "json"]);
    check(&scan, 0);
    let command: serde_json::Value = serde_json::from_str(&stdout(&scan)).unwrap();
    assert_eq!(command["node_id"], id.as_str());
    let install = server.cli(&["node", "install", &id, "--reboot-option", "NoReboot"]);
    check(&install, 0);
    assert!(stdout(&install).starts_with("queued command "));
    check(
        &server.cli(&["node", "install", &id, "--reboot-option", "Sometimes"]),
        2,
    );
}
