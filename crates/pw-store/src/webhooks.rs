//! Webhooks and their deliveries.

use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::{
    DeliveryRecord, Store, StoreError, WebhookRecord, get_i64, get_opt_i64, get_opt_str,
    get_opt_ts, get_str, get_ts, opt_micros, to_micros,
};

const DELIVERY_COLUMNS: &str = "id, webhook_id, event, dedupe_key, body, status, attempts, next_attempt_at, last_error, \
     response_status, created_at, delivered_at";

fn webhook_from_row(row: &AnyRow) -> Result<WebhookRecord, StoreError> {
    Ok(WebhookRecord {
        id: get_str(row, "id")?,
        url: get_str(row, "url")?,
        secret: get_str(row, "secret")?,
        spec_json: get_str(row, "spec_json")?,
        created_at: get_ts(row, "created_at")?,
    })
}

fn delivery_from_row(row: &AnyRow) -> Result<DeliveryRecord, StoreError> {
    Ok(DeliveryRecord {
        id: get_i64(row, "id")?,
        webhook_id: get_str(row, "webhook_id")?,
        event: get_str(row, "event")?,
        dedupe_key: get_opt_str(row, "dedupe_key")?,
        body: get_str(row, "body")?,
        status: get_str(row, "status")?,
        attempts: get_i64(row, "attempts")?,
        next_attempt_at: get_ts(row, "next_attempt_at")?,
        last_error: get_opt_str(row, "last_error")?,
        response_status: get_opt_i64(row, "response_status")?,
        created_at: get_ts(row, "created_at")?,
        delivered_at: get_opt_ts(row, "delivered_at")?,
    })
}

impl Store {
    pub async fn create_webhook(&self, record: &WebhookRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO webhooks (id, url, secret, spec_json, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(record.id.as_str())
        .bind(record.url.as_str())
        .bind(record.secret.as_str())
        .bind(record.spec_json.as_str())
        .bind(to_micros(record.created_at))
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        tx.commit().await
    }

    /// Every webhook, by id.
    pub async fn webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT id, url, secret, spec_json, created_at FROM webhooks ORDER BY id")
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db)?;
        rows.iter().map(webhook_from_row).collect()
    }

    /// Replaces a webhook's URL and settings, and its secret when `secret` is given; its
    /// deliveries stay.
    pub async fn update_webhook(
        &self,
        id: &str,
        url: &str,
        secret: Option<&str>,
        spec_json: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let affected = sqlx::query(
            "UPDATE webhooks SET url = $2, secret = COALESCE($3, secret), spec_json = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(url)
        .bind(secret)
        .bind(spec_json)
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?
        .rows_affected();
        crate::found(affected, "webhook", id)?;
        tx.commit().await
    }

    /// Deletes a webhook and its deliveries.
    pub async fn delete_webhook(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        tx.delete_row("webhooks", id, "webhook").await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
            .bind(id)
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
        tx.commit().await
    }

    /// Queues one delivery; with a `dedupe_key` the webhook already has, nothing is queued.
    /// Returns whether a delivery was queued.
    pub async fn enqueue_delivery(
        &self,
        webhook_id: &str,
        event: &str,
        dedupe_key: Option<&str>,
        body: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO webhook_deliveries (webhook_id, event, dedupe_key, body, status, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5) ON CONFLICT DO NOTHING",
        )
        .bind(webhook_id)
        .bind(event)
        .bind(dedupe_key)
        .bind(body)
        .bind(to_micros(now))
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?
        .rows_affected();
        tx.commit().await?;
        Ok(inserted > 0)
    }

    /// Pending deliveries whose next attempt is due, oldest first.
    pub async fn due_deliveries(
        &self,
        now: Timestamp,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $2"
        ))
        .bind(to_micros(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter().map(delivery_from_row).collect()
    }

    /// Records an attempt: its outcome and, while pending, when to try again.
    #[expect(
        clippy::too_many_arguments,
        reason = "one attempt's outcome, field by field"
    )]
    pub async fn record_attempt(
        &self,
        id: i64,
        status: &str,
        attempts: i64,
        next_attempt_at: Timestamp,
        error: Option<&str>,
        response_status: Option<i64>,
        delivered_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $2, attempts = $3, next_attempt_at = $4, last_error = $5, \
             response_status = $6, delivered_at = $7 WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(attempts)
        .bind(to_micros(next_attempt_at))
        .bind(error)
        .bind(response_status)
        .bind(opt_micros(delivered_at))
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        tx.commit().await
    }

    /// A webhook's deliveries, newest first.
    pub async fn deliveries(
        &self,
        webhook_id: &str,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2"
        ))
        .bind(webhook_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter().map(delivery_from_row).collect()
    }
}
