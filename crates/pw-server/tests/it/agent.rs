//! The agent protocol through the router: enrollment, commands (delivery, redelivery, the
//! acknowledgement gate, idempotent results, isolation between nodes), long-poll wake-up,
//! inventory and preview.

use jiff::SignedDuration;
use pw_api::server::tokens::Role;
use serde_json::{Value, json};

use crate::support::{TestServer, product};

#[tokio::test]
async fn enrollment_refusals_look_alike() {
    let server = TestServer::sqlite().await;
    let code = server
        .admin(
            "POST",
            "/api/v1/activations",
            Some(json!({"max_uses": 1, "expires_in_hours": 1})),
        )
        .await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let enroll = |code: String, os: &'static str| {
        let server = &server;
        async move {
            server
                .call(
                    "POST",
                    "/api/v1/agent/enroll",
                    None,
                    Some(json!({"activation_code": code, "facts": {"hostname": "h1", "operating_system": os, "product": product(os)}})),
                )
                .await
        }
    };
    let (status, value) = enroll(code.clone(), "WINDOWS").await;
    assert_eq!(
        (status, value["field"].as_str()),
        (400, Some("facts.operating_system")),
        "{value}"
    );
    let (status, _) = enroll(code.clone(), "AMAZON_LINUX_2").await;
    assert_eq!(status, 201);
    let (status, used_up) = enroll(code.clone(), "AMAZON_LINUX_2").await;
    assert_eq!(status, 401);
    let (_, unknown) = enroll("pwa_nope".to_owned(), "AMAZON_LINUX_2").await;
    assert_eq!(used_up["message"], unknown["message"]);

    let expiring = server
        .admin(
            "POST",
            "/api/v1/activations",
            Some(json!({"max_uses": 5, "expires_in_hours": 1})),
        )
        .await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    server.clock.advance(SignedDuration::from_hours(2));
    let (status, _) = enroll(expiring, "AMAZON_LINUX_2").await;
    assert_eq!(status, 401);
    let (status, value) = server
        .call(
            "POST",
            "/api/v1/activations",
            Some(&server.admin),
            Some(json!({"max_uses": 0})),
        )
        .await;
    assert_eq!((status, value["field"].as_str()), (400, Some("max_uses")));
    server.finish().await;
}

#[tokio::test]
async fn commands_are_delivered_acknowledged_and_finished_once() {
    let server = TestServer::sqlite().await;
    let (a, a_credential) = server.enroll("a", "AMAZON_LINUX_2", &[]).await;
    let (_, b_credential) = server.enroll("b", "AMAZON_LINUX_2", &[]).await;
    let operator = server.token(Role::Operator).await;
    let (status, created) = server
        .call(
            "POST",
            &format!("/api/v1/nodes/{a}/commands"),
            Some(&operator),
            Some(json!({"operation": "Install", "reboot_option": "NoReboot"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let payload = &created["patch"];
    assert_eq!(
        (
            payload["operation"].as_str(),
            payload["baseline_id"].as_str()
        ),
        (Some("Install"), Some("patchwarden-AmazonLinux2Default"))
    );
    assert!(
        payload["baseline_toml"]
            .as_str()
            .unwrap()
            .contains("operating_system = \"AMAZON_LINUX_2\"")
    );

    let poll = |credential: &str| {
        let server = &server;
        let credential = credential.to_owned();
        async move {
            let (status, value) = server
                .call(
                    "GET",
                    "/api/v1/agent/commands?wait=0",
                    Some(&credential),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{value}");
            value["commands"].as_array().unwrap().clone()
        }
    };
    assert!(
        poll(&b_credential).await.is_empty(),
        "a node sees only its own commands"
    );
    let first = poll(&a_credential).await;
    assert_eq!(
        (
            first.len(),
            first[0]["id"].as_str(),
            first[0]["delivery"].as_u64()
        ),
        (1, Some(id.as_str()), Some(1))
    );
    assert!(
        poll(&a_credential).await.is_empty(),
        "handed out, not yet due for redelivery"
    );
    server.clock.advance(SignedDuration::from_secs(61));
    let again = poll(&a_credential).await;
    assert_eq!(
        again[0]["delivery"], 2,
        "the answer may have been lost: handed out again"
    );

    let ack = |credential: &str| {
        let server = &server;
        let path = format!("/api/v1/agent/commands/{id}/ack");
        let credential = credential.to_owned();
        async move { server.call("POST", &path, Some(&credential), None).await }
    };
    assert_eq!(
        ack(&b_credential).await.0,
        404,
        "another node cannot acknowledge it"
    );
    let (status, first_ack) = ack(&a_credential).await;
    assert_eq!((status, first_ack["proceed"].as_bool()), (200, Some(true)));
    let (_, second_ack) = ack(&a_credential).await;
    assert_eq!(
        (
            second_ack["proceed"].as_bool(),
            second_ack["reason"].as_str()
        ),
        (Some(true), Some("already acknowledged"))
    );
    server.clock.advance(SignedDuration::from_secs(600));
    assert!(
        poll(&a_credential).await.is_empty(),
        "an acknowledged command is never handed out again"
    );

    let result = |credential: &str, outcome: &str| {
        let server = &server;
        let path = format!("/api/v1/agent/commands/{id}/result");
        let credential = credential.to_owned();
        let body = json!({"outcome": outcome, "message": "done"});
        async move {
            server
                .call("POST", &path, Some(&credential), Some(body))
                .await
        }
    };
    assert_eq!(result(&b_credential, "success").await.0, 404);
    let (status, recorded) = result(&a_credential, "success").await;
    assert_eq!(
        (status, recorded["state"].as_str()),
        (200, Some("succeeded"))
    );
    let (_, repeated) = result(&a_credential, "failed").await;
    assert_eq!(repeated["state"], "succeeded", "the first result counts");

    let listed = server
        .admin("GET", &format!("/api/v1/nodes/{a}/commands"), None)
        .await;
    assert_eq!(
        (
            listed[0]["state"].as_str(),
            listed[0]["deliveries"].as_u64()
        ),
        (Some("succeeded"), Some(2))
    );
    // A report may name only the node's own commands.
    let mut body = crate::api::report("Install", 0, 1);
    body["command_id"] = Value::String(id.clone());
    let (status, value) = server
        .call(
            "POST",
            "/api/v1/agent/reports",
            Some(&b_credential),
            Some(body.clone()),
        )
        .await;
    assert_eq!((status, value["field"].as_str()), (400, Some("command_id")));
    let (status, _) = server
        .call(
            "POST",
            "/api/v1/agent/reports",
            Some(&a_credential),
            Some(body),
        )
        .await;
    assert_eq!(status, 201);
    let summary = server
        .admin("GET", &format!("/api/v1/nodes/{a}"), None)
        .await;
    assert_eq!(
        summary["compliance"]["baseline_id"],
        "patchwarden-AmazonLinux2Default"
    );
    server.finish().await;
}

#[tokio::test]
async fn a_waiting_poll_wakes_when_a_command_arrives() {
    let server = TestServer::sqlite().await;
    let (node, credential) = server.enroll("a", "AMAZON_LINUX_2", &[]).await;
    let router = pw_server::router(server.state.clone());
    let waiting = tokio::spawn(async move {
        use http_body_util::BodyExt as _;
        use tower::ServiceExt as _;
        let request = axum::http::Request::builder()
            .uri("/api/v1/agent/commands?wait=20")
            .header("authorization", format!("Bearer {credential}"))
            .body(axum::body::Body::empty())
            .unwrap();
        let response = router.oneshot(request).await.unwrap();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice::<Value>(&bytes).unwrap()
    });
    // Let the poll register, then create the command: the poll answers with it (had it not
    // been woken, it would have answered empty after its wait).
    tokio::task::yield_now().await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    server
        .admin(
            "POST",
            &format!("/api/v1/nodes/{node}/commands"),
            Some(json!({"operation": "Scan"})),
        )
        .await;
    let answer = waiting.await.unwrap();
    assert_eq!(answer["commands"].as_array().unwrap().len(), 1, "{answer}");
    server.finish().await;
}

/// An inventory with a compact catalog: openssl 1.0.2k-19 installed; -24 (old advisory)
/// and -26 (advisory from yesterday) available.
pub(crate) fn inventory() -> Value {
    let package = |release: &str| json!({"name": "openssl", "epoch": 1, "version": "1.0.2k", "release": release, "arch": "x86_64"});
    let advisory = |id: &str, release: &str, updated: &str| {
        json!({"id": id, "kind": "security", "severity": "Important", "updated": updated,
               "references": [{"kind": "cve", "id": format!("CVE-{id}")}], "packages": [package(release)]})
    };
    json!({
        "captured_at": "2025-01-06T00:00:00Z",
        "facts": {"hostname": "a", "operating_system": "AMAZON_LINUX_2", "product": "AmazonLinux2", "agent_version": "0.1.0"},
        "packages": [package("19.amzn2"), {"name": "bash", "version": "4.2", "release": "1", "arch": "x86_64"}],
        "catalog": {
            "packages": [package("19.amzn2"), package("24.amzn2"), package("26.amzn2")],
            "advisories": [advisory("ALAS2-1", "24.amzn2", "2024-12-01T00:00:00Z"), advisory("ALAS2-2", "26.amzn2", "2025-01-05T00:00:00Z")]
        }
    })
}

#[tokio::test]
async fn preview_evaluates_uploaded_inventories() {
    let server = TestServer::sqlite().await;
    let (node, credential) = server.enroll("a", "AMAZON_LINUX_2", &[]).await;
    let (bare, _) = server.enroll("b", "AMAZON_LINUX_2", &[]).await;
    let (status, value) = server
        .call(
            "PUT",
            "/api/v1/agent/inventory",
            Some(&credential),
            Some(inventory()),
        )
        .await;
    assert_eq!(status, 204, "{value}");
    let stored = server
        .admin("GET", &format!("/api/v1/nodes/{node}/inventory"), None)
        .await;
    assert_eq!(stored["packages"].as_array().unwrap().len(), 2);

    let baseline = server
        .admin(
            "POST",
            "/api/v1/baselines",
            Some(Value::String(crate::support::baseline_toml(
                "sec-7d",
                "AMAZON_LINUX_2",
            ))),
        )
        .await;
    let baseline_id = baseline["summary"]["id"].as_str().unwrap().to_owned();
    let preview = |at: &str| {
        let server = &server;
        let body = json!({"baseline_id": baseline_id, "node_ids": [node, bare], "at": at});
        async move { server.admin("POST", "/api/v1/preview", Some(body)).await }
    };
    let now = preview("2025-01-06T00:00:00Z").await;
    let openssl = |value: &Value| {
        let patches = value["nodes"][0]["evaluation"]["patches"]
            .as_array()
            .unwrap()
            .clone();
        let item = patches
            .into_iter()
            .find(|p| p["name"] == "openssl")
            .unwrap();
        (
            item["state"].as_str().unwrap().to_owned(),
            item["target"].as_str().unwrap_or("").to_owned(),
        )
    };
    assert_eq!(
        openssl(&now),
        ("Missing".to_owned(), "1:1.0.2k-24.amzn2".to_owned()),
        "{now}"
    );
    assert_eq!(
        now["nodes"][1]["error"],
        "the node has not uploaded an inventory yet"
    );
    // Later, the newer advisory is 7 days old: the target moves.
    let later = preview("2025-01-13T00:00:00Z").await;
    assert_eq!(
        openssl(&later),
        ("Missing".to_owned(), "1:1.0.2k-26.amzn2".to_owned()),
        "{later}"
    );
    // Without a baseline id each node gets its own (here the OS default).
    let own = server
        .admin(
            "POST",
            "/api/v1/preview",
            Some(json!({"targets": [{"key": "InstanceIds", "values": [node]}]})),
        )
        .await;
    assert_eq!(
        own["nodes"][0]["baseline_id"],
        "patchwarden-AmazonLinux2Default"
    );
    let (status, value) = server
        .call(
            "POST",
            "/api/v1/preview",
            Some(&server.admin),
            Some(json!({})),
        )
        .await;
    assert_eq!((status, value["field"].as_str()), (400, Some("node_ids")));
    // Pages, in node id order: one node each, then the end.
    let mut ids = [node.clone(), bare.clone()];
    ids.sort();
    let page = |after: Option<&str>| {
        let server = &server;
        let body = json!({"node_ids": [node, bare], "limit": 1, "after": after,
                          "states": ["Missing"]});
        async move { server.admin("POST", "/api/v1/preview", Some(body)).await }
    };
    let first = page(None).await;
    assert_eq!(first["nodes"].as_array().unwrap().len(), 1, "{first}");
    assert_eq!(first["nodes"][0]["node_id"], ids[0].as_str());
    assert_eq!(first["next"], ids[0].as_str());
    let second = page(Some(&ids[0])).await;
    assert_eq!(second["nodes"][0]["node_id"], ids[1].as_str(), "{second}");
    assert!(second.get("next").is_none_or(Value::is_null), "{second}");
    for (body, field) in [
        (json!({"node_ids": [node], "limit": 0}), "limit"),
        (json!({"node_ids": [node], "limit": 1001}), "limit"),
        (json!({"node_ids": [node], "after": node}), "after"),
        (
            json!({"node_ids": [node], "states": ["Installed", "Broken"]}),
            "states[1]",
        ),
    ] {
        let (status, value) = server
            .call("POST", "/api/v1/preview", Some(&server.admin), Some(body))
            .await;
        assert_eq!(
            (status, value["field"].as_str()),
            (400, Some(field)),
            "{value}"
        );
    }
    server.finish().await;
}

/// Issue 15, defect 3: where a report counts comes from the command it answers; a report
/// without one names no execution and only an existing baseline; a result points only at
/// the node's own report.
#[tokio::test]
async fn reports_and_results_point_only_where_they_belong() {
    let server = TestServer::sqlite().await;
    let (a, a_credential) = server.enroll("a", "AMAZON_LINUX_2", &[]).await;
    let (_, b_credential) = server.enroll("b", "AMAZON_LINUX_2", &[]).await;
    let operator = server.token(Role::Operator).await;
    let (_, created) = server
        .call(
            "POST",
            &format!("/api/v1/nodes/{a}/commands"),
            Some(&operator),
            Some(json!({"operation": "Scan", "reboot_option": "NoReboot"})),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let post = |credential: &str, body: Value| {
        let server = &server;
        let credential = credential.to_owned();
        async move {
            server
                .call(
                    "POST",
                    "/api/v1/agent/reports",
                    Some(&credential),
                    Some(body),
                )
                .await
        }
    };
    // Another baseline than the command's, or an execution it does not have: refused.
    let mut body = crate::api::report("Scan", 0, 1);
    body["command_id"] = Value::String(id.clone());
    body["baseline_id"] = Value::String("someone-elses-baseline".to_owned());
    let (status, value) = post(&a_credential, body.clone()).await;
    assert_eq!(
        (status, value["field"].as_str()),
        (400, Some("baseline_id")),
        "{value}"
    );
    body["baseline_id"] = Value::Null;
    body["execution_id"] = Value::String("ex-not-mine".to_owned());
    let (status, value) = post(&a_credential, body.clone()).await;
    assert_eq!(
        (status, value["field"].as_str()),
        (400, Some("execution_id")),
        "{value}"
    );
    // Without a command: no execution, and only a baseline that exists.
    let mut loose = crate::api::report("Scan", 0, 1);
    loose["execution_id"] = Value::String("ex-1".to_owned());
    assert_eq!(post(&a_credential, loose.clone()).await.0, 400);
    loose["execution_id"] = Value::Null;
    loose["baseline_id"] = Value::String("no\u{0}such".to_owned());
    assert_eq!(post(&a_credential, loose).await.0, 400);
    // B files a report of its own; A's result may not point at it.
    let (status, b_report) = post(&b_credential, crate::api::report("Scan", 0, 1)).await;
    assert_eq!(status, 201, "{b_report}");
    let (status, value) = server
        .call(
            "POST",
            &format!("/api/v1/agent/commands/{id}/result"),
            Some(&a_credential),
            Some(json!({"outcome": "success", "report_id": b_report["report_id"]})),
        )
        .await;
    assert_eq!(
        (status, value["field"].as_str()),
        (400, Some("report_id")),
        "{value}"
    );
    // The right way: the command's report, then a result pointing at it.
    body["execution_id"] = Value::Null;
    let (status, a_report) = post(&a_credential, body).await;
    assert_eq!(status, 201, "{a_report}");
    let (status, value) = server
        .call(
            "POST",
            &format!("/api/v1/agent/commands/{id}/result"),
            Some(&a_credential),
            Some(json!({"outcome": "success", "report_id": a_report["report_id"]})),
        )
        .await;
    assert_eq!(status, 200, "{value}");
    server.finish().await;
}

/// Issue 15, defect 4: the unauthenticated enrollment route takes a small body only; a
/// baseline description longer than SSM's 1,024 characters is refused, naming the field.
#[tokio::test]
async fn size_limits_before_authentication_and_on_baseline_text() {
    let server = TestServer::sqlite().await;
    let big = "x".repeat(200 * 1024);
    let (status, value) = server
        .call_text(
            "POST",
            "/api/v1/agent/enroll",
            None,
            Some(&format!("{{\"activation_code\": \"{big}\"}}")),
        )
        .await;
    assert_eq!(status, 413, "{value}");
    let toml = format!(
        "version = \"1\"\nname = \"long-description\"\noperating_system = \"AMAZON_LINUX_2\"\ndescription = \"{}\"\n",
        "d".repeat(1025)
    );
    let (status, value) = server
        .call(
            "POST",
            "/api/v1/baselines",
            Some(&server.admin.clone()),
            Some(Value::String(toml)),
        )
        .await;
    assert_eq!(status, 400, "{value}");
    assert!(
        value["message"].as_str().unwrap().contains("description"),
        "{value}"
    );
    server.finish().await;
}
