//! Faults survived with real processes (issue 15): the server on its own PostgreSQL cluster,
//! the cluster stopped under it and started again. The server answers 503 with the error
//! body while the database is away, and serves again once it is back, without a restart.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pw_client::Method;

/// PostgreSQL's server programs (Debian keeps them out of PATH).
fn pg_bin(program: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = fs_err::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server programs under /usr/lib/postgresql (.ci/run has them)")
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin").join(program))
        .filter(|path| path.try_exists().unwrap_or(false))
        .collect();
    found.sort();
    found.pop().expect("initdb and pg_ctl")
}

/// Runs a PostgreSQL program as the `postgres` user (initdb refuses root).
fn as_postgres(program: &str, args: &[&str]) -> std::process::Output {
    let bin = pg_bin(program);
    #[expect(clippy::disallowed_methods, reason = "the test runs a real PostgreSQL")]
    let output = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(&bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("runuser");
    output
}

/// A private PostgreSQL cluster on a free port, stopped when dropped.
pub(crate) struct Cluster {
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Cluster {
    pub(crate) fn new() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("pg");
        chown_to_postgres(dir.path());
        let init = as_postgres(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        assert!(
            init.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let port = free_port();
        let cluster = Cluster {
            data,
            port,
            _dir: dir,
        };
        cluster.start();
        cluster
    }

    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.data.display()
        );
        let log = self.data.join("log");
        let started = as_postgres(
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        assert!(
            started.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&started.stderr),
            fs_err::read_to_string(&log).unwrap_or_default()
        );
    }

    fn stop(&self) {
        let stopped = as_postgres(
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
        assert!(
            stopped.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&stopped.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres(
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "stop",
            ],
        );
    }
}

/// A port nothing listens on now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An admin token made on the server's host (`server token create`), for the database that
/// `storage` names (`--data-dir DIR` or `--database URL`).
pub(crate) fn admin_token(storage: &[&str]) -> String {
    let mut args = vec![
        "server",
        "token",
        "create",
        "--role",
        "admin",
        "--no-config",
    ];
    args.extend(storage);
    let created = crate::patchwarden(&args, None);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let token = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("pwt_"), "token: {token}");
    token
}

fn chown_to_postgres(path: &Path) {
    #[expect(clippy::disallowed_methods, reason = "the test runs a real PostgreSQL")]
    let status = Command::new("chown")
        .args(["postgres:postgres"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "chown postgres {}", path.display());
}

/// Starts the server in `cwd` (with `--database`, its access-key file goes in the working
/// directory's `patchwarden-data`).
fn spawn_server(cwd: &Path, args: &[&str]) -> Child {
    #[expect(clippy::disallowed_methods, reason = "tests run the real binary")]
    let child = Command::new(env!("CARGO_BIN_EXE_patchwarden"))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
}

fn wait_for<T>(what: &str, within: Duration, mut done: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = done() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn postgresql_stopped_under_the_server_is_503_then_served_again_without_a_restart() {
    let cluster = Cluster::new();
    let url = cluster.url();
    let token = admin_token(&["--database", &url]);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let cwd = tempfile::tempdir().unwrap();
    let mut server = spawn_server(
        cwd.path(),
        &[
            "server",
            "--no-config",
            "--listen",
            &listen,
            "--database",
            &url,
        ],
    );
    let client = pw_client::Client::new(
        pw_client::ClientSettings::new(format!("http://{listen}")).with_secret(token),
    )
    .unwrap();
    let get = |path: &str| {
        client
            .raw(Method::Get, path, None, Some(Duration::from_secs(30)))
            .ok()
    };
    wait_for("the server start", Duration::from_secs(30), || {
        get("/api/v1/baselines").filter(|r| r.status == 200)
    });

    cluster.stop();
    let stopped_at = Instant::now();
    for path in ["/api/v1/baselines", "/api/v1/nodes", "/healthz"] {
        let answer = wait_for("a 503", Duration::from_secs(40), || {
            get(path).filter(|r| r.status != 200)
        });
        assert_eq!(answer.status, 503, "{path}: {}", answer.body);
        let body: serde_json::Value = serde_json::from_str(&answer.body)
            .unwrap_or_else(|_| panic!("{path}: an error body, not {}", answer.body));
        assert_eq!(body["code"], "unavailable", "{path}: {body}");
        assert!(body["request_id"].is_string(), "{path}: {body}");
    }
    // An answer while the database is away comes in bounded time, not a hang.
    assert!(
        stopped_at.elapsed() < Duration::from_secs(60),
        "503s took {:?}",
        stopped_at.elapsed()
    );

    cluster.start();
    let back = wait_for("service again", Duration::from_secs(60), || {
        get("/api/v1/baselines").filter(|r| r.status == 200)
    });
    assert!(back.body.starts_with('['), "{}", back.body);
    assert!(
        server.try_wait().unwrap().is_none(),
        "the server kept running throughout"
    );
    let _ = server.kill();
    let _ = server.wait();
}

/// Enrolls a node through the real client; returns its id and credential.
fn enroll_node(server: &str, code: &str, hostname: &str) -> (String, String) {
    let anonymous = pw_client::Client::new(pw_client::ClientSettings::new(server)).unwrap();
    let enrolled = anonymous
        .enroll(
            &serde_json::from_value(serde_json::json!({"activation_code": code,
                "facts": {"hostname": hostname, "operating_system": "AMAZON_LINUX_2",
                    "product": "AmazonLinux2", "agent_version": "test"}}))
            .unwrap(),
        )
        .unwrap();
    (enrolled.node_id, enrolled.credential)
}

/// A node's client for one replica.
fn node_client(server: &str, credential: &str) -> pw_client::Client {
    pw_client::Client::new(pw_client::ClientSettings::new(server).with_secret(credential)).unwrap()
}

/// Waits for the node's next command and acknowledges it; returns its id.
fn take_command(node: &pw_client::Client) -> String {
    wait_for("a command for the node", Duration::from_secs(60), || {
        let command = node
            .poll_commands(Duration::from_secs(1))
            .ok()?
            .into_iter()
            .next()?;
        node.acknowledge_command(&command.id).ok()?;
        Some(command.id)
    })
}

fn succeed(node: &pw_client::Client, command: &str) {
    node.post_command_result(
        command,
        &serde_json::from_value(serde_json::json!({"outcome": "success"})).unwrap(),
    )
    .unwrap();
}

/// Two replicas on one PostgreSQL database; the one that holds the scheduler lock and opened
/// an execution is killed (SIGKILL) while an invocation runs. The other finishes the
/// execution (its runner hands out the next invocation), takes the scheduler lock once the
/// dead replica's session is gone, and opens the next window on time. Nothing is handed out
/// twice.
#[test]
fn a_replica_killed_mid_execution_leaves_running_and_scheduling_to_the_other() {
    let cluster = Cluster::new();
    let url = cluster.url();
    let cwd = tempfile::tempdir().unwrap();
    let token = admin_token(&["--database", &url]);
    let (listen_a, listen_b) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let start = |listen: &str| {
        spawn_server(
            cwd.path(),
            &[
                "server",
                "--no-config",
                "--listen",
                listen,
                "--database",
                &url,
            ],
        )
    };
    let client = |listen: &str| {
        pw_client::Client::new(
            pw_client::ClientSettings::new(format!("http://{listen}")).with_secret(&token),
        )
        .unwrap()
    };
    // A starts first and takes the scheduler lock; B waits for it.
    let mut a = start(&listen_a);
    let admin_a = client(&listen_a);
    wait_for("replica A", Duration::from_secs(30), || {
        admin_a.health().ok()
    });
    std::thread::sleep(Duration::from_secs(2));
    let mut b = start(&listen_b);
    let admin_b = client(&listen_b);
    wait_for("replica B", Duration::from_secs(30), || {
        admin_b.health().ok()
    });

    let code = admin_a
        .create_activation(&serde_json::from_value(serde_json::json!({"max_uses": 2})).unwrap())
        .unwrap()
        .code;
    let (base_a, base_b) = (format!("http://{listen_a}"), format!("http://{listen_b}"));
    let (id1, secret1) = enroll_node(&base_a, &code, "n1");
    let (id2, secret2) = enroll_node(&base_a, &code, "n2");
    let window = |admin: &pw_client::Client, name: &str, schedule: &str| {
        let window = admin
            .create_window(
                &serde_json::from_value(serde_json::json!({"name": name, "schedule": schedule,
                    "duration_hours": 1, "cutoff_hours": 0,
                    "allow_unassociated_targets": true}))
                .unwrap(),
            )
            .unwrap();
        admin
            .create_window_task(
                &window.id,
                &serde_json::from_value(serde_json::json!({"operation": "Scan",
                    "targets": [{"key": "NodeIds", "values": [id1, id2]}],
                    "max_concurrency": "1", "max_errors": "0"}))
                .unwrap(),
            )
            .unwrap();
        window.id
    };
    let first = window(&admin_a, "first", "cron(0 3 ? * SUN *)");
    let execution = admin_a.run_window(&first).unwrap().id;
    // n1 takes its command from A; A dies while n1 runs it.
    let c1 = take_command(&node_client(&base_a, &secret1));
    a.kill().unwrap();
    a.wait().unwrap();

    // n1 answers B; B's runner hands out n2's invocation; n2 answers B.
    succeed(&node_client(&base_b, &secret1), &c1);
    let node2 = node_client(&base_b, &secret2);
    let c2 = take_command(&node2);
    succeed(&node2, &c2);
    let ended = wait_for("the execution's end on B", Duration::from_secs(60), || {
        let shown = admin_b.execution(&execution).ok()?;
        (shown.status != pw_api::server::windows::ExecutionStatus::InProgress).then_some(shown)
    });
    assert_eq!(
        ended.status,
        pw_api::server::windows::ExecutionStatus::Success,
        "{ended:#?}"
    );
    for node in [&id1, &id2] {
        assert_eq!(
            admin_b.node_commands(node).unwrap().len(),
            1,
            "one command per invocation"
        );
    }

    // B takes the scheduler lock once A's session is gone and opens the next window on time.
    let soon = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(8))
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let next = window(&admin_b, "next", &format!("at({soon})"));
    let opened = wait_for(
        "the next window opened by B",
        Duration::from_secs(60),
        || admin_b.executions(Some(&next)).ok()?.into_iter().next(),
    );
    assert_eq!(
        opened.status,
        pw_api::server::windows::ExecutionStatus::InProgress,
        "{opened:#?}"
    );
    let _ = b.kill();
    b.wait().unwrap();
}

/// The server's clock steps (issue 15), on the real server process under libfaketime (its
/// wall clock read from a file the test rewrites; the monotonic clock left alone, as NTP
/// leaves it): back over an occurrence that ran, which does not run it again, then forward
/// over two days, which records both as missed (FAILED, never started) and runs the one still
/// open.
#[test]
fn the_server_clock_stepping_back_and_forward_runs_nothing_twice_and_skips_nothing_silently() {
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock");
    let set_clock = |at: &str| fs_err::write(&clock, format!("@{at}\n")).unwrap();
    set_clock("2030-01-01 02:59:40");
    let data = dir.path().join("data").display().to_string();
    let token = admin_token(&["--data-dir", &data]);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let base = format!("http://{listen}");
    #[expect(clippy::disallowed_methods, reason = "tests run the real binary")]
    let mut server = Command::new(env!("CARGO_BIN_EXE_patchwarden"))
        .args([
            "server",
            "--no-config",
            "--listen",
            &listen,
            "--data-dir",
            &data,
        ])
        .env(
            "LD_PRELOAD",
            "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        )
        .env("FAKETIME_TIMESTAMP_FILE", &clock)
        .env("FAKETIME_NO_CACHE", "1")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let admin =
        pw_client::Client::new(pw_client::ClientSettings::new(&base).with_secret(&token)).unwrap();
    wait_for("the server start", Duration::from_secs(30), || {
        admin.health().ok()
    });
    let code = admin
        .create_activation(&serde_json::from_value(serde_json::json!({"max_uses": 1})).unwrap())
        .unwrap()
        .code;
    let (node_id, secret) = enroll_node(&base, &code, "n1");
    let node = node_client(&base, &secret);
    let window = admin
        .create_window(
            &serde_json::from_value(serde_json::json!({"name": "daily",
                "schedule": "cron(0 3 * * ? *)", "duration_hours": 2, "cutoff_hours": 1,
                "allow_unassociated_targets": true}))
            .unwrap(),
        )
        .unwrap();
    assert_eq!(
        window.next_execution_at.map(|t| t.to_string()).as_deref(),
        Some("2030-01-01T03:00:00Z"),
        "the server runs on the test's clock"
    );
    admin
        .create_window_task(
            &window.id,
            &serde_json::from_value(serde_json::json!({"operation": "Scan",
                "targets": [{"key": "NodeIds", "values": [node_id]}]}))
            .unwrap(),
        )
        .unwrap();
    let executions = || {
        let mut all = admin.executions(Some(&window.id)).unwrap();
        all.sort_by_key(|execution| execution.scheduled_at);
        all
    };
    let answer = || {
        let command = take_command(&node);
        succeed(&node, &command);
    };
    // 03:00 on the first day: it runs.
    answer();
    wait_for("the first execution's end", Duration::from_secs(30), || {
        (executions()[0].status == pw_api::server::windows::ExecutionStatus::Success).then_some(())
    });

    // Back to before the occurrence, then into it again: nothing opens a second time.
    for at in ["2030-01-01 02:30:00", "2030-01-01 03:00:30"] {
        set_clock(at);
        std::thread::sleep(Duration::from_secs(4));
        assert_eq!(executions().len(), 1, "at {at}: {:#?}", executions());
    }

    // Forward to the fourth day, inside its window: days two and three are missed, on record.
    set_clock("2030-01-04 03:20:00");
    let all = wait_for(
        "the missed days and the fourth",
        Duration::from_secs(30),
        || {
            let all = executions();
            (all.len() == 4).then_some(all)
        },
    );
    use pw_api::server::windows::ExecutionStatus as S;
    let seen: Vec<(String, S)> = all
        .iter()
        .map(|e| (e.scheduled_at.to_string(), e.status))
        .collect();
    assert_eq!(
        seen,
        [
            ("2030-01-01T03:00:00Z".to_owned(), S::Success),
            ("2030-01-02T03:00:00Z".to_owned(), S::Failed),
            ("2030-01-03T03:00:00Z".to_owned(), S::Failed),
            ("2030-01-04T03:00:00Z".to_owned(), S::InProgress),
        ]
    );
    for missed in &all[1..3] {
        assert!(missed.started_at.is_none(), "{missed:#?}");
        assert!(
            missed
                .status_details
                .as_deref()
                .is_some_and(|d| d.starts_with("missed:")),
            "{missed:#?}"
        );
    }
    answer();
    wait_for("the fourth day's end", Duration::from_secs(30), || {
        (executions()[3].status == S::Success).then_some(())
    });
    assert_eq!(
        admin.node_commands(&node_id).unwrap().len(),
        2,
        "ran twice in all"
    );
    let _ = server.kill();
    let _ = server.wait();
}
