//! Window executions with their task executions and invocations; cancelling one.

use pw_api::server::windows::{
    Execution, ExecutionStatus, Invocation, TaskExecution, TaskOperation,
};
use pw_store::{ExecutionRecord, InvocationRecord, TaskExecutionRecord};

use crate::AppState;
use crate::error::ApiError;

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

pub(crate) fn execution_to_wire(record: &ExecutionRecord, tasks: Vec<TaskExecution>) -> Execution {
    Execution {
        id: record.id.clone(),
        window_id: record.window_id.clone(),
        status: ExecutionStatus::parse(&record.status),
        status_details: record.status_details.clone(),
        scheduled_at: record.scheduled_at,
        started_at: record.started_at,
        ended_at: record.ended_at,
        window_end_at: record.window_end_at,
        last_task_start_at: record.last_task_start_at,
        evaluation_instant: record.evaluation_instant,
        tasks,
    }
}

pub(crate) fn task_to_wire(
    record: &TaskExecutionRecord,
    invocations: Vec<Invocation>,
) -> TaskExecution {
    TaskExecution {
        id: record.id.clone(),
        task_id: record.task_id.clone(),
        priority: u32::try_from(record.priority).unwrap_or(0),
        operation: if record.operation == "Install" {
            TaskOperation::Install
        } else {
            TaskOperation::Scan
        },
        status: ExecutionStatus::parse(&record.status),
        status_details: record.status_details.clone(),
        started_at: record.started_at,
        ended_at: record.ended_at,
        targets: count(record.targets),
        concurrency: count(record.concurrency),
        error_threshold: count(record.error_threshold),
        invocations,
    }
}

pub(crate) fn invocation_to_wire(record: &InvocationRecord) -> Invocation {
    Invocation {
        id: record.id.clone(),
        node_id: record.node_id.clone(),
        status: ExecutionStatus::parse(&record.status),
        status_details: record.status_details.clone(),
        command_id: record.command_id.clone(),
        baseline_id: record.baseline_id.clone(),
        patch_group: record.patch_group.clone(),
        window_target_id: record.window_target_id.clone(),
        owner_information: record.owner_information.clone(),
        started_at: record.started_at,
        ended_at: record.ended_at,
    }
}

pub(crate) async fn load(state: &AppState, id: &str) -> Result<Execution, ApiError> {
    let record = state
        .store()
        .execution(id)
        .await?
        .ok_or_else(|| ApiError::not_found("execution", id))?;
    let invocations = state.store().execution_invocations(id).await?;
    let tasks = state
        .store()
        .task_executions(id)
        .await?
        .iter()
        .map(|task| {
            let mine = invocations
                .iter()
                .filter(|i| i.task_execution_id == task.id)
                .map(invocation_to_wire)
                .collect();
            task_to_wire(task, mine)
        })
        .collect();
    Ok(execution_to_wire(&record, tasks))
}

/// Asks an execution to stop handing out work; running invocations finish.
pub(crate) async fn cancel(state: &AppState, actor: &str, id: &str) -> Result<(), ApiError> {
    let details = format!("cancelled by {actor}");
    state.store().request_cancel(id, &details).await?;
    state
        .store()
        .audit(state.now(), actor, "execution.cancel", Some(id), None)
        .await?;
    state.runner_tick().await?;
    Ok(())
}
