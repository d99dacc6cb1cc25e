//! Webhooks against a receiver on loopback: each event arrives once (a retry has the same
//! delivery id), signed with the shared secret; a receiver that fails is retried with
//! backoff; the delivery log says what happened; bad webhooks are refused naming the field.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use jiff::SignedDuration;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::promotions::{baseline, install_report, post_report};
use crate::support::TestServer;

/// A request the receiver got: its headers (lower-case names) and body.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// A receiver that answers the first `failures` requests 500, then 200.
fn receiver(failures: usize) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let trimmed = line.trim_end();
                if trimmed.is_empty() {
                    break;
                }
                if let Some((k, v)) = trimmed.split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                }
            }
            let length: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            log.lock().unwrap().push(Received {
                headers,
                body: String::from_utf8(body).unwrap(),
            });
            let status = if n < failures { "500 Oops" } else { "200 OK" };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (url, received)
}

fn valid_signature(secret: &str, received: &Received) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(received.body.as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    received.header("x-patchwarden-signature") == format!("sha256={expected}")
}

const SECRET: &str = "a-shared-secret-of-enough-length";

/// AL2-STG and AL2-PRD with a rejecting policy between them, and one STG node: returns the
/// STG baseline's id and the node's credential.
async fn staging_with_policy(server: &TestServer) -> (String, String) {
    let stg = baseline(server, "AL2-STG").await;
    baseline(server, "AL2-PRD").await;
    server
        .admin(
            "POST",
            "/api/v1/promotions",
            Some(json!({"from": "AL2-STG", "to": "AL2-PRD"})),
        )
        .await;
    let (_, credential) = server
        .enroll("stg-1", "AMAZON_LINUX_2", &[("Patch Group", "AL2-STG")])
        .await;
    (stg, credential)
}

#[tokio::test]
async fn events_arrive_once_signed_and_failures_are_retried() {
    let server = TestServer::sqlite().await;
    let (url, received) = receiver(1);
    let webhook = server
        .admin(
            "POST",
            "/api/v1/webhooks",
            Some(json!({"url": url, "secret": SECRET,
                        "events": ["promotion.rejected", "critical.overdue"], "critical_days": 3})),
        )
        .await;
    let id = webhook["id"].as_str().unwrap().to_owned();
    assert!(webhook.get("secret").is_none(), "{webhook}");

    // A promotion policy rejects a version: one event.
    let (stg, credential) = staging_with_policy(&server).await;
    post_report(&server, &credential, install_report(&stg, "curl", "Failed")).await;

    // The first attempt gets a 500: the delivery stays pending with the error, for later.
    server.state.webhook_tick().await;
    let log = server
        .admin("GET", &format!("/api/v1/webhooks/{id}/deliveries"), None)
        .await;
    assert_eq!(log[0]["status"], "pending", "{log:#}");
    assert_eq!(log[0]["attempts"], 1);
    assert_eq!(log[0]["last_error"], "the receiver answered 500");
    // Not due again before its backoff.
    server.state.webhook_tick().await;
    assert_eq!(received.lock().unwrap().len(), 1);
    server.clock.advance(SignedDuration::from_secs(31));
    server.state.webhook_tick().await;
    let log = server
        .admin("GET", &format!("/api/v1/webhooks/{id}/deliveries"), None)
        .await;
    assert_eq!(log[0]["status"], "delivered", "{log:#}");
    assert_eq!(log[0]["response_status"], 200);
    {
        let got = received.lock().unwrap();
        assert_eq!(got.len(), 2);
        // The retry is the same delivery: same id, same body, valid signature.
        assert_eq!(got[0].body, got[1].body);
        assert_eq!(
            got[0].header("x-patchwarden-delivery"),
            got[1].header("x-patchwarden-delivery")
        );
        assert!(valid_signature(SECRET, &got[1]), "{:?}", got[1]);
        assert!(!valid_signature("another-secret-entirely", &got[1]));
        assert_eq!(got[1].header("x-patchwarden-event"), "promotion.rejected");
        let body: Value = serde_json::from_str(&got[1].body).unwrap();
        assert_eq!(body["event"], "promotion.rejected");
        assert_eq!(body["data"]["entry"], "curl-1.1-1.x86_64");
        assert_eq!(body["data"]["evidence"]["nodes"], json!(["stg-1"]));
    }

    // A node missing critical patches longer than 3 days: reported once.
    let (_, debtor) = server
        .enroll("prd-1", "AMAZON_LINUX_2", &[("Patch Group", "AL2-PRD")])
        .await;
    let (status, value) = server
        .call(
            "POST",
            "/api/v1/agent/reports",
            Some(&debtor),
            Some(crate::api::report("Scan", 2, 1)),
        )
        .await;
    assert_eq!(status, 201, "{value}");
    server.clock.advance(SignedDuration::from_hours(24 * 4));
    server.state.webhook_tick().await;
    server.clock.advance(SignedDuration::from_hours(1));
    server.state.webhook_tick().await;
    let got = received.lock().unwrap().clone();
    let overdue: Vec<&Received> = got
        .iter()
        .filter(|r| r.header("x-patchwarden-event") == "critical.overdue")
        .collect();
    assert_eq!(overdue.len(), 1, "{got:?}");
    let body: Value = serde_json::from_str(&overdue[0].body).unwrap();
    assert_eq!(body["data"]["hostname"], "prd-1");
    assert_eq!(body["data"]["days"], 4);
    assert!(valid_signature(SECRET, overdue[0]));
}

#[tokio::test]
async fn bad_webhooks_are_refused_naming_the_field() {
    let server = TestServer::sqlite().await;
    let admin = server.admin.clone();
    for (body, field) in [
        (json!({"url": "ftp://x", "secret": SECRET}), "url"),
        (
            json!({"url": "http://127.0.0.1/h", "secret": "short"}),
            "secret",
        ),
        (
            json!({"url": "http://127.0.0.1/h", "secret": SECRET, "events": ["nope"]}),
            "events",
        ),
        (
            json!({"url": "http://127.0.0.1/h", "secret": SECRET, "critical_days": 0}),
            "critical_days",
        ),
    ] {
        let (status, answer) = server
            .call("POST", "/api/v1/webhooks", Some(&admin), Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["field"], field, "{answer}");
    }
    let operator = server.token(pw_api::server::tokens::Role::Operator).await;
    let (status, _) = server
        .call("GET", "/api/v1/webhooks", Some(&operator), None)
        .await;
    assert_eq!(status, 403);
}

/// `PUT /webhooks/{id}`: settings are replaced, the secret only when one is given, and the
/// deliveries sign with the secret in force.
#[tokio::test]
async fn an_update_replaces_settings_and_the_secret_only_when_given() {
    let server = TestServer::sqlite().await;
    let (url, received) = receiver(0);
    let webhook = server
        .admin(
            "POST",
            "/api/v1/webhooks",
            Some(json!({"url": url, "secret": SECRET, "events": ["execution.ended"]})),
        )
        .await;
    let id = webhook["id"].as_str().unwrap().to_owned();
    const ROTATED: &str = "a-rotated-secret-of-enough-length";
    let updated = server
        .admin(
            "PUT",
            &format!("/api/v1/webhooks/{id}"),
            Some(
                json!({"url": url, "secret": ROTATED, "events": ["promotion.rejected"],
                        "description": "ops"}),
            ),
        )
        .await;
    assert_eq!(
        updated["events"],
        json!(["promotion.rejected"]),
        "{updated}"
    );
    assert!(updated.get("secret").is_none(), "{updated}");

    let (stg, credential) = staging_with_policy(&server).await;
    post_report(&server, &credential, install_report(&stg, "curl", "Failed")).await;
    server.state.webhook_tick().await;
    // Settings without a secret keep the rotated one.
    server
        .admin(
            "PUT",
            &format!("/api/v1/webhooks/{id}"),
            Some(json!({"url": url, "events": ["promotion.rejected"], "description": "ops 2"})),
        )
        .await;
    post_report(
        &server,
        &credential,
        install_report(&stg, "openssl", "Failed"),
    )
    .await;
    server.state.webhook_tick().await;
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    for delivery in &got {
        assert!(valid_signature(ROTATED, delivery), "{delivery:?}");
    }
    let (status, body) = server
        .call(
            "PUT",
            "/api/v1/webhooks/wh-nope",
            Some(&server.admin.clone()),
            Some(json!({"url": url})),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (status, body) = server
        .call(
            "PUT",
            &format!("/api/v1/webhooks/{id}"),
            Some(&server.admin.clone()),
            Some(json!({"url": url, "secret": "short"})),
        )
        .await;
    assert_eq!((status, body["field"].as_str()), (400, Some("secret")));
    server.finish().await;
}
