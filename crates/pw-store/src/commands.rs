//! Commands for agents: handed out on polls (again when the answer was lost), acknowledged
//! once, finished once. The acknowledgement is the exactly-once gate for installs.

use jiff::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

use crate::{
    CommandRecord, Store, StoreError, get_i64, get_opt_str, get_opt_ts, get_str, get_ts,
    lock_clause, opt_micros, to_micros,
};

const COMMAND_COLUMNS: &str = "id, node_id, kind, payload_json, state, created_at, delivered_at, deliveries, acknowledged_at, \
     completed_at, ack_deadline_at, finish_deadline_at, result_json, invocation_id";

/// A command may be handed out: waiting, or handed out long enough ago without an ack.
const DELIVERABLE: &str =
    "node_id = $1 AND (state = 'pending' OR (state = 'delivered' AND delivered_at < $2))";

fn command_from_row(row: &AnyRow) -> Result<CommandRecord, StoreError> {
    Ok(CommandRecord {
        id: get_str(row, "id")?,
        node_id: get_str(row, "node_id")?,
        kind: get_str(row, "kind")?,
        payload_json: get_str(row, "payload_json")?,
        state: get_str(row, "state")?,
        created_at: get_ts(row, "created_at")?,
        delivered_at: get_opt_ts(row, "delivered_at")?,
        deliveries: get_i64(row, "deliveries")?,
        acknowledged_at: get_opt_ts(row, "acknowledged_at")?,
        completed_at: get_opt_ts(row, "completed_at")?,
        ack_deadline_at: get_opt_ts(row, "ack_deadline_at")?,
        finish_deadline_at: get_opt_ts(row, "finish_deadline_at")?,
        result_json: get_opt_str(row, "result_json")?,
        invocation_id: get_opt_str(row, "invocation_id")?,
    })
}

pub(crate) async fn insert_command(
    tx: &mut Transaction<'static, Any>,
    command: &CommandRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO agent_commands (id, node_id, kind, payload_json, state, created_at, delivered_at, deliveries, \
         acknowledged_at, completed_at, ack_deadline_at, finish_deadline_at, result_json, invocation_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(command.id.as_str())
    .bind(command.node_id.as_str())
    .bind(command.kind.as_str())
    .bind(command.payload_json.as_str())
    .bind(command.state.as_str())
    .bind(to_micros(command.created_at))
    .bind(opt_micros(command.delivered_at))
    .bind(command.deliveries)
    .bind(opt_micros(command.acknowledged_at))
    .bind(opt_micros(command.completed_at))
    .bind(opt_micros(command.ack_deadline_at))
    .bind(opt_micros(command.finish_deadline_at))
    .bind(command.result_json.as_deref())
    .bind(command.invocation_id.as_deref())
    .execute(&mut **tx)
    .await
    .map_err(StoreError::db)?;
    Ok(())
}

pub(crate) async fn command_in(
    tx: &mut Transaction<'static, Any>,
    id: &str,
) -> Result<Option<CommandRecord>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COMMAND_COLUMNS} FROM agent_commands WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(StoreError::db)?;
    row.as_ref().map(command_from_row).transpose()
}

/// The answer to an acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckOutcome {
    /// Run it: first acknowledgement, or a repeat of one (the node must dedupe by id).
    Proceed { repeated: bool },
    /// Do not run it: it ended (`cancelled`, `timed_out`, ...) before being acknowledged.
    Refused { state: String },
    /// No such command for this node.
    NotFound,
}

/// The answer to a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompleteOutcome {
    /// The result was recorded; the command is now in `state`.
    Recorded {
        state: String,
    },
    /// The command had already ended; nothing changed.
    AlreadyFinal {
        state: String,
    },
    NotFound,
}

impl Store {
    /// Inserts a command (ad-hoc commands; the runner inserts inside its transaction).
    pub async fn create_command(&self, command: &CommandRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_command(&mut tx.tx, command).await?;
        tx.commit().await
    }

    /// A command by id.
    pub async fn command(&self, id: &str) -> Result<Option<CommandRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COMMAND_COLUMNS} FROM agent_commands WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db)?;
        row.as_ref().map(command_from_row).transpose()
    }

    /// A node's commands, newest first.
    pub async fn node_commands(
        &self,
        node_id: &str,
        limit: i64,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COMMAND_COLUMNS} FROM agent_commands WHERE node_id = $1 ORDER BY created_at DESC, id LIMIT $2"
        ))
        .bind(node_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter().map(command_from_row).collect()
    }

    /// Whether a poll of `node_id` would get anything: a cheap read that takes no lock.
    pub async fn has_deliverable_commands(
        &self,
        node_id: &str,
        redeliver_before: Timestamp,
    ) -> Result<bool, StoreError> {
        let found: Option<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM agent_commands WHERE {DELIVERABLE} LIMIT 1"
        ))
        .bind(node_id)
        .bind(to_micros(redeliver_before))
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db)?;
        Ok(found.is_some())
    }

    /// Hands out a node's deliverable commands (oldest first, at most `limit`): each becomes
    /// `delivered` at `now` with one more delivery.
    pub async fn deliver_commands(
        &self,
        node_id: &str,
        now: Timestamp,
        redeliver_before: Timestamp,
        limit: i64,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(&format!(
            "SELECT {COMMAND_COLUMNS} FROM agent_commands WHERE {DELIVERABLE} ORDER BY created_at, id LIMIT $3{}",
            lock_clause(self.backend, true)
        ))
        .bind(node_id)
        .bind(to_micros(redeliver_before))
        .bind(limit)
        .fetch_all(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        let mut commands = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut command = command_from_row(row)?;
            sqlx::query("UPDATE agent_commands SET state = 'delivered', delivered_at = $2, deliveries = deliveries + 1 WHERE id = $1")
                .bind(command.id.as_str())
                .bind(to_micros(now))
                .execute(&mut *tx.tx)
                .await
                .map_err(StoreError::db)?;
            command.state = "delivered".to_owned();
            command.delivered_at = Some(now);
            command.deliveries += 1;
            commands.push(command);
        }
        tx.commit().await?;
        Ok(commands)
    }

    /// A node acknowledges a command: the one gate before it runs.
    pub async fn acknowledge_command(
        &self,
        node_id: &str,
        id: &str,
        now: Timestamp,
    ) -> Result<AckOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "SELECT {COMMAND_COLUMNS} FROM agent_commands WHERE id = $1 AND node_id = $2{}",
            lock_clause(self.backend, false)
        ))
        .bind(id)
        .bind(node_id)
        .fetch_optional(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(AckOutcome::NotFound);
        };
        let command = command_from_row(&row)?;
        let outcome = match command.state.as_str() {
            "pending" | "delivered" => {
                if command
                    .ack_deadline_at
                    .is_some_and(|deadline| deadline < now)
                {
                    sqlx::query("UPDATE agent_commands SET state = 'timed_out', completed_at = $2 WHERE id = $1")
                        .bind(id)
                        .bind(to_micros(now))
                        .execute(&mut *tx.tx)
                        .await
                        .map_err(StoreError::db)?;
                    AckOutcome::Refused {
                        state: "timed_out".to_owned(),
                    }
                } else {
                    sqlx::query(
                        "UPDATE agent_commands SET state = 'acknowledged', acknowledged_at = $2, \
                         delivered_at = COALESCE(delivered_at, $2) WHERE id = $1",
                    )
                    .bind(id)
                    .bind(to_micros(now))
                    .execute(&mut *tx.tx)
                    .await
                    .map_err(StoreError::db)?;
                    AckOutcome::Proceed { repeated: false }
                }
            }
            "acknowledged" => AckOutcome::Proceed { repeated: true },
            other => AckOutcome::Refused {
                state: other.to_owned(),
            },
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// A node reports how a command ended (`succeeded` or `failed`). The first result
    /// counts; the invocation it belongs to ends with it (`SUCCESS` / `FAILED`).
    pub async fn complete_command(
        &self,
        node_id: &str,
        id: &str,
        state: &str,
        result_json: &str,
        now: Timestamp,
    ) -> Result<CompleteOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "SELECT {COMMAND_COLUMNS} FROM agent_commands WHERE id = $1 AND node_id = $2{}",
            lock_clause(self.backend, false)
        ))
        .bind(id)
        .bind(node_id)
        .fetch_optional(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(CompleteOutcome::NotFound);
        };
        let command = command_from_row(&row)?;
        if !matches!(
            command.state.as_str(),
            "pending" | "delivered" | "acknowledged"
        ) {
            // Keep a late result for the record, without changing the outcome.
            sqlx::query(
                "UPDATE agent_commands SET result_json = $2 WHERE id = $1 AND result_json IS NULL",
            )
            .bind(id)
            .bind(result_json)
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
            tx.commit().await?;
            return Ok(CompleteOutcome::AlreadyFinal {
                state: command.state,
            });
        }
        sqlx::query("UPDATE agent_commands SET state = $2, result_json = $3, completed_at = $4 WHERE id = $1")
            .bind(id)
            .bind(state)
            .bind(result_json)
            .bind(to_micros(now))
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
        if let Some(invocation_id) = &command.invocation_id {
            let (status, details) = if state == "succeeded" {
                ("SUCCESS", "the node reported success".to_owned())
            } else {
                ("FAILED", failure_details(Some(result_json)))
            };
            sqlx::query(
                "UPDATE invocations SET status = $2, status_details = $3, ended_at = $4 WHERE id = $1 AND status = 'IN_PROGRESS'",
            )
            .bind(invocation_id.as_str())
            .bind(status)
            .bind(details.as_str())
            .bind(to_micros(now))
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
        }
        tx.commit().await?;
        Ok(CompleteOutcome::Recorded {
            state: state.to_owned(),
        })
    }

    /// Pending commands created at or after `since`: (command id, node id). The poll
    /// waiters of every replica use it to learn about commands another replica created.
    pub async fn recent_pending_commands(
        &self,
        since: Timestamp,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, node_id FROM agent_commands WHERE created_at >= $1 AND state = 'pending' ORDER BY created_at",
        )
        .bind(to_micros(since))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter()
            .map(|row| Ok((get_str(row, "id")?, get_str(row, "node_id")?)))
            .collect()
    }
}

/// The status details of an invocation whose command failed: the message of the node's
/// result (`{"message": ...}`: a failed health check, hook or patches; at most 1 KiB), else
/// that the node reported a failure.
pub fn failure_details(result_json: Option<&str>) -> String {
    const MAX: usize = 1024;
    let message = result_json
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .and_then(|value| value.get("message")?.as_str().map(str::to_owned))
        .filter(|message| !message.trim().is_empty());
    match message {
        None => "the node reported a failure".to_owned(),
        Some(mut message) => {
            if message.len() > MAX {
                let cut = message.floor_char_boundary(MAX);
                message.truncate(cut);
                message.push_str("...");
            }
            message
        }
    }
}
