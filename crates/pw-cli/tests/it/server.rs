//! `patchwarden server`: token creation on the host, a real server process that starts on
//! SQLite with no flags but `--data-dir`/`--listen`, answers, and stops cleanly on SIGTERM.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::patchwarden;

#[test]
fn token_create_prints_the_token_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let output = patchwarden(
        &[
            "server",
            "token",
            "create",
            "--role",
            "read-only",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(
        lines[0].starts_with("pwt_") && lines[0].len() == 68,
        "{stdout}"
    );
    assert!(data.join("patchwarden.db").is_file());

    let output = patchwarden(
        &[
            "server",
            "token",
            "create",
            "--role",
            "root",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not a role"));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_server(args: &[&str]) -> Child {
    #[expect(clippy::disallowed_methods, reason = "tests run the real binary")]
    let child = Command::new(env!("CARGO_BIN_EXE_patchwarden"))
        .arg("server")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn patchwarden server");
    child
}

/// Waits (bounded) until the server answers `/healthz`.
fn wait_ready(client: &pw_client::Client, child: &mut Child) {
    for _ in 0..300 {
        if client.health().is_ok() {
            return;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the server exited early"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the server did not answer within 15 s");
}

#[test]
fn server_starts_on_sqlite_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state");
    let data_arg = data.to_str().unwrap();
    let token = String::from_utf8(
        patchwarden(
            &[
                "server",
                "token",
                "create",
                "--role",
                "admin",
                "--data-dir",
                data_arg,
            ],
            None,
        )
        .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = spawn_server(&["--listen", &listen, "--data-dir", data_arg]);
    let client = pw_client::Client::new(
        pw_client::ClientSettings::new(format!("http://{listen}")).with_secret(token),
    )
    .unwrap();
    wait_ready(&client, &mut child);
    let baselines = client.baselines().unwrap();
    assert!(
        baselines.iter().any(|b| b.predefined),
        "the built-in baselines are there at once"
    );
    let unauthenticated =
        pw_client::Client::new(pw_client::ClientSettings::new(format!("http://{listen}"))).unwrap();
    assert_eq!(unauthenticated.nodes(&[]).unwrap_err().status(), Some(401));

    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("\"shutting down\"") && stderr.contains("\"stopped\""),
        "{stderr}"
    );
}
