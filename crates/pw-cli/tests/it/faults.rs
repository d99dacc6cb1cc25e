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
struct Cluster {
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn new() -> Cluster {
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
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Cluster {
            data,
            port,
            _dir: dir,
        };
        cluster.start();
        cluster
    }

    fn url(&self) -> String {
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

fn chown_to_postgres(path: &Path) {
    #[expect(clippy::disallowed_methods, reason = "the test runs a real PostgreSQL")]
    let status = Command::new("chown")
        .args(["postgres:postgres"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "chown postgres {}", path.display());
}

fn spawn_server(args: &[&str]) -> Child {
    #[expect(clippy::disallowed_methods, reason = "tests run the real binary")]
    let child = Command::new(env!("CARGO_BIN_EXE_patchwarden"))
        .args(args)
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
    let token = String::from_utf8(
        crate::patchwarden(
            &[
                "server",
                "token",
                "create",
                "--role",
                "admin",
                "--no-config",
                "--database",
                &url,
            ],
            None,
        )
        .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    assert!(token.starts_with("pwt_"), "token: {token}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = spawn_server(&[
        "server",
        "--no-config",
        "--listen",
        &listen,
        "--database",
        &url,
    ]);
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
