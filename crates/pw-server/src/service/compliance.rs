//! Compliance as the nodes reported it: the queries every face shares.

use std::collections::HashMap;

use pw_store::ReportRecord;

use crate::AppState;
use crate::error::ApiError;

pub(crate) async fn latest_reports(
    state: &AppState,
) -> Result<HashMap<String, ReportRecord>, ApiError> {
    Ok(state
        .store()
        .latest_reports()
        .await?
        .into_iter()
        .map(|report| (report.node_id.clone(), report))
        .collect())
}
