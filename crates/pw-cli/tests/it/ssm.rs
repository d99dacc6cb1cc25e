//! The SSM-compatible API against the real server process, driven by boto3 and the aws CLI
//! from PyPI (pinned, in the virtualenv `.ci/deps` creates: `/opt/pw-tools/ssm-venv`, or
//! `PATCHWARDEN_SSM_PYTHON`): `crates/pw-cli/tests/ssm/boto3_checks.py` creates, reads,
//! updates, lists (with filters and paginators), tags and deletes baselines, registers
//! defaults and patch groups, and checks every error the SDKs map (DoesNotExist,
//! AlreadyExists, ResourceInUse, Validation, AccessDenied, the SigV4 failures,
//! UnknownOperation, Serialization).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn python() -> String {
    #[expect(
        clippy::disallowed_methods,
        reason = "a developer may point the test at another virtualenv"
    )]
    std::env::var("PATCHWARDEN_SSM_PYTHON")
        .unwrap_or_else(|_| "/opt/pw-tools/ssm-venv/bin/python3".to_owned())
}

fn access_key(data: &str, role: &str) -> (String, String) {
    let output = crate::patchwarden(
        &[
            "server",
            "access-key",
            "create",
            "--role",
            role,
            "--no-config",
            "--data-dir",
            data,
        ],
        None,
    );
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let mut words = text.split_whitespace();
    let (id, secret) = (words.next().unwrap(), words.next().unwrap());
    assert!(words.next().is_none(), "one line `ID SECRET`: {text}");
    (id.to_owned(), secret.to_owned())
}

#[test]
fn boto3_and_the_aws_cli_work_unchanged() {
    let python = python();
    assert!(
        std::path::Path::new(&python).is_file(),
        "{python} is missing: run .ci/deps (it creates the boto3/awscli virtualenv)"
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let (admin_id, admin_secret) = access_key(&data, "admin");
    let (ro_id, ro_secret) = access_key(&data, "read-only");
    let key_file = dir.path().join("data/access-keys.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &fs_err::metadata(&key_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the server key is private");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    #[expect(clippy::disallowed_methods, reason = "tests run the real binary")]
    let server = Command::new(env!("CARGO_BIN_EXE_patchwarden"))
        .args([
            "server",
            "--no-config",
            "--listen",
            &listen,
            "--data-dir",
            &data,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Killed(server);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ssm/boto3_checks.py");
    #[expect(
        clippy::disallowed_methods,
        reason = "the checks are boto3's, in Python"
    )]
    let output = Command::new(&python)
        .arg(script)
        .env("PW_SSM_ENDPOINT", format!("http://{listen}/ssm"))
        .env("PW_ADMIN_KEY", &admin_id)
        .env("PW_ADMIN_SECRET", &admin_secret)
        .env("PW_READONLY_KEY", &ro_id)
        .env("PW_READONLY_SECRET", &ro_secret)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("all SSM checks passed"),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
}
