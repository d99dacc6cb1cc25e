//! The admin API under `/api/v1`: one module per resource. Handlers parse and check input
//! (errors name the field), call the store, and convert records to pw-api wire types.

pub(crate) mod access;
mod baselines;
pub(crate) mod compliance;
mod executions;
mod fleet;
pub(crate) mod nodes;
mod preview;
mod promotions;
mod webhooks;
pub(crate) mod windows;

pub(crate) use crate::api::access::create_token_in;

use axum::Router;
use axum::routing::{delete, get, post, put};
use pw_api::server::compliance::{ComplianceSummary, Operation};
use pw_api::server::tokens::Tag;
use pw_store::ReportRecord;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/baselines", get(baselines::list).post(baselines::create))
        .route(
            "/baselines/{id}",
            get(baselines::show)
                .put(baselines::update)
                .delete(baselines::remove),
        )
        .route("/baselines/{id}/impact", post(baselines::impact))
        .route(
            "/promotions",
            get(promotions::list).post(promotions::create),
        )
        .route(
            "/promotions/{id}",
            get(promotions::show)
                .put(promotions::update)
                .delete(promotions::remove),
        )
        .route("/promotions/{id}/run", post(promotions::run))
        .route("/promotions/{id}/pending", get(promotions::pending))
        .route("/nodes/{id}/rollback", post(nodes::rollback))
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route(
            "/webhooks/{id}",
            put(webhooks::update).delete(webhooks::remove),
        )
        .route("/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/default-baselines", get(baselines::list_defaults))
        .route(
            "/default-baselines/{os}",
            put(baselines::register_default).delete(baselines::clear_default),
        )
        .route(
            "/patch-groups",
            get(baselines::list_patch_groups)
                .post(baselines::register_patch_group)
                .delete(baselines::deregister_patch_group),
        )
        .route("/fleet", get(fleet::overview))
        .route("/fleet/nodes", get(fleet::nodes))
        .route("/fleet/references/{id}", get(fleet::reference))
        .route("/nodes", get(nodes::list))
        .route("/nodes/{id}", get(nodes::show).delete(nodes::remove))
        .route("/nodes/{id}/tags", put(nodes::set_tags))
        .route("/nodes/{id}/inventory", get(nodes::inventory))
        .route(
            "/nodes/{id}/commands",
            get(nodes::commands).post(nodes::create_command),
        )
        .route("/compliance/nodes", get(compliance::node_summaries))
        .route("/compliance/nodes/{id}", get(compliance::node_items))
        .route(
            "/compliance/nodes/{id}/history",
            get(compliance::node_history),
        )
        .route("/compliance/patch-groups", get(compliance::patch_groups))
        .route("/compliance/baselines", get(compliance::baselines))
        .route("/compliance/export", get(compliance::export))
        .route("/compliance/reports/{id}", get(compliance::report))
        .route("/preview", post(preview::preview))
        .route("/releases", get(crate::releases::list))
        .route("/releases/import", post(crate::releases::import))
        .route("/releases/refresh", post(crate::releases::refresh_now))
        .route("/windows", get(windows::list).post(windows::create))
        .route(
            "/windows/{id}",
            get(windows::show)
                .put(windows::update)
                .delete(windows::remove),
        )
        .route("/windows/{id}/enable", post(windows::enable))
        .route("/windows/{id}/disable", post(windows::disable))
        .route("/windows/{id}/next", get(windows::next))
        .route("/windows/{id}/run", post(windows::run))
        .route(
            "/windows/{id}/targets",
            get(windows::list_targets).post(windows::create_target),
        )
        .route(
            "/windows/{id}/targets/{target_id}",
            delete(windows::delete_target),
        )
        .route(
            "/windows/{id}/tasks",
            get(windows::list_tasks).post(windows::create_task),
        )
        .route(
            "/windows/{id}/tasks/{task_id}",
            delete(windows::delete_task),
        )
        .route("/executions", get(executions::list))
        .route("/executions/{id}", get(executions::show))
        .route("/executions/{id}/cancel", post(executions::cancel))
        .route(
            "/tokens",
            get(access::list_tokens).post(access::create_token),
        )
        .route("/tokens/{id}", delete(access::revoke_token))
        .route(
            "/activations",
            get(access::list_activations).post(access::create_activation),
        )
        .route("/activations/{id}", delete(access::delete_activation))
        .route("/audit", get(access::audit))
}

/// Tags from the store's pairs.
pub(crate) fn tags_to_wire(tags: &[(String, String)]) -> Vec<Tag> {
    tags.iter()
        .map(|(key, value)| Tag {
            key: key.clone(),
            value: value.clone(),
        })
        .collect()
}

pub(crate) use crate::service::nodes::tags_from_wire;

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A stored report as the API shows it.
pub(crate) fn summary_to_wire(report: &ReportRecord) -> ComplianceSummary {
    let counts = &report.counts;
    ComplianceSummary {
        report_id: report.id,
        node_id: report.node_id.clone(),
        reported_at: report.reported_at,
        operation: match report.operation.as_str() {
            "Scan" => Operation::Scan,
            "Install" => Operation::Install,
            _ => Operation::Unknown,
        },
        baseline_id: report.baseline_id.clone(),
        patch_group: report.patch_group.clone(),
        execution_id: report.execution_id.clone(),
        operation_start: report.operation_start,
        operation_end: report.operation_end,
        evaluated_at: report.evaluated_at,
        status: report.status.clone(),
        installed: count(counts.installed),
        installed_other: count(counts.installed_other),
        installed_rejected: count(counts.installed_rejected),
        installed_pending_reboot: count(counts.installed_pending_reboot),
        not_applicable: count(counts.not_applicable),
        missing: count(counts.missing),
        failed: count(counts.failed),
        critical_non_compliant: count(counts.critical_non_compliant),
        security_non_compliant: count(counts.security_non_compliant),
        other_non_compliant: count(counts.other_non_compliant),
        non_compliant_severity: report.non_compliant_severity.clone(),
        release: report.release.clone(),
    }
}

pub(crate) use crate::service::{stored_json, to_json};
