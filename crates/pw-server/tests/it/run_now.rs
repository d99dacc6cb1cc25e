//! `POST /windows/{id}/run`: an operator opens an execution now, through the scheduler's
//! path: the instant of the request is the start and the evaluation instant, duration and
//! cutoff count from it, a running execution refuses a second run, and the schedule goes on.

use jiff::SignedDuration;
use pw_api::server::tokens::Role;
use serde_json::{Value, json};

use crate::support::{TestServer, at};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let server = TestServer::sqlite().await;
    run_opens_an_execution_now(&server).await;
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg() {
    // Without PATCHWARDEN_TEST_PG_URL this backend is not configured: nothing to check.
    let Some(server) = TestServer::postgres().await else {
        return;
    };
    run_opens_an_execution_now(&server).await;
    server.finish().await;
}

/// Polls once as the node and answers every command it may run with `outcome`; returns
/// the commands.
async fn agent(server: &TestServer, credential: &str, outcome: &str) -> Vec<Value> {
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
        let path = format!("/api/v1/agent/commands/{id}/ack");
        let (_, ack) = server.call("POST", &path, Some(credential), None).await;
        assert_eq!(ack["proceed"], true, "{ack}");
        let path = format!("/api/v1/agent/commands/{id}/result");
        let body = json!({ "outcome": outcome });
        let (status, value) = server
            .call("POST", &path, Some(credential), Some(body))
            .await;
        assert_eq!(status, 200, "{value}");
    }
    commands
}

async fn run_opens_an_execution_now(server: &TestServer) {
    let (node_id, credential) = server
        .enroll("n1", "AMAZON_LINUX_2", &[("Env", "prod")])
        .await;
    // A disabled window still runs on request: the operator asked for it.
    let window = server
        .admin(
            "POST",
            "/api/v1/windows",
            Some(json!({"name": "patching", "schedule": "cron(0 3 ? * SUN *)", "duration_hours": 3, "cutoff_hours": 1, "enabled": false})),
        )
        .await;
    let window_id = window["id"].as_str().unwrap().to_owned();
    let target = server
        .admin(
            "POST",
            &format!("/api/v1/windows/{window_id}/targets"),
            Some(json!({"targets": [{"key": "tag:Env", "values": ["prod"]}]})),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server
        .admin(
            "POST",
            &format!("/api/v1/windows/{window_id}/tasks"),
            Some(json!({"operation": "Scan", "targets": [{"key": "WindowTargetIds", "values": [target]}]})),
        )
        .await;
    let run = format!("/api/v1/windows/{window_id}/run");

    let reader = server.token(Role::ReadOnly).await;
    let (status, _) = server.call("POST", &run, Some(&reader), None).await;
    assert_eq!(status, 403, "a read-only token cannot run a window");
    let (status, _) = server
        .call(
            "POST",
            "/api/v1/windows/mw-nope/run",
            Some(&server.admin),
            None,
        )
        .await;
    assert_eq!(status, 404);

    let now = at("2025-01-08T10:15:30Z");
    server.clock.set(now);
    let (status, opened) = server.call("POST", &run, Some(&server.admin), None).await;
    assert_eq!(status, 201, "{opened}");
    assert_eq!(opened["status"], "IN_PROGRESS", "{opened}");
    for field in ["scheduled_at", "started_at", "evaluation_instant"] {
        assert_eq!(
            opened[field].as_str(),
            Some("2025-01-08T10:15:30Z"),
            "{field}"
        );
    }
    assert_eq!(opened["window_end_at"], "2025-01-08T13:15:30Z");
    assert_eq!(opened["last_task_start_at"], "2025-01-08T12:15:30Z");
    let invocations = opened["tasks"][0]["invocations"].as_array().unwrap();
    assert_eq!(invocations.len(), 1, "{opened}");
    assert_eq!(invocations[0]["node_id"].as_str(), Some(node_id.as_str()));
    let first = opened["id"].as_str().unwrap().to_owned();

    // While it runs, a second run is refused.
    server.clock.advance(SignedDuration::from_secs(1));
    let (status, refused) = server.call("POST", &run, Some(&server.admin), None).await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused.to_string().contains(&first), "{refused}");

    // The runner hands the node its command with the execution's evaluation instant.
    server.state.runner_tick().await.unwrap();
    let commands = agent(server, &credential, "success").await;
    assert_eq!(commands.len(), 1, "{commands:?}");
    assert_eq!(
        commands[0]["patch"]["evaluation_instant"],
        "2025-01-08T10:15:30Z"
    );
    server.clock.advance(SignedDuration::from_secs(1));
    server.state.runner_tick().await.unwrap();
    let shown = server
        .admin("GET", &format!("/api/v1/executions/{first}"), None)
        .await;
    assert_eq!(shown["status"], "SUCCESS", "{shown}");

    // Once it ended, another run gets its own execution.
    let (status, again) = server.call("POST", &run, Some(&server.admin), None).await;
    assert_eq!(status, 201, "{again}");
    assert_ne!(again["id"].as_str(), Some(first.as_str()));
    server
        .admin(
            "POST",
            &format!(
                "/api/v1/executions/{}/cancel",
                again["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    server.clock.advance(SignedDuration::from_secs(1));
    server.state.runner_tick().await.unwrap();

    // The schedule is untouched: enabled, the next occurrence opens as usual.
    let enabled = server
        .admin("POST", &format!("/api/v1/windows/{window_id}/enable"), None)
        .await;
    let next: jiff::Timestamp = enabled["next_execution_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(next, at("2025-01-12T03:00:00Z"));
    server.clock.set(next);
    server.state.scheduler_tick().await.unwrap();
    let executions = server
        .admin(
            "GET",
            &format!("/api/v1/executions?window_id={window_id}"),
            None,
        )
        .await;
    assert_eq!(executions.as_array().unwrap().len(), 3, "{executions}");
    assert_eq!(executions[0]["scheduled_at"], "2025-01-12T03:00:00Z");
    assert_eq!(executions[0]["status"], "IN_PROGRESS", "{executions}");
}
