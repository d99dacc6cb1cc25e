//! Webhooks: events are queued as deliveries in the store (one per subscribed webhook), and
//! the scheduler's replica sends them: a JSON POST signed with the webhook's secret, retried
//! with exponential backoff until it answers 2xx or the attempts run out. A body and its
//! delivery id are the same on every attempt, so a receiver can tell a retry from a new event.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use pw_api::limits;
use pw_api::server::webhooks::{EVENTS, Webhook, WebhookDelivery, WebhookSpec, WebhookUpdate};
use pw_store::{DeliveryRecord, WebhookRecord, ids};

use crate::AppState;
use crate::error::ApiError;
use crate::service::{stored_json, to_json};
use crate::ssm::sigv4::{hex, hmac};

/// Attempts before a delivery is given up (about 4 hours of backoff in all).
const ATTEMPTS: i64 = 8;
/// How long a receiver may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Checks a webhook's settings, and its secret when `secret` is given.
fn validate(spec: &WebhookSpec, secret: Option<&str>) -> Result<(), ApiError> {
    if !limits::webhook_url_ok(&spec.url) {
        return Err(ApiError::field(
            "url",
            "must be an http:// or https:// URL of at most 2048 characters",
        ));
    }
    if let Some(secret) = secret
        && !limits::WEBHOOK_SECRET.contains(&secret.chars().count())
    {
        return Err(ApiError::field(
            "secret",
            format!(
                "{} characters",
                limits::range_message(&limits::WEBHOOK_SECRET)
            ),
        ));
    }
    for event in &spec.events {
        if !EVENTS.contains(&event.as_str()) {
            return Err(ApiError::field(
                "events",
                format!("`{event}` is not one of {}", EVENTS.join(", ")),
            ));
        }
    }
    if let Some(days) = spec.critical_days
        && !limits::CRITICAL_DAYS.contains(&days)
    {
        return Err(ApiError::field(
            "critical_days",
            limits::range_message(&limits::CRITICAL_DAYS),
        ));
    }
    if !limits::within(spec.description.as_deref(), limits::DESCRIPTION_MAX) {
        return Err(ApiError::field(
            "description",
            limits::length_message(limits::DESCRIPTION_MAX),
        ));
    }
    Ok(())
}

/// Days after which missing Critical patches are overdue, when a webhook does not say.
const DEFAULT_CRITICAL_DAYS: u32 = 7;

/// Whether a webhook with `spec` wants `event` (no events listed: every event).
fn subscribes(spec: &WebhookSpec, event: &str) -> bool {
    spec.events.is_empty() || spec.events.iter().any(|e| e == event)
}

/// The body every delivery carries: a fresh id, the event, when, and its data.
fn envelope(event: &str, at: Timestamp, data: &serde_json::Value) -> String {
    serde_json::json!({ "id": ids::guid(), "event": event, "at": at, "data": data }).to_string()
}

fn to_wire(record: &WebhookRecord) -> Result<Webhook, ApiError> {
    let spec: WebhookSpec = stored_json("webhook", &record.spec_json)?;
    Ok(Webhook {
        id: record.id.clone(),
        url: record.url.clone(),
        events: spec.events,
        description: spec.description,
        critical_days: spec.critical_days.unwrap_or(DEFAULT_CRITICAL_DAYS),
        created_at: record.created_at,
    })
}

pub(crate) async fn create(
    state: &AppState,
    actor: &str,
    spec: &WebhookSpec,
) -> Result<Webhook, ApiError> {
    validate(spec, Some(&spec.secret))?;
    let mut kept = spec.clone();
    kept.secret = String::new();
    let record = WebhookRecord {
        id: ids::short_id("wh-"),
        url: spec.url.clone(),
        secret: spec.secret.clone(),
        spec_json: to_json(&kept)?,
        created_at: state.now(),
    };
    state.store().create_webhook(&record).await?;
    state
        .store()
        .audit(state.now(), actor, "webhook.create", Some(&record.id), None)
        .await?;
    to_wire(&record)
}

/// Replaces a webhook's settings (and its secret when the update has one).
pub(crate) async fn update(
    state: &AppState,
    actor: &str,
    id: &str,
    update: &WebhookUpdate,
) -> Result<Webhook, ApiError> {
    // What is kept of the settings: everything but the secret.
    let kept = WebhookSpec {
        url: update.url.clone(),
        secret: String::new(),
        events: update.events.clone(),
        description: update.description.clone(),
        critical_days: update.critical_days,
    };
    validate(&kept, update.secret.as_deref())?;
    state
        .store()
        .update_webhook(id, &update.url, update.secret.as_deref(), &to_json(&kept)?)
        .await?;
    state
        .store()
        .audit(state.now(), actor, "webhook.update", Some(id), None)
        .await?;
    let record = state
        .store()
        .webhooks()
        .await?
        .into_iter()
        .find(|record| record.id == id)
        .ok_or_else(|| ApiError::not_found("webhook", id))?;
    to_wire(&record)
}

pub(crate) async fn list(state: &AppState) -> Result<Vec<Webhook>, ApiError> {
    state
        .store()
        .webhooks()
        .await?
        .iter()
        .map(to_wire)
        .collect()
}

pub(crate) async fn delete(state: &AppState, actor: &str, id: &str) -> Result<(), ApiError> {
    state.store().delete_webhook(id).await?;
    state
        .store()
        .audit(state.now(), actor, "webhook.delete", Some(id), None)
        .await?;
    Ok(())
}

pub(crate) async fn deliveries(
    state: &AppState,
    id: &str,
) -> Result<Vec<WebhookDelivery>, ApiError> {
    if !state.store().webhooks().await?.iter().any(|w| w.id == id) {
        return Err(ApiError::not_found("webhook", id));
    }
    Ok(state
        .store()
        .deliveries(id, 200)
        .await?
        .into_iter()
        .map(|d| WebhookDelivery {
            id: d.id,
            event: d.event,
            next_attempt_at: (d.status == "pending").then_some(d.next_attempt_at),
            status: d.status,
            attempts: u32::try_from(d.attempts).unwrap_or(u32::MAX),
            last_error: d.last_error,
            response_status: d.response_status.and_then(|s| u16::try_from(s).ok()),
            created_at: d.created_at,
            delivered_at: d.delivered_at,
            body: serde_json::from_str(&d.body).unwrap_or_default(),
        })
        .collect())
}

/// Queues `event` with `data` for every webhook that subscribes to it; `dedupe_key` makes
/// an event once per webhook. Failures are logged: an event never fails what caused it.
pub(crate) async fn notify(
    state: &AppState,
    event: &'static str,
    dedupe_key: Option<&str>,
    data: serde_json::Value,
) {
    let webhooks = match state.store().webhooks().await {
        Ok(webhooks) => webhooks,
        Err(error) => {
            tracing::warn!(error = %crate::error::chain(&error), event, "could not read webhooks");
            return;
        }
    };
    for webhook in webhooks {
        let Ok(spec) = stored_json::<WebhookSpec>("webhook", &webhook.spec_json) else {
            continue;
        };
        if !subscribes(&spec, event) {
            continue;
        }
        let body = envelope(event, state.now(), &data);
        if let Err(error) = state
            .store()
            .enqueue_delivery(&webhook.id, event, dedupe_key, &body, state.now())
            .await
        {
            tracing::warn!(webhook = webhook.id, event, error = %crate::error::chain(&error), "could not queue a webhook delivery");
        }
    }
}

/// `sha256=<hex>`: the HMAC-SHA256 of `body` with `secret`.
pub(crate) fn signature(secret: &str, body: &str) -> String {
    format!("sha256={}", hex(&hmac(secret.as_bytes(), body.as_bytes())))
}

/// The wait after `attempts` failed attempts: 30 s after the first, doubling, at most an
/// hour.
fn backoff(attempts: i64) -> SignedDuration {
    let seconds = 30_i64
        .saturating_mul(1_i64 << (attempts - 1).clamp(0, 20))
        .min(3_600);
    SignedDuration::from_secs(seconds)
}

/// One POST: `Ok(status)` for an answer, `Err` for no answer.
fn post(
    agent: &ureq::Agent,
    url: &str,
    delivery: &DeliveryRecord,
    secret: &str,
) -> Result<u16, String> {
    let id = serde_json::from_str::<serde_json::Value>(&delivery.body)
        .ok()
        .and_then(|body| body.get("id")?.as_str().map(str::to_owned))
        .unwrap_or_default();
    agent
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-Patchwarden-Event", delivery.event.as_str())
        .header("X-Patchwarden-Delivery", id.as_str())
        .header(
            "X-Patchwarden-Signature",
            signature(secret, &delivery.body).as_str(),
        )
        .send(delivery.body.as_str())
        .map(|response| response.status().as_u16())
        .map_err(|error| error.to_string())
}

/// Sends the deliveries that are due (the scheduler's replica calls it every tick).
pub(crate) async fn deliver_due(state: &AppState) {
    let now = state.now();
    let due = match state.store().due_deliveries(now, 50).await {
        Ok(due) => due,
        Err(error) => {
            tracing::warn!(error = %crate::error::chain(&error), "could not read webhook deliveries");
            return;
        }
    };
    if due.is_empty() {
        return;
    }
    let Ok(webhooks) = state.store().webhooks().await else {
        return;
    };
    // One client for the pass (a clone shares its connection pool).
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(TIMEOUT))
        .user_agent(concat!("patchwarden-server/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    for delivery in due {
        let Some(webhook) = webhooks.iter().find(|w| w.id == delivery.webhook_id) else {
            continue;
        };
        let (agent, url, secret, sent) = (
            agent.clone(),
            webhook.url.clone(),
            webhook.secret.clone(),
            delivery.clone(),
        );
        let outcome = tokio::task::spawn_blocking(move || post(&agent, &url, &sent, &secret))
            .await
            .unwrap_or_else(|error| Err(error.to_string()));
        let attempts = delivery.attempts + 1;
        let now = state.now();
        let (status, error, response, delivered) = match outcome {
            Ok(code) if (200..300).contains(&code) => ("delivered", None, Some(code), Some(now)),
            Ok(code) => (
                "pending",
                Some(format!("the receiver answered {code}")),
                Some(code),
                None,
            ),
            Err(error) => ("pending", Some(error), None, None),
        };
        let status = if status == "pending" && attempts >= ATTEMPTS {
            "failed"
        } else {
            status
        };
        let next = now.checked_add(backoff(attempts)).unwrap_or(Timestamp::MAX);
        if let Err(error) = state
            .store()
            .record_attempt(
                delivery.id,
                status,
                attempts,
                next,
                error.as_deref(),
                response.map(i64::from),
                delivered,
            )
            .await
        {
            tracing::warn!(error = %crate::error::chain(&error), "could not record a webhook attempt");
        }
    }
}

/// Queues `critical.overdue` for every node missing critical patches longer than each
/// webhook's `critical_days`, once per node and stretch of debt.
pub(crate) async fn notify_overdue(state: &AppState) {
    let Ok(webhooks) = state.store().webhooks().await else {
        return;
    };
    let wanted: Vec<(WebhookRecord, u32)> = webhooks
        .into_iter()
        .filter_map(|w| {
            let spec: WebhookSpec = stored_json("webhook", &w.spec_json).ok()?;
            subscribes(&spec, "critical.overdue")
                .then(|| (w, spec.critical_days.unwrap_or(DEFAULT_CRITICAL_DAYS)))
        })
        .collect();
    if wanted.is_empty() {
        return;
    }
    let Ok(debt) = state.store().critical_debt().await else {
        return;
    };
    let now = state.now();
    for node in debt {
        let days = now.duration_since(node.since).as_hours().div_euclid(24);
        for (webhook, limit) in &wanted {
            if days < i64::from(*limit) {
                continue;
            }
            let key = format!(
                "critical.overdue:{}:{}",
                node.node_id,
                node.since.as_second()
            );
            let body = envelope(
                "critical.overdue",
                now,
                &serde_json::json!({"node_id": node.node_id, "hostname": node.hostname,
                    "patch_group": node.patch_group, "critical_missing": node.critical,
                    "since": node.since, "days": days}),
            );
            let _ = state
                .store()
                .enqueue_delivery(&webhook.id, "critical.overdue", Some(&key), &body, now)
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_and_backoff() {
        // HMAC-SHA256 test vector (RFC 4231, test case 2).
        assert_eq!(
            signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(backoff(1), SignedDuration::from_secs(30));
        assert_eq!(backoff(2), SignedDuration::from_secs(60));
        assert_eq!(backoff(4), SignedDuration::from_secs(240));
        assert_eq!(backoff(12), SignedDuration::from_secs(3_600));
    }
}
