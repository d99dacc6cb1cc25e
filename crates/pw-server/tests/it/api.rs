//! The admin API through the router: errors and auth, baselines and registrations, nodes,
//! compliance queries and export, windows and their validation.

use pw_api::server::tokens::Role;
use serde_json::{Value, json};

use crate::support::{TestServer, at, baseline_toml};

/// A request and the refusal expected: method, path, secret, body, status, code.
type Refusal<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<Value>,
    u16,
    &'a str,
);

#[tokio::test]
async fn refusals_have_one_error_body() {
    let server = TestServer::sqlite().await;
    let reader = server.token(Role::ReadOnly).await;
    let (_, node_credential) = server.enroll("web-1", "AMAZON_LINUX_2", &[]).await;

    let cases: Vec<Refusal<'_>> = vec![
        ("GET", "/api/v1/nodes", None, None, 401, "unauthenticated"),
        (
            "GET",
            "/api/v1/nodes",
            Some("pwt_not-a-token"),
            None,
            401,
            "unauthenticated",
        ),
        (
            "POST",
            "/api/v1/baselines",
            Some(&reader),
            Some(Value::String(baseline_toml("x-y-z", "AMAZON_LINUX_2"))),
            403,
            "forbidden",
        ),
        (
            "POST",
            "/api/v1/tokens",
            Some(&reader),
            Some(json!({"role": "admin"})),
            403,
            "forbidden",
        ),
        (
            "GET",
            "/api/v1/nodes",
            Some(&node_credential),
            None,
            403,
            "forbidden",
        ),
        (
            "GET",
            "/api/v1/agent/commands",
            Some(&reader),
            None,
            403,
            "forbidden",
        ),
        (
            "GET",
            "/api/v1/no-such-thing",
            Some(&reader),
            None,
            404,
            "not_found",
        ),
        (
            "GET",
            "/api/v1/baselines/pb-00000000000000000",
            Some(&reader),
            None,
            404,
            "not_found",
        ),
    ];
    let long = format!("/api/v1/fleet/nodes?after={}", "a".repeat(9000));
    let mut cases = cases;
    cases.push(("GET", &long, Some(&reader), None, 414, "bad_request"));
    for (method, path, token, body, status, code) in cases {
        let (got_status, value) = server.call(method, path, token, body).await;
        assert_eq!(
            (got_status, value["code"].as_str()),
            (status, Some(code)),
            "{method} {path}: {value}"
        );
        assert!(
            !value["request_id"].as_str().unwrap_or("").is_empty(),
            "{value}"
        );
        assert!(
            !value["message"].as_str().unwrap_or("").is_empty(),
            "{value}"
        );
    }
    server.finish().await;
}

#[track_caller]
fn assert_field(response: &(u16, Value), field: &str) {
    let (status, value) = response;
    assert_eq!(*status, 400, "{value}");
    assert_eq!(value["code"], "bad_request", "{value}");
    assert_eq!(value["field"], field, "{value}");
    let message = value["message"].as_str().unwrap();
    assert!(
        message.starts_with(field),
        "the message names the field: {message}"
    );
    assert!(
        !message.to_lowercase().contains("select ") && !message.contains("sqlx"),
        "{message}"
    );
}

#[tokio::test]
async fn baselines_in_both_formats_and_registrations() {
    let server = TestServer::sqlite().await;
    let admin = server.admin.clone();
    let created = server
        .admin(
            "POST",
            "/api/v1/baselines",
            Some(Value::String(baseline_toml("prod-al2", "AMAZON_LINUX_2"))),
        )
        .await;
    let id = created["summary"]["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("pb-") && id.len() == 20, "{id}");
    assert!(
        created["toml"]
            .as_str()
            .unwrap()
            .contains("name = \"prod-al2\"")
    );

    let aws = json!({
        "Name": "stg-al2", "OperatingSystem": "AMAZON_LINUX_2",
        "ApprovalRules": {"PatchRules": [{"PatchFilterGroup": {"PatchFilters": [{"Key": "CLASSIFICATION", "Values": ["Security"]}]}, "ApproveAfterDays": 0}]}
    });
    let stg = server
        .admin(
            "POST",
            "/api/v1/baselines",
            Some(Value::String(aws.to_string())),
        )
        .await;
    let stg_id = stg["summary"]["id"].as_str().unwrap().to_owned();

    // Errors name the field: a rule value out of range, a duplicate name, a built-in name.
    let bad = baseline_toml("bad-one", "AMAZON_LINUX_2")
        .replace("approve_after_days = 7", "approve_after_days = 361");
    assert_field(
        &server
            .call(
                "POST",
                "/api/v1/baselines",
                Some(&admin),
                Some(Value::String(bad)),
            )
            .await,
        "rules[0].approve_after_days",
    );
    let duplicate = server
        .call(
            "POST",
            "/api/v1/baselines",
            Some(&admin),
            Some(Value::String(baseline_toml("prod-al2", "AMAZON_LINUX_2"))),
        )
        .await;
    assert_eq!(
        (duplicate.0, duplicate.1["code"].as_str()),
        (409, Some("conflict"))
    );

    let listed = server.admin("GET", "/api/v1/baselines", None).await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"prod-al2")
            && names.contains(&"stg-al2")
            && names.contains(&"patchwarden-AmazonLinux2Default"),
        "{names:?}"
    );

    let (status, text) = server
        .call(
            "GET",
            &format!("/api/v1/baselines/{id}?format=toml"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        text.as_str().unwrap().starts_with("version = \"1\""),
        "{text}"
    );
    let (status, aws_text) = server
        .call(
            "GET",
            &format!("/api/v1/baselines/{stg_id}?format=aws-json"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!((status, aws_text["Name"].as_str()), (200, Some("stg-al2")));

    // Default per OS: must match the baseline's OS.
    let mismatch = server
        .call(
            "PUT",
            "/api/v1/default-baselines/UBUNTU",
            Some(&admin),
            Some(json!({"baseline_id": id})),
        )
        .await;
    assert_field(&mismatch, "baseline_id");
    server
        .admin(
            "PUT",
            "/api/v1/default-baselines/AMAZON_LINUX_2",
            Some(json!({"baseline_id": id})),
        )
        .await;
    let defaults = server.admin("GET", "/api/v1/default-baselines", None).await;
    let al2 = defaults
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["operating_system"] == "AMAZON_LINUX_2")
        .unwrap();
    assert_eq!(
        (al2["baseline_id"].as_str(), al2["predefined"].as_bool()),
        (Some(id.as_str()), Some(false))
    );

    // One baseline per patch group per OS.
    server
        .admin(
            "POST",
            "/api/v1/patch-groups",
            Some(json!({"patch_group": "web", "baseline_id": stg_id})),
        )
        .await;
    let again = server
        .call(
            "POST",
            "/api/v1/patch-groups",
            Some(&admin),
            Some(json!({"patch_group": "web", "baseline_id": id})),
        )
        .await;
    assert_eq!(again.0, 409, "{}", again.1);
    assert_field(
        &server
            .call(
                "POST",
                "/api/v1/patch-groups",
                Some(&admin),
                Some(json!({"patch_group": "bad|group", "baseline_id": id})),
            )
            .await,
        "patch_group",
    );
    let shown = server
        .admin("GET", &format!("/api/v1/baselines/{stg_id}"), None)
        .await;
    assert_eq!(shown["patch_groups"], json!(["web"]));

    // Registered baselines cannot be deleted; deregistered ones can.
    let (status, _) = server
        .call(
            "DELETE",
            &format!("/api/v1/baselines/{stg_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 409);
    server
        .admin(
            "DELETE",
            "/api/v1/patch-groups?patch_group=web&operating_system=AMAZON_LINUX_2",
            None,
        )
        .await;
    server
        .admin("DELETE", &format!("/api/v1/baselines/{stg_id}"), None)
        .await;

    // Updating keeps the id; built-ins are read-only.
    let updated = server
        .admin(
            "PUT",
            &format!("/api/v1/baselines/{id}"),
            Some(Value::String(baseline_toml(
                "prod-al2-v2",
                "AMAZON_LINUX_2",
            ))),
        )
        .await;
    assert_eq!(
        (
            updated["summary"]["id"].as_str(),
            updated["summary"]["name"].as_str()
        ),
        (Some(id.as_str()), Some("prod-al2-v2"))
    );
    let (status, _) = server
        .call(
            "PUT",
            "/api/v1/baselines/patchwarden-AmazonLinux2Default",
            Some(&admin),
            Some(Value::String(baseline_toml("x-y-z", "AMAZON_LINUX_2"))),
        )
        .await;
    assert_eq!(status, 409);
    server.finish().await;
}

#[tokio::test]
async fn nodes_tags_and_baseline_resolution() {
    let server = TestServer::sqlite().await;
    let admin = server.admin.clone();
    let (web, _) = server
        .enroll("web-1", "AMAZON_LINUX_2", &[("Patch Group", "web")])
        .await;
    let (db, _) = server.enroll("db-1", "AMAZON_LINUX_2", &[]).await;
    let stg = server
        .admin(
            "POST",
            "/api/v1/baselines",
            Some(Value::String(baseline_toml("stg-al2", "AMAZON_LINUX_2"))),
        )
        .await;
    let stg_id = stg["summary"]["id"].as_str().unwrap().to_owned();
    server
        .admin(
            "POST",
            "/api/v1/patch-groups",
            Some(json!({"patch_group": "web", "baseline_id": stg_id})),
        )
        .await;

    let node = server
        .admin("GET", &format!("/api/v1/nodes/{web}"), None)
        .await;
    assert_eq!(
        (node["patch_group"].as_str(), node["baseline_id"].as_str()),
        (Some("web"), Some(stg_id.as_str()))
    );
    let node = server
        .admin("GET", &format!("/api/v1/nodes/{db}"), None)
        .await;
    assert_eq!(
        (node["patch_group"].as_str(), node["baseline_id"].as_str()),
        (None, Some("patchwarden-AmazonLinux2Default"))
    );

    let operator = server.token(Role::Operator).await;
    let (status, _) = server
        .call("PUT", &format!("/api/v1/nodes/{db}/tags"), Some(&operator), Some(json!({"tags": [{"key": "PatchGroup", "value": "web"}, {"key": "Env", "value": "prod"}]})))
        .await;
    assert_eq!(status, 200);
    let tagged = server
        .admin("GET", "/api/v1/nodes?tag=Env%3Dprod", None)
        .await;
    assert_eq!(tagged.as_array().unwrap().len(), 1);
    assert_eq!(tagged[0]["baseline_id"].as_str(), Some(stg_id.as_str()));
    let duplicate = server
        .call(
            "PUT",
            &format!("/api/v1/nodes/{db}/tags"),
            Some(&admin),
            Some(json!({"tags": [{"key": "A", "value": "1"}, {"key": "A", "value": "2"}]})),
        )
        .await;
    assert_field(&duplicate, "tags[1].key");
    server.finish().await;
}

/// An operation report as the agent uploads it.
pub(crate) fn report(operation: &str, missing: usize, installed: usize) -> Value {
    let mut patches = Vec::new();
    for i in 0..missing {
        patches.push(json!({
            "name": format!("pkg{i}"), "arch": "x86_64", "state": "Missing", "installed": "1.0-1", "target": "1.1-1",
            "compliance_level": "CRITICAL", "classification": "Security", "severity": "Important",
            "cves": [format!("CVE-2025-{i:04}")], "advisories": ["ALAS2-2025-1"], "reason": "rule 0 approves 1.1-1"
        }));
    }
    for i in 0..installed {
        patches.push(json!({
            "name": format!("ok{i}"), "arch": "noarch", "state": "Installed", "installed": "2.0-1", "target": "2.0-1",
            "compliance_level": "UNSPECIFIED", "classification": "Bugfix", "severity": null, "cves": [], "advisories": [], "reason": "at target"
        }));
    }
    let status = if missing > 0 {
        "NON_COMPLIANT"
    } else {
        "COMPLIANT"
    };
    json!({
        "report": {
            "operation_id": "op-1", "operation": operation,
            "started_at": "2025-01-06T00:00:00Z", "ended_at": "2025-01-06T00:01:00Z",
            "host": {"operating_system": "AMAZON_LINUX_2", "product": "AmazonLinux2", "agent_version": "0.1.0"},
            "baseline": "patchwarden-AmazonLinux2Default", "reboot_option": "RebootIfNeeded",
            "summary": {
                "baseline": "patchwarden-AmazonLinux2Default", "evaluated_at": "2025-01-06T00:00:00Z",
                "installed": installed, "installed_other": 0, "installed_rejected": 0, "installed_pending_reboot": 0,
                "not_applicable": 0, "missing": missing, "failed": 0,
                "critical_non_compliant": missing, "security_non_compliant": missing, "other_non_compliant": 0,
                "non_compliant_severity": if missing > 0 { json!("CRITICAL") } else { Value::Null }, "status": status
            },
            "patches": patches
        }
    })
}

#[tokio::test]
async fn compliance_queries_history_and_export() {
    let server = TestServer::sqlite().await;
    let (web, web_credential) = server
        .enroll("web-1", "AMAZON_LINUX_2", &[("Patch Group", "web")])
        .await;
    let (db, db_credential) = server
        .enroll("db-1", "AMAZON_LINUX_2", &[("Patch Group", "db")])
        .await;
    for (credential, body) in [
        (&web_credential, report("Scan", 2, 1)),
        (&web_credential, report("Install", 0, 3)),
        (&db_credential, report("Scan", 1, 1)),
    ] {
        let (status, value) = server
            .call(
                "POST",
                "/api/v1/agent/reports",
                Some(credential),
                Some(body),
            )
            .await;
        assert_eq!(status, 201, "{value}");
    }

    async fn check(server: &TestServer, query: &str, expected: &[&String]) {
        let value = server
            .admin("GET", &format!("/api/v1/compliance/nodes{query}"), None)
            .await;
        let mut got: Vec<String> = value
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["node_id"].as_str().unwrap().to_owned())
            .collect();
        got.sort();
        let mut expected: Vec<String> = expected.iter().map(|id| (*id).clone()).collect();
        expected.sort();
        assert_eq!(got, expected, "{query}");
    }
    check(&server, "", &[&web, &db]).await;
    check(&server, "?filter=missing:GreaterThan:0", &[&db]).await;
    check(&server, "?filter=MissingCount:Equal:0", &[&web]).await;
    check(
        &server,
        "?filter=installed:LessThan:2&filter=missing:NotEqual:0",
        &[&db],
    )
    .await;
    check(&server, "?status=COMPLIANT", &[&web]).await;
    check(&server, "?status=non_compliant", &[&db]).await;
    check(&server, "?patch_group=db", &[&db]).await;
    check(&server, "?filter=missing:GreaterThan:-1", &[&web, &db]).await;
    // What the OpenAPI document's enumerations and patterns refuse, the server refuses too,
    // naming the parameter: a mixed case, a `+` sign, 19 digits, spaces.
    for query in [
        "/api/v1/compliance/nodes?filter=missing:Above:1",
        "/api/v1/compliance/nodes?filter=missing:Equal:%2B1",
        "/api/v1/compliance/nodes?filter=missing:Equal:1000000000000000000",
        "/api/v1/compliance/nodes?filter=missing:Equal:%201",
        "/api/v1/compliance/nodes?status=Compliant",
        "/api/v1/compliance/export?status=Non_Compliant",
        "/api/v1/executions?limit=%2B5",
        "/api/v1/executions?limit=%205",
        "/api/v1/fleet/nodes?state=%20",
        "/api/v1/fleet/nodes?state=Stale",
        "/api/v1/fleet/references/CVE-2026-0001?state=%20",
    ] {
        let (status, value) = server.call("GET", query, Some(&server.admin), None).await;
        let field = query.rsplit_once('?').unwrap().1.split_once('=').unwrap().0;
        assert_eq!(
            (status, value["field"].as_str()),
            (400, Some(field)),
            "{query}: {value}"
        );
    }
    for query in [
        "/api/v1/fleet/nodes?state=",
        "/api/v1/fleet/references/CVE-2026-0001?state=",
        "/api/v1/executions?limit=05",
    ] {
        let (status, value) = server.call("GET", query, Some(&server.admin), None).await;
        assert_eq!(status, 200, "{query}: {value}");
    }

    // History keeps every report, newest first; the latest is the node's state.
    let history = server
        .admin(
            "GET",
            &format!("/api/v1/compliance/nodes/{web}/history"),
            None,
        )
        .await;
    let operations: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["operation"].as_str().unwrap())
        .collect();
    assert_eq!(operations, ["Install", "Scan"]);
    let items = server
        .admin(
            "GET",
            &format!("/api/v1/compliance/nodes/{db}?state=Missing"),
            None,
        )
        .await;
    assert_eq!(items["items"].as_array().unwrap().len(), 1);
    assert_eq!(items["summary"]["missing"], 1);
    let items = server
        .admin(
            "GET",
            &format!("/api/v1/compliance/nodes/{db}?classification=bugfix"),
            None,
        )
        .await;
    assert_eq!(items["items"][0]["name"], "ok0");

    let groups = server
        .admin("GET", "/api/v1/compliance/patch-groups", None)
        .await;
    let db_group = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "db")
        .unwrap();
    assert_eq!(
        (
            db_group["nodes"].as_u64(),
            db_group["nodes_with_missing"].as_u64(),
            db_group["nodes_non_compliant"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    let baselines = server
        .admin("GET", "/api/v1/compliance/baselines", None)
        .await;
    assert_eq!(baselines[0]["nodes"], 2, "{baselines}");

    let (status, csv) = server
        .call(
            "GET",
            "/api/v1/compliance/export?format=csv&state=Missing",
            Some(&server.admin),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let csv = csv.as_str().unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("node_id,hostname,patch_group,baseline_id,"),
        "{csv}"
    );
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[1].contains(",db-1,db,") && lines[1].contains(",Missing,"),
        "{csv}"
    );
    let rows = server
        .admin("GET", "/api/v1/compliance/export?format=json", None)
        .await;
    assert_eq!(rows.as_array().unwrap().len(), 3 + 2);
    server.finish().await;
}

fn window(schedule: &str) -> Value {
    json!({"name": "nightly-patching", "schedule": schedule, "duration_hours": 4, "cutoff_hours": 1})
}

#[tokio::test]
async fn window_fields_are_validated_naming_the_field() {
    let server = TestServer::sqlite().await;
    let admin = server.admin.clone();
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"name": "no", "schedule": "rate(1 day)", "duration_hours": 2, "cutoff_hours": 0}),
            "name",
        ),
        (window("rate(1 hours)"), "schedule"),
        (window("rate(5 hour)"), "schedule"),
        (window("cron(0 2 1 * MON *)"), "schedule"),
        (
            json!({"name": "w-1", "schedule": "rate(1 day)", "duration_hours": 25, "cutoff_hours": 0}),
            "duration_hours",
        ),
        (
            json!({"name": "w-1", "schedule": "rate(1 day)", "duration_hours": 0, "cutoff_hours": 0}),
            "duration_hours",
        ),
        (
            json!({"name": "w-1", "schedule": "rate(1 day)", "duration_hours": 5, "cutoff_hours": 5}),
            "cutoff_hours",
        ),
        (
            json!({"name": "w-1", "schedule": "rate(1 day)", "duration_hours": 5, "cutoff_hours": 1, "schedule_offset": 2}),
            "schedule_offset",
        ),
        (
            json!({"name": "w-1", "schedule": "cron(0 2 ? * TUE#3 *)", "duration_hours": 5, "cutoff_hours": 1, "schedule_offset": 7}),
            "schedule_offset",
        ),
        (
            json!({"name": "w-1", "schedule": "rate(1 day)", "duration_hours": 5, "cutoff_hours": 1, "schedule_timezone": "Mars/Olympus"}),
            "schedule_timezone",
        ),
        (
            json!({"name": "w-1", "schedule": "rate(1 day)", "duration_hours": 5, "cutoff_hours": 1,
                "start_date": "2026-01-01T00:00:00Z", "end_date": "2025-01-01T00:00:00Z"}),
            "end_date",
        ),
        (
            json!({"name": "w-1", "schedule": "rate(1 day)", "duration_hours": "five", "cutoff_hours": 1}),
            "duration_hours",
        ),
        (
            json!({"name": "w-1", "duration_hours": 5, "cutoff_hours": 1}),
            "schedule",
        ),
    ];
    for (body, field) in cases {
        let response = server
            .call("POST", "/api/v1/windows", Some(&admin), Some(body.clone()))
            .await;
        if response.1["field"].is_null() && field == "schedule" && response.0 == 400 {
            // A missing field is reported by the JSON reader, which names it in the message.
            assert!(
                response.1["message"].as_str().unwrap().contains(field),
                "{body}: {}",
                response.1
            );
            continue;
        }
        assert_field(&response, field);
    }
    server.finish().await;
}

#[tokio::test]
async fn next_execution_times_follow_the_schedule() {
    let server = TestServer::sqlite().await;
    server.clock.set(at("2020-12-01T00:00:00Z"));
    // ssm-reference §11.14: the first run is Wednesday 2021-01-06 09:00 in Los Angeles.
    let created = server
        .admin(
            "POST",
            "/api/v1/windows",
            Some(json!({"name": "wed-la", "schedule": "cron(0 09 ? * WED *)", "schedule_timezone": "America/Los_Angeles",
                        "start_date": "2021-01-01T00:00:00-08:00", "duration_hours": 4, "cutoff_hours": 1})),
        )
        .await;
    assert_eq!(created["next_execution_time"], "2021-01-06T09:00-08:00");
    assert_eq!(created["next_execution_at"], "2021-01-06T17:00:00Z");
    let id = created["id"].as_str().unwrap().to_owned();
    let next = server
        .admin("GET", &format!("/api/v1/windows/{id}/next?count=3"), None)
        .await;
    let starts: Vec<&str> = next["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["start"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        [
            "2021-01-06T17:00:00Z",
            "2021-01-13T17:00:00Z",
            "2021-01-20T17:00:00Z"
        ]
    );
    assert_eq!(
        next["occurrences"][0]["last_task_start"],
        "2021-01-06T20:00:00Z"
    );

    let disabled = server
        .admin("POST", &format!("/api/v1/windows/{id}/disable"), None)
        .await;
    assert!(disabled["next_execution_at"].is_null(), "{disabled}");
    let enabled = server
        .admin("POST", &format!("/api/v1/windows/{id}/enable"), None)
        .await;
    assert_eq!(enabled["next_execution_at"], "2021-01-06T17:00:00Z");
    server.finish().await;
}

#[tokio::test]
async fn task_fields_are_validated() {
    let server = TestServer::sqlite().await;
    let admin = server.admin.clone();
    let window = server
        .admin("POST", "/api/v1/windows", Some(window("rate(1 day)")))
        .await;
    let id = window["id"].as_str().unwrap().to_owned();
    let target = server
        .admin(
            "POST",
            &format!("/api/v1/windows/{id}/targets"),
            Some(json!({"targets": [{"key": "tag:Env", "values": ["prod"]}]})),
        )
        .await;
    let target_id = target["id"].as_str().unwrap().to_owned();
    let task = |extra: Value| {
        let mut body = json!({"operation": "Install", "targets": [{"key": "WindowTargetIds", "values": [target_id.clone()]}]});
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    let path = format!("/api/v1/windows/{id}/tasks");
    let cases: Vec<(Value, &str)> = vec![
        (task(json!({"max_concurrency": "0"})), "max_concurrency"),
        (task(json!({"max_concurrency": "101%"})), "max_concurrency"),
        (task(json!({"max_errors": "-1"})), "max_errors"),
        (task(json!({"max_errors": "12345678"})), "max_errors"),
        (
            task(json!({"operation": "Scan", "install_override_list": ["kernel"]})),
            "install_override_list",
        ),
        (task(json!({"timeout_seconds": 5})), "timeout_seconds"),
        (
            task(json!({"targets": [{"key": "WindowTargetIds", "values": ["nope"]}]})),
            "targets[0].values",
        ),
        (
            task(json!({"targets": [{"key": "InstanceIds", "values": ["mi-1"]}]})),
            "targets[0].key",
        ),
        (
            task(json!({"baseline_override": "pb-00000000000000000"})),
            "baseline_override",
        ),
    ];
    for (body, field) in cases {
        assert_field(
            &server.call("POST", &path, Some(&admin), Some(body)).await,
            field,
        );
    }
    let created = server
        .admin(
            "POST",
            &path,
            Some(task(
                json!({"max_concurrency": "10%", "max_errors": "0", "priority": 2}),
            )),
        )
        .await;
    assert_eq!(
        (
            created["spec"]["priority"].as_u64(),
            created["spec"]["cutoff_behavior"].as_str()
        ),
        (Some(2), Some("CONTINUE_TASK"))
    );
    // A target in use cannot be removed.
    let (status, _) = server
        .call(
            "DELETE",
            &format!("/api/v1/windows/{id}/targets/{target_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 409);
    server.finish().await;
}

#[tokio::test]
async fn health_metrics_and_openapi_need_no_token() {
    let server = TestServer::sqlite().await;
    let (status, health) = server.call("GET", "/healthz", None, None).await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let (status, openapi) = server.call("GET", "/openapi.json", None, None).await;
    assert_eq!(
        (
            status,
            openapi["openapi"].as_str().map(|v| v.starts_with('3'))
        ),
        (200, Some(true))
    );
    let (status, metrics) = server.call("GET", "/metrics", None, None).await;
    assert_eq!(status, 200);
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("pw_http_requests_total{route=\"/healthz\",status=\"200\"} 1"),
        "{metrics}"
    );
    server.finish().await;
}

/// Issue 15, defect 5: an array is not an object; unknown nodes are 404 on every node route.
#[tokio::test]
async fn bodies_must_be_objects_and_unknown_nodes_are_404() {
    let server = TestServer::sqlite().await;
    let admin = server.admin.clone();
    let (status, body) = server
        .call_text(
            "POST",
            "/api/v1/activations",
            Some(&admin),
            Some("[null,null]"),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("expected an object"),
        "{body}"
    );
    let (status, _) = server
        .call_text("POST", "/api/v1/activations", Some(&admin), Some("  {}"))
        .await;
    assert_eq!(status, 201);
    for path in [
        "/api/v1/nodes/mi-nope/commands",
        "/api/v1/compliance/nodes/mi-nope/history",
    ] {
        let (status, body) = server.call("GET", path, Some(&admin), None).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["code"], "not_found", "{body}");
    }
    server.finish().await;
}

/// Issue 15, defect 5: tag keys as SSM allows them, never `aws:`; no control characters.
#[tokio::test]
async fn tag_keys_and_values_are_checked() {
    let server = TestServer::sqlite().await;
    let admin = server.admin.clone();
    for (key, value) in [
        ("aws:owner", "x"),
        ("bad\u{1}key", "x"),
        ("Env", "line\nbreak"),
    ] {
        let (status, body) = server
            .call(
                "POST",
                "/api/v1/activations",
                Some(&admin),
                Some(serde_json::json!({"tags": [{"key": key, "value": value}]})),
            )
            .await;
        assert_eq!(status, 400, "{key:?}: {body}");
    }
    let (status, body) = server
        .call(
            "POST",
            "/api/v1/activations",
            Some(&admin),
            Some(serde_json::json!({"tags": [{"key": "Patch Group", "value": "AL2-PRD"}]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    server.finish().await;
}

/// The OpenAPI document declares each operation's query parameters: one it does not declare
/// is refused with its name (a typo is not silently ignored); a number written `1.0` is the
/// integer JSON Schema says it is.
#[tokio::test]
async fn undeclared_query_parameters_are_refused_and_integral_floats_are_integers() {
    let server = TestServer::sqlite().await;
    let admin = server.admin.clone();
    let (status, body) = server
        .call("GET", "/api/v1/nodes?patchgroup=PRD", Some(&admin), None)
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "patchgroup", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("patch_group"),
        "{body}"
    );
    let (status, body) = server
        .call(
            "GET",
            "/api/v1/nodes?patch_group=PRD&os=UBUNTU",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .call_text(
            "POST",
            "/api/v1/activations",
            Some(&admin),
            Some(r#"{"expires_in_hours": 2.0, "max_uses": 3.0}"#),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["info"]["max_uses"], 3, "{body}");
    let (status, body) = server
        .call_text(
            "POST",
            "/api/v1/activations",
            Some(&admin),
            Some(r#"{"max_uses": 2.5}"#),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "max_uses", "{body}");
    server.finish().await;
}
