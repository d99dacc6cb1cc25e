//! Who may talk to the server: API tokens, activation codes, nodes and their credentials;
//! node inventories; the audit log.

use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::{
    ActivationRecord, AuditEvent, InventoryRecord, NodeFacts, NodeRecord, Store, StoreError,
    TokenRecord, found, get_i64, get_opt_i64, get_opt_str, get_opt_ts, get_str, get_tags, get_ts,
    tags_json, to_micros,
};

pub(crate) const NODE_COLUMNS: &str = "id, hostname, operating_system, product, agent_version, arch, machine_id, tags_json, \
     activation_id, enrolled_at, last_seen_at, inventory_at, latest_report_id";

/// [`NODE_COLUMNS`] qualified with a table alias (`n.id, n.hostname, ...`) for joins.
pub(crate) fn node_columns_of(alias: &str) -> String {
    NODE_COLUMNS
        .split(',')
        .map(|column| format!("{alias}.{}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn node_from_row(row: &AnyRow) -> Result<NodeRecord, StoreError> {
    Ok(NodeRecord {
        id: get_str(row, "id")?,
        hostname: get_str(row, "hostname")?,
        operating_system: get_str(row, "operating_system")?,
        product: get_str(row, "product")?,
        agent_version: get_str(row, "agent_version")?,
        arch: get_opt_str(row, "arch")?,
        machine_id: get_opt_str(row, "machine_id")?,
        tags: get_tags(row, "tags_json")?,
        activation_id: get_opt_str(row, "activation_id")?,
        enrolled_at: get_ts(row, "enrolled_at")?,
        last_seen_at: get_opt_ts(row, "last_seen_at")?,
        inventory_at: get_opt_ts(row, "inventory_at")?,
        latest_report_id: get_opt_i64(row, "latest_report_id")?,
    })
}

/// The patch group the tags pick (pw-core decides), stored beside them for fleet queries.
fn patch_group_of(tags: &[(String, String)]) -> Option<String> {
    pw_core::baseline::patch_group(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map(ToOwned::to_owned)
}

fn token_from_row(row: &AnyRow) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        id: get_str(row, "id")?,
        name: get_opt_str(row, "name")?,
        role: get_str(row, "role")?,
        created_at: get_ts(row, "created_at")?,
        revoked_at: get_opt_ts(row, "revoked_at")?,
    })
}

fn activation_from_row(row: &AnyRow) -> Result<ActivationRecord, StoreError> {
    Ok(ActivationRecord {
        id: get_str(row, "id")?,
        description: get_opt_str(row, "description")?,
        tags: get_tags(row, "tags_json")?,
        expires_at: get_ts(row, "expires_at")?,
        max_uses: get_i64(row, "max_uses")?,
        uses: get_i64(row, "uses")?,
        created_at: get_ts(row, "created_at")?,
        allow_node_tags: get_i64(row, "allow_node_tags")? != 0,
    })
}

/// Why an enrollment was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrollRefusal {
    UnknownCode,
    Expired,
    Exhausted,
    /// The node declared a tag the code does not let it declare.
    Tags(TagRefusal),
}

/// A tag a node may not declare with its activation code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagRefusal {
    /// The code sets this key to another value; the code's tags bind.
    SetByCode { key: String, value: String },
    /// The code lets its nodes declare no tags of their own.
    NotAllowed { key: String },
}

/// The tags a node enrolled with `activation` gets: the code's, and the node's own for keys
/// the code does not set (when the code allows them). A node may repeat a code's tag with the
/// same value; any other value for a key the code sets is refused, as is any tag of the
/// node's own when the code allows none.
pub fn enrollment_tags(
    activation: &ActivationRecord,
    own: &[(String, String)],
) -> Result<Vec<(String, String)>, TagRefusal> {
    let mut tags = activation.tags.clone();
    for (key, value) in own {
        match activation.tags.iter().find(|(code_key, _)| code_key == key) {
            Some((_, code_value)) if code_value == value => {}
            Some((_, code_value)) => {
                return Err(TagRefusal::SetByCode {
                    key: key.clone(),
                    value: code_value.clone(),
                });
            }
            None if !activation.allow_node_tags => {
                return Err(TagRefusal::NotAllowed { key: key.clone() });
            }
            None => tags.push((key.clone(), value.clone())),
        }
    }
    tags.sort();
    Ok(tags)
}

impl Store {
    /// Stores a token under the hash of its secret.
    pub async fn create_token(
        &self,
        token: &TokenRecord,
        secret_hash: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO api_tokens (id, name, role, secret_hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, NULL)")
            .bind(token.id.as_str())
            .bind(token.name.as_deref())
            .bind(token.role.as_str())
            .bind(secret_hash)
            .bind(to_micros(token.created_at))
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
        tx.commit().await
    }

    /// The live (not revoked) token whose secret hashes to `secret_hash`.
    pub async fn token_by_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, role, created_at, revoked_at FROM api_tokens WHERE secret_hash = $1 AND revoked_at IS NULL",
        )
        .bind(secret_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db)?;
        row.as_ref().map(token_from_row).transpose()
    }

    /// Every token, oldest first.
    pub async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, role, created_at, revoked_at FROM api_tokens ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter().map(token_from_row).collect()
    }

    /// Revokes a token; `NotFound` when there is no such live token.
    pub async fn revoke_token(&self, id: &str, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(to_micros(now))
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?
        .rows_affected();
        found(updated, "token", id)?;
        tx.commit().await
    }

    /// Stores an activation code under the hash of its secret.
    pub async fn create_activation(
        &self,
        activation: &ActivationRecord,
        code_hash: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO activations (id, code_hash, description, tags_json, expires_at, max_uses, uses, created_at, allow_node_tags) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(activation.id.as_str())
        .bind(code_hash)
        .bind(activation.description.as_deref())
        .bind(tags_json(&activation.tags))
        .bind(to_micros(activation.expires_at))
        .bind(activation.max_uses)
        .bind(activation.uses)
        .bind(to_micros(activation.created_at))
        .bind(i64::from(activation.allow_node_tags))
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        tx.commit().await
    }

    /// Every activation code, newest first.
    pub async fn activations(&self) -> Result<Vec<ActivationRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, description, tags_json, expires_at, max_uses, uses, created_at, allow_node_tags FROM activations ORDER BY created_at DESC, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter().map(activation_from_row).collect()
    }

    /// Deletes an activation code (nodes enrolled with it stay).
    pub async fn delete_activation(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        tx.delete_row("activations", id, "activation").await?;
        tx.commit().await
    }

    /// Enrolls a node with an activation code, in one transaction: the code must exist,
    /// not be expired and have uses left; its use count goes up and the node is created
    /// with the code's tags and the node's own as [`enrollment_tags`] allows.
    pub async fn enroll_node(
        &self,
        code_hash: &str,
        node_id: &str,
        credential_hash: &str,
        facts: &NodeFacts,
        tags: &[(String, String)],
        now: Timestamp,
    ) -> Result<Result<NodeRecord, EnrollRefusal>, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "SELECT id, description, tags_json, expires_at, max_uses, uses, created_at, allow_node_tags FROM activations WHERE code_hash = $1{}",
            crate::lock_clause(self.backend, false)
        ))
        .bind(code_hash)
        .fetch_optional(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(Err(EnrollRefusal::UnknownCode));
        };
        let activation = activation_from_row(&row)?;
        if activation.expires_at <= now {
            tx.rollback().await?;
            return Ok(Err(EnrollRefusal::Expired));
        }
        let updated =
            sqlx::query("UPDATE activations SET uses = uses + 1 WHERE id = $1 AND uses < max_uses")
                .bind(activation.id.as_str())
                .execute(&mut *tx.tx)
                .await
                .map_err(StoreError::db)?
                .rows_affected();
        if updated == 0 {
            tx.rollback().await?;
            return Ok(Err(EnrollRefusal::Exhausted));
        }
        let merged = match enrollment_tags(&activation, tags) {
            Ok(merged) => merged,
            Err(refusal) => {
                tx.rollback().await?;
                return Ok(Err(EnrollRefusal::Tags(refusal)));
            }
        };
        let node = NodeRecord {
            id: node_id.to_owned(),
            hostname: facts.hostname.clone(),
            operating_system: facts.operating_system.clone(),
            product: facts.product.clone(),
            agent_version: facts.agent_version.clone(),
            arch: facts.arch.clone(),
            machine_id: facts.machine_id.clone(),
            tags: merged,
            activation_id: Some(activation.id.clone()),
            enrolled_at: now,
            last_seen_at: Some(now),
            inventory_at: None,
            latest_report_id: None,
        };
        sqlx::query(
            "INSERT INTO nodes (id, hostname, operating_system, product, agent_version, arch, machine_id, tags_json, \
             credential_hash, activation_id, enrolled_at, last_seen_at, inventory_at, latest_report_id, patch_group) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, NULL, $13)",
        )
        .bind(node.id.as_str())
        .bind(node.hostname.as_str())
        .bind(node.operating_system.as_str())
        .bind(node.product.as_str())
        .bind(node.agent_version.as_str())
        .bind(node.arch.as_deref())
        .bind(node.machine_id.as_deref())
        .bind(tags_json(&node.tags))
        .bind(credential_hash)
        .bind(activation.id.as_str())
        .bind(to_micros(now))
        .bind(to_micros(now))
        .bind(patch_group_of(&node.tags))
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        tx.commit().await?;
        Ok(Ok(node))
    }

    /// The node whose credential hashes to `credential_hash`.
    pub async fn node_id_by_credential(
        &self,
        credential_hash: &str,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT id FROM nodes WHERE credential_hash = $1")
            .bind(credential_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db)
    }

    /// A node by id.
    pub async fn node(&self, id: &str) -> Result<Option<NodeRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {NODE_COLUMNS} FROM nodes WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db)?;
        row.as_ref().map(node_from_row).transpose()
    }

    /// Every node, by hostname then id.
    pub async fn nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {NODE_COLUMNS} FROM nodes ORDER BY hostname, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter().map(node_from_row).collect()
    }

    /// Replaces a node's tags.
    pub async fn set_node_tags(
        &self,
        id: &str,
        tags: &[(String, String)],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let updated =
            sqlx::query("UPDATE nodes SET tags_json = $2, patch_group = $3 WHERE id = $1")
                .bind(id)
                .bind(tags_json(tags))
                .bind(patch_group_of(tags))
                .execute(&mut *tx.tx)
                .await
                .map_err(StoreError::db)?
                .rows_affected();
        found(updated, "node", id)?;
        tx.commit().await
    }

    /// Deletes a node, its inventory and its credential (its history stays).
    pub async fn delete_node(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for table in ["inventories", "patch_refs", "node_latest"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE node_id = $1"))
                .bind(id)
                .execute(&mut *tx.tx)
                .await
                .map_err(StoreError::db)?;
        }
        tx.delete_row("nodes", id, "node").await?;
        tx.commit().await
    }

    /// Records check-ins: each node's `last_seen_at` moves forward to the given instant
    /// (never back). One transaction for the batch.
    pub async fn touch_nodes(&self, seen: &[(String, Timestamp)]) -> Result<(), StoreError> {
        if seen.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for (id, at) in seen {
            sqlx::query("UPDATE nodes SET last_seen_at = $2 WHERE id = $1 AND (last_seen_at IS NULL OR last_seen_at < $2)")
                .bind(id.as_str())
                .bind(to_micros(*at))
                .execute(&mut *tx.tx)
                .await
                .map_err(StoreError::db)?;
        }
        tx.commit().await
    }

    /// Replaces a node's inventory and updates its facts.
    pub async fn put_inventory(
        &self,
        inventory: &InventoryRecord,
        facts: &NodeFacts,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE nodes SET hostname = $2, operating_system = $3, product = $4, agent_version = $5, arch = $6, \
             machine_id = COALESCE($7, machine_id), inventory_at = $8, \
             last_seen_at = CASE WHEN last_seen_at IS NULL OR last_seen_at < $9 THEN $9 ELSE last_seen_at END WHERE id = $1",
        )
        .bind(inventory.node_id.as_str())
        .bind(facts.hostname.as_str())
        .bind(facts.operating_system.as_str())
        .bind(facts.product.as_str())
        .bind(facts.agent_version.as_str())
        .bind(facts.arch.as_deref())
        .bind(facts.machine_id.as_deref())
        .bind(to_micros(inventory.captured_at))
        .bind(to_micros(inventory.uploaded_at))
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?
        .rows_affected();
        found(updated, "node", &inventory.node_id)?;
        sqlx::query(
            "INSERT INTO inventories (node_id, captured_at, uploaded_at, inventory_json) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (node_id) DO UPDATE SET captured_at = excluded.captured_at, uploaded_at = excluded.uploaded_at, \
             inventory_json = excluded.inventory_json",
        )
        .bind(inventory.node_id.as_str())
        .bind(to_micros(inventory.captured_at))
        .bind(to_micros(inventory.uploaded_at))
        .bind(inventory.inventory_json.as_str())
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        tx.commit().await
    }

    /// A node's latest inventory.
    pub async fn inventory(&self, node_id: &str) -> Result<Option<InventoryRecord>, StoreError> {
        let row = sqlx::query("SELECT node_id, captured_at, uploaded_at, inventory_json FROM inventories WHERE node_id = $1")
            .bind(node_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db)?;
        row.as_ref()
            .map(|row| {
                Ok(InventoryRecord {
                    node_id: get_str(row, "node_id")?,
                    captured_at: get_ts(row, "captured_at")?,
                    uploaded_at: get_ts(row, "uploaded_at")?,
                    inventory_json: get_str(row, "inventory_json")?,
                })
            })
            .transpose()
    }

    /// Appends an audit event.
    pub async fn audit(
        &self,
        at: Timestamp,
        actor: &str,
        action: &str,
        target: Option<&str>,
        details_json: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO audit_events (at, actor, action, target, details_json) VALUES ($1, $2, $3, $4, $5)")
            .bind(to_micros(at))
            .bind(actor)
            .bind(action)
            .bind(target)
            .bind(details_json)
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
        tx.commit().await
    }

    /// The newest audit events, newest first.
    pub async fn audit_events(&self, limit: i64) -> Result<Vec<AuditEvent>, StoreError> {
        self.audit_events_before(None, limit).await
    }

    /// Audit events older than the event `before` (all when `None`), newest first.
    pub async fn audit_events_before(
        &self,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, target, details_json FROM audit_events WHERE id < $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter()
            .map(|row| {
                Ok(AuditEvent {
                    id: get_i64(row, "id")?,
                    at: get_ts(row, "at")?,
                    actor: get_str(row, "actor")?,
                    action: get_str(row, "action")?,
                    target: get_opt_str(row, "target")?,
                    details_json: get_opt_str(row, "details_json")?,
                })
            })
            .collect()
    }
}
