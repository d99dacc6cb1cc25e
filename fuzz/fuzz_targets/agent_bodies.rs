#![no_main]
//! The agent-protocol bodies the server parses (enrollment, command results, inventories,
//! compliance reports), as the server reads them, and what it derives from them: a report's
//! install evidence, an inventory's catalog and apt packages.
use pw_api::server::agent::{CommandResult, EnrollRequest, InventoryUpload};
use pw_api::server::compliance::ComplianceReportUpload;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<EnrollRequest>(data);
    let _ = serde_json::from_slice::<CommandResult>(data);
    if let Ok(upload) = serde_json::from_slice::<ComplianceReportUpload>(data) {
        let at = jiff::Timestamp::UNIX_EPOCH;
        let _ = upload.report.install_evidence(Some(1), at);
        let _ = pw_api::agent::item_evidence(&upload.report.patches);
    }
    if let Ok(inventory) = serde_json::from_slice::<InventoryUpload>(data) {
        if let Some(catalog) = &inventory.catalog {
            let _ = catalog.to_core();
        }
        if let Some(apt) = &inventory.apt {
            let _ = apt.to_core();
        }
    }
});
