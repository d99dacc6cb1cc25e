//! What the systemd units rely on, with the real binary: `server.toml` and `agent.toml` (flags
//! win, unknown keys warned), readiness on `$NOTIFY_SOCKET` only once the service can serve,
//! and the installer and packages the server distributes.

use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pw_api::server::tokens::CreateActivation;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A notification socket as systemd makes one for `Type=notify`.
fn notify_socket(dir: &std::path::Path) -> (UnixDatagram, std::path::PathBuf) {
    let path = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    (socket, path)
}

fn spawn(args: &[&str], notify: &std::path::Path) -> Child {
    #[expect(clippy::disallowed_methods, reason = "tests run the real binary")]
    let child = Command::new(env!("CARGO_BIN_EXE_patchwarden"))
        .args(args)
        .env("NOTIFY_SOCKET", notify)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
}

fn stop(mut child: Child) -> String {
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::TERM,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn receive(socket: &UnixDatagram) -> String {
    let mut buffer = [0_u8; 4096];
    let n = socket
        .recv(&mut buffer)
        .expect("a notification within 60 s");
    String::from_utf8_lossy(&buffer[..n]).into_owned()
}

#[test]
fn the_server_reads_server_toml_and_is_ready_only_when_it_listens() {
    let dir = tempfile::tempdir().unwrap();
    let packages = dir.path().join("packages");
    fs_err::create_dir_all(&packages).unwrap();
    fs_err::write(packages.join("patchwarden_0.1.0_amd64.deb"), b"deb bytes").unwrap();
    fs_err::write(packages.join("notes.txt"), b"not served").unwrap();
    let port = free_port();
    let config = dir.path().join("server.toml");
    fs_err::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\npackages_dir = \"{}\"\npublic_url = \"https://pw.example:8440\"\nshiny_new_option = 1\n",
            dir.path().join("data").display(),
            packages.display()
        ),
    )
    .unwrap();
    let (socket, notify) = notify_socket(dir.path());
    let config_arg = config.display().to_string();
    let child = spawn(&["server", "--config", &config_arg], &notify);
    let message = receive(&socket);
    assert!(message.starts_with("READY=1\n"), "{message}");
    assert!(
        message.contains(&format!("MAINPID={}", child.id())),
        "{message}"
    );
    // Ready means serving: the port from the file answers at once.
    let base = format!("http://127.0.0.1:{port}");
    let client = pw_client::Client::new(pw_client::ClientSettings::new(&base)).unwrap();
    let get = |path: &str| {
        let answer = client
            .raw(pw_client::Method::Get, path, None, None)
            .unwrap();
        (answer.status, answer.body.into_bytes())
    };
    let (status, body) = get("/install.sh");
    assert_eq!(status, 200);
    let script = String::from_utf8(body).unwrap();
    assert!(script.starts_with("#!/bin/sh"));
    assert!(
        script.contains("https://pw.example:8440"),
        "public_url is written in"
    );
    assert!(!script.contains("@PATCHWARDEN_SERVER_URL@"));
    let (status, body) = get("/packages/SHA256SUMS");
    assert_eq!(status, 200);
    let sums = String::from_utf8(body).unwrap();
    assert_eq!(
        sums,
        format!(
            "{}  patchwarden_0.1.0_amd64.deb\n",
            sha256_hex(b"deb bytes")
        )
    );
    assert_eq!(
        get("/packages/patchwarden_0.1.0_amd64.deb"),
        (200, b"deb bytes".to_vec())
    );
    assert_eq!(get("/packages/notes.txt").0, 404);
    let stderr = stop(child);
    assert!(
        stderr.contains("unknown key `shiny_new_option`"),
        "{stderr}"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    let output = crate::run_tool("sha256sum", &[], Some(bytes));
    output.split_whitespace().next().unwrap().to_owned()
}

#[test]
fn the_agent_reads_agent_toml_flags_win_and_it_is_ready_once_configured() {
    let server = crate::admin::start_server();
    let admin = pw_client::Client::new(
        pw_client::ClientSettings::new(&server.url).with_secret(server.admin.clone()),
    )
    .unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let from_file = dir.path().join("state-from-file");
    let from_flag = dir.path().join("state-from-flag");
    let config = dir.path().join("agent.toml");
    fs_err::write(
        &config,
        format!(
            "server = \"{}\"\nstate_dir = \"{}\"\npoll_wait = 1\ninventory_interval = 0\nreboot_command = \"true\"\nfuture_key = true\n",
            server.url,
            from_file.display()
        ),
    )
    .unwrap();
    let config_arg = config.display().to_string();
    let root_arg = root.path().display().to_string();
    let host = [
        "--root",
        &root_arg,
        "--os",
        "AMAZON_LINUX_2023",
        "--product",
        "AmazonLinux2023",
        "--package-manager",
        "dnf",
    ];
    // Not enrolled: exit 78 (EX_CONFIG), no readiness, and the message says what to do.
    let (socket, notify) = notify_socket(dir.path());
    let mut args = vec!["agent", "run", "--config", &config_arg];
    args.extend(host);
    let output = spawn(&args, &notify).wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&output.stderr).contains("agent enroll"));
    socket.set_nonblocking(true).unwrap();
    assert!(
        socket.recv(&mut [0_u8; 64]).is_err(),
        "no READY=1 before failing"
    );
    socket.set_nonblocking(false).unwrap();
    // Enroll with the server named by the file; the state directory flag wins over the file.
    let from_flag_arg = from_flag.display().to_string();
    let mut args = vec![
        "agent",
        "enroll",
        "--config",
        &config_arg,
        "--state-dir",
        &from_flag_arg,
        "--activation-code",
        &code,
    ];
    args.extend(host);
    let output = spawn(&args, &notify).wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("unknown key `future_key`"), "{stderr}");
    assert!(from_flag.join("credential.json").try_exists().unwrap());
    assert!(!from_file.try_exists().unwrap());
    // Running: READY=1 once the configuration and credential are loaded.
    let mut args = vec![
        "agent",
        "run",
        "--config",
        &config_arg,
        "--state-dir",
        &from_flag_arg,
    ];
    args.extend(host);
    let child = spawn(&args, &notify);
    let message = receive(&socket);
    assert!(message.starts_with("READY=1\n"), "{message}");
    // `agent status` sees the running agent through the same state directory.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let output = crate::patchwarden(
            &[
                "agent",
                "status",
                "--json",
                "--config",
                &config_arg,
                "--state-dir",
                &from_flag_arg,
            ],
            None,
        );
        let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        if status["daemon"]["last_poll_at"].is_string() || Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(status["enrolled"], true, "{status:#}");
    assert_eq!(status["server"], server.url.as_str());
    assert_eq!(status["daemon"]["pid"], child.id());
    assert!(status["daemon"]["last_poll_at"].is_string(), "{status:#}");
    stop(child);
}
