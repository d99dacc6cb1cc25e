//! The web console in a real browser: Debian's chromium driven by Playwright from PyPI (the
//! virtualenv `.ci/deps` creates: `/opt/pw-tools/browser-venv`, or `PATCHWARDEN_BROWSER_PYTHON`)
//! against the real server with a seeded fleet. `crates/pw-cli/tests/console/browser.py`
//! signs in, follows a count to its list, a node and a patch's why, looks up a CVE, runs a
//! window and watches its execution change without a reload, checks CSRF and the read-only
//! role, and requires every request to go to the server under test. It writes a screenshot
//! of every screen to `target/console-screenshots/`.

use std::path::PathBuf;
use std::process::Command;

use pw_api::server::tokens::{CreateActivation, Role, Tag};
use pw_client::{Client, ClientSettings};
use serde_json::json;

fn python() -> String {
    crate::venv_python("PATCHWARDEN_BROWSER_PYTHON", "browser-venv")
}

/// Enrolls a node tagged `Patch Group=GROUP` and, unless `items` is `None`, posts a Scan
/// report with those patches. Returns the node's id.
fn node(
    admin: &Client,
    url: &str,
    hostname: &str,
    group: &str,
    items: Option<Vec<serde_json::Value>>,
) -> String {
    let code = admin
        .create_activation(&CreateActivation {
            allow_node_tags: true,
            expires_in_hours: Some(1),
            max_uses: Some(1),
            description: None,
            tags: vec![Tag {
                key: "Patch Group".to_owned(),
                value: group.to_owned(),
            }],
        })
        .unwrap()
        .code;
    let enrolled = Client::new(ClientSettings::new(url))
        .unwrap()
        .enroll(
            &serde_json::from_value(json!({"activation_code": code, "tags": [],
                "facts": {"hostname": hostname, "operating_system": "AMAZON_LINUX_2",
                    "product": "AmazonLinux2", "agent_version": "0.1.0"}}))
            .unwrap(),
        )
        .unwrap();
    let Some(items) = items else {
        return enrolled.node_id;
    };
    let missing = items.iter().filter(|i| i["state"] == "Missing").count();
    let installed = items.len() - missing;
    let status = if missing > 0 {
        "NON_COMPLIANT"
    } else {
        "COMPLIANT"
    };
    let upload = json!({"report": {
        "operation_id": "op-1", "operation": "Scan",
        "started_at": "2026-01-05T02:00:00Z", "ended_at": jiff::Timestamp::now().to_string(),
        "host": {"operating_system": "AMAZON_LINUX_2", "product": "AmazonLinux2"},
        "patch_group": group, "baseline": "patchwarden-AmazonLinux2Default",
        "reboot_option": "NoReboot",
        "summary": {"baseline": "patchwarden-AmazonLinux2Default",
            "evaluated_at": "2026-01-05T02:00:00Z",
            "installed": installed, "installed_other": 0, "installed_rejected": 0,
            "installed_pending_reboot": 0, "not_applicable": 0, "missing": missing,
            "failed": 0, "critical_non_compliant": missing, "security_non_compliant": missing,
            "other_non_compliant": 0,
            "non_compliant_severity": if missing > 0 { json!("CRITICAL") } else { json!(null) },
            "status": status},
        "patches": items}});
    Client::new(ClientSettings::new(url).with_secret(&enrolled.credential))
        .unwrap()
        .post_report(&serde_json::from_value(upload).unwrap())
        .unwrap();
    enrolled.node_id
}

fn patch(name: &str, state: &str, cve: &str) -> serde_json::Value {
    json!({"name": name, "arch": "x86_64", "state": state, "installed": "1.0-1.amzn2",
        "target": "1.0-2.amzn2", "compliance_level": "CRITICAL", "classification": "Security",
        "severity": "Critical", "cves": [cve], "advisories": ["ALAS2-2025-0102"],
        "reason": "approved by rule 1 (Security, Critical) 7 days after release"})
}

#[test]
fn the_console_in_a_real_browser() {
    let python = python();
    assert!(
        std::path::Path::new(&python).is_file(),
        "{python} is missing: run .ci/deps (it installs chromium and the Playwright virtualenv)"
    );
    let server = crate::admin::start_server();
    let admin = Client::new(ClientSettings::new(&server.url).with_secret(&server.admin)).unwrap();
    let reader = admin
        .create_token(Role::ReadOnly, Some("viewer"))
        .unwrap()
        .token;
    let cve = "CVE-2025-1102";
    for i in 1..=3 {
        node(
            &admin,
            &server.url,
            &format!("stg-{i}"),
            "AL2-STG",
            Some(vec![
                patch("curl", if i == 3 { "Installed" } else { "Missing" }, cve),
                patch("openssl", "Installed", "CVE-2025-1101"),
            ]),
        );
    }
    node(
        &admin,
        &server.url,
        "prd-1",
        "AL2-PRD",
        Some(vec![patch("openssl", "Installed", "CVE-2025-1101")]),
    );
    node(
        &admin,
        &server.url,
        "new-1",
        "<script>alert(1)</script>",
        None,
    );
    let window = admin
        .create_window(
            &serde_json::from_value(json!({"name": "AL2-STG-daily",
                "schedule": "cron(0 2 * * ? *)", "duration_hours": 2, "cutoff_hours": 1}))
            .unwrap(),
        )
        .unwrap();
    let target = admin
        .create_window_target(
            &window.id,
            &serde_json::from_value(
                json!({"targets": [{"key": "tag:Patch Group", "values": ["AL2-STG"]}]}),
            )
            .unwrap(),
        )
        .unwrap();
    admin
        .create_window_task(
            &window.id,
            &serde_json::from_value(json!({"operation": "Install", "max_concurrency": "1",
                "targets": [{"key": "WindowTargetIds", "values": [target.id]}]}))
            .unwrap(),
        )
        .unwrap();

    // Staging and production baselines with a promotion policy between them.
    let toml = |name: &str, days: u32| {
        format!(
            "version = \"1\"\nname = \"{name}\"\noperating_system = \"AMAZON_LINUX_2\"\n\n[[rules]]\nclassification = [\"Security\"]\napprove_after_days = {days}\n"
        )
    };
    admin.create_baseline(&toml("AL2-STG", 1)).unwrap();
    let prd = admin.create_baseline(&toml("AL2-PRD", 31)).unwrap();
    admin
        .create_promotion(
            &serde_json::from_value(json!({"from": "AL2-STG", "to": "AL2-PRD",
                "patch_group": "AL2-STG", "approve_when_healthy": {"nodes": 2, "soak": "3d"}}))
            .unwrap(),
        )
        .unwrap();

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/console/browser.py");
    #[expect(
        clippy::disallowed_methods,
        reason = "the browser is driven by Playwright, in Python"
    )]
    let output = Command::new(&python)
        .arg(script)
        .env("PW_URL", &server.url)
        .env("PW_ADMIN_TOKEN", &server.admin)
        .env("PW_READONLY_TOKEN", &reader)
        .env("PW_WINDOW_ID", &window.id)
        .env("PW_CVE", cve)
        .env("PW_BASELINE_ID", &prd.summary.id)
        .env("PW_SCREENSHOTS", &shots)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("all console checks passed"),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for name in [
        "overview",
        "nodes",
        "node",
        "cve",
        "windows",
        "execution",
        "promotion",
        "baseline-edit",
    ] {
        assert!(
            shots.join(format!("{name}.png")).is_file(),
            "no screenshot of {name}"
        );
    }
}
