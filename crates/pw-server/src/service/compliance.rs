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

/// Why a node waits for a reboot: its patches installed without one, by name (the first
/// few, then how many more).
pub(crate) fn reboot_why(patches: &[pw_api::evaluation::PatchJson]) -> Option<String> {
    const SHOWN: usize = 5;
    let pending: Vec<String> = patches
        .iter()
        .filter(|p| p.state == "InstalledPendingReboot")
        .map(|p| format!("{}.{}", p.name, p.arch))
        .collect();
    if pending.is_empty() {
        return None;
    }
    let mut text = pending
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if pending.len() > SHOWN {
        text.push_str(&format!(" and {} more", pending.len() - SHOWN));
    }
    Some(format!("installed without a reboot: {text}"))
}
