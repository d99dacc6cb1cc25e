//! Baselines, the default baseline per operating system, patch-group registrations.

use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::{
    BaselineRecord, PatchGroupRecord, Store, StoreError, get_opt_str, get_str, get_ts, to_micros,
};

const BASELINE_COLUMNS: &str =
    "id, name, operating_system, description, toml, created_at, updated_at";

fn baseline_from_row(row: &AnyRow) -> Result<BaselineRecord, StoreError> {
    Ok(BaselineRecord {
        id: get_str(row, "id")?,
        name: get_str(row, "name")?,
        operating_system: get_str(row, "operating_system")?,
        description: get_opt_str(row, "description")?,
        toml: get_str(row, "toml")?,
        created_at: get_ts(row, "created_at")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

impl Store {
    /// Stores a new baseline; `Conflict` when the name is taken.
    pub async fn create_baseline(&self, baseline: &BaselineRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(
            "INSERT INTO baselines (id, name, operating_system, description, toml, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(baseline.id.as_str())
        .bind(baseline.name.as_str())
        .bind(baseline.operating_system.as_str())
        .bind(baseline.description.as_deref())
        .bind(baseline.toml.as_str())
        .bind(to_micros(baseline.created_at))
        .bind(to_micros(baseline.updated_at))
        .execute(&mut *tx.tx)
        .await;
        match result {
            Ok(_) => tx.commit().await,
            Err(error) if StoreError::is_unique_violation(&error) => Err(StoreError::Conflict {
                what: "baseline",
                detail: format!("a baseline named `{}` already exists", baseline.name),
                kind: crate::ConflictKind::AlreadyExists,
            }),
            Err(error) => Err(StoreError::db(error)),
        }
    }

    /// Replaces a baseline's name, description and text. The operating system may not
    /// change while the baseline is registered anywhere (`Conflict`).
    pub async fn update_baseline(
        &self,
        id: &str,
        name: &str,
        operating_system: &str,
        description: Option<&str>,
        toml: &str,
        now: Timestamp,
    ) -> Result<BaselineRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let current = sqlx::query(&format!(
            "SELECT {BASELINE_COLUMNS} FROM baselines WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        let Some(current) = current else {
            return Err(StoreError::NotFound {
                what: "baseline",
                id: id.to_owned(),
            });
        };
        let current = baseline_from_row(&current)?;
        if current.operating_system != operating_system {
            let registered: i64 = sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM patch_groups WHERE baseline_id = $1) + (SELECT COUNT(*) FROM default_baselines WHERE baseline_id = $1)",
            )
            .bind(id)
            .fetch_one(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
            if registered > 0 {
                return Err(StoreError::Conflict {
                    what: "baseline",
                    detail: format!(
                        "baseline `{id}` is registered as a default or for patch groups; its operating system cannot change"
                    ),
                    kind: crate::ConflictKind::InUse,
                });
            }
        }
        let result = sqlx::query(
            "UPDATE baselines SET name = $2, operating_system = $3, description = $4, toml = $5, updated_at = $6 WHERE id = $1",
        )
        .bind(id)
        .bind(name)
        .bind(operating_system)
        .bind(description)
        .bind(toml)
        .bind(to_micros(now))
        .execute(&mut *tx.tx)
        .await;
        match result {
            Ok(_) => {}
            Err(error) if StoreError::is_unique_violation(&error) => {
                return Err(StoreError::Conflict {
                    what: "baseline",
                    detail: format!("a baseline named `{name}` already exists"),
                    kind: crate::ConflictKind::AlreadyExists,
                });
            }
            Err(error) => return Err(StoreError::db(error)),
        }
        tx.commit().await?;
        Ok(BaselineRecord {
            name: name.to_owned(),
            operating_system: operating_system.to_owned(),
            description: description.map(ToOwned::to_owned),
            toml: toml.to_owned(),
            updated_at: now,
            ..current
        })
    }

    /// A baseline by id.
    pub async fn baseline(&self, id: &str) -> Result<Option<BaselineRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {BASELINE_COLUMNS} FROM baselines WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db)?;
        row.as_ref().map(baseline_from_row).transpose()
    }

    /// A baseline by name.
    pub async fn baseline_by_name(&self, name: &str) -> Result<Option<BaselineRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {BASELINE_COLUMNS} FROM baselines WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db)?;
        row.as_ref().map(baseline_from_row).transpose()
    }

    /// Every stored baseline, by name.
    pub async fn baselines(&self) -> Result<Vec<BaselineRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {BASELINE_COLUMNS} FROM baselines ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter().map(baseline_from_row).collect()
    }

    /// Deletes a baseline. `Conflict` while it is a default or registered for a patch
    /// group; `NotFound` when there is none.
    pub async fn delete_baseline(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let registered: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM patch_groups WHERE baseline_id = $1) + (SELECT COUNT(*) FROM default_baselines WHERE baseline_id = $1)",
        )
        .bind(id)
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        if registered > 0 {
            return Err(StoreError::Conflict {
                what: "baseline",
                detail: format!(
                    "baseline `{id}` is registered as a default or for patch groups; deregister it first"
                ),
                kind: crate::ConflictKind::InUse,
            });
        }
        tx.delete_row("baselines", id, "baseline").await?;
        tx.commit().await
    }

    /// Makes `baseline_id` the default of `operating_system` (replacing any earlier one).
    pub async fn set_default_baseline(
        &self,
        operating_system: &str,
        baseline_id: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO default_baselines (operating_system, baseline_id, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (operating_system) DO UPDATE SET baseline_id = excluded.baseline_id, updated_at = excluded.updated_at",
        )
        .bind(operating_system)
        .bind(baseline_id)
        .bind(to_micros(now))
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        tx.commit().await
    }

    /// Removes the registered default of an operating system (the built-in one applies
    /// again). Returns whether there was one.
    pub async fn clear_default_baseline(&self, operating_system: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM default_baselines WHERE operating_system = $1")
            .bind(operating_system)
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// Registered defaults: (operating system, baseline id), by operating system.
    pub async fn default_baselines(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT operating_system, baseline_id FROM default_baselines ORDER BY operating_system",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter()
            .map(|row| {
                Ok((
                    get_str(row, "operating_system")?,
                    get_str(row, "baseline_id")?,
                ))
            })
            .collect()
    }

    /// Registers a baseline for a patch group on one operating system. `Conflict` when the
    /// group already has a baseline for that operating system (one per group per OS).
    pub async fn register_patch_group(
        &self,
        registration: &PatchGroupRecord,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(
            "INSERT INTO patch_groups (patch_group, operating_system, baseline_id, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(registration.patch_group.as_str())
        .bind(registration.operating_system.as_str())
        .bind(registration.baseline_id.as_str())
        .bind(to_micros(now))
        .execute(&mut *tx.tx)
        .await;
        match result {
            Ok(_) => tx.commit().await,
            Err(error) if StoreError::is_unique_violation(&error) => Err(StoreError::Conflict {
                what: "patch group",
                detail: format!(
                    "patch group `{}` already has a baseline for {}",
                    registration.patch_group, registration.operating_system
                ),
                kind: crate::ConflictKind::AlreadyExists,
            }),
            Err(error) => Err(StoreError::db(error)),
        }
    }

    /// Removes a registration; returns whether there was one.
    pub async fn deregister_patch_group(
        &self,
        patch_group: &str,
        operating_system: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query(
            "DELETE FROM patch_groups WHERE patch_group = $1 AND operating_system = $2",
        )
        .bind(patch_group)
        .bind(operating_system)
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?
        .rows_affected();
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// Every registration, by group then operating system.
    pub async fn patch_groups(&self) -> Result<Vec<PatchGroupRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT patch_group, operating_system, baseline_id FROM patch_groups ORDER BY patch_group, operating_system",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter()
            .map(|row| {
                Ok(PatchGroupRecord {
                    patch_group: get_str(row, "patch_group")?,
                    operating_system: get_str(row, "operating_system")?,
                    baseline_id: get_str(row, "baseline_id")?,
                })
            })
            .collect()
    }
}
