//! Access keys of the SSM-compatible API, tags of baselines and windows, and the
//! idempotency tokens of its creates.

use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::{
    AccessKeyRecord, Store, StoreError, get_opt_str, get_opt_ts, get_str, get_ts, to_micros,
};

fn key_from_row(row: &AnyRow) -> Result<AccessKeyRecord, StoreError> {
    Ok(AccessKeyRecord {
        id: get_str(row, "id")?,
        role: get_str(row, "role")?,
        description: get_opt_str(row, "description")?,
        created_at: get_ts(row, "created_at")?,
        revoked_at: get_opt_ts(row, "revoked_at")?,
    })
}

impl Store {
    pub async fn create_access_key(&self, key: &AccessKeyRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO access_keys (id, role, description, created_at, revoked_at) VALUES ($1, $2, $3, $4, NULL)",
        )
        .bind(key.id.as_str())
        .bind(key.role.as_str())
        .bind(key.description.as_deref())
        .bind(to_micros(key.created_at))
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        tx.commit().await
    }

    pub async fn access_key(&self, id: &str) -> Result<Option<AccessKeyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, role, description, created_at, revoked_at FROM access_keys WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db)?;
        row.as_ref().map(key_from_row).transpose()
    }

    pub async fn access_keys(&self) -> Result<Vec<AccessKeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, role, description, created_at, revoked_at FROM access_keys ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter().map(key_from_row).collect()
    }

    /// Revokes a key; false when there is no such key.
    pub async fn revoke_access_key(&self, id: &str, now: Timestamp) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE access_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(to_micros(now))
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?
        .rows_affected();
        tx.commit().await?;
        Ok(done > 0)
    }

    /// Sets tags (adding or replacing values by key) of a resource.
    pub async fn add_resource_tags(
        &self,
        resource_type: &str,
        resource_id: &str,
        tags: &[(String, String)],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for (key, value) in tags {
            sqlx::query(
                "INSERT INTO resource_tags (resource_type, resource_id, tag_key, tag_value) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (resource_type, resource_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
            )
            .bind(resource_type)
            .bind(resource_id)
            .bind(key.as_str())
            .bind(value.as_str())
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
        }
        tx.commit().await
    }

    /// Removes tags by key (all of them when `keys` is `None`).
    pub async fn remove_resource_tags(
        &self,
        resource_type: &str,
        resource_id: &str,
        keys: Option<&[String]>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        match keys {
            None => {
                sqlx::query(
                    "DELETE FROM resource_tags WHERE resource_type = $1 AND resource_id = $2",
                )
                .bind(resource_type)
                .bind(resource_id)
                .execute(&mut *tx.tx)
                .await
                .map_err(StoreError::db)?;
            }
            Some(keys) => {
                for key in keys {
                    sqlx::query(
                        "DELETE FROM resource_tags WHERE resource_type = $1 AND resource_id = $2 AND tag_key = $3",
                    )
                    .bind(resource_type)
                    .bind(resource_id)
                    .bind(key.as_str())
                    .execute(&mut *tx.tx)
                    .await
                    .map_err(StoreError::db)?;
                }
            }
        }
        tx.commit().await
    }

    /// A resource's tags, sorted by key.
    pub async fn resource_tags(
        &self,
        resource_type: &str,
        resource_id: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT tag_key, tag_value FROM resource_tags WHERE resource_type = $1 AND resource_id = $2 ORDER BY tag_key",
        )
        .bind(resource_type)
        .bind(resource_id)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter()
            .map(|row| Ok((get_str(row, "tag_key")?, get_str(row, "tag_value")?)))
            .collect()
    }
}

impl Store {
    /// Sets (replaces) the kept SSM members of a resource; `None` removes them.
    pub async fn set_resource_members(
        &self,
        resource_type: &str,
        resource_id: &str,
        members_json: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM resource_members WHERE resource_type = $1 AND resource_id = $2")
            .bind(resource_type)
            .bind(resource_id)
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
        if let Some(json) = members_json {
            sqlx::query(
                "INSERT INTO resource_members (resource_type, resource_id, members_json) VALUES ($1, $2, $3)",
            )
            .bind(resource_type)
            .bind(resource_id)
            .bind(json)
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
        }
        tx.commit().await
    }

    /// The kept SSM members of a resource (a JSON object), if any.
    pub async fn resource_members(
        &self,
        resource_type: &str,
        resource_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT members_json FROM resource_members WHERE resource_type = $1 AND resource_id = $2",
        )
        .bind(resource_type)
        .bind(resource_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db)?;
        row.map(|row| get_str(&row, "members_json")).transpose()
    }
}

impl Store {
    /// The (request hash, result id) recorded for `token` of `operation`.
    pub async fn client_token(
        &self,
        operation: &str,
        token: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT request_hash, result_id FROM client_tokens WHERE operation = $1 AND token = $2",
        )
        .bind(operation)
        .bind(token)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db)?;
        row.as_ref()
            .map(|row| Ok((get_str(row, "request_hash")?, get_str(row, "result_id")?)))
            .transpose()
    }

    /// Records the result of a create made with `token` (the first record wins).
    pub async fn record_client_token(
        &self,
        operation: &str,
        token: &str,
        request_hash: &str,
        result_id: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO client_tokens (operation, token, request_hash, result_id, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (operation, token) DO NOTHING",
        )
        .bind(operation)
        .bind(token)
        .bind(request_hash)
        .bind(result_id)
        .bind(to_micros(now))
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        tx.commit().await
    }
}
