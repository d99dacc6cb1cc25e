//! `/healthz`, `/metrics` (Prometheus text format) and `/openapi.json` (also under
//! `/api/v1/openapi.json`). No authentication: they reveal nothing about the fleet.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::AppState;
use crate::error::ApiError;

/// The OpenAPI document of the API, committed next to the code.
pub(crate) const OPENAPI: &str = include_str!("../openapi.json");

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/api/v1/openapi.json", get(openapi))
}

async fn healthz(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    state.store().ping().await?;
    Ok((
        StatusCode::OK,
        axum::Json(serde_json::json!({ "status": "ok" })),
    ))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut text = state.metrics().render();
    text.push_str(&fleet_gauges(&state).await);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// Gauges read from the store at each scrape: nodes by state, and reboot debt. A store that
/// does not answer leaves them out (the counters above still answer).
async fn fleet_gauges(state: &AppState) -> String {
    use std::fmt::Write as _;
    let now = state.now();
    let stale_before = crate::service::fleet::stale_before(state);
    let mut out = String::new();
    if let Ok(counts) = state
        .store()
        .fleet_counts(stale_before, &pw_store::FleetFilter::default())
        .await
    {
        out.push_str("# HELP pw_fleet_nodes Nodes by state (the console's overview).\n# TYPE pw_fleet_nodes gauge\n");
        for (node_state, n) in counts {
            let _ = writeln!(
                out,
                "pw_fleet_nodes{{state=\"{}\"}} {n}",
                node_state.as_str()
            );
        }
    }
    if let Ok((pending, oldest)) = state.store().reboot_debt().await {
        let _ = write!(
            out,
            "# HELP pw_reboot_pending_nodes Nodes whose latest report has packages waiting for a reboot.\n\
             # TYPE pw_reboot_pending_nodes gauge\npw_reboot_pending_nodes {pending}\n\
             # HELP pw_reboot_pending_oldest_seconds How long the node waiting longest for a reboot has waited.\n\
             # TYPE pw_reboot_pending_oldest_seconds gauge\npw_reboot_pending_oldest_seconds {}\n",
            oldest.map_or(0, |since| now.duration_since(since).as_secs().max(0))
        );
    }
    out
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}
