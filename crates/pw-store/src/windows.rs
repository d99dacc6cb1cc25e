//! Maintenance windows, their targets and tasks.

use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::{
    Store, StoreError, WindowPartRecord, WindowRecord, found, get_i64, get_opt_ts, get_str, get_ts,
    opt_micros, to_micros,
};

const WINDOW_COLUMNS: &str =
    "id, name, enabled, spec_json, created_at, updated_at, schedule_anchor_at, next_execution_at";

fn window_from_row(row: &AnyRow) -> Result<WindowRecord, StoreError> {
    Ok(WindowRecord {
        id: get_str(row, "id")?,
        name: get_str(row, "name")?,
        enabled: get_i64(row, "enabled")? != 0,
        spec_json: get_str(row, "spec_json")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
        schedule_anchor_at: get_ts(row, "schedule_anchor_at")?,
        next_execution_at: get_opt_ts(row, "next_execution_at")?,
    })
}

fn part_from_row(row: &AnyRow, has_priority: bool) -> Result<WindowPartRecord, StoreError> {
    Ok(WindowPartRecord {
        id: get_str(row, "id")?,
        window_id: get_str(row, "window_id")?,
        priority: if has_priority {
            get_i64(row, "priority")?
        } else {
            0
        },
        spec_json: get_str(row, "spec_json")?,
        created_at: get_ts(row, "created_at")?,
    })
}

/// Which table a window part lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowPart {
    Target,
    Task,
}

impl WindowPart {
    fn table(self) -> &'static str {
        match self {
            WindowPart::Target => "window_targets",
            WindowPart::Task => "window_tasks",
        }
    }

    fn what(self) -> &'static str {
        match self {
            WindowPart::Target => "window target",
            WindowPart::Task => "window task",
        }
    }
}

impl Store {
    /// Stores a new window.
    pub async fn create_window(&self, window: &WindowRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO windows (id, name, enabled, spec_json, created_at, updated_at, schedule_anchor_at, next_execution_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(window.id.as_str())
        .bind(window.name.as_str())
        .bind(i64::from(window.enabled))
        .bind(window.spec_json.as_str())
        .bind(to_micros(window.created_at))
        .bind(to_micros(window.updated_at))
        .bind(to_micros(window.schedule_anchor_at))
        .bind(opt_micros(window.next_execution_at))
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        tx.commit().await
    }

    /// Replaces a window's fields (everything but `id` and `created_at`).
    pub async fn update_window(&self, window: &WindowRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE windows SET name = $2, enabled = $3, spec_json = $4, updated_at = $5, schedule_anchor_at = $6, \
             next_execution_at = $7 WHERE id = $1",
        )
        .bind(window.id.as_str())
        .bind(window.name.as_str())
        .bind(i64::from(window.enabled))
        .bind(window.spec_json.as_str())
        .bind(to_micros(window.updated_at))
        .bind(to_micros(window.schedule_anchor_at))
        .bind(opt_micros(window.next_execution_at))
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?
        .rows_affected();
        found(updated, "window", &window.id)?;
        tx.commit().await
    }

    /// Sets the next opening of a window (the scheduler's bookkeeping).
    pub async fn set_next_execution(
        &self,
        id: &str,
        next: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE windows SET next_execution_at = $2 WHERE id = $1")
            .bind(id)
            .bind(opt_micros(next))
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
        tx.commit().await
    }

    /// A window by id.
    pub async fn window(&self, id: &str) -> Result<Option<WindowRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {WINDOW_COLUMNS} FROM windows WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db)?;
        row.as_ref().map(window_from_row).transpose()
    }

    /// Every window, by name.
    pub async fn windows(&self) -> Result<Vec<WindowRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {WINDOW_COLUMNS} FROM windows ORDER BY name, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter().map(window_from_row).collect()
    }

    /// Enabled windows whose next opening is at or before `now`.
    pub async fn windows_due(&self, now: Timestamp) -> Result<Vec<WindowRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {WINDOW_COLUMNS} FROM windows WHERE enabled = 1 AND next_execution_at IS NOT NULL AND next_execution_at <= $1 \
             ORDER BY next_execution_at, id"
        ))
        .bind(to_micros(now))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter().map(window_from_row).collect()
    }

    /// Deletes a window with its targets and tasks (executions stay, for history).
    pub async fn delete_window(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for table in ["window_targets", "window_tasks"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE window_id = $1"))
                .bind(id)
                .execute(&mut *tx.tx)
                .await
                .map_err(StoreError::db)?;
        }
        tx.delete_row("windows", id, "window").await?;
        tx.commit().await
    }

    /// Adds a target or a task to a window.
    pub async fn create_window_part(
        &self,
        part: WindowPart,
        record: &WindowPartRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let exists: Option<String> = sqlx::query_scalar("SELECT id FROM windows WHERE id = $1")
            .bind(record.window_id.as_str())
            .fetch_optional(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
        if exists.is_none() {
            return Err(StoreError::NotFound {
                what: "window",
                id: record.window_id.clone(),
            });
        }
        let query = match part {
            WindowPart::Target => sqlx::query(
                "INSERT INTO window_targets (id, window_id, spec_json, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(record.id.as_str())
            .bind(record.window_id.as_str())
            .bind(record.spec_json.as_str())
            .bind(to_micros(record.created_at)),
            WindowPart::Task => sqlx::query(
                "INSERT INTO window_tasks (id, window_id, spec_json, created_at, priority) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(record.id.as_str())
            .bind(record.window_id.as_str())
            .bind(record.spec_json.as_str())
            .bind(to_micros(record.created_at))
            .bind(record.priority),
        };
        query.execute(&mut *tx.tx).await.map_err(StoreError::db)?;
        tx.commit().await
    }

    /// Replaces the spec (and priority, for tasks) of a window part.
    pub async fn update_window_part(
        &self,
        part: WindowPart,
        record: &WindowPartRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let query = match part {
            WindowPart::Target => sqlx::query("UPDATE window_targets SET spec_json = $3 WHERE id = $1 AND window_id = $2")
                .bind(record.id.as_str())
                .bind(record.window_id.as_str())
                .bind(record.spec_json.as_str()),
            WindowPart::Task => {
                sqlx::query("UPDATE window_tasks SET spec_json = $3, priority = $4 WHERE id = $1 AND window_id = $2")
                    .bind(record.id.as_str())
                    .bind(record.window_id.as_str())
                    .bind(record.spec_json.as_str())
                    .bind(record.priority)
            }
        };
        let updated = query
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?
            .rows_affected();
        found(updated, part.what(), &record.id)?;
        tx.commit().await
    }

    /// The targets or tasks of a window, tasks by priority, both in creation order.
    pub async fn window_parts(
        &self,
        part: WindowPart,
        window_id: &str,
    ) -> Result<Vec<WindowPartRecord>, StoreError> {
        let sql = match part {
            WindowPart::Target => {
                "SELECT id, window_id, spec_json, created_at FROM window_targets WHERE window_id = $1 ORDER BY created_at, id"
            }
            WindowPart::Task => {
                "SELECT id, window_id, priority, spec_json, created_at FROM window_tasks WHERE window_id = $1 \
                 ORDER BY priority, created_at, id"
            }
        };
        let rows = sqlx::query(sql)
            .bind(window_id)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db)?;
        rows.iter()
            .map(|row| part_from_row(row, part == WindowPart::Task))
            .collect()
    }

    /// Removes a target or task from a window.
    pub async fn delete_window_part(
        &self,
        part: WindowPart,
        window_id: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query(&format!(
            "DELETE FROM {} WHERE id = $1 AND window_id = $2",
            part.table()
        ))
        .bind(id)
        .bind(window_id)
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?
        .rows_affected();
        found(deleted, part.what(), id)?;
        tx.commit().await
    }
}
