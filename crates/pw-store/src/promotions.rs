//! Promotion policies and the changes they made.

use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::{
    ConflictKind, PromotionChangeRecord, PromotionRecord, Store, StoreError, found, get_i64,
    get_opt_str, get_opt_ts, get_str, get_ts, to_micros,
};

const POLICY_COLUMNS: &str =
    "id, from_baseline, to_baseline, spec_json, created_at, updated_at, last_run_at, last_error";

fn policy_from_row(row: &AnyRow) -> Result<PromotionRecord, StoreError> {
    Ok(PromotionRecord {
        id: get_str(row, "id")?,
        from_baseline: get_str(row, "from_baseline")?,
        to_baseline: get_str(row, "to_baseline")?,
        spec_json: get_str(row, "spec_json")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
        last_run_at: get_opt_ts(row, "last_run_at")?,
        last_error: get_opt_str(row, "last_error")?,
    })
}

fn change_from_row(row: &AnyRow) -> Result<PromotionChangeRecord, StoreError> {
    Ok(PromotionChangeRecord {
        id: get_i64(row, "id")?,
        policy_id: get_str(row, "policy_id")?,
        at: get_ts(row, "at")?,
        list: get_str(row, "list")?,
        entry: get_str(row, "entry")?,
        reason: get_str(row, "reason")?,
        evidence_json: get_str(row, "evidence_json")?,
    })
}

impl Store {
    /// Stores a new policy; a second policy for the same (from, to) is a conflict.
    pub async fn create_promotion(&self, record: &PromotionRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(
            "INSERT INTO promotion_policies (id, from_baseline, to_baseline, spec_json, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(record.id.as_str())
        .bind(record.from_baseline.as_str())
        .bind(record.to_baseline.as_str())
        .bind(record.spec_json.as_str())
        .bind(to_micros(record.created_at))
        .bind(to_micros(record.updated_at))
        .execute(&mut *tx.tx)
        .await;
        match result {
            Ok(_) => {}
            Err(error) if StoreError::is_unique_violation(&error) => {
                return Err(StoreError::Conflict {
                    what: "promotion policy",
                    detail: format!(
                        "a promotion policy from `{}` to `{}` already exists",
                        record.from_baseline, record.to_baseline
                    ),
                    kind: ConflictKind::AlreadyExists,
                });
            }
            Err(error) => return Err(StoreError::db(error)),
        }
        tx.commit().await
    }

    /// Every policy, by id.
    pub async fn promotions(&self) -> Result<Vec<PromotionRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {POLICY_COLUMNS} FROM promotion_policies ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter().map(policy_from_row).collect()
    }

    /// One policy.
    pub async fn promotion(&self, id: &str) -> Result<Option<PromotionRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {POLICY_COLUMNS} FROM promotion_policies WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db)?;
        row.as_ref().map(policy_from_row).transpose()
    }

    /// Replaces a policy's settings.
    pub async fn update_promotion(
        &self,
        id: &str,
        spec_json: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE promotion_policies SET spec_json = $2, updated_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(spec_json)
        .bind(to_micros(now))
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?
        .rows_affected();
        found(updated, "promotion policy", id)?;
        tx.commit().await
    }

    /// Deletes a policy (the changes it made stay, as the audit log does).
    pub async fn delete_promotion(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        tx.delete_row("promotion_policies", id, "promotion policy")
            .await?;
        tx.commit().await
    }

    /// Records a run of a policy: when, and why it failed if it did.
    pub async fn record_promotion_run(
        &self,
        id: &str,
        at: Timestamp,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE promotion_policies SET last_run_at = $2, last_error = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(to_micros(at))
        .bind(error)
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        tx.commit().await
    }

    /// Replaces baseline `id`'s text with `toml` if it is still `expected` (what the caller
    /// read), and records `changes` in the same transaction. A baseline that changed
    /// meanwhile is a `Changed` conflict: read again and decide again.
    pub async fn apply_promotion(
        &self,
        id: &str,
        expected: &str,
        toml: &str,
        changes: &[PromotionChangeRecord],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE baselines SET toml = $3, updated_at = $4 WHERE id = $1 AND toml = $2",
        )
        .bind(id)
        .bind(expected)
        .bind(toml)
        .bind(to_micros(now))
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::Conflict {
                what: "baseline",
                detail: format!("baseline `{id}` changed while a promotion policy read it"),
                kind: ConflictKind::Changed,
            });
        }
        for change in changes {
            sqlx::query(
                "INSERT INTO promotion_changes (policy_id, at, list, entry, reason, evidence_json) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(change.policy_id.as_str())
            .bind(to_micros(change.at))
            .bind(change.list.as_str())
            .bind(change.entry.as_str())
            .bind(change.reason.as_str())
            .bind(change.evidence_json.as_str())
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
        }
        tx.commit().await
    }

    /// The changes a policy made, newest first.
    pub async fn promotion_changes(
        &self,
        policy_id: &str,
        limit: i64,
    ) -> Result<Vec<PromotionChangeRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, policy_id, at, list, entry, reason, evidence_json FROM promotion_changes \
             WHERE policy_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(policy_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter().map(change_from_row).collect()
    }
}
