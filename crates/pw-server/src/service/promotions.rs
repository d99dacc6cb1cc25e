//! Promotion policies: the server carries what its staging baselines learn over to their
//! production baselines. Decisions are the core's (`pw_core::promotion`, the same functions
//! `patchwarden promote` calls); this module gathers the evidence from the store, writes the
//! production baseline only if nobody changed it meanwhile, and records each change with its
//! evidence, in the policy's history and in the audit log.
//!
//! * Rejection follows each report: as a staging report arrives, what it shows failed (an
//!   install, or the post-install hook after it) is rejected in production at once.
//! * Approval needs time to pass (the soak), so the scheduler runs every policy that approves
//!   every [`RUN_EVERY`], and an operator can run one now (`POST /promotions/{id}/run`).

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use pw_api::agent::{OperationReport, item_evidence};
use pw_api::evaluation::PatchJson;
use pw_api::limits;
use pw_api::server::promotion::{
    PromotionChange, PromotionEvidence, PromotionPolicy, PromotionRun, PromotionSpec,
};
use pw_core::baseline::Baseline;
use pw_core::promotion::{self, Approve, NodeEvidence, Reading, Rules};
use pw_store::{
    ConflictKind, PromotionChangeRecord, PromotionRecord, ReportRecord, StoreError, ids,
};

use crate::AppState;
use crate::error::ApiError;
use crate::service::{stored_json, to_json};

/// How often the scheduler runs policies that approve.
pub(crate) const RUN_EVERY: Duration = Duration::from_secs(300);

/// How many of each staging node's latest reports are searched for Install reports.
const HISTORY_LIMIT: i64 = 100;

/// How many times a write is retried when the production baseline changed meanwhile.
const ATTEMPTS: usize = 3;

/// The changes kept with a policy as `GET` shows them.
const CHANGES_SHOWN: i64 = 100;

/// A baseline named by id or name: (id, baseline). Built-in baselines are found by their name,
/// which is their id.
async fn resolve(
    state: &AppState,
    field: &str,
    text: &str,
) -> Result<(String, Baseline), ApiError> {
    if let Ok(found) = crate::service::baselines::get(state, text).await {
        return Ok((text.to_owned(), found.baseline));
    }
    let record = state
        .store()
        .baselines()
        .await?
        .into_iter()
        .find(|b| b.name == text)
        .ok_or_else(|| ApiError::field(field, format!("baseline `{text}` does not exist")))?;
    let baseline = crate::resolve::parse_stored(&record.id, &record.toml)?;
    Ok((record.id, baseline))
}

/// Checks a spec against the rules of policies and the stored baselines; returns the ids of
/// `from` and `to`.
async fn validate(state: &AppState, spec: &PromotionSpec) -> Result<(String, String), ApiError> {
    let (from_id, from) = resolve(state, "from", &spec.from).await?;
    let (to_id, to) = resolve(state, "to", &spec.to).await?;
    if crate::resolve::predefined(&to_id).is_some() {
        return Err(ApiError::field(
            "to",
            format!(
                "`{to_id}` is a built-in baseline and cannot change; promote into a baseline of your own"
            ),
        ));
    }
    if from_id == to_id {
        return Err(ApiError::field(
            "to",
            "must be another baseline than `from`",
        ));
    }
    if from.operating_system != to.operating_system {
        return Err(ApiError::field(
            "to",
            format!(
                "`{}` is for {} and `{}` for {}: a policy promotes between baselines of one operating system",
                spec.from,
                from.operating_system.as_str(),
                spec.to,
                to.operating_system.as_str()
            ),
        ));
    }
    if let Some(group) = &spec.patch_group {
        crate::service::baselines::check_patch_group(group)?;
    }
    if !spec.reject_failures && spec.approve_when_healthy.is_none() {
        return Err(ApiError::field(
            "reject_failures",
            "a policy that neither rejects failures nor approves anything does nothing",
        ));
    }
    approve_of(spec)?;
    Ok((from_id, to_id))
}

/// The core's approval rule of a spec.
fn approve_of(spec: &PromotionSpec) -> Result<Approve, ApiError> {
    let Some(healthy) = &spec.approve_when_healthy else {
        return Ok(Approve::Never);
    };
    let nodes = healthy.nodes.unwrap_or(1);
    if !limits::PROMOTION_NODES.contains(&nodes) {
        return Err(ApiError::field(
            "approve_when_healthy.nodes",
            limits::range_message(&limits::PROMOTION_NODES),
        ));
    }
    if let Some(percent) = healthy.percent
        && !limits::PROMOTION_PERCENT.contains(&percent)
    {
        return Err(ApiError::field(
            "approve_when_healthy.percent",
            limits::range_message(&limits::PROMOTION_PERCENT),
        ));
    }
    let soak = match &healthy.soak {
        None => SignedDuration::ZERO,
        Some(text) => promotion::parse_soak(text)
            .map_err(|message| ApiError::field("approve_when_healthy.soak", message))?,
    };
    Ok(Approve::Healthy {
        nodes,
        percent: healthy.percent,
        soak,
    })
}

fn change_to_wire(record: &PromotionChangeRecord) -> Result<PromotionChange, ApiError> {
    Ok(PromotionChange {
        at: record.at,
        list: record.list.clone(),
        entry: record.entry.clone(),
        reason: record.reason.clone(),
        evidence: stored_json("promotion evidence", &record.evidence_json)?,
    })
}

async fn to_wire(state: &AppState, record: &PromotionRecord) -> Result<PromotionPolicy, ApiError> {
    let changes = state
        .store()
        .promotion_changes(&record.id, CHANGES_SHOWN)
        .await?
        .iter()
        .map(change_to_wire)
        .collect::<Result<_, _>>()?;
    Ok(PromotionPolicy {
        id: record.id.clone(),
        from_baseline_id: record.from_baseline.clone(),
        to_baseline_id: record.to_baseline.clone(),
        spec: stored_json("promotion policy", &record.spec_json)?,
        created_at: record.created_at,
        updated_at: record.updated_at,
        last_run_at: record.last_run_at,
        last_error: record.last_error.clone(),
        changes,
    })
}

pub(crate) async fn create(
    state: &AppState,
    actor: &str,
    spec: &PromotionSpec,
) -> Result<PromotionPolicy, ApiError> {
    let (from, to) = validate(state, spec).await?;
    let now = state.now();
    let record = PromotionRecord {
        id: ids::short_id("pp-"),
        from_baseline: from,
        to_baseline: to,
        spec_json: to_json(spec)?,
        created_at: now,
        updated_at: now,
        last_run_at: None,
        last_error: None,
    };
    state.store().create_promotion(&record).await?;
    state
        .store()
        .audit(
            now,
            actor,
            "promotion.create",
            Some(&record.id),
            Some(&record.spec_json),
        )
        .await?;
    to_wire(state, &record).await
}

pub(crate) async fn list(state: &AppState) -> Result<Vec<PromotionPolicy>, ApiError> {
    let mut out = Vec::new();
    for record in state.store().promotions().await? {
        out.push(to_wire(state, &record).await?);
    }
    Ok(out)
}

async fn load(state: &AppState, id: &str) -> Result<PromotionRecord, ApiError> {
    state
        .store()
        .promotion(id)
        .await?
        .ok_or_else(|| ApiError::not_found("promotion policy", id))
}

pub(crate) async fn get(state: &AppState, id: &str) -> Result<PromotionPolicy, ApiError> {
    to_wire(state, &load(state, id).await?).await
}

/// Replaces a policy's settings; `from` and `to` may not change (delete and create instead).
pub(crate) async fn update(
    state: &AppState,
    actor: &str,
    id: &str,
    spec: &PromotionSpec,
) -> Result<PromotionPolicy, ApiError> {
    let record = load(state, id).await?;
    let (from, to) = validate(state, spec).await?;
    if from != record.from_baseline || to != record.to_baseline {
        return Err(ApiError::field(
            "from",
            "a policy's `from` and `to` cannot change: delete it and create another",
        ));
    }
    let spec_json = to_json(spec)?;
    let now = state.now();
    state.store().update_promotion(id, &spec_json, now).await?;
    state
        .store()
        .audit(now, actor, "promotion.update", Some(id), Some(&spec_json))
        .await?;
    get(state, id).await
}

pub(crate) async fn delete(state: &AppState, actor: &str, id: &str) -> Result<(), ApiError> {
    state.store().delete_promotion(id).await?;
    state
        .store()
        .audit(state.now(), actor, "promotion.delete", Some(id), None)
        .await?;
    Ok(())
}

/// Whether a report is the policy's staging side: it names the policy's patch group when the
/// policy has one, else its `from` baseline.
fn is_staging(
    spec: &PromotionSpec,
    from_id: &str,
    baseline: Option<&str>,
    group: Option<&str>,
) -> bool {
    match &spec.patch_group {
        Some(wanted) => group == Some(wanted.as_str()),
        None => baseline == Some(from_id),
    }
}

/// Every staging node's latest report and recent Install reports.
async fn gather(
    state: &AppState,
    spec: &PromotionSpec,
    from_id: &str,
) -> Result<Vec<NodeEvidence>, ApiError> {
    let mut nodes = Vec::new();
    for node in state.store().nodes().await? {
        let Some(latest_id) = node.latest_report_id else {
            continue;
        };
        let Some(latest) = state.store().report(latest_id).await? else {
            continue;
        };
        let staging = |r: &ReportRecord| {
            is_staging(
                spec,
                from_id,
                r.baseline_id.as_deref(),
                r.patch_group.as_deref(),
            )
        };
        if !staging(&latest) {
            continue;
        }
        let patches: Vec<PatchJson> = match state.store().report_items(latest_id).await? {
            Some(text) => stored_json("report items", &text)?,
            None => Vec::new(),
        };
        let mut installs = Vec::new();
        for past in state
            .store()
            .node_history(&node.id, None, None, HISTORY_LIMIT)
            .await?
            .iter()
            .filter(|r| r.operation == "Install" && staging(r))
        {
            let Some(text) = state.store().report_json(past.id).await? else {
                continue;
            };
            let report: OperationReport = stored_json("report", &text)?;
            installs.extend(report.install_evidence(Some(past.id), past.reported_at));
        }
        nodes.push(NodeEvidence {
            host: node.hostname.clone(),
            latest_report: Some(latest_id),
            latest_at: latest.reported_at,
            latest: item_evidence(&patches),
            installs,
        });
    }
    Ok(nodes)
}

/// Plans `reading` against the production baseline and writes what it adds, unless
/// `dry_run`; retried when the baseline changed meanwhile. Returns (added, not added).
async fn apply(
    state: &AppState,
    record: &PromotionRecord,
    spec: &PromotionSpec,
    reading: &Reading,
    approve: Approve,
    dry_run: bool,
) -> Result<(Vec<promotion::Change>, Vec<promotion::Change>), ApiError> {
    let owner = format!("promotion policy {}", record.id);
    let source = match &spec.patch_group {
        Some(group) => format!("patch group {group}"),
        None => {
            let from = crate::service::baselines::get(state, &record.from_baseline).await?;
            format!("baseline {}", from.baseline.name)
        }
    };
    let rules = Rules {
        owner: &owner,
        source: &source,
        approve,
    };
    for attempt in 1..=ATTEMPTS {
        let stored = state
            .store()
            .baseline(&record.to_baseline)
            .await?
            .ok_or_else(|| ApiError::not_found("baseline", &record.to_baseline))?;
        let mut prd = crate::resolve::parse_stored(&record.to_baseline, &stored.toml)?;
        let now = state.now();
        let (mut added, mut not_added) = promotion::plan(&mut prd, &reading.observed, &rules, now)
            .map_err(|bad| ApiError::internal(bad.to_string()))?;
        let (releases_added, releases_not_added) =
            promotion::plan_releases(&mut prd, &reading.releases, &rules, now);
        added.extend(releases_added);
        not_added.extend(releases_not_added);
        if dry_run || added.is_empty() {
            return Ok((added, not_added));
        }
        let changes = added
            .iter()
            .map(|change| {
                Ok(PromotionChangeRecord {
                    id: 0,
                    policy_id: record.id.clone(),
                    at: now,
                    list: change.list.to_owned(),
                    entry: change.entry.clone(),
                    reason: change.reason.clone(),
                    evidence_json: to_json(&evidence_to_wire(&change.evidence))?,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let toml = pw_api::baseline::to_toml(&prd);
        match state
            .store()
            .apply_promotion(&record.to_baseline, &stored.toml, &toml, &changes, now)
            .await
        {
            Ok(()) => {
                let actor = format!("promotion:{}", record.id);
                state
                    .store()
                    .audit(
                        now,
                        &actor,
                        "baseline.update",
                        Some(&record.to_baseline),
                        None,
                    )
                    .await?;
                for change in &changes {
                    let (action, event) = if change.list.starts_with("reject") {
                        ("promotion.reject", "promotion.rejected")
                    } else {
                        ("promotion.approve", "promotion.approved")
                    };
                    let mut details = serde_json::json!({
                        "policy": record.id, "entry": change.entry, "list": change.list,
                        "reason": change.reason,
                        "evidence": serde_json::from_str::<serde_json::Value>(&change.evidence_json)
                            .unwrap_or_default(),
                    });
                    state
                        .store()
                        .audit(
                            now,
                            &actor,
                            action,
                            Some(&record.to_baseline),
                            Some(&details.to_string()),
                        )
                        .await?;
                    details["baseline_id"] = serde_json::Value::String(record.to_baseline.clone());
                    crate::service::webhooks::notify(state, event, None, details).await;
                }
                return Ok((added, not_added));
            }
            Err(StoreError::Conflict {
                kind: ConflictKind::Changed,
                ..
            }) if attempt < ATTEMPTS => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::internal("the production baseline kept changing"))
}

/// The policy's production baseline as stored now.
async fn production(state: &AppState, record: &PromotionRecord) -> Result<Baseline, ApiError> {
    let stored = state
        .store()
        .baseline(&record.to_baseline)
        .await?
        .ok_or_else(|| ApiError::not_found("baseline", &record.to_baseline))?;
    crate::resolve::parse_stored(&record.to_baseline, &stored.toml)
}

fn evidence_to_wire(evidence: &promotion::Evidence) -> PromotionEvidence {
    PromotionEvidence {
        nodes: evidence.nodes.clone(),
        reports: evidence.reports.clone(),
        at: evidence.at,
    }
}

fn change_of(change: &promotion::Change, at: Timestamp) -> PromotionChange {
    PromotionChange {
        at,
        list: change.list.to_owned(),
        entry: change.entry.clone(),
        reason: change.reason.clone(),
        evidence: evidence_to_wire(&change.evidence),
    }
}

/// Runs a policy on every staging node's reports now: rejections and approvals.
pub(crate) async fn run(
    state: &AppState,
    id: &str,
    dry_run: bool,
) -> Result<PromotionRun, ApiError> {
    let record = load(state, id).await?;
    let spec: PromotionSpec = stored_json("promotion policy", &record.spec_json)?;
    let approve = approve_of(&spec)?;
    let family = production(state, &record).await?.operating_system.family();
    let evidence = gather(state, &spec, &record.from_baseline).await?;
    let mut reading = Reading::observe(family, &evidence);
    if !spec.reject_failures {
        // Approve only: versions that broke staging are neither approved nor rejected.
        reading.observed.retain(|_, seen| !seen.broke());
        reading.releases.retain(|_, seen| seen.broke_on.is_empty());
    }
    let outcome = apply(state, &record, &spec, &reading, approve, dry_run).await;
    let now = state.now();
    if !dry_run {
        let error = outcome.as_ref().err().map(|e| e.message.clone());
        state
            .store()
            .record_promotion_run(id, now, error.as_deref())
            .await?;
    }
    let (added, not_added) = outcome?;
    Ok(PromotionRun {
        policy_id: record.id.clone(),
        dry_run,
        nodes_read: reading.nodes as u64,
        install_reports_read: reading.install_reports as u64,
        added: added.iter().map(|c| change_of(c, now)).collect(),
        not_added: not_added.iter().map(|c| change_of(c, now)).collect(),
        skipped: reading.skipped,
    })
}

/// What production will get from staging and when: the versions staging installed without
/// failure that production does not list yet, with the instant the policy approves each.
pub(crate) async fn outlook(
    state: &AppState,
    id: &str,
) -> Result<pw_api::server::promotion::PromotionOutlook, ApiError> {
    use pw_api::server::promotion::{PendingApproval, PromotionOutlook};
    let record = load(state, id).await?;
    let spec: PromotionSpec = stored_json("promotion policy", &record.spec_json)?;
    let approve = approve_of(&spec)?;
    let prd = production(state, &record).await?;
    let evidence = gather(state, &spec, &record.from_baseline).await?;
    let reading = Reading::observe(prd.operating_system.family(), &evidence);
    let now = state.now();
    let mut pending: Vec<PendingApproval> =
        promotion::pending(&prd, &reading.observed, approve, now)
            .into_iter()
            .map(|p| PendingApproval {
                entry: p.entry,
                nodes: p.nodes as u64,
                due_at: p.due_at,
            })
            .collect();
    pending.sort_by(|a, b| {
        (a.due_at.is_none(), a.due_at, &a.entry).cmp(&(b.due_at.is_none(), b.due_at, &b.entry))
    });
    Ok(PromotionOutlook {
        policy_id: record.id,
        as_of: now,
        nodes_read: reading.nodes as u64,
        pending,
    })
}

/// After a report is stored: every policy whose staging side it is rejects what it shows
/// failed. Errors are logged and kept with the policy; the report is never refused for them.
pub(crate) async fn on_report(
    state: &AppState,
    node_id: &str,
    report_id: i64,
    baseline_id: Option<&str>,
    patch_group: Option<&str>,
    report: &OperationReport,
) {
    // Most reports show nothing broken: nothing to read, nothing to decide.
    let broke = report.patches.iter().any(|p| p.state == "Failed")
        || report.install.as_ref().is_some_and(|install| {
            !install.failed.is_empty()
                || install.post_install_hook_failure.is_some()
                || install.failed_health_check().is_some()
        });
    if !broke {
        return;
    }
    let policies = match state.store().promotions().await {
        Ok(policies) => policies,
        Err(error) => {
            tracing::warn!(error = %crate::error::chain(&error), "could not read promotion policies");
            return;
        }
    };
    if policies.is_empty() {
        return;
    }
    let hostname = match state.store().node(node_id).await {
        Ok(Some(node)) => node.hostname,
        _ => node_id.to_owned(),
    };
    for record in policies {
        let spec: PromotionSpec = match stored_json("promotion policy", &record.spec_json) {
            Ok(spec) => spec,
            Err(error) => {
                tracing::warn!(
                    policy = record.id,
                    error = error.message,
                    "unreadable policy"
                );
                continue;
            }
        };
        if !spec.reject_failures
            || !is_staging(&spec, &record.from_baseline, baseline_id, patch_group)
        {
            continue;
        }
        let outcome = reject_from_report(state, &record, &spec, &hostname, report_id, report).await;
        if let Err(error) = &outcome {
            tracing::warn!(
                policy = record.id,
                error = error.message,
                "promotion policy failed on a report"
            );
        }
        if outcome.as_ref().is_ok_and(|added| !added.is_empty()) || outcome.is_err() {
            let message = outcome.err().map(|e| e.message);
            let _ = state
                .store()
                .record_promotion_run(&record.id, state.now(), message.as_deref())
                .await;
        }
    }
}

async fn reject_from_report(
    state: &AppState,
    record: &PromotionRecord,
    spec: &PromotionSpec,
    hostname: &str,
    report_id: i64,
    report: &OperationReport,
) -> Result<Vec<promotion::Change>, ApiError> {
    let family = production(state, record).await?.operating_system.family();
    let at = state.now();
    let node = NodeEvidence {
        host: hostname.to_owned(),
        latest_report: Some(report_id),
        latest_at: at,
        latest: item_evidence(&report.patches),
        installs: report
            .install_evidence(Some(report_id), at)
            .into_iter()
            .collect(),
    };
    let reading = Reading::observe(family, std::slice::from_ref(&node));
    let (added, _) = apply(state, record, spec, &reading, Approve::Never, false).await?;
    Ok(added)
}

/// The scheduler's pass: runs every policy that approves. Errors are kept with the policy.
pub(crate) async fn run_approvals(state: &AppState) {
    let policies = match state.store().promotions().await {
        Ok(policies) => policies,
        Err(error) => {
            tracing::warn!(error = %crate::error::chain(&error), "could not read promotion policies");
            return;
        }
    };
    for record in policies {
        let approves = stored_json::<PromotionSpec>("promotion policy", &record.spec_json)
            .is_ok_and(|spec| spec.approve_when_healthy.is_some());
        if !approves {
            continue;
        }
        match run(state, &record.id, false).await {
            Ok(run) if !run.added.is_empty() => {
                tracing::info!(
                    policy = record.id,
                    added = run.added.len(),
                    "promotion policy added entries"
                );
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(
                    policy = record.id,
                    error = error.message,
                    "promotion policy failed"
                );
            }
        }
    }
}

/// The policies that involve a baseline (to refuse deleting it).
pub(crate) async fn using_baseline(state: &AppState, id: &str) -> Result<Vec<String>, ApiError> {
    Ok(state
        .store()
        .promotions()
        .await?
        .into_iter()
        .filter(|p| p.from_baseline == id || p.to_baseline == id)
        .map(|p| p.id)
        .collect())
}
