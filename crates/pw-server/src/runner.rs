//! The runner: advances every execution that is not over, one transaction per pass. It
//! runs on every replica; on PostgreSQL each pass claims executions with
//! `FOR UPDATE SKIP LOCKED`, so two replicas never advance the same one.
//!
//! Per task (ssm-reference §7.4, §7.5): tasks run in priority order (a level starts when
//! every task of the lower level has ended); invocations start in target order within the
//! concurrency and the ramp (`crate::rate`); none starts after the window's cutoff or once
//! the errors exceed the threshold; a cancelled execution starts nothing more. Commands not
//! acknowledged in time, or not finished in time, end `TIMED_OUT`.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use pw_api::server::agent::PatchCommand;
use pw_api::server::windows::{CutoffBehavior, TaskSpec};
use pw_store::{CommandRecord, ExecutionRecord, TaskExecutionRecord, WriteTx, ids};

use crate::AppState;
use crate::error::ApiError;
use crate::rate::{Progress, may_start};
use crate::service::{stored_json, to_json};

const DEFAULT_ACK_TIMEOUT: i64 = 3600;
const DEFAULT_EXECUTION_TIMEOUT: i64 = 7200;

/// The runner loop: a pass per tick, or sooner when woken.
pub(crate) async fn run(state: AppState) {
    let mut shutdown = state.shutdown_rx();
    loop {
        tokio::select! {
            () = tokio::time::sleep(state.settings().tick_interval) => {}
            () = state.inner.runner_wake.notified() => {}
            _ = shutdown.changed() => return,
        }
        if let Err(error) = tick(&state, state.now()).await {
            tracing::warn!(
                error = error.detail.as_deref().unwrap_or(&error.message),
                "runner pass failed"
            );
        }
    }
}

pub(crate) fn is_final_status(status: &str) -> bool {
    matches!(
        status,
        "SUCCESS" | "FAILED" | "TIMED_OUT" | "CANCELLED" | "SKIPPED_OVERLAPPING"
    )
}

/// What a pass did that must happen after commit.
#[derive(Default)]
struct Effects {
    wake_nodes: Vec<String>,
    counters: Vec<(&'static str, String)>,
    /// Webhook events, sent once the pass has committed.
    events: Vec<(&'static str, serde_json::Value)>,
}

/// One pass over the active executions.
pub(crate) async fn tick(state: &AppState, now: Timestamp) -> Result<(), ApiError> {
    let mut tx = state.store().begin_write().await?;
    let executions = tx.claim_active_executions(50).await?;
    let mut effects = Effects::default();
    for execution in &executions {
        advance(&mut tx, execution, now, &mut effects).await?;
    }
    tx.commit().await?;
    for node_id in &effects.wake_nodes {
        state.wake_node(node_id);
    }
    for (name, labels) in effects.counters {
        state.metrics().count(name, labels, 1);
    }
    for (event, mut data) in effects.events {
        // An ended execution carries its invocations by status.
        if event == "execution.ended"
            && let Some(id) = data.get("execution_id").and_then(|v| v.as_str())
            && let Ok(execution) = crate::service::executions::load(state, id).await
        {
            let mut counts = std::collections::BTreeMap::<&str, u64>::new();
            for invocation in execution.tasks.iter().flat_map(|t| &t.invocations) {
                *counts.entry(invocation.status.as_str()).or_default() += 1;
            }
            data["invocations"] = serde_json::json!(counts);
        }
        crate::service::webhooks::notify(state, event, None, data).await;
    }
    Ok(())
}

fn later(at: Timestamp, seconds: i64) -> Timestamp {
    at.checked_add(SignedDuration::from_secs(seconds))
        .unwrap_or(Timestamp::MAX)
}

async fn advance(
    tx: &mut WriteTx,
    execution: &ExecutionRecord,
    now: Timestamp,
    effects: &mut Effects,
) -> Result<(), ApiError> {
    if execution.status == "PENDING" {
        tx.set_execution_status(&execution.id, "IN_PROGRESS", None, Some(now), None)
            .await?;
    }
    let cancel = execution.cancel_requested;
    let past_cutoff = execution
        .last_task_start_at
        .is_some_and(|cutoff| now > cutoff);
    let mut tasks = tx.task_executions(&execution.id).await?;
    let level = tasks
        .iter()
        .filter(|task| !is_final_status(&task.status))
        .map(|task| task.priority)
        .min();
    for task in &mut tasks {
        if is_final_status(&task.status) {
            continue;
        }
        if task.status == "PENDING" {
            if cancel {
                tx.finish_invocations_in_status(
                    &task.id,
                    "PENDING",
                    "CANCELLED",
                    "not started: the execution was cancelled",
                    now,
                )
                .await?;
                tx.set_task_status(
                    &task.id,
                    "CANCELLED",
                    Some("the execution was cancelled"),
                    None,
                    Some(now),
                )
                .await?;
                task.status = "CANCELLED".to_owned();
                continue;
            }
            if Some(task.priority) != level {
                continue;
            }
            if past_cutoff {
                tx.finish_invocations_in_status(
                    &task.id,
                    "PENDING",
                    "CANCELLED",
                    "not started: the window's cutoff passed",
                    now,
                )
                .await?;
                tx.set_task_status(
                    &task.id,
                    "TIMED_OUT",
                    Some("the window's cutoff passed before the task started"),
                    None,
                    Some(now),
                )
                .await?;
                task.status = "TIMED_OUT".to_owned();
                continue;
            }
            tx.set_task_status(&task.id, "IN_PROGRESS", None, Some(now), None)
                .await?;
            task.status = "IN_PROGRESS".to_owned();
        }
        advance_task(tx, execution, task, now, cancel, past_cutoff, effects).await?;
    }
    if tasks.iter().all(|task| is_final_status(&task.status)) {
        let (status, details) = if cancel {
            ("CANCELLED", None)
        } else if tasks.iter().any(|task| task.status == "FAILED") {
            ("FAILED", Some("a task failed"))
        } else if tasks.iter().any(|task| task.status == "TIMED_OUT") {
            (
                "TIMED_OUT",
                Some("the window's cutoff passed before every invocation started"),
            )
        } else {
            ("SUCCESS", None)
        };
        tx.set_execution_status(&execution.id, status, details, None, Some(now))
            .await?;
        tracing::info!(execution_id = execution.id, status, "execution ended");
        effects.events.push((
            "execution.ended",
            serde_json::json!({"execution_id": execution.id, "window_id": execution.window_id,
                "status": status, "status_details": details}),
        ));
        effects.counters.push((
            "pw_executions_finished_total",
            format!("status=\"{status}\""),
        ));
    }
    Ok(())
}

#[expect(
    clippy::too_many_lines,
    reason = "one task's state machine reads best in one place"
)]
async fn advance_task(
    tx: &mut WriteTx,
    execution: &ExecutionRecord,
    task: &mut TaskExecutionRecord,
    now: Timestamp,
    cancel: bool,
    past_cutoff: bool,
    effects: &mut Effects,
) -> Result<(), ApiError> {
    let spec: TaskSpec = stored_json("task", &task.spec_json)?;
    let ack_timeout = spec.timeout_seconds.map_or(DEFAULT_ACK_TIMEOUT, i64::from);
    let execution_timeout = spec
        .execution_timeout_seconds
        .map_or(DEFAULT_EXECUTION_TIMEOUT, i64::from);
    let mut outcome = task.outcome.clone();

    // Running invocations: timeouts, cancellations, results that raced us.
    let mut acknowledged_running = 0u64;
    for invocation in tx
        .invocations_in_status(&task.id, "IN_PROGRESS", i64::MAX)
        .await?
    {
        let command = match &invocation.command_id {
            Some(id) => tx.command(id).await?,
            None => None,
        };
        let Some(command) = command else {
            tx.set_invocation_status(
                &invocation.id,
                "IN_PROGRESS",
                "FAILED",
                Some("the command is missing"),
                None,
                None,
                Some(now),
            )
            .await?;
            continue;
        };
        let end = |status: &'static str, details: String| (status, details);
        let ended: Option<(&str, String)> = match command.state.as_str() {
            "succeeded" => Some(end("SUCCESS", "the node reported success".to_owned())),
            "failed" => Some(end(
                "FAILED",
                pw_store::failure_details(command.result_json.as_deref()),
            )),
            "cancelled" => Some(end("CANCELLED", "the command was cancelled".to_owned())),
            "timed_out" => Some(end(
                "TIMED_OUT",
                "the node did not acknowledge the command in time".to_owned(),
            )),
            "pending" | "delivered" => {
                if cancel {
                    tx.end_command(&command.id, "cancelled", now).await?;
                    Some(end(
                        "CANCELLED",
                        "not started: the execution was cancelled".to_owned(),
                    ))
                } else if past_cutoff {
                    tx.end_command(&command.id, "cancelled", now).await?;
                    outcome.get_or_insert_with(|| "TIMED_OUT".to_owned());
                    Some(end(
                        "CANCELLED",
                        "not started: the window's cutoff passed".to_owned(),
                    ))
                } else if command
                    .ack_deadline_at
                    .is_some_and(|deadline| deadline < now)
                {
                    tx.end_command(&command.id, "timed_out", now).await?;
                    Some(end(
                        "TIMED_OUT",
                        format!("delivery timed out: not acknowledged within {ack_timeout} s"),
                    ))
                } else {
                    None
                }
            }
            "acknowledged" => {
                let acknowledged_at = command.acknowledged_at.unwrap_or(now);
                if past_cutoff && spec.cutoff_behavior == CutoffBehavior::CancelTask {
                    tx.end_command(&command.id, "cancelled", now).await?;
                    outcome.get_or_insert_with(|| "TIMED_OUT".to_owned());
                    Some(end(
                        "TIMED_OUT",
                        "cancelled at the window's cutoff (CANCEL_TASK)".to_owned(),
                    ))
                } else if later(acknowledged_at, execution_timeout) < now {
                    tx.end_command(&command.id, "timed_out", now).await?;
                    Some(end(
                        "TIMED_OUT",
                        format!("the node did not report within {execution_timeout} s"),
                    ))
                } else {
                    acknowledged_running += 1;
                    None
                }
            }
            _ => None,
        };
        if let Some((status, details)) = ended
            && tx
                .set_invocation_status(
                    &invocation.id,
                    "IN_PROGRESS",
                    status,
                    Some(&details),
                    None,
                    None,
                    Some(now),
                )
                .await?
        {
            effects.counters.push((
                "pw_invocations_finished_total",
                format!("status=\"{status}\""),
            ));
            if status == "FAILED" || status == "TIMED_OUT" {
                effects.events.push((
                    "invocation.failed",
                    serde_json::json!({"invocation_id": invocation.id,
                        "execution_id": execution.id, "node_id": invocation.node_id,
                        "status": status, "status_details": details}),
                ));
            }
        }
    }

    let counts: HashMap<String, i64> = tx.invocation_counts(&task.id).await?.into_iter().collect();
    let get = |status: &str| u64::try_from(counts.get(status).copied().unwrap_or(0)).unwrap_or(0);
    let pending = get("PENDING");
    let running = get("IN_PROGRESS");
    let errors = get("FAILED") + get("TIMED_OUT");
    let finished = get("SUCCESS") + get("FAILED") + get("TIMED_OUT") + get("CANCELLED");
    let threshold = u64::try_from(task.error_threshold).unwrap_or(0);
    let too_many_errors = errors > threshold;
    if too_many_errors {
        outcome.get_or_insert_with(|| "FAILED".to_owned());
    }
    if pending > 0 {
        if too_many_errors {
            let details = format!(
                "not started: the task stopped after {errors} errors (max errors {})",
                spec.max_errors
            );
            tx.finish_invocations_in_status(&task.id, "PENDING", "CANCELLED", &details, now)
                .await?;
        } else if cancel {
            tx.finish_invocations_in_status(
                &task.id,
                "PENDING",
                "CANCELLED",
                "not started: the execution was cancelled",
                now,
            )
            .await?;
        } else if past_cutoff {
            tx.finish_invocations_in_status(
                &task.id,
                "PENDING",
                "CANCELLED",
                "not started: the window's cutoff passed",
                now,
            )
            .await?;
            outcome.get_or_insert_with(|| "TIMED_OUT".to_owned());
        } else {
            let progress = Progress {
                started: finished + running,
                running,
                acknowledged: finished + acknowledged_running,
                errors,
            };
            let n = may_start(
                progress,
                u64::try_from(task.concurrency).unwrap_or(1),
                threshold,
            );
            if n > 0 {
                // A task with several window targets runs them one after another
                // (ssm-reference §7.3): invocations are ordered by target, and the next
                // target's start only once every invocation of the earlier ones has ended.
                let next = tx
                    .invocations_in_status(
                        &task.id,
                        "PENDING",
                        i64::try_from(n).unwrap_or(i64::MAX),
                    )
                    .await?;
                let group = next.first().map(|i| i.window_target_id.clone());
                let earlier_running = running > 0
                    && tx
                        .invocations_in_status(&task.id, "IN_PROGRESS", i64::MAX)
                        .await?
                        .iter()
                        .any(|i| Some(&i.window_target_id) != group.as_ref());
                if !earlier_running {
                    for invocation in next
                        .iter()
                        .take_while(|i| Some(&i.window_target_id) == group.as_ref())
                    {
                        dispatch(tx, execution, &spec, invocation, now, ack_timeout, effects)
                            .await?;
                    }
                }
            }
        }
    }
    if let Some(outcome) = &outcome
        && task.outcome.as_deref() != Some(outcome)
    {
        tx.set_task_outcome(&task.id, outcome).await?;
        task.outcome = Some(outcome.clone());
    }

    let counts: HashMap<String, i64> = tx.invocation_counts(&task.id).await?.into_iter().collect();
    if counts.get("PENDING").copied().unwrap_or(0) == 0
        && counts.get("IN_PROGRESS").copied().unwrap_or(0) == 0
    {
        let failed = counts.get("FAILED").copied().unwrap_or(0)
            + counts.get("TIMED_OUT").copied().unwrap_or(0);
        let (status, details) = match outcome.as_deref() {
            Some("FAILED") => (
                "FAILED",
                format!(
                    "{failed} invocations failed or timed out; max errors {}",
                    spec.max_errors
                ),
            ),
            _ if cancel => ("CANCELLED", "the execution was cancelled".to_owned()),
            Some("TIMED_OUT") => (
                "TIMED_OUT",
                "the window's cutoff stopped the task".to_owned(),
            ),
            _ => (
                "SUCCESS",
                format!(
                    "{} invocations succeeded, {failed} failed",
                    counts.get("SUCCESS").copied().unwrap_or(0)
                ),
            ),
        };
        tx.set_task_status(&task.id, status, Some(&details), None, Some(now))
            .await?;
        task.status = status.to_owned();
        tracing::info!(
            execution_id = execution.id,
            task_execution_id = task.id,
            status,
            "task ended"
        );
    }
    Ok(())
}

async fn dispatch(
    tx: &mut WriteTx,
    execution: &ExecutionRecord,
    spec: &TaskSpec,
    invocation: &pw_store::InvocationRecord,
    now: Timestamp,
    ack_timeout: i64,
    effects: &mut Effects,
) -> Result<(), ApiError> {
    let baseline_id = invocation.baseline_id.clone().unwrap_or_default();
    let Some(baseline_toml) = tx.execution_baseline(&execution.id, &baseline_id).await? else {
        let details = format!("baseline `{baseline_id}` was not frozen into the execution");
        tx.set_invocation_status(
            &invocation.id,
            "PENDING",
            "FAILED",
            Some(&details),
            None,
            Some(now),
            Some(now),
        )
        .await?;
        return Ok(());
    };
    let command_id = ids::guid();
    let evaluation_instant = execution
        .evaluation_instant
        .unwrap_or(execution.scheduled_at);
    // Every host of the execution chooses among the same releases: those learned before the
    // execution was created.
    let (release, release_note) = match crate::releases::release_policy(&baseline_toml) {
        None => (None, None),
        Some(policy) => {
            let known = tx
                .releases(crate::releases::OS.as_str(), Some(execution.created_at))
                .await?;
            crate::releases::choose_among(&policy, &known, evaluation_instant)
        }
    };
    let payload = PatchCommand {
        operation: spec.operation,
        baseline_id,
        baseline_toml,
        evaluation_instant,
        snapshot_id: execution.id.clone(),
        patch_group: invocation.patch_group.clone(),
        reboot_option: spec.reboot_option,
        install_override_list: spec.install_override_list.clone(),
        execution_id: Some(execution.id.clone()),
        invocation_id: Some(invocation.id.clone()),
        release,
        release_note,
        health_checks: spec.health_checks.clone(),
        rollback: Vec::new(),
    };
    let command = CommandRecord {
        id: command_id.clone(),
        node_id: invocation.node_id.clone(),
        kind: "patch".to_owned(),
        payload_json: to_json(&payload)?,
        state: "pending".to_owned(),
        created_at: now,
        delivered_at: None,
        deliveries: 0,
        acknowledged_at: None,
        completed_at: None,
        ack_deadline_at: Some(later(now, ack_timeout)),
        finish_deadline_at: None,
        result_json: None,
        invocation_id: Some(invocation.id.clone()),
    };
    tx.insert_command(&command).await?;
    tx.set_invocation_status(
        &invocation.id,
        "PENDING",
        "IN_PROGRESS",
        Some("command sent to the node"),
        Some(&command_id),
        Some(now),
        None,
    )
    .await?;
    tracing::debug!(
        execution_id = execution.id,
        host_id = invocation.node_id,
        command_id,
        "invocation started"
    );
    effects.wake_nodes.push(invocation.node_id.clone());
    effects
        .counters
        .push(("pw_invocations_dispatched_total", String::new()));
    Ok(())
}
