//! The JSON shape of an evaluation (`patchwarden evaluate --json`, agent reports).

use pw_core::evaluate::{Evaluation, PatchItem, Summary};
use serde::{Deserialize, Serialize};

/// `{"summary": {...}, "patches": [...]}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EvaluationJson {
    pub summary: SummaryJson,
    pub patches: Vec<PatchJson>,
}

/// Host summary with every count and the status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SummaryJson {
    pub baseline: String,
    /// RFC 3339 UTC.
    pub evaluated_at: String,
    pub installed: usize,
    pub installed_other: usize,
    pub installed_rejected: usize,
    pub installed_pending_reboot: usize,
    pub not_applicable: usize,
    pub missing: usize,
    pub failed: usize,
    pub critical_non_compliant: usize,
    pub security_non_compliant: usize,
    pub other_non_compliant: usize,
    /// Highest compliance level among non-compliant patches, or null when compliant.
    pub non_compliant_severity: Option<String>,
    /// `COMPLIANT` or `NON_COMPLIANT`.
    pub status: String,
}

/// One (name, arch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PatchJson {
    pub name: String,
    pub arch: String,
    /// `Installed`, `InstalledOther`, `InstalledRejected`, `InstalledPendingReboot`,
    /// `NotApplicable`, `Missing` or `Failed`.
    pub state: String,
    /// Installed version as `[epoch:]version-release`, or null.
    pub installed: Option<String>,
    /// Approved target version, or null.
    pub target: Option<String>,
    pub compliance_level: String,
    pub classification: Option<String>,
    pub severity: Option<String>,
    pub cves: Vec<String>,
    pub advisories: Vec<String>,
    #[serde(default)]
    pub reboot_suggested: bool,
    /// Why the patch has this state: the rule or exception behind it.
    pub reason: String,
    /// When the target was released (its advisory's date; for a package without one its
    /// build time; on Debian and Ubuntu when the version was first seen). Absent when
    /// unknown, and in reports of agents that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released: Option<jiff::Timestamp>,
    /// When the target became approved: the release plus the approving rule's delay. Absent
    /// for an approved-patches entry and when the release is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<jiff::Timestamp>,
}

impl SummaryJson {
    pub fn from_core(
        baseline: &str,
        evaluated_at: jiff::Timestamp,
        summary: &Summary,
    ) -> SummaryJson {
        SummaryJson {
            baseline: baseline.to_owned(),
            evaluated_at: evaluated_at.to_string(),
            installed: summary.installed,
            installed_other: summary.installed_other,
            installed_rejected: summary.installed_rejected,
            installed_pending_reboot: summary.installed_pending_reboot,
            not_applicable: summary.not_applicable,
            missing: summary.missing,
            failed: summary.failed,
            critical_non_compliant: summary.critical_non_compliant,
            security_non_compliant: summary.security_non_compliant,
            other_non_compliant: summary.other_non_compliant,
            non_compliant_severity: summary
                .non_compliant_severity
                .map(|l| l.as_str().to_owned()),
            status: summary.status.as_str().to_owned(),
        }
    }
}

impl PatchJson {
    pub fn from_core(item: &PatchItem) -> PatchJson {
        PatchJson {
            name: item.name.clone(),
            arch: item.arch.clone(),
            state: item.state.as_str().to_owned(),
            installed: item.installed.as_ref().map(ToString::to_string),
            target: item.target.as_ref().map(ToString::to_string),
            compliance_level: item.compliance_level.as_str().to_owned(),
            classification: item.classification.clone(),
            severity: item.severity.clone(),
            cves: item.cves.clone(),
            advisories: item.advisories.clone(),
            reboot_suggested: item.reboot_suggested,
            reason: item.reason.to_string(),
            released: item.released,
            approved_at: item.approved_at,
        }
    }
}

impl EvaluationJson {
    pub fn from_core(evaluation: &Evaluation) -> EvaluationJson {
        EvaluationJson {
            summary: SummaryJson::from_core(
                &evaluation.baseline,
                evaluation.evaluated_at,
                &evaluation.summary,
            ),
            patches: evaluation.items.iter().map(PatchJson::from_core).collect(),
        }
    }
}
