//! The scheduler: opens an execution for each window occurrence that is due. One replica at
//! a time runs it (the store's scheduler lock); a unique (window, occurrence) row makes a
//! double opening impossible anyway.
//!
//! At the opening it resolves the targets, freezes each node's baseline (patch group, else
//! the OS default, or the task's override) into the execution, and fixes one evaluation
//! instant for every node: one execution, one answer. An occurrence that finds the previous
//! execution of its window still running is recorded as `SKIPPED_OVERLAPPING`. Occurrences
//! missed while no scheduler ran (or skipped over by a clock stepping forward) are not made
//! up, except the one still open (before its cutoff); each is recorded as a `FAILED`
//! execution that never ran, with a status detail that says so. A clock stepping back runs
//! nothing twice: the next occurrence stays the one after the last opened, and an
//! occurrence is opened at most once (a unique row per window and occurrence).
//!
//! An operator's "run now" (`POST /windows/{id}/run`, [`run_now`]) opens an execution through
//! the same path, for an ad-hoc occurrence that starts at the request instant.

use std::collections::{BTreeMap, HashMap};

use jiff::{Timestamp, tz::TimeZone};
use pw_api::server::windows::{TaskSpec, WindowSpec, WindowTargetSpec};
use pw_core::schedule::WindowOccurrence;
use pw_store::{
    ExecutionRecord, InvocationRecord, NewExecution, NodeRecord, StoreError, TaskExecutionRecord,
    WindowPart, WindowRecord, ids,
};

use crate::AppState;
use crate::error::{ApiError, chain};
use crate::rate::{concurrency, error_threshold, parse_max_concurrency, parse_max_errors};
use crate::resolve::{Registrations, baseline_text};
use crate::service::stored_json;

/// The scheduler loop: takes the lock when free, then ticks.
pub(crate) async fn run(state: AppState) {
    let mut shutdown = state.shutdown_rx();
    let mut lock = None;
    let mut last_prune: Option<std::time::Instant> = None;
    let mut last_promotion: Option<std::time::Instant> = None;
    loop {
        tokio::select! {
            () = tokio::time::sleep(state.settings().tick_interval) => {}
            _ = shutdown.changed() => break,
        }
        if lock.is_none() {
            match state.store().try_scheduler_lock().await {
                Ok(Some(taken)) => {
                    tracing::info!("scheduler lock taken: this replica opens executions");
                    lock = Some(taken);
                }
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(error = %chain(&error), "failed to take the scheduler lock");
                    continue;
                }
            }
        }
        let Some(held) = lock.as_mut() else { continue };
        if let Err(error) = held.check().await {
            tracing::warn!(error = %chain(&error), "scheduler lock lost");
            lock = None;
            continue;
        }
        if let Err(error) = tick(&state, state.now()).await {
            tracing::warn!(
                error = error.detail.as_deref().unwrap_or(&error.message),
                "scheduler pass failed"
            );
        }
        if last_promotion.is_none_or(|at| at.elapsed() >= crate::service::promotions::RUN_EVERY) {
            last_promotion = Some(std::time::Instant::now());
            crate::service::promotions::run_approvals(&state).await;
            crate::service::webhooks::notify_overdue(&state).await;
        }
        crate::service::webhooks::deliver_due(&state).await;
        if let Some(retention) = state.settings().report_retention
            && last_prune.is_none_or(|at| at.elapsed().as_secs() >= 3600)
        {
            last_prune = Some(std::time::Instant::now());
            let retention =
                jiff::SignedDuration::try_from(retention).unwrap_or(jiff::SignedDuration::MAX);
            let before = state.now().checked_sub(retention).unwrap_or(Timestamp::MIN);
            match state.store().prune_reports(before).await {
                Ok(n) => tracing::info!(reports = n, "pruned compliance history"),
                Err(error) => {
                    tracing::warn!(error = %chain(&error), "failed to prune compliance history")
                }
            }
        }
    }
    if let Some(held) = lock {
        held.release().await;
    }
}

/// One pass: every due window.
pub(crate) async fn tick(state: &AppState, now: Timestamp) -> Result<(), ApiError> {
    for window in state.store().windows_due(now).await? {
        if let Err(error) = open_due(state, &window, now).await {
            tracing::error!(
                window_id = window.id,
                error = error.detail.as_deref().unwrap_or(&error.message),
                "failed to open an execution"
            );
        }
    }
    Ok(())
}

async fn open_due(state: &AppState, window: &WindowRecord, now: Timestamp) -> Result<(), ApiError> {
    let spec: WindowSpec = stored_json("window", &window.spec_json)?;
    let scheduled =
        match crate::service::windows::scheduled_window(&spec, window.schedule_anchor_at) {
            Ok(scheduled) => scheduled,
            Err(error) => {
                tracing::warn!(
                    window_id = window.id,
                    error = error.message,
                    "window schedule no longer valid; not scheduling it"
                );
                state.store().set_next_execution(&window.id, None).await?;
                return Ok(());
            }
        };
    let Some(next_at) = window.next_execution_at else {
        return Ok(());
    };
    let zone = crate::service::windows::time_zone(spec.schedule_timezone.as_deref())
        .unwrap_or(TimeZone::UTC);
    let due = scheduled.timing().occurrence(next_at.to_zoned(zone));
    let occurrence = if due.may_start_task(now) {
        due
    } else {
        let open = scheduled
            .containing(now)
            .filter(|open| open.may_start_task(now));
        // Every occurrence from the due one up to the open one (or up to now) was missed.
        let until = open.as_ref().map_or(now, |open| open.start().timestamp());
        record_missed(state, window, &scheduled, due, until, now).await?;
        match open {
            Some(open) => open,
            None => {
                let next = scheduled.next_after(now).map(|o| o.start().timestamp());
                state.store().set_next_execution(&window.id, next).await?;
                return Ok(());
            }
        }
    };
    open_execution(state, window, &spec, &occurrence, now, Trigger::Schedule).await?;
    let next = scheduled
        .next_after(now.max(occurrence.start().timestamp()))
        .map(|o| o.start().timestamp());
    state.store().set_next_execution(&window.id, next).await?;
    Ok(())
}

/// How many missed occurrences of one window a pass records (the latest); older ones are
/// only counted in the log line.
const MISSED_RECORDED: usize = 100;

/// Records the occurrences from `first` that start before `until` and whose cutoff has
/// passed as `FAILED` executions that never ran, so that history and webhooks show them:
/// nothing is skipped silently (docs/schedules.md, "Missed occurrences"). They happen when no
/// scheduler ran (every replica down) or when the server's clock stepped forward.
async fn record_missed(
    state: &AppState,
    window: &WindowRecord,
    scheduled: &pw_core::schedule::ScheduledWindow,
    first: WindowOccurrence,
    until: Timestamp,
    now: Timestamp,
) -> Result<(), ApiError> {
    let mut missed = std::collections::VecDeque::new();
    let mut total = 0_usize;
    let mut occurrence = Some(first);
    while let Some(current) = occurrence.take() {
        let start = current.start().timestamp();
        if start >= until || current.may_start_task(now) {
            break;
        }
        total += 1;
        if missed.len() == MISSED_RECORDED {
            missed.pop_front();
        }
        missed.push_back(current);
        occurrence = scheduled.next_after(start);
    }
    for occurrence in &missed {
        let mut record = execution_record(ids::guid(), &window.id, occurrence, "FAILED", now);
        record.started_at = None;
        record.ended_at = Some(now);
        record.evaluation_instant = None;
        record.status_details = Some(format!(
            "missed: no scheduler ran between {} and the cutoff at {} (every replica was down, \
             or the server's clock stepped forward); missed occurrences are not made up",
            occurrence.start().timestamp(),
            occurrence.last_task_start().timestamp()
        ));
        match state.store().record_execution(&record).await {
            Ok(()) => {
                crate::service::webhooks::notify(
                    state,
                    "execution.ended",
                    None,
                    serde_json::json!({"execution_id": record.id, "window_id": window.id,
                        "status": "FAILED", "status_details": record.status_details,
                        "invocations": {}}),
                )
                .await;
            }
            // Another replica recorded it (or ran it) already.
            Err(StoreError::Conflict { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
    if total > 0 {
        tracing::warn!(
            window_id = window.id,
            missed = total,
            recorded = missed.len(),
            first = %missed.front().map_or(now, |o| o.start().timestamp()),
            "window occurrences missed while no scheduler ran; recorded as FAILED executions"
        );
        state.metrics().count(
            "pw_window_occurrences_missed_total",
            String::new(),
            u64::try_from(total).unwrap_or(u64::MAX),
        );
    }
    Ok(())
}

fn execution_record(
    id: String,
    window_id: &str,
    occurrence: &WindowOccurrence,
    status: &str,
    now: Timestamp,
) -> ExecutionRecord {
    ExecutionRecord {
        id,
        window_id: window_id.to_owned(),
        status: status.to_owned(),
        status_details: None,
        scheduled_at: occurrence.start().timestamp(),
        started_at: Some(now),
        ended_at: None,
        window_end_at: Some(occurrence.end().timestamp()),
        last_task_start_at: Some(occurrence.last_task_start().timestamp()),
        evaluation_instant: Some(now),
        cancel_requested: false,
        created_at: now,
    }
}

/// Who opens an execution.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Trigger<'a> {
    /// The scheduler, for a scheduled occurrence.
    Schedule,
    /// An operator's "run now"; the actor as the audit log names it.
    Operator(&'a str),
}

/// What [`open_execution`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Opened {
    /// A new execution, by id.
    Execution(String),
    /// The occurrence was recorded as `SKIPPED_OVERLAPPING` (scheduler only).
    Skipped,
    /// Another replica already opened this occurrence (scheduler only).
    AlreadyOpen,
}

/// Opens an execution of `window` now, for an ad-hoc occurrence that starts at `now` and
/// lasts the window's duration (cutoff included), as the scheduler would open a scheduled
/// one. Disabled windows run too (an explicit operator action); a window whose execution
/// still runs is refused (conflict), as is a run at the exact instant another execution of
/// the window is scheduled at.
pub(crate) async fn run_now(
    state: &AppState,
    window: &WindowRecord,
    actor: &str,
    now: Timestamp,
) -> Result<String, ApiError> {
    let spec: WindowSpec = stored_json("window", &window.spec_json)?;
    let scheduled = crate::service::windows::scheduled_window(&spec, window.schedule_anchor_at)?;
    let zone = crate::service::windows::time_zone(spec.schedule_timezone.as_deref())?;
    let occurrence = scheduled.timing().occurrence(now.to_zoned(zone));
    match open_execution(
        state,
        window,
        &spec,
        &occurrence,
        now,
        Trigger::Operator(actor),
    )
    .await?
    {
        Opened::Execution(id) => Ok(id),
        Opened::Skipped | Opened::AlreadyOpen => Err(ApiError::conflict(format!(
            "window `{}` already has an execution at {now}; retry",
            window.id
        ))),
    }
}

/// Opens (or records as skipped) the execution of one occurrence. An operator's run is
/// refused (conflict) instead of recorded as skipped when an execution of the window still
/// runs.
pub(crate) async fn open_execution(
    state: &AppState,
    window: &WindowRecord,
    spec: &WindowSpec,
    occurrence: &WindowOccurrence,
    now: Timestamp,
    trigger: Trigger<'_>,
) -> Result<Opened, ApiError> {
    let store = state.store();
    let active = store.active_execution(&window.id).await?;
    if let (Some(active), Trigger::Operator(_)) = (&active, trigger) {
        return Err(ApiError::conflict(format!(
            "execution `{}` of window `{}` is still running: wait for it to end or cancel it",
            active.id, window.id
        )));
    }
    if let Some(active) = active {
        let mut skipped = execution_record(
            ids::guid(),
            &window.id,
            occurrence,
            "SKIPPED_OVERLAPPING",
            now,
        );
        skipped.ended_at = Some(now);
        skipped.evaluation_instant = None;
        skipped.status_details = Some(format!(
            "execution {} of this window is still running",
            active.id
        ));
        return match store.record_execution(&skipped).await {
            Ok(()) | Err(StoreError::Conflict { .. }) => {
                tracing::info!(
                    window_id = window.id,
                    execution_id = skipped.id,
                    "occurrence skipped: the previous execution still runs"
                );
                state.metrics().count(
                    "pw_executions_opened_total",
                    "status=\"SKIPPED_OVERLAPPING\"".to_owned(),
                    1,
                );
                Ok(Opened::Skipped)
            }
            Err(error) => Err(error.into()),
        };
    }
    let execution_id = ids::guid();
    let nodes = store.nodes().await?;
    let registrations = Registrations::load(store).await?;
    let targets: HashMap<String, WindowTargetSpec> = store
        .window_parts(WindowPart::Target, &window.id)
        .await?
        .iter()
        .map(|part| {
            Ok((
                part.id.clone(),
                stored_json("window target", &part.spec_json)?,
            ))
        })
        .collect::<Result<_, ApiError>>()?;
    let mut baselines: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut tasks = Vec::new();
    let mut invocations = Vec::new();
    for part in store.window_parts(WindowPart::Task, &window.id).await? {
        let task: TaskSpec = stored_json("window task", &part.spec_json)?;
        let selected =
            crate::resolve::task_nodes(&task, &targets, &nodes, spec.allow_unassociated_targets);
        let n = selected.len() as u64;
        let concurrency = parse_max_concurrency(&task.max_concurrency)
            .map(|a| concurrency(a, n))
            .unwrap_or(1);
        let threshold = parse_max_errors(&task.max_errors)
            .map(|a| error_threshold(a, n))
            .unwrap_or(0);
        let task_execution_id = ids::guid();
        for (seq, (index, target_id, owner)) in selected.into_iter().enumerate() {
            let node: &NodeRecord = &nodes[index];
            let mut invocation = InvocationRecord {
                id: ids::guid(),
                task_execution_id: task_execution_id.clone(),
                execution_id: execution_id.clone(),
                node_id: node.id.clone(),
                seq: i64::try_from(seq).unwrap_or(i64::MAX),
                status: "PENDING".to_owned(),
                status_details: None,
                command_id: None,
                baseline_id: None,
                patch_group: None,
                window_target_id: target_id,
                owner_information: owner,
                started_at: None,
                ended_at: None,
            };
            let resolved = match (&task.baseline_override, registrations.for_node(node)) {
                (Some(id), resolved) => {
                    Ok((resolved.ok().and_then(|(group, _)| group), id.clone()))
                }
                (None, resolved) => resolved,
            };
            match resolved {
                Ok((group, baseline_id)) => {
                    if !baselines.contains_key(&baseline_id) {
                        baselines.insert(
                            baseline_id.clone(),
                            baseline_text(store, &baseline_id).await?,
                        );
                    }
                    if baselines.get(&baseline_id).is_some_and(Option::is_none) {
                        invocation.status = "FAILED".to_owned();
                        invocation.status_details =
                            Some(format!("baseline `{baseline_id}` does not exist"));
                        invocation.ended_at = Some(now);
                    }
                    invocation.baseline_id = Some(baseline_id);
                    invocation.patch_group = group;
                }
                Err(error) => {
                    invocation.status = "FAILED".to_owned();
                    invocation.status_details = Some(error.message);
                    invocation.ended_at = Some(now);
                }
            }
            invocations.push(invocation);
        }
        tasks.push(TaskExecutionRecord {
            id: task_execution_id,
            execution_id: execution_id.clone(),
            task_id: part.id.clone(),
            priority: part.priority,
            operation: task.operation.as_str().to_owned(),
            status: "PENDING".to_owned(),
            status_details: None,
            started_at: None,
            ended_at: None,
            targets: i64::try_from(n).unwrap_or(i64::MAX),
            concurrency: i64::try_from(concurrency).unwrap_or(i64::MAX),
            error_threshold: i64::try_from(threshold).unwrap_or(i64::MAX),
            outcome: None,
            spec_json: part.spec_json.clone(),
        });
    }
    let new = NewExecution {
        execution: execution_record(
            execution_id.clone(),
            &window.id,
            occurrence,
            "IN_PROGRESS",
            now,
        ),
        baselines: baselines
            .into_iter()
            .filter_map(|(id, text)| text.map(|text| (id, text)))
            .collect(),
        tasks,
        invocations,
    };
    match store.open_execution(&new).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => return Ok(Opened::AlreadyOpen),
        Err(error) => return Err(error.into()),
    }
    let (actor, manual) = match trigger {
        Trigger::Schedule => ("scheduler", false),
        Trigger::Operator(actor) => (actor, true),
    };
    tracing::info!(
        window_id = window.id,
        execution_id,
        manual,
        tasks = new.tasks.len(),
        invocations = new.invocations.len(),
        "execution opened"
    );
    state.metrics().count(
        "pw_executions_opened_total",
        "status=\"IN_PROGRESS\"".to_owned(),
        1,
    );
    store
        .audit(
            now,
            actor,
            "execution.open",
            Some(&execution_id),
            manual.then_some(r#"{"trigger":"run"}"#),
        )
        .await?;
    state.wake_runner();
    Ok(Opened::Execution(execution_id))
}
