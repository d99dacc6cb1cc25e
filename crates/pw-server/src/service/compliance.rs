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

/// Why a node waits for a reboot, by cause ([`pw_core::reboot`]): its patches installed
/// without one (kernel, C library, systemd, D-Bus, firmware, microcode, an advisory that
/// suggests one, other), then the services an install left on deleted code and did not
/// restart. A few names per cause, then how many more; `None` when nothing waits.
pub(crate) fn reboot_why(
    patches: &[pw_api::evaluation::PatchJson],
    stale_services: &[pw_api::agent::StaleService],
) -> Option<String> {
    use pw_core::reboot::RebootCause;
    const SHOWN: usize = 3;
    let mut by_cause: std::collections::BTreeMap<RebootCause, Vec<String>> =
        std::collections::BTreeMap::new();
    for patch in patches
        .iter()
        .filter(|p| p.state == "InstalledPendingReboot")
    {
        let cause = pw_core::reboot::cause(&patch.name).unwrap_or(if patch.reboot_suggested {
            RebootCause::Advisory
        } else {
            RebootCause::Other
        });
        by_cause
            .entry(cause)
            .or_default()
            .push(format!("{}.{}", patch.name, patch.arch));
    }
    for service in stale_services.iter().filter(|s| s.restarted != Some(true)) {
        let name = service.unit.clone().unwrap_or_else(|| {
            format!(
                "{} (pid {})",
                service.command,
                service.pids.first().copied().unwrap_or(0)
            )
        });
        by_cause
            .entry(RebootCause::StaleServices)
            .or_default()
            .push(name);
    }
    if by_cause.is_empty() {
        return None;
    }
    let parts: Vec<String> = by_cause
        .iter()
        .map(|(cause, names)| {
            let mut text = names
                .iter()
                .take(SHOWN)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if names.len() > SHOWN {
                text.push_str(&format!(" and {} more", names.len() - SHOWN));
            }
            format!("{cause}: {text}")
        })
        .collect();
    Some(parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(name: &str, state: &str, reboot_suggested: bool) -> pw_api::evaluation::PatchJson {
        serde_json::from_value(serde_json::json!({"name": name, "arch": "x86_64",
            "state": state, "compliance_level": "UNSPECIFIED", "reason": "",
            "reboot_suggested": reboot_suggested, "cves": [], "advisories": []}))
        .unwrap()
    }

    #[test]
    fn the_reboot_debt_is_explained_by_cause() {
        let patches = [
            patch("kernel", "InstalledPendingReboot", false),
            patch("glibc", "InstalledPendingReboot", false),
            patch("openssl", "InstalledPendingReboot", true),
            patch("curl", "InstalledPendingReboot", false),
            patch("vim", "Installed", false),
            patch("kernel-tools", "InstalledPendingReboot", false),
        ];
        let stale: Vec<pw_api::agent::StaleService> = serde_json::from_value(serde_json::json!([
            {"unit": "nginx.service", "pids": [10], "command": "nginx", "files": [],
             "packages": ["openssl-libs"]},
            {"unit": "sshd.service", "pids": [11], "command": "sshd", "files": [],
             "packages": ["openssl-libs"], "restarted": true},
            {"pids": [12], "command": "worker", "files": [], "packages": []}
        ]))
        .unwrap();
        assert_eq!(
            reboot_why(&patches, &stale).as_deref(),
            Some(
                "kernel: kernel.x86_64, kernel-tools.x86_64; C library: glibc.x86_64; \
                 advisory suggests a reboot: openssl.x86_64; \
                 services on deleted libraries: nginx.service, worker (pid 12); \
                 other: curl.x86_64"
            )
        );
        assert_eq!(reboot_why(&patches[4..5], &[]), None);
    }
}
