//! The scheduler and the runner, driven by a manual clock: executions open at occurrences,
//! rate control (§7.4, §11.16), priorities, cutoff, cancel, overlapping occurrences, one
//! frozen baseline and one evaluation instant per execution.

use jiff::SignedDuration;
use serde_json::{Value, json};

use crate::support::{TestServer, baseline_toml};

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let server = crate::support::TestServer::sqlite().await;
                    super::$case(&server).await;
                    server.finish().await;
                }
            )*
        }
        mod pg {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    // Without PATCHWARDEN_TEST_PG_URL this backend is not configured: nothing to check.
                    let Some(server) = crate::support::TestServer::postgres().await else { return };
                    super::$case(&server).await;
                    server.finish().await;
                }
            )*
        }
    };
}

on_both_backends!(
    install_stops_after_max_errors_and_freezes_one_snapshot,
    ten_percent_of_fifty_stops_at_the_sixth_error,
    overlapping_occurrence_is_skipped,
    cutoff_stops_new_invocations,
    cancel_stops_handing_out_work,
    priorities_run_in_order,
    several_targets_run_one_after_another,
    clock_steps_run_nothing_twice_and_skip_nothing_silently,
);

struct Window {
    id: String,
}

async fn window(server: &TestServer, schedule: &str, duration: u8, cutoff: u8) -> Window {
    let created = server
        .admin("POST", "/api/v1/windows", Some(json!({"name": "patching", "schedule": schedule, "duration_hours": duration, "cutoff_hours": cutoff})))
        .await;
    Window {
        id: created["id"].as_str().unwrap().to_owned(),
    }
}

impl Window {
    async fn target(&self, server: &TestServer, key: &str, value: &str) -> String {
        let target = server
            .admin("POST", &format!("/api/v1/windows/{}/targets", self.id), Some(json!({"targets": [{"key": format!("tag:{key}"), "values": [value]}], "owner_information": "ops"})))
            .await;
        target["id"].as_str().unwrap().to_owned()
    }

    async fn task(&self, server: &TestServer, target: &str, fields: Value) -> String {
        let mut body = json!({"operation": "Install", "targets": [{"key": "WindowTargetIds", "values": [target]}]});
        for (key, value) in fields.as_object().unwrap() {
            body[key] = value.clone();
        }
        server
            .admin(
                "POST",
                &format!("/api/v1/windows/{}/tasks", self.id),
                Some(body),
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Moves the clock to the next opening and lets the scheduler open it; returns the
    /// execution id.
    async fn open(&self, server: &TestServer) -> String {
        let window = server
            .admin("GET", &format!("/api/v1/windows/{}", self.id), None)
            .await;
        server.clock.set(
            window["next_execution_at"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap(),
        );
        server.state.scheduler_tick().await.unwrap();
        let executions = server
            .admin(
                "GET",
                &format!("/api/v1/executions?window_id={}", self.id),
                None,
            )
            .await;
        executions[0]["id"].as_str().unwrap().to_owned()
    }
}

async fn execution(server: &TestServer, id: &str) -> Value {
    server
        .admin("GET", &format!("/api/v1/executions/{id}"), None)
        .await
}

fn statuses(execution: &Value, task: usize) -> Vec<String> {
    execution["tasks"][task]["invocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap().to_owned())
        .collect()
}

/// What a node does with the commands it gets on one poll.
async fn agent(server: &TestServer, credential: &str, outcome: Option<&str>) -> Vec<Value> {
    let (status, value) = server
        .call(
            "GET",
            "/api/v1/agent/commands?wait=0",
            Some(credential),
            None,
        )
        .await;
    assert_eq!(status, 200, "{value}");
    let commands = value["commands"].as_array().unwrap().clone();
    for command in &commands {
        let id = command["id"].as_str().unwrap();
        let (_, ack) = server
            .call(
                "POST",
                &format!("/api/v1/agent/commands/{id}/ack"),
                Some(credential),
                None,
            )
            .await;
        if ack["proceed"] != true {
            continue;
        }
        if let Some(outcome) = outcome {
            let (status, value) = server
                .call(
                    "POST",
                    &format!("/api/v1/agent/commands/{id}/result"),
                    Some(credential),
                    Some(json!({"outcome": outcome})),
                )
                .await;
            assert_eq!(status, 200, "{value}");
        }
    }
    commands
}

async fn tick(server: &TestServer) {
    server.clock.advance(SignedDuration::from_secs(1));
    server.state.runner_tick().await.unwrap();
}

async fn install_stops_after_max_errors_and_freezes_one_snapshot(server: &TestServer) {
    let mut nodes = Vec::new();
    for name in ["n1", "n2", "n3"] {
        nodes.push(
            server
                .enroll(
                    name,
                    "AMAZON_LINUX_2",
                    &[("Env", "prod"), ("Patch Group", "web")],
                )
                .await,
        );
    }
    let baseline = server
        .admin(
            "POST",
            "/api/v1/baselines",
            Some(Value::String(baseline_toml("web-al2", "AMAZON_LINUX_2"))),
        )
        .await;
    let baseline_id = baseline["summary"]["id"].as_str().unwrap().to_owned();
    server
        .admin(
            "POST",
            "/api/v1/patch-groups",
            Some(json!({"patch_group": "web", "baseline_id": baseline_id})),
        )
        .await;
    let window = window(server, "rate(1 day)", 4, 1).await;
    let target = window.target(server, "Env", "prod").await;
    window
        .task(
            server,
            &target,
            json!({"max_concurrency": "1", "max_errors": "0", "reboot_option": "NoReboot"}),
        )
        .await;
    let execution_id = window.open(server).await;

    tick(server).await;
    let first = agent(server, &nodes[0].1, Some("success")).await;
    assert_eq!(first.len(), 1);
    assert!(
        agent(server, &nodes[1].1, None).await.is_empty(),
        "max concurrency 1: one node at a time"
    );
    // Changing the baseline now does not change what this execution applies.
    server
        .admin(
            "PUT",
            &format!("/api/v1/baselines/{baseline_id}"),
            Some(Value::String(
                baseline_toml("web-al2", "AMAZON_LINUX_2")
                    .replace("approve_after_days = 7", "approve_after_days = 1"),
            )),
        )
        .await;
    tick(server).await;
    let second = agent(server, &nodes[1].1, Some("failed")).await;
    assert_eq!(second.len(), 1);
    tick(server).await;
    assert!(
        agent(server, &nodes[2].1, None).await.is_empty(),
        "max errors 0: nothing after the first error"
    );

    let shown = execution(server, &execution_id).await;
    assert_eq!(shown["status"], "FAILED", "{shown}");
    assert_eq!(shown["tasks"][0]["status"], "FAILED");
    assert_eq!(statuses(&shown, 0), ["SUCCESS", "FAILED", "CANCELLED"]);
    assert_eq!(
        shown["tasks"][0]["invocations"][2]["command_id"],
        Value::Null
    );
    assert_eq!(
        shown["tasks"][0]["invocations"][0]["owner_information"],
        "ops"
    );
    // One snapshot: the same baseline text and evaluation instant for every node.
    let (a, b) = (&first[0]["patch"], &second[0]["patch"]);
    assert_eq!(a["baseline_toml"], b["baseline_toml"]);
    assert!(
        a["baseline_toml"]
            .as_str()
            .unwrap()
            .contains("approve_after_days = 7")
    );
    assert_eq!(a["evaluation_instant"], b["evaluation_instant"]);
    assert_eq!(a["evaluation_instant"], shown["evaluation_instant"]);
    assert_eq!(
        (a["snapshot_id"].as_str(), a["patch_group"].as_str()),
        (Some(execution_id.as_str()), Some("web"))
    );
    assert_eq!(a["reboot_option"], "NoReboot");
}

async fn ten_percent_of_fifty_stops_at_the_sixth_error(server: &TestServer) {
    let mut nodes = Vec::new();
    for i in 0..50 {
        nodes.push(
            server
                .enroll(&format!("n{i:02}"), "AMAZON_LINUX_2", &[("Env", "prod")])
                .await,
        );
    }
    let window = window(server, "rate(1 day)", 4, 1).await;
    let target = window.target(server, "Env", "prod").await;
    window
        .task(
            server,
            &target,
            json!({"max_concurrency": "1", "max_errors": "10%"}),
        )
        .await;
    let execution_id = window.open(server).await;
    for _ in 0..60 {
        tick(server).await;
        let shown = execution(server, &execution_id).await;
        if shown["status"] != "IN_PROGRESS" {
            break;
        }
        for invocation in shown["tasks"][0]["invocations"].as_array().unwrap() {
            if invocation["status"] == "IN_PROGRESS" {
                let (_, credential) = nodes
                    .iter()
                    .find(|(id, _)| *id == invocation["node_id"])
                    .unwrap();
                agent(server, credential, Some("failed")).await;
            }
        }
    }
    let shown = execution(server, &execution_id).await;
    let all = statuses(&shown, 0);
    assert_eq!(all.iter().filter(|s| *s == "FAILED").count(), 6, "{all:?}");
    assert_eq!(all.iter().filter(|s| *s == "CANCELLED").count(), 44);
    assert_eq!(
        (
            shown["tasks"][0]["error_threshold"].as_u64(),
            shown["status"].as_str()
        ),
        (Some(5), Some("FAILED"))
    );
}

async fn overlapping_occurrence_is_skipped(server: &TestServer) {
    let (_, _credential) = server
        .enroll("n1", "AMAZON_LINUX_2", &[("Env", "prod")])
        .await;
    let window = window(server, "rate(1 hour)", 4, 1).await;
    let target = window.target(server, "Env", "prod").await;
    window.task(server, &target, json!({})).await;
    let first = window.open(server).await;
    tick(server).await;
    // The node never answers; an hour later the next occurrence finds it still running.
    let second = window.open(server).await;
    assert_ne!(first, second);
    let skipped = execution(server, &second).await;
    assert_eq!(skipped["status"], "SKIPPED_OVERLAPPING", "{skipped}");
    assert_eq!(execution(server, &first).await["status"], "IN_PROGRESS");
}

/// The server's clock stepping back and forward (issue 15): nothing runs twice, and every
/// occurrence skipped over is recorded as a FAILED execution that says it was missed.
async fn clock_steps_run_nothing_twice_and_skip_nothing_silently(server: &TestServer) {
    let (_, credential) = server
        .enroll("n1", "AMAZON_LINUX_2", &[("Env", "prod")])
        .await;
    let window = window(server, "rate(1 day)", 4, 1).await;
    let target = window.target(server, "Env", "prod").await;
    window.task(server, &target, json!({})).await;
    async fn listed(server: &TestServer, window: &str) -> Vec<Value> {
        let mut executions = server
            .admin(
                "GET",
                &format!("/api/v1/executions?window_id={window}"),
                None,
            )
            .await
            .as_array()
            .unwrap()
            .clone();
        executions.sort_by_key(|e| e["scheduled_at"].as_str().unwrap().to_owned());
        executions
    }
    async fn finish(server: &TestServer, credential: &str) {
        for _ in 0..3 {
            tick(server).await;
            agent(server, credential, Some("success")).await;
        }
        tick(server).await;
    }
    let first = window.open(server).await;
    let opened_at: jiff::Timestamp = execution(server, &first).await["scheduled_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    finish(server, &credential).await;
    assert_eq!(execution(server, &first).await["status"], "SUCCESS");
    let day = SignedDuration::from_hours(24);
    // Back two hours, then into the same occurrence again: it is not opened a second time.
    for back in [SignedDuration::from_hours(-2), SignedDuration::from_mins(1)] {
        server.clock.set(opened_at.checked_add(back).unwrap());
        server.state.scheduler_tick().await.unwrap();
        server.state.runner_tick().await.unwrap();
        assert_eq!(listed(server, &window.id).await.len(), 1);
    }
    // Forward three days and two hours: the two days skipped over are recorded as missed,
    // the occurrence still open (before its cutoff) runs.
    server.clock.set(
        opened_at
            .checked_add(day * 3)
            .unwrap()
            .checked_add(SignedDuration::from_hours(2))
            .unwrap(),
    );
    server.state.scheduler_tick().await.unwrap();
    let executions = listed(server, &window.id).await;
    let summary: Vec<_> = executions
        .iter()
        .map(|e| {
            (
                e["scheduled_at"]
                    .as_str()
                    .unwrap()
                    .parse::<jiff::Timestamp>()
                    .unwrap(),
                e["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (opened_at, "SUCCESS".to_owned()),
            (opened_at.checked_add(day).unwrap(), "FAILED".to_owned()),
            (opened_at.checked_add(day * 2).unwrap(), "FAILED".to_owned()),
            (
                opened_at.checked_add(day * 3).unwrap(),
                "IN_PROGRESS".to_owned()
            ),
        ],
        "{executions:#?}"
    );
    let details = executions[1]["status_details"].as_str().unwrap();
    assert!(details.starts_with("missed:"), "{details}");
    assert!(executions[1]["started_at"].is_null());
    finish(server, &credential).await;
    // The same pass again, and once more after another step back: nothing new.
    server.state.scheduler_tick().await.unwrap();
    server.clock.set(opened_at.checked_add(day).unwrap());
    server.state.scheduler_tick().await.unwrap();
    assert_eq!(listed(server, &window.id).await.len(), 4);
}

async fn cutoff_stops_new_invocations(server: &TestServer) {
    let (_, n1) = server
        .enroll("n1", "AMAZON_LINUX_2", &[("Env", "prod")])
        .await;
    let (_, n2) = server
        .enroll("n2", "AMAZON_LINUX_2", &[("Env", "prod")])
        .await;
    let window = window(server, "rate(1 day)", 2, 1).await;
    let target = window.target(server, "Env", "prod").await;
    window
        .task(
            server,
            &target,
            json!({"max_concurrency": "1", "max_errors": "1"}),
        )
        .await;
    let execution_id = window.open(server).await;
    tick(server).await;
    let (_, delivered) = server
        .call("GET", "/api/v1/agent/commands?wait=0", Some(&n1), None)
        .await;
    let command_id = delivered["commands"][0]["id"].as_str().unwrap().to_owned();
    // The node picks the command up but only acknowledges after the cutoff (1 h in).
    server.clock.advance(SignedDuration::from_secs(3601));
    let (_, ack) = server
        .call(
            "POST",
            &format!("/api/v1/agent/commands/{command_id}/ack"),
            Some(&n1),
            None,
        )
        .await;
    assert_eq!(ack["proceed"], false, "{ack}");
    tick(server).await;
    assert!(agent(server, &n2, None).await.is_empty());
    let shown = execution(server, &execution_id).await;
    assert_eq!(statuses(&shown, 0), ["CANCELLED", "CANCELLED"], "{shown}");
    assert_eq!(
        (
            shown["status"].as_str(),
            shown["tasks"][0]["status"].as_str()
        ),
        (Some("TIMED_OUT"), Some("TIMED_OUT"))
    );
}

async fn cancel_stops_handing_out_work(server: &TestServer) {
    let (_, n1) = server
        .enroll("n1", "AMAZON_LINUX_2", &[("Env", "prod")])
        .await;
    let (_, n2) = server
        .enroll("n2", "AMAZON_LINUX_2", &[("Env", "prod")])
        .await;
    let (_, n3) = server
        .enroll("n3", "AMAZON_LINUX_2", &[("Env", "prod")])
        .await;
    let window = window(server, "rate(1 day)", 4, 1).await;
    let target = window.target(server, "Env", "prod").await;
    window
        .task(
            server,
            &target,
            json!({"max_concurrency": "3", "max_errors": "3"}),
        )
        .await;
    let execution_id = window.open(server).await;
    tick(server).await;
    let running = agent(server, &n1, None).await; // acknowledged, still running
    assert_eq!(running.len(), 1);
    tick(server).await; // the ramp lets two more start
    let cancelled = server
        .admin(
            "POST",
            &format!("/api/v1/executions/{execution_id}/cancel"),
            None,
        )
        .await;
    assert_eq!(cancelled["status"], "CANCELLING", "{cancelled}");
    assert!(
        agent(server, &n2, None).await.is_empty(),
        "not acknowledged before the cancel: never runs"
    );
    assert!(agent(server, &n3, None).await.is_empty());
    let id = running[0]["id"].as_str().unwrap();
    server
        .call(
            "POST",
            &format!("/api/v1/agent/commands/{id}/result"),
            Some(&n1),
            Some(json!({"outcome": "success"})),
        )
        .await;
    tick(server).await;
    let shown = execution(server, &execution_id).await;
    assert_eq!(shown["status"], "CANCELLED", "{shown}");
    assert_eq!(statuses(&shown, 0), ["SUCCESS", "CANCELLED", "CANCELLED"]);
}

async fn priorities_run_in_order(server: &TestServer) {
    let (_, n1) = server
        .enroll("n1", "AMAZON_LINUX_2", &[("Env", "prod")])
        .await;
    let window = window(server, "rate(1 day)", 4, 1).await;
    let target = window.target(server, "Env", "prod").await;
    window
        .task(
            server,
            &target,
            json!({"priority": 2, "operation": "Install"}),
        )
        .await;
    window
        .task(server, &target, json!({"priority": 1, "operation": "Scan"}))
        .await;
    let execution_id = window.open(server).await;
    tick(server).await;
    let first = agent(server, &n1, None).await;
    assert_eq!(first[0]["patch"]["operation"], "Scan");
    tick(server).await;
    assert!(
        agent(server, &n1, None).await.is_empty(),
        "priority 2 waits for priority 1"
    );
    let id = first[0]["id"].as_str().unwrap();
    server
        .call(
            "POST",
            &format!("/api/v1/agent/commands/{id}/result"),
            Some(&n1),
            Some(json!({"outcome": "success"})),
        )
        .await;
    tick(server).await;
    tick(server).await;
    let second = agent(server, &n1, Some("success")).await;
    assert_eq!(second[0]["patch"]["operation"], "Install");
    tick(server).await;
    let shown = execution(server, &execution_id).await;
    assert_eq!(shown["status"], "SUCCESS", "{shown}");
    let tasks: Vec<(&str, &str)> = shown["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["operation"].as_str().unwrap(),
                t["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(tasks, [("Scan", "SUCCESS"), ("Install", "SUCCESS")]);
}

/// ssm-reference §7.3: "If a single maintenance window task is registered with multiple
/// targets, its task invocations occur sequentially": the second target's nodes start only
/// when every invocation of the first has ended, whatever the concurrency allows.
async fn several_targets_run_one_after_another(server: &TestServer) {
    let (_, web1) = server
        .enroll("web1", "AMAZON_LINUX_2", &[("Role", "web")])
        .await;
    let (_, web2) = server
        .enroll("web2", "AMAZON_LINUX_2", &[("Role", "web")])
        .await;
    let (_, db1) = server
        .enroll("db1", "AMAZON_LINUX_2", &[("Role", "db")])
        .await;
    let window = window(server, "rate(1 day)", 4, 1).await;
    // The db target is registered first, but the task lists web first: the task's order counts.
    let db = window.target(server, "Role", "db").await;
    let web = window.target(server, "Role", "web").await;
    server
        .admin(
            "POST",
            &format!("/api/v1/windows/{}/tasks", window.id),
            Some(
                json!({"operation": "Scan", "max_concurrency": "10", "max_errors": "1",
                "targets": [{"key": "WindowTargetIds", "values": [web, db]}]}),
            ),
        )
        .await;
    let execution_id = window.open(server).await;
    tick(server).await;
    tick(server).await;
    assert!(
        agent(server, &db1, None).await.is_empty(),
        "the db target waits for the web target"
    );
    assert_eq!(agent(server, &web1, Some("success")).await.len(), 1);
    tick(server).await;
    assert!(
        agent(server, &db1, None).await.is_empty(),
        "web2 is still running: the db target still waits"
    );
    assert_eq!(agent(server, &web2, Some("failed")).await.len(), 1);
    tick(server).await;
    tick(server).await;
    assert_eq!(agent(server, &db1, Some("success")).await.len(), 1);
    tick(server).await;
    let shown = execution(server, &execution_id).await;
    assert_eq!(
        statuses(&shown, 0),
        ["SUCCESS", "FAILED", "SUCCESS"],
        "{shown}"
    );
    assert_eq!(shown["status"], "SUCCESS", "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_two_replicas_share_one_schedule_and_any_serves_any_agent() {
    // Without PATCHWARDEN_TEST_PG_URL there is no shared database: nothing to check.
    let Some(a) = TestServer::postgres().await else {
        return;
    };
    let b = a.replica().await;
    let (n1, c1) = a.enroll("n1", "AMAZON_LINUX_2", &[("Env", "prod")]).await;
    let (_, c2) = b.enroll("n2", "AMAZON_LINUX_2", &[("Env", "prod")]).await;
    let window = window(&a, "rate(1 day)", 4, 1).await;
    let target = window.target(&a, "Env", "prod").await;
    window
        .task(
            &a,
            &target,
            json!({"max_concurrency": "2", "max_errors": "0"}),
        )
        .await;
    let next = a
        .admin("GET", &format!("/api/v1/windows/{}", window.id), None)
        .await["next_execution_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    a.clock.set(next);
    // Both replicas try to open the occurrence at once: one execution.
    let (one, two) = tokio::join!(a.state.scheduler_tick(), b.state.scheduler_tick());
    one.unwrap();
    two.unwrap();
    let executions = b
        .admin(
            "GET",
            &format!("/api/v1/executions?window_id={}", window.id),
            None,
        )
        .await;
    assert_eq!(executions.as_array().unwrap().len(), 1, "{executions}");
    let execution_id = executions[0]["id"].as_str().unwrap().to_owned();
    // Both runners advance concurrently; agents talk to either replica.
    for _ in 0..6 {
        a.clock.advance(SignedDuration::from_secs(1));
        let (one, two) = tokio::join!(a.state.runner_tick(), b.state.runner_tick());
        one.unwrap();
        two.unwrap();
        agent(&b, &c1, Some("success")).await;
        agent(&a, &c2, Some("success")).await;
    }
    let shown = execution(&a, &execution_id).await;
    assert_eq!(shown["status"], "SUCCESS", "{shown}");
    assert_eq!(statuses(&shown, 0), ["SUCCESS", "SUCCESS"]);
    let commands = b
        .admin("GET", &format!("/api/v1/nodes/{n1}/commands"), None)
        .await;
    assert_eq!(
        commands.as_array().unwrap().len(),
        1,
        "one command per invocation, whichever replica dispatched it"
    );
    b.finish().await;
    a.finish().await;
}
