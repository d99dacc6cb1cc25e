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
    crate::venv_python("PATCHWARDEN_SSM_PYTHON", "ssm-venv")
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
    let (node_id, window_id, execution_id) = enroll_and_report(&data, &format!("http://{listen}"));
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
        .env("PW_NODE_ID", &node_id)
        .env("PW_WINDOW_ID", &window_id)
        .env("PW_EXECUTION_ID", &execution_id)
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

/// Through the native API: enrolls a node tagged `Patch Group=AL2-STG`, posts an install
/// report for it (one patch Missing, one Installed), and opens an execution of a window
/// targeting it (no agent answers, so it stays in progress). Returns the node, window and
/// execution ids.
fn enroll_and_report(data: &str, url: &str) -> (String, String, String) {
    use pw_api::server::tokens::{CreateActivation, Tag};
    use pw_client::{Client, ClientSettings};
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
                data,
            ],
            None,
        )
        .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    let admin = Client::new(ClientSettings::new(url).with_secret(token)).unwrap();
    let code = admin
        .create_activation(&CreateActivation {
            allow_node_tags: true,
            expires_in_hours: Some(1),
            max_uses: Some(1),
            description: None,
            tags: vec![Tag {
                key: "Patch Group".to_owned(),
                value: "AL2-STG".to_owned(),
            }],
        })
        .unwrap()
        .code;
    let facts = serde_json::json!({"hostname": "stg-1", "operating_system": "AMAZON_LINUX_2",
        "product": "AmazonLinux2", "agent_version": "0.1.0"});
    let enrolled = Client::new(ClientSettings::new(url))
        .unwrap()
        .enroll(
            &serde_json::from_value(serde_json::json!({
                "activation_code": code, "facts": facts, "tags": []}))
            .unwrap(),
        )
        .unwrap();
    let node = Client::new(ClientSettings::new(url).with_secret(&enrolled.credential)).unwrap();
    let item = |name: &str, state: &str, installed: &str, target: &str| {
        serde_json::json!({"name": name, "arch": "x86_64", "state": state,
            "installed": installed, "target": target, "compliance_level": "CRITICAL",
            "classification": "Security", "severity": "Critical", "cves": ["CVE-2025-1102"],
            "advisories": ["ALAS2-2025-0102"], "reason": "approved by rule 1"})
    };
    let upload = serde_json::json!({
        "report": {
            "operation_id": "op-1", "operation": "Install",
            "started_at": "2025-03-05T02:00:00Z", "ended_at": "2025-03-05T02:05:00Z",
            "host": {"operating_system": "AMAZON_LINUX_2", "product": "AmazonLinux2"},
            "patch_group": "AL2-STG", "baseline": "patchwarden-AmazonLinux2Default",
            "reboot_option": "NoReboot",
            "summary": {"baseline": "patchwarden-AmazonLinux2Default",
                "evaluated_at": "2025-03-05T02:05:00Z",
                "installed": 1, "installed_other": 0, "installed_rejected": 0,
                "installed_pending_reboot": 0, "not_applicable": 0, "missing": 1,
                "failed": 0, "critical_non_compliant": 1, "security_non_compliant": 1,
                "other_non_compliant": 0, "non_compliant_severity": "CRITICAL",
                "status": "NON_COMPLIANT"},
            "patches": [
                item("curl", "Missing", "8.3.0-1.amzn2", "8.3.0-2.amzn2"),
                item("openssl", "Installed", "1.0.2k-2.amzn2", "1.0.2k-2.amzn2"),
            ]
        }
    });
    node.post_report(&serde_json::from_value(upload).unwrap())
        .unwrap();
    let window = admin
        .create_window(
            &serde_json::from_value(serde_json::json!({"name": "native-window",
                "schedule": "cron(0 2 ? * * *)", "duration_hours": 2, "cutoff_hours": 1}))
            .unwrap(),
        )
        .unwrap();
    let target = admin
        .create_window_target(
            &window.id,
            &serde_json::from_value(serde_json::json!({"targets": [
                {"key": "tag:Patch Group", "values": ["AL2-STG"]}]}))
            .unwrap(),
        )
        .unwrap();
    admin
        .create_window_task(
            &window.id,
            &serde_json::from_value(serde_json::json!({"operation": "Scan", "targets": [
                {"key": "WindowTargetIds", "values": [target.id]}]}))
            .unwrap(),
        )
        .unwrap();
    let execution = admin.run_window(&window.id).unwrap();
    (enrolled.node_id, window.id, execution.id)
}
