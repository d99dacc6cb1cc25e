//! `patchwarden promote` against the real server: STG nodes report one patch installed and
//! one failed; PRD then approves the first and rejects the second at their exact versions,
//! `--dry-run` changes nothing, and a second run adds nothing.

use pw_api::server::tokens::{CreateActivation, Tag};
use pw_client::{Client, ClientSettings};

use crate::admin::{Server, check, start_server, stdout};

const STG: &str = r#"version = "1"
name = "AL2-STG"
operating_system = "AMAZON_LINUX_2"
[[rules]]
classification = ["Security", "Bugfix"]
approve_after_days = 1
"#;

const PRD: &str = r#"version = "1"
name = "AL2-PRD"
operating_system = "AMAZON_LINUX_2"
[[rules]]
classification = ["Security", "Bugfix"]
approve_after_days = 31
"#;

fn admin(server: &Server) -> Client {
    Client::new(ClientSettings::new(&server.url).with_secret(&server.admin)).unwrap()
}

/// Enrolls an AL2 node in patch group `AL2-STG`; returns a client with its credential.
fn enroll(server: &Server, hostname: &str) -> Client {
    let code = admin(server)
        .create_activation(&CreateActivation {
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
    let facts = serde_json::json!({"hostname": hostname, "operating_system": "AMAZON_LINUX_2",
        "product": "AmazonLinux2", "agent_version": "test"});
    let enrolled = Client::new(ClientSettings::new(&server.url))
        .unwrap()
        .enroll(
            &serde_json::from_value(serde_json::json!({
                "activation_code": code, "facts": facts, "tags": []}))
            .unwrap(),
        )
        .unwrap();
    Client::new(ClientSettings::new(&server.url).with_secret(&enrolled.credential)).unwrap()
}

/// Posts an install report for `baseline_id` with one patch in `state` at `target`.
fn report(node: &Client, baseline_id: &str, name: &str, state: &str, target: &str) {
    let failed = usize::from(state == "Failed");
    let upload = serde_json::json!({
        "baseline_id": baseline_id,
        "report": {
            "operation_id": "op-1", "operation": "Install",
            "started_at": "2025-01-06T02:00:00Z", "ended_at": "2025-01-06T02:05:00Z",
            "host": {"operating_system": "AMAZON_LINUX_2", "product": "AmazonLinux2"},
            "patch_group": "AL2-STG", "baseline": "AL2-STG", "reboot_option": "NoReboot",
            "summary": {"baseline": "AL2-STG", "evaluated_at": "2025-01-06T02:05:00Z",
                "installed": 1 - failed, "installed_other": 0, "installed_rejected": 0,
                "installed_pending_reboot": 0, "not_applicable": 0, "missing": 0,
                "failed": failed, "critical_non_compliant": 0, "security_non_compliant": failed,
                "other_non_compliant": 0, "non_compliant_severity": null,
                "status": if failed == 1 { "NON_COMPLIANT" } else { "COMPLIANT" }},
            "patches": [{"name": name, "arch": "x86_64", "state": state,
                "installed": if failed == 1 { "1:1.0-1.amzn2" } else { target },
                "target": target, "compliance_level": "UNSPECIFIED",
                "classification": "Security", "severity": "Important", "cves": [],
                "advisories": ["ALAS2-2025-1"], "reason": "approved by rule 1"}]
        }
    });
    node.post_report(&serde_json::from_value(upload).unwrap())
        .unwrap();
}

fn create(server: &Server, text: &str) -> String {
    let path = server.dir.path().join("baseline.toml");
    fs_err::write(&path, text).unwrap();
    let output = server.cli(&[
        "baseline",
        "create",
        "-f",
        path.to_str().unwrap(),
        "--output",
        "json",
    ]);
    check(&output, 0);
    let detail: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    detail["summary"]["id"].as_str().unwrap().to_owned()
}

fn promote(server: &Server, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "promote", "--from", "AL2-STG", "--to", "AL2-PRD", "--output", "json",
    ];
    args.extend(extra);
    let output = server.cli(&args);
    check(&output, 0);
    serde_json::from_str(&stdout(&output)).unwrap()
}

#[test]
fn promote_approves_verified_and_rejects_failed_patches() {
    let server = start_server();
    let stg = create(&server, STG);
    let prd = create(&server, PRD);
    report(
        &enroll(&server, "stg-1"),
        &stg,
        "foo",
        "Installed",
        "1.0-2.amzn2",
    );
    report(
        &enroll(&server, "stg-2"),
        &stg,
        "bar",
        "Failed",
        "1:2.0-3.amzn2",
    );
    let before = admin(&server).baseline(&prd).unwrap().toml;

    let dry = promote(&server, &["--dry-run"]);
    assert_eq!(dry["nodes_read"], 2);
    assert_eq!(dry["added"].as_array().unwrap().len(), 2);
    assert_eq!(dry["updated"], false);
    assert_eq!(admin(&server).baseline(&prd).unwrap().toml, before);

    let first = promote(&server, &[]);
    assert_eq!(first["updated"], true);
    let loaded = pw_api::baseline::parse_toml(&admin(&server).baseline(&prd).unwrap().toml)
        .unwrap()
        .baseline;
    assert_eq!(loaded.approved.len(), 1);
    let approved = &loaded.approved[0];
    assert_eq!(approved.entry, "foo-1.0-2.amzn2.x86_64");
    assert_eq!(approved.owner.as_deref(), Some("patchwarden promote"));
    let reason = approved.reason.as_deref().unwrap();
    assert!(
        reason.starts_with(
            "installed on 1 STG nodes (baseline AL2-STG) without failure, promoted 20"
        ),
        "{reason}"
    );
    assert_eq!(loaded.rejected.len(), 1);
    let rejected = &loaded.rejected[0];
    assert_eq!(rejected.entry, "bar-1:2.0-3.amzn2.x86_64");
    assert_eq!(rejected.owner.as_deref(), Some("patchwarden promote"));
    let reason = rejected.reason.as_deref().unwrap();
    assert!(
        reason.starts_with("failed on STG node(s) stg-2 at 20"),
        "{reason}"
    );

    let second = promote(&server, &[]);
    assert_eq!(second["added"].as_array().unwrap().len(), 0);
    assert_eq!(second["updated"], false);

    // By patch group, failures only, as a table: nothing new to add.
    let table = server.cli(&[
        "promote",
        "--from",
        "AL2-STG",
        "--to",
        &prd,
        "--patch-group",
        "AL2-STG",
        "--reject-failures-only",
    ]);
    check(&table, 0);
    assert!(stdout(&table).contains("read 2 STG node report(s); added 0 entries"));
}
