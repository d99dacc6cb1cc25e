//! Window executions, their task executions and per-node invocations, and the
//! transactional primitives the runner advances them with.

use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::{
    CommandRecord, ExecutionRecord, InvocationRecord, Store, StoreError, TaskExecutionRecord,
    WriteTx, get_i64, get_opt_str, get_opt_ts, get_str, get_ts, lock_clause, opt_micros, to_micros,
};

const EXECUTION_COLUMNS: &str = "id, window_id, status, status_details, scheduled_at, started_at, ended_at, window_end_at, \
     last_task_start_at, evaluation_instant, cancel_requested, created_at";
const TASK_COLUMNS: &str = "id, execution_id, task_id, priority, operation, status, status_details, started_at, ended_at, \
     targets, concurrency, error_threshold, outcome, spec_json";
const INVOCATION_COLUMNS: &str = "id, task_execution_id, execution_id, node_id, seq, status, status_details, command_id, \
     baseline_id, patch_group, window_target_id, owner_information, started_at, ended_at";

/// Statuses of an execution that is not over.
const ACTIVE: &str = "('PENDING', 'IN_PROGRESS', 'CANCELLING')";

fn execution_from_row(row: &AnyRow) -> Result<ExecutionRecord, StoreError> {
    Ok(ExecutionRecord {
        id: get_str(row, "id")?,
        window_id: get_str(row, "window_id")?,
        status: get_str(row, "status")?,
        status_details: get_opt_str(row, "status_details")?,
        scheduled_at: get_ts(row, "scheduled_at")?,
        started_at: get_opt_ts(row, "started_at")?,
        ended_at: get_opt_ts(row, "ended_at")?,
        window_end_at: get_opt_ts(row, "window_end_at")?,
        last_task_start_at: get_opt_ts(row, "last_task_start_at")?,
        evaluation_instant: get_opt_ts(row, "evaluation_instant")?,
        cancel_requested: get_i64(row, "cancel_requested")? != 0,
        created_at: get_ts(row, "created_at")?,
    })
}

fn task_from_row(row: &AnyRow) -> Result<TaskExecutionRecord, StoreError> {
    Ok(TaskExecutionRecord {
        id: get_str(row, "id")?,
        execution_id: get_str(row, "execution_id")?,
        task_id: get_str(row, "task_id")?,
        priority: get_i64(row, "priority")?,
        operation: get_str(row, "operation")?,
        status: get_str(row, "status")?,
        status_details: get_opt_str(row, "status_details")?,
        started_at: get_opt_ts(row, "started_at")?,
        ended_at: get_opt_ts(row, "ended_at")?,
        targets: get_i64(row, "targets")?,
        concurrency: get_i64(row, "concurrency")?,
        error_threshold: get_i64(row, "error_threshold")?,
        outcome: get_opt_str(row, "outcome")?,
        spec_json: get_str(row, "spec_json")?,
    })
}

fn invocation_from_row(row: &AnyRow) -> Result<InvocationRecord, StoreError> {
    Ok(InvocationRecord {
        id: get_str(row, "id")?,
        task_execution_id: get_str(row, "task_execution_id")?,
        execution_id: get_str(row, "execution_id")?,
        node_id: get_str(row, "node_id")?,
        seq: get_i64(row, "seq")?,
        status: get_str(row, "status")?,
        status_details: get_opt_str(row, "status_details")?,
        command_id: get_opt_str(row, "command_id")?,
        baseline_id: get_opt_str(row, "baseline_id")?,
        patch_group: get_opt_str(row, "patch_group")?,
        window_target_id: get_opt_str(row, "window_target_id")?,
        owner_information: get_opt_str(row, "owner_information")?,
        started_at: get_opt_ts(row, "started_at")?,
        ended_at: get_opt_ts(row, "ended_at")?,
    })
}

/// Everything an execution starts with, written in one transaction.
#[derive(Debug, Clone)]
pub struct NewExecution {
    pub execution: ExecutionRecord,
    /// Frozen baselines: (baseline id, TOML text).
    pub baselines: Vec<(String, String)>,
    pub tasks: Vec<TaskExecutionRecord>,
    pub invocations: Vec<InvocationRecord>,
}

async fn insert_execution(
    tx: &mut WriteTx,
    execution: &ExecutionRecord,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO executions (id, window_id, status, status_details, scheduled_at, started_at, ended_at, window_end_at, \
         last_task_start_at, evaluation_instant, cancel_requested, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(execution.id.as_str())
    .bind(execution.window_id.as_str())
    .bind(execution.status.as_str())
    .bind(execution.status_details.as_deref())
    .bind(to_micros(execution.scheduled_at))
    .bind(opt_micros(execution.started_at))
    .bind(opt_micros(execution.ended_at))
    .bind(opt_micros(execution.window_end_at))
    .bind(opt_micros(execution.last_task_start_at))
    .bind(opt_micros(execution.evaluation_instant))
    .bind(i64::from(execution.cancel_requested))
    .bind(to_micros(execution.created_at))
    .execute(&mut *tx.tx)
    .await?;
    Ok(())
}

impl Store {
    /// Writes a new execution with its frozen baselines, tasks and invocations. `Conflict`
    /// when this window already has an execution for this occurrence (another replica
    /// opened it), or one still running (at most one runs per window).
    pub async fn open_execution(&self, new: &NewExecution) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        match insert_execution(&mut tx, &new.execution).await {
            Ok(()) => {}
            Err(error) if StoreError::is_unique_violation(&error) => {
                return Err(StoreError::Conflict {
                    what: "execution",
                    detail: format!(
                        "window `{}` already has an execution scheduled at {} or one still running",
                        new.execution.window_id, new.execution.scheduled_at
                    ),
                    kind: crate::ConflictKind::AlreadyExists,
                });
            }
            Err(error) => return Err(StoreError::db(error)),
        }
        for (baseline_id, toml) in &new.baselines {
            sqlx::query("INSERT INTO execution_baselines (execution_id, baseline_id, toml) VALUES ($1, $2, $3)")
                .bind(new.execution.id.as_str())
                .bind(baseline_id.as_str())
                .bind(toml.as_str())
                .execute(&mut *tx.tx)
                .await
                .map_err(StoreError::db)?;
        }
        for task in &new.tasks {
            sqlx::query(
                "INSERT INTO task_executions (id, execution_id, task_id, priority, operation, status, status_details, \
                 started_at, ended_at, targets, concurrency, error_threshold, outcome, spec_json) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            )
            .bind(task.id.as_str())
            .bind(task.execution_id.as_str())
            .bind(task.task_id.as_str())
            .bind(task.priority)
            .bind(task.operation.as_str())
            .bind(task.status.as_str())
            .bind(task.status_details.as_deref())
            .bind(opt_micros(task.started_at))
            .bind(opt_micros(task.ended_at))
            .bind(task.targets)
            .bind(task.concurrency)
            .bind(task.error_threshold)
            .bind(task.outcome.as_deref())
            .bind(task.spec_json.as_str())
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
        }
        for invocation in &new.invocations {
            sqlx::query(
                "INSERT INTO invocations (id, task_execution_id, execution_id, node_id, seq, status, status_details, command_id, \
                 baseline_id, patch_group, window_target_id, owner_information, started_at, ended_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            )
            .bind(invocation.id.as_str())
            .bind(invocation.task_execution_id.as_str())
            .bind(invocation.execution_id.as_str())
            .bind(invocation.node_id.as_str())
            .bind(invocation.seq)
            .bind(invocation.status.as_str())
            .bind(invocation.status_details.as_deref())
            .bind(invocation.command_id.as_deref())
            .bind(invocation.baseline_id.as_deref())
            .bind(invocation.patch_group.as_deref())
            .bind(invocation.window_target_id.as_deref())
            .bind(invocation.owner_information.as_deref())
            .bind(opt_micros(invocation.started_at))
            .bind(opt_micros(invocation.ended_at))
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
        }
        tx.commit().await
    }

    /// The execution of a window that is not over yet, if any.
    pub async fn active_execution(
        &self,
        window_id: &str,
    ) -> Result<Option<ExecutionRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM executions WHERE window_id = $1 AND status IN {ACTIVE} ORDER BY scheduled_at LIMIT 1"
        ))
        .bind(window_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db)?;
        row.as_ref().map(execution_from_row).transpose()
    }

    /// Executions, newest first: of one window, or of all.
    pub async fn executions(
        &self,
        window_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ExecutionRecord>, StoreError> {
        let by_window = format!(
            "SELECT {EXECUTION_COLUMNS} FROM executions WHERE window_id = $1 ORDER BY scheduled_at DESC, id LIMIT $2"
        );
        let all = format!(
            "SELECT {EXECUTION_COLUMNS} FROM executions ORDER BY scheduled_at DESC, id LIMIT $1"
        );
        let rows = match window_id {
            Some(window_id) => sqlx::query(&by_window).bind(window_id).bind(limit),
            None => sqlx::query(&all).bind(limit),
        }
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter().map(execution_from_row).collect()
    }

    /// One execution.
    pub async fn execution(&self, id: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db)?;
        row.as_ref().map(execution_from_row).transpose()
    }

    /// The tasks of an execution, by priority.
    pub async fn task_executions(
        &self,
        execution_id: &str,
    ) -> Result<Vec<TaskExecutionRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM task_executions WHERE execution_id = $1 ORDER BY priority, id"
        ))
        .bind(execution_id)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter().map(task_from_row).collect()
    }

    /// The invocations of an execution, by task then dispatch order.
    pub async fn execution_invocations(
        &self,
        execution_id: &str,
    ) -> Result<Vec<InvocationRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {INVOCATION_COLUMNS} FROM invocations WHERE execution_id = $1 ORDER BY task_execution_id, seq"
        ))
        .bind(execution_id)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db)?;
        rows.iter().map(invocation_from_row).collect()
    }

    /// The frozen baseline text of an execution.
    pub async fn execution_baseline(
        &self,
        execution_id: &str,
        baseline_id: &str,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT toml FROM execution_baselines WHERE execution_id = $1 AND baseline_id = $2",
        )
        .bind(execution_id)
        .bind(baseline_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db)
    }

    /// Asks an execution to stop handing out work. `NotFound` for an unknown id; an
    /// execution that is already over is returned unchanged.
    pub async fn request_cancel(
        &self,
        id: &str,
        details: &str,
    ) -> Result<ExecutionRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "UPDATE executions SET cancel_requested = 1, status = 'CANCELLING', status_details = $2 WHERE id = $1 AND status IN {ACTIVE}"
        ))
        .bind(id)
        .bind(details)
        .execute(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        let row = sqlx::query(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
        let Some(row) = row else {
            return Err(StoreError::NotFound {
                what: "execution",
                id: id.to_owned(),
            });
        };
        let execution = execution_from_row(&row)?;
        tx.commit().await?;
        Ok(execution)
    }

    /// Records a skipped occurrence (`SKIPPED_OVERLAPPING`) or another execution that
    /// never runs. `Conflict` as for [`Store::open_execution`].
    pub async fn record_execution(&self, execution: &ExecutionRecord) -> Result<(), StoreError> {
        self.open_execution(&NewExecution {
            execution: execution.clone(),
            baselines: Vec::new(),
            tasks: Vec::new(),
            invocations: Vec::new(),
        })
        .await
    }
}

/// The runner's primitives, inside one write transaction.
impl WriteTx {
    /// Claims up to `limit` executions that are not over: on PostgreSQL their rows stay
    /// locked until commit and rows another replica holds are skipped.
    pub async fn claim_active_executions(
        &mut self,
        limit: i64,
    ) -> Result<Vec<ExecutionRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM executions WHERE status IN {ACTIVE} ORDER BY scheduled_at, id LIMIT $1{}",
            lock_clause(self.backend, true)
        ))
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(StoreError::db)?;
        rows.iter().map(execution_from_row).collect()
    }

    /// The tasks of an execution, by priority.
    pub async fn task_executions(
        &mut self,
        execution_id: &str,
    ) -> Result<Vec<TaskExecutionRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM task_executions WHERE execution_id = $1 ORDER BY priority, id"
        ))
        .bind(execution_id)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(StoreError::db)?;
        rows.iter().map(task_from_row).collect()
    }

    /// How many invocations of a task are in each status.
    pub async fn invocation_counts(
        &mut self,
        task_execution_id: &str,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM invocations WHERE task_execution_id = $1 GROUP BY status ORDER BY status",
        )
        .bind(task_execution_id)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(StoreError::db)?;
        rows.iter()
            .map(|row| Ok((get_str(row, "status")?, get_i64(row, "n")?)))
            .collect()
    }

    /// The invocations of a task in one status, in dispatch order, at most `limit`.
    pub async fn invocations_in_status(
        &mut self,
        task_execution_id: &str,
        status: &str,
        limit: i64,
    ) -> Result<Vec<InvocationRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {INVOCATION_COLUMNS} FROM invocations WHERE task_execution_id = $1 AND status = $2 ORDER BY seq LIMIT $3"
        ))
        .bind(task_execution_id)
        .bind(status)
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(StoreError::db)?;
        rows.iter().map(invocation_from_row).collect()
    }

    /// Sets an execution's status; `started_at` and `ended_at` are set only when given.
    pub async fn set_execution_status(
        &mut self,
        id: &str,
        status: &str,
        details: Option<&str>,
        started_at: Option<Timestamp>,
        ended_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE executions SET status = $2, status_details = COALESCE($3, status_details), \
             started_at = COALESCE($4, started_at), ended_at = COALESCE($5, ended_at) WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(details)
        .bind(opt_micros(started_at))
        .bind(opt_micros(ended_at))
        .execute(&mut *self.tx)
        .await
        .map_err(StoreError::db)?;
        Ok(())
    }

    /// Sets a task execution's status, as [`WriteTx::set_execution_status`].
    pub async fn set_task_status(
        &mut self,
        id: &str,
        status: &str,
        details: Option<&str>,
        started_at: Option<Timestamp>,
        ended_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE task_executions SET status = $2, status_details = COALESCE($3, status_details), \
             started_at = COALESCE($4, started_at), ended_at = COALESCE($5, ended_at) WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(details)
        .bind(opt_micros(started_at))
        .bind(opt_micros(ended_at))
        .execute(&mut *self.tx)
        .await
        .map_err(StoreError::db)?;
        Ok(())
    }

    /// Records the outcome a task will end with (see [`crate::TaskExecutionRecord::outcome`]).
    pub async fn set_task_outcome(&mut self, id: &str, outcome: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE task_executions SET outcome = $2 WHERE id = $1 AND outcome IS NULL")
            .bind(id)
            .bind(outcome)
            .execute(&mut *self.tx)
            .await
            .map_err(StoreError::db)?;
        Ok(())
    }

    /// Moves an invocation from status `from` to `status` (and sets its command), as
    /// [`WriteTx::set_execution_status`]. Returns false, changing nothing, when the
    /// invocation is no longer in `from` (a result arrived meanwhile).
    #[expect(
        clippy::too_many_arguments,
        reason = "one UPDATE with every column it may set"
    )]
    pub async fn set_invocation_status(
        &mut self,
        id: &str,
        from: &str,
        status: &str,
        details: Option<&str>,
        command_id: Option<&str>,
        started_at: Option<Timestamp>,
        ended_at: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE invocations SET status = $3, status_details = COALESCE($4, status_details), \
             command_id = COALESCE($5, command_id), started_at = COALESCE($6, started_at), ended_at = COALESCE($7, ended_at) \
             WHERE id = $1 AND status = $2",
        )
        .bind(id)
        .bind(from)
        .bind(status)
        .bind(details)
        .bind(command_id)
        .bind(opt_micros(started_at))
        .bind(opt_micros(ended_at))
        .execute(&mut *self.tx)
        .await
        .map_err(StoreError::db)?
        .rows_affected();
        Ok(updated > 0)
    }

    /// Ends every invocation of a task still in `from` with status `to`. Returns how many.
    pub async fn finish_invocations_in_status(
        &mut self,
        task_execution_id: &str,
        from: &str,
        to: &str,
        details: &str,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let updated = sqlx::query(
            "UPDATE invocations SET status = $3, status_details = $4, ended_at = $5 WHERE task_execution_id = $1 AND status = $2",
        )
        .bind(task_execution_id)
        .bind(from)
        .bind(to)
        .bind(details)
        .bind(to_micros(now))
        .execute(&mut *self.tx)
        .await
        .map_err(StoreError::db)?
        .rows_affected();
        Ok(updated)
    }

    /// The frozen baseline text of an execution.
    pub async fn execution_baseline(
        &mut self,
        execution_id: &str,
        baseline_id: &str,
    ) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT toml FROM execution_baselines WHERE execution_id = $1 AND baseline_id = $2",
        )
        .bind(execution_id)
        .bind(baseline_id)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(StoreError::db)
    }

    /// Inserts a command.
    pub async fn insert_command(&mut self, command: &CommandRecord) -> Result<(), StoreError> {
        crate::commands::insert_command(&mut self.tx, command).await
    }

    /// A command by id.
    pub async fn command(&mut self, id: &str) -> Result<Option<CommandRecord>, StoreError> {
        crate::commands::command_in(&mut self.tx, id).await
    }

    /// Ends a command that is not final yet with `state` (`cancelled`, `timed_out`).
    /// Returns whether it changed.
    pub async fn end_command(
        &mut self,
        id: &str,
        state: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE agent_commands SET state = $2, completed_at = $3 WHERE id = $1 \
             AND state IN ('pending', 'delivered', 'acknowledged')",
        )
        .bind(id)
        .bind(state)
        .bind(to_micros(now))
        .execute(&mut *self.tx)
        .await
        .map_err(StoreError::db)?
        .rows_affected();
        Ok(updated > 0)
    }
}
