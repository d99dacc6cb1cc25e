//! Promotion policies on the server: a staging report that shows a failed install rejects the
//! version in production as it arrives, with its evidence in the policy and the audit log;
//! soak-based approval waits for enough healthy nodes and the soak time; bad policies are
//! refused naming the field.

use jiff::SignedDuration;
use serde_json::{Value, json};

use crate::support::{TestServer, baseline_toml};

/// An Install report for `baseline_id` in patch group AL2-STG: `name` at 1.1-1, in `state`.
pub(crate) fn install_report(baseline_id: &str, name: &str, state: &str) -> Value {
    let failed = usize::from(state == "Failed");
    json!({
        "baseline_id": baseline_id,
        "report": {
            "operation_id": "op-1", "operation": "Install",
            "started_at": "2025-01-06T00:00:00Z", "ended_at": "2025-01-06T00:05:00Z",
            "host": {"operating_system": "AMAZON_LINUX_2", "product": "AmazonLinux2", "agent_version": "0.1.0"},
            "patch_group": "AL2-STG", "baseline": "AL2-STG", "reboot_option": "NoReboot",
            "install": {"requested": [format!("{name}-1.1-1.x86_64")],
                        "installed": if failed == 1 { json!([]) } else { json!([format!("{name}-1.1-1.x86_64")]) },
                        "failed": if failed == 1 { json!([format!("{name}-1.1-1.x86_64")]) } else { json!([]) }},
            "summary": {"baseline": "AL2-STG", "evaluated_at": "2025-01-06T00:05:00Z",
                "installed": 1 - failed, "installed_other": 0, "installed_rejected": 0,
                "installed_pending_reboot": 0, "not_applicable": 0, "missing": 0, "failed": failed,
                "critical_non_compliant": 0, "security_non_compliant": failed, "other_non_compliant": 0,
                "non_compliant_severity": null, "status": if failed == 1 { "NON_COMPLIANT" } else { "COMPLIANT" }},
            "patches": [{"name": name, "arch": "x86_64", "state": state,
                "installed": if failed == 1 { "1.0-1" } else { "1.1-1" }, "target": "1.1-1",
                "compliance_level": "HIGH", "classification": "Security", "severity": "Important",
                "cves": [], "advisories": ["ALAS2-2025-1"], "reason": "approved by rule 1"}]
        }
    })
}

pub(crate) async fn post_report(server: &TestServer, credential: &str, body: Value) -> i64 {
    let (status, value) = server
        .call(
            "POST",
            "/api/v1/agent/reports",
            Some(credential),
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "{value}");
    value["report_id"].as_i64().unwrap()
}

pub(crate) async fn baseline(server: &TestServer, name: &str) -> String {
    let created = server
        .admin(
            "POST",
            "/api/v1/baselines",
            Some(Value::String(baseline_toml(name, "AMAZON_LINUX_2"))),
        )
        .await;
    created["summary"]["id"].as_str().unwrap().to_owned()
}

async fn prd_lists(server: &TestServer, id: &str) -> (Vec<String>, Vec<String>) {
    let detail = server
        .admin("GET", &format!("/api/v1/baselines/{id}"), None)
        .await;
    let baseline = pw_api::baseline::parse_toml(detail["toml"].as_str().unwrap())
        .unwrap()
        .baseline;
    let entries = |list: &[pw_core::baseline::Exception]| {
        list.iter().map(|e| e.entry.clone()).collect::<Vec<_>>()
    };
    (entries(&baseline.approved), entries(&baseline.rejected))
}

#[tokio::test]
async fn a_failed_staging_install_is_rejected_in_production_as_its_report_arrives() {
    let server = TestServer::sqlite().await;
    let stg = baseline(&server, "AL2-STG").await;
    let prd = baseline(&server, "AL2-PRD").await;
    let policy = server
        .admin(
            "POST",
            "/api/v1/promotions",
            Some(json!({"from": "AL2-STG", "to": "AL2-PRD"})),
        )
        .await;
    let id = policy["id"].as_str().unwrap().to_owned();
    assert_eq!(policy["from_baseline_id"], stg.as_str());
    assert_eq!(policy["spec"]["reject_failures"], true);
    let (_, credential) = server
        .enroll("stg-1", "AMAZON_LINUX_2", &[("Patch Group", "AL2-STG")])
        .await;
    let report = post_report(&server, &credential, install_report(&stg, "curl", "Failed")).await;

    // Within that one report, PRD rejects exactly that version, owned by the policy.
    let detail = server
        .admin("GET", &format!("/api/v1/baselines/{prd}"), None)
        .await;
    let toml = detail["toml"].as_str().unwrap();
    assert!(toml.contains("curl-1.1-1.x86_64"), "{toml}");
    assert!(toml.contains(&format!("promotion policy {id}")), "{toml}");
    assert_eq!(prd_lists(&server, &prd).await.1, ["curl-1.1-1.x86_64"]);
    // The policy shows what it did and on what evidence; so does the audit log.
    let shown = server
        .admin("GET", &format!("/api/v1/promotions/{id}"), None)
        .await;
    let change = &shown["changes"][0];
    assert_eq!(change["list"], "reject");
    assert_eq!(change["entry"], "curl-1.1-1.x86_64");
    assert_eq!(change["evidence"]["nodes"], json!(["stg-1"]));
    assert_eq!(change["evidence"]["reports"], json!([report]));
    assert!(
        change["reason"]
            .as_str()
            .unwrap()
            .starts_with("failed on STG node(s) stg-1 at "),
        "{change}"
    );
    let audit = server.admin("GET", "/api/v1/audit", None).await;
    let events = audit.as_array().unwrap();
    let rejection = events
        .iter()
        .find(|e| e["action"] == "promotion.reject")
        .unwrap_or_else(|| panic!("{audit:#}"));
    assert_eq!(rejection["actor"], format!("promotion:{id}"));
    assert!(
        rejection["details"].to_string().contains("stg-1"),
        "{rejection}"
    );
    // The same report again adds nothing; a report of another baseline is not staging's.
    post_report(&server, &credential, install_report(&stg, "curl", "Failed")).await;
    assert_eq!(prd_lists(&server, &prd).await.1.len(), 1);
    let shown = server
        .admin("GET", &format!("/api/v1/promotions/{id}"), None)
        .await;
    assert_eq!(shown["changes"].as_array().unwrap().len(), 1);
    post_report(&server, &credential, install_report(&prd, "wget", "Failed")).await;
    assert_eq!(prd_lists(&server, &prd).await.1.len(), 1);
    // A baseline a policy uses cannot be deleted.
    let (status, body) = server
        .call(
            "DELETE",
            &format!("/api/v1/baselines/{stg}"),
            Some(&server.admin.clone()),
            None,
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body["message"].as_str().unwrap().contains(&id), "{body}");
}

#[tokio::test]
async fn soak_approval_waits_for_enough_healthy_nodes_and_the_soak_time() {
    let server = TestServer::sqlite().await;
    let stg = baseline(&server, "AL2-STG").await;
    let prd = baseline(&server, "AL2-PRD").await;
    let policy = server
        .admin(
            "POST",
            "/api/v1/promotions",
            Some(json!({"from": stg, "to": prd,
                        "approve_when_healthy": {"nodes": 2, "soak": "3d"}})),
        )
        .await;
    let id = policy["id"].as_str().unwrap().to_owned();
    let run = |dry: bool| {
        let server = &server;
        let path = format!("/api/v1/promotions/{id}/run?dry_run={dry}");
        async move { server.admin("POST", &path, None).await }
    };
    let (_, first) = server
        .enroll("stg-1", "AMAZON_LINUX_2", &[("Patch Group", "AL2-STG")])
        .await;
    post_report(
        &server,
        &first,
        install_report(&stg, "openssl", "Installed"),
    )
    .await;
    // One node, installed today: not yet.
    assert_eq!(run(false).await["added"], json!([]));
    server.clock.advance(SignedDuration::from_hours(24));
    let (_, second) = server
        .enroll("stg-2", "AMAZON_LINUX_2", &[("Patch Group", "AL2-STG")])
        .await;
    post_report(
        &server,
        &second,
        install_report(&stg, "openssl", "Installed"),
    )
    .await;
    // Two nodes, but the second has had it for 2 days only after 2 more days.
    server.clock.advance(SignedDuration::from_hours(48));
    assert_eq!(run(false).await["added"], json!([]));
    server.clock.advance(SignedDuration::from_hours(24));
    // A dry run says what would be added and changes nothing.
    let dry = run(true).await;
    assert_eq!(dry["added"][0]["entry"], "openssl-1.1-1.x86_64", "{dry:#}");
    assert_eq!(prd_lists(&server, &prd).await.0, Vec::<String>::new());
    let done = run(false).await;
    assert_eq!(done["added"][0]["list"], "approve", "{done:#}");
    assert_eq!(done["nodes_read"], 2);
    assert_eq!(
        done["added"][0]["reason"],
        "installed on 2 STG nodes (baseline AL2-STG) without failure, for at least 3d, promoted 2025-01-10"
    );
    assert_eq!(prd_lists(&server, &prd).await.0, ["openssl-1.1-1.x86_64"]);
    assert_eq!(run(false).await["added"], json!([]));
}

#[tokio::test]
async fn bad_policies_are_refused_naming_the_field() {
    let server = TestServer::sqlite().await;
    let stg = baseline(&server, "AL2-STG").await;
    let prd = baseline(&server, "AL2-PRD").await;
    let ubuntu = server
        .admin(
            "POST",
            "/api/v1/baselines",
            Some(Value::String(
                "version = \"1\"\nname = \"U-PRD\"\noperating_system = \"UBUNTU\"\n".to_owned(),
            )),
        )
        .await["summary"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = server.admin.clone();
    for (body, status, field) in [
        (
            json!({"from": stg, "to": "patchwarden-AmazonLinux2Default"}),
            400,
            "to",
        ),
        (json!({"from": stg, "to": stg}), 400, "to"),
        (json!({"from": stg, "to": ubuntu}), 400, "to"),
        (json!({"from": "nope", "to": prd}), 400, "from"),
        (
            json!({"from": stg, "to": prd, "approve_when_healthy": {"soak": "3 weeks"}}),
            400,
            "approve_when_healthy.soak",
        ),
        (
            json!({"from": stg, "to": prd, "approve_when_healthy": {"nodes": 0}}),
            400,
            "approve_when_healthy.nodes",
        ),
        (
            json!({"from": stg, "to": prd, "reject_failures": false}),
            400,
            "reject_failures",
        ),
        (json!({"from": stg, "to": prd, "approve": true}), 400, ""),
    ] {
        let (got, answer) = server
            .call(
                "POST",
                "/api/v1/promotions",
                Some(&admin),
                Some(body.clone()),
            )
            .await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(answer.to_string().contains(field), "{body}: {answer}");
    }
    server
        .admin(
            "POST",
            "/api/v1/promotions",
            Some(json!({"from": stg, "to": prd})),
        )
        .await;
    let (again, answer) = server
        .call(
            "POST",
            "/api/v1/promotions",
            Some(&admin),
            Some(json!({"from": "AL2-STG", "to": "AL2-PRD"})),
        )
        .await;
    assert_eq!(again, 409, "{answer}");
    let reader = server.token(pw_api::server::tokens::Role::ReadOnly).await;
    let (refused, _) = server
        .call(
            "POST",
            "/api/v1/promotions",
            Some(&reader),
            Some(json!({"from": prd, "to": stg})),
        )
        .await;
    assert_eq!(refused, 403);
}
