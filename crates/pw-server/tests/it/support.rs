//! The test harness: a server state on a fresh store with a manual clock, an admin token,
//! and helpers to call the router and to enroll nodes.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt as _;
use jiff::Timestamp;
use pw_api::server::tokens::Role;
use pw_server::{AppState, ManualClock, ServerSettings};
use pw_store::{Store, StoreSettings, ids};
use serde_json::{Value, json};
use tower::ServiceExt as _;

pub(crate) struct TestServer {
    pub(crate) state: AppState,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) admin: String,
    _dir: Option<tempfile::TempDir>,
    schema: Option<String>,
}

pub(crate) fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

pub(crate) fn pg_url() -> Option<String> {
    std::env::var_os("PATCHWARDEN_TEST_PG_URL").and_then(|url| url.into_string().ok())
}

impl TestServer {
    async fn with_store(
        store: Store,
        dir: Option<tempfile::TempDir>,
        schema: Option<String>,
    ) -> TestServer {
        let clock = Arc::new(ManualClock::new(at("2025-01-06T00:00:00Z")));
        let state = AppState::new(store, clock.clone(), ServerSettings::default());
        let admin = pw_server::create_token(
            state.store(),
            Role::Admin,
            Some("test".to_owned()),
            clock_now(&clock),
        )
        .await
        .unwrap()
        .token;
        TestServer {
            state,
            clock,
            admin,
            _dir: dir,
            schema,
        }
    }

    pub(crate) async fn sqlite() -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&StoreSettings::sqlite(&dir.path().join("server.db")))
            .await
            .unwrap();
        TestServer::with_store(store, Some(dir), None).await
    }

    pub(crate) async fn postgres() -> Option<TestServer> {
        let url = pg_url()?;
        let schema = format!("pw_test_{}", ids::short_id("").to_lowercase());
        let store = Store::connect(&StoreSettings {
            url,
            max_connections: Some(6),
            schema: Some(schema.clone()),
        })
        .await
        .unwrap();
        Some(TestServer::with_store(store, None, Some(schema)).await)
    }

    /// Another replica on the same PostgreSQL schema, with the same clock and admin token.
    pub(crate) async fn replica(&self) -> TestServer {
        let url = pg_url().expect("replicas need PostgreSQL");
        let schema = self
            .schema
            .clone()
            .expect("replicas need a PostgreSQL schema");
        let store = Store::connect(&StoreSettings {
            url,
            max_connections: Some(6),
            schema: Some(schema),
        })
        .await
        .unwrap();
        let state = AppState::new(store, self.clock.clone(), ServerSettings::default());
        TestServer {
            state,
            clock: self.clock.clone(),
            admin: self.admin.clone(),
            _dir: None,
            schema: None,
        }
    }

    pub(crate) async fn finish(self) {
        if let Some(schema) = &self.schema {
            self.state.store().drop_schema(schema).await.unwrap();
        }
        self.state.store().close().await;
    }

    pub(crate) fn now(&self) -> Timestamp {
        clock_now(&self.clock)
    }

    /// Calls the router; returns the status and the body (JSON, or a JSON string for text).
    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let text = body.map(|body| match body {
            Value::String(text) => text,
            other => other.to_string(),
        });
        self.call_text(method, path, token, text.as_deref()).await
    }

    pub(crate) async fn call_text(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request
            .body(Body::from(body.unwrap_or("").to_owned()))
            .unwrap();
        let response = pw_server::router(self.state.clone())
            .oneshot(request)
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }

    /// Calls as admin and expects a 2xx.
    pub(crate) async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self
            .call(method, path, Some(&self.admin.clone()), body)
            .await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {value}"
        );
        value
    }

    pub(crate) async fn token(&self, role: Role) -> String {
        pw_server::create_token(self.state.store(), role, None, self.now())
            .await
            .unwrap()
            .token
    }

    /// Enrolls a node; returns (node id, credential).
    pub(crate) async fn enroll(
        &self,
        hostname: &str,
        os: &str,
        tags: &[(&str, &str)],
    ) -> (String, String) {
        let code = self
            .admin(
                "POST",
                "/api/v1/activations",
                Some(json!({ "max_uses": 1 })),
            )
            .await["code"]
            .as_str()
            .unwrap()
            .to_owned();
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({ "key": k, "value": v }))
            .collect();
        let (status, value) = self
            .call(
                "POST",
                "/api/v1/agent/enroll",
                None,
                Some(json!({
                    "activation_code": code,
                    "facts": { "hostname": hostname, "operating_system": os, "product": product(os), "agent_version": "0.1.0" },
                    "tags": tags,
                })),
            )
            .await;
        assert_eq!(status, 201, "{value}");
        (
            value["node_id"].as_str().unwrap().to_owned(),
            value["credential"].as_str().unwrap().to_owned(),
        )
    }
}

fn clock_now(clock: &ManualClock) -> Timestamp {
    pw_server::Clock::now(clock)
}

pub(crate) fn product(os: &str) -> &'static str {
    match os {
        "AMAZON_LINUX_2" => "AmazonLinux2",
        "AMAZON_LINUX_2023" => "AmazonLinux2023",
        "UBUNTU" => "Ubuntu22.04",
        _ => "RedhatEnterpriseLinux9.4",
    }
}

/// A native baseline file.
pub(crate) fn baseline_toml(name: &str, os: &str) -> String {
    format!(
        "version = \"1\"\nname = \"{name}\"\noperating_system = \"{os}\"\n\n[[rules]]\nclassification = [\"Security\"]\napprove_after_days = 7\ncompliance_level = \"CRITICAL\"\n"
    )
}
