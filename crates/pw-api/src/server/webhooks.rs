//! Webhooks (`/api/v1/webhooks`): JSON POSTs, signed with a shared secret, on what operators
//! want to hear about. Each body is `{"id", "event", "at", "data"}`; the headers carry the
//! event (`X-Patchwarden-Event`), the delivery id (`X-Patchwarden-Delivery`, the same on every
//! retry) and the signature (`X-Patchwarden-Signature: sha256=<hex HMAC-SHA256 of the body
//! with the secret>`).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Every event a webhook can subscribe to.
pub const EVENTS: [&str; 5] = [
    "execution.ended",
    "invocation.failed",
    "promotion.rejected",
    "promotion.approved",
    "critical.overdue",
];

/// A webhook as it is created (`POST /api/v1/webhooks`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    /// `http://` or `https://`, at most 2048 characters.
    #[cfg_attr(feature = "schema", schemars(length(max = crate::limits::WEBHOOK_URL_MAX), pattern(crate::limits::WEBHOOK_URL_PATTERN)))]
    pub url: String,
    /// The shared secret that signs every body (16 to 256 characters). Never answered back.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[cfg_attr(feature = "schema", schemars(length(min = *crate::limits::WEBHOOK_SECRET.start(), max = *crate::limits::WEBHOOK_SECRET.end())))]
    pub secret: String,
    /// Events to send (see `EVENTS`); empty sends every event.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(extend("items" = {"type": "string", "enum": EVENTS}))
    )]
    pub events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(max = crate::limits::DESCRIPTION_MAX)))]
    pub description: Option<String>,
    /// `critical.overdue`: a node missing critical patches for longer than this many days
    /// (1 to 3650; 7 when absent). Each node is reported once per stretch of debt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = *crate::limits::CRITICAL_DAYS.start(), max = *crate::limits::CRITICAL_DAYS.end())))]
    pub critical_days: Option<u32>,
}

/// `PUT /api/v1/webhooks/{id}`: replaces a webhook's settings; the secret only when given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct WebhookUpdate {
    #[cfg_attr(feature = "schema", schemars(length(max = crate::limits::WEBHOOK_URL_MAX), pattern(crate::limits::WEBHOOK_URL_PATTERN)))]
    pub url: String,
    /// A new shared secret (16 to 256 characters); absent keeps the stored one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = *crate::limits::WEBHOOK_SECRET.start(), max = *crate::limits::WEBHOOK_SECRET.end())))]
    pub secret: Option<String>,
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(extend("items" = {"type": "string", "enum": EVENTS}))
    )]
    pub events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(max = crate::limits::DESCRIPTION_MAX)))]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = *crate::limits::CRITICAL_DAYS.start(), max = *crate::limits::CRITICAL_DAYS.end())))]
    pub critical_days: Option<u32>,
}

/// A stored webhook (its secret is never answered back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub critical_days: u32,
    pub created_at: Timestamp,
}

/// One delivery of one event to one webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WebhookDelivery {
    pub id: i64,
    pub event: String,
    /// `pending`, `delivered`, or `failed` (every attempt failed; no more are made).
    pub status: String,
    pub attempts: u32,
    #[serde(default)]
    pub next_attempt_at: Option<Timestamp>,
    /// Why the last attempt failed.
    #[serde(default)]
    pub last_error: Option<String>,
    /// The HTTP status the receiver answered last.
    #[serde(default)]
    pub response_status: Option<u16>,
    pub created_at: Timestamp,
    #[serde(default)]
    pub delivered_at: Option<Timestamp>,
    /// The body as sent.
    pub body: serde_json::Value,
}
