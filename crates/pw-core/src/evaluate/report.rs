//! Per-host evaluation against a [`Snapshot`]: patch states, reasons and the host summary
//! (ssm-reference §3.3, §5).

use std::collections::{BTreeMap, btree_map};

use crate::evaluate::Set;
use std::fmt;

use jiff::Timestamp;

use crate::baseline::{ComplianceLevel, FilterKey, PatchProperties, RejectedAction};
use crate::evaluate::{
    Approver, BaselineEntry, EvaluateOptions, InstalledPackage, Snapshot, advisory_release_time,
    approval_cutoff,
};
use crate::nevra::Nevra;
use crate::version::deb::DebVersion;
use crate::version::rpm::Evr;

/// A package version in a report: rpm's `[epoch:]version-release` or Debian's
/// `[epoch:]upstream[-revision]`. Each keeps its own ordering; they are never compared
/// with each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    Rpm(Evr),
    Deb(DebVersion),
}

impl Version {
    pub fn as_rpm(&self) -> Option<&Evr> {
        match self {
            Version::Rpm(evr) => Some(evr),
            Version::Deb(_) => None,
        }
    }

    pub fn as_deb(&self) -> Option<&DebVersion> {
        match self {
            Version::Deb(version) => Some(version),
            Version::Rpm(_) => None,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Rpm(evr) => evr.fmt(f),
            Version::Deb(version) => version.fmt(f),
        }
    }
}

/// The compliance state of one (name, arch) on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PatchState {
    Installed,
    InstalledOther,
    InstalledRejected,
    InstalledPendingReboot,
    NotApplicable,
    Missing,
    Failed,
}

impl PatchState {
    /// The node-side spelling (`InstalledPendingReboot`).
    pub fn as_str(self) -> &'static str {
        match self {
            PatchState::Installed => "Installed",
            PatchState::InstalledOther => "InstalledOther",
            PatchState::InstalledRejected => "InstalledRejected",
            PatchState::InstalledPendingReboot => "InstalledPendingReboot",
            PatchState::NotApplicable => "NotApplicable",
            PatchState::Missing => "Missing",
            PatchState::Failed => "Failed",
        }
    }

    /// Whether this state makes the host non-compliant.
    pub fn is_non_compliant(self) -> bool {
        matches!(
            self,
            PatchState::InstalledRejected
                | PatchState::InstalledPendingReboot
                | PatchState::Missing
                | PatchState::Failed
        )
    }
}

impl fmt::Display for PatchState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an item has its state: the rule or exception behind it, or why nothing applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Approved by approval rule `rule` (0-based), through `advisory` when there is one.
    Rule {
        rule: usize,
        advisory: Option<String>,
    },
    /// Approved by an approved-patches entry.
    ApprovedEntry { entry: String },
    /// Matches a rejected-patches entry.
    Rejected {
        entry: String,
        action: RejectedAction,
    },
    /// The baseline approves a version that no repository offers, so nothing is targeted.
    ApprovedVersionUnavailable { version: String },
    /// The baseline approves a version the host's package manager cannot see: its
    /// configuration excludes or hides it (`exclude=`, `includepkgs=`, a repository of
    /// better priority, versionlock). `detail` names the setting and where it is.
    HiddenByPackageManager { version: String, detail: String },
    /// Newer versions exist but none is approved; `detail` says why for the newest one.
    NotApproved { detail: String },
    /// No repository offers any version of this package.
    NotInRepositories,
    /// The target needs a capability whose every provider is rejected (BLOCK).
    BlockedByRejectedDependency { requirement: String },
    /// Installed by an install operation; the host has not rebooted since.
    PendingReboot,
    /// An install operation tried and the package is still older than the target.
    InstallFailed,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Rule {
                rule,
                advisory: Some(advisory),
            } => write!(f, "approved by rule {} via {advisory}", rule + 1),
            Reason::Rule {
                rule,
                advisory: None,
            } => write!(f, "approved by rule {} (non-security update)", rule + 1),
            Reason::ApprovedEntry { entry } => write!(f, "approved patch entry `{entry}`"),
            Reason::Rejected { entry, action } => {
                write!(f, "rejected patch entry `{entry}` ({})", action.as_str())
            }
            Reason::ApprovedVersionUnavailable { version } => write!(
                f,
                "approved version {version} is not available in the repositories"
            ),
            Reason::HiddenByPackageManager { version, detail } => write!(
                f,
                "approved version {version} is excluded by the package manager's configuration: {detail}"
            ),
            Reason::NotApproved { detail } => f.write_str(detail),
            Reason::NotInRepositories => f.write_str("not offered by any repository"),
            Reason::BlockedByRejectedDependency { requirement } => write!(
                f,
                "blocked: requires `{requirement}`, whose every provider is rejected"
            ),
            Reason::PendingReboot => {
                f.write_str("installed by a patch operation; the host has not rebooted since")
            }
            Reason::InstallFailed => f.write_str("the install operation did not install it"),
        }
    }
}

/// One (name, arch) on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchItem {
    pub name: String,
    pub arch: String,
    pub state: PatchState,
    /// The highest installed version, if any.
    pub installed: Option<Version>,
    pub installed_time: Option<Timestamp>,
    /// The version the baseline approves, if any.
    pub target: Option<Version>,
    pub compliance_level: ComplianceLevel,
    pub classification: Option<String>,
    pub severity: Option<String>,
    /// CVEs fixed between the installed version (exclusive) and the target (inclusive).
    pub cves: Vec<String>,
    /// Advisories behind the target (and, for Missing, those between installed and target).
    pub advisories: Vec<String>,
    pub reboot_suggested: bool,
    pub reason: Reason,
    /// When the target was released: its advisory's `updated` (else `issued`), for a package
    /// without one its build time, for apt the time the version was first seen. `None` when
    /// unknown or when there is no target.
    pub released: Option<Timestamp>,
    /// When the target became approved: the release plus the rule's delay, the release for a
    /// rule with a date limit. `None` for an approved-patches entry (approved since the entry
    /// exists) and when the release is unknown.
    pub approved_at: Option<Timestamp>,
}

impl PatchItem {
    /// The target as a full identity, for installing.
    pub fn target_nevra(&self) -> Option<Nevra> {
        self.target
            .as_ref()
            .and_then(Version::as_rpm)
            .map(|evr| Nevra {
                name: self.name.clone(),
                evr: evr.clone(),
                arch: self.arch.clone(),
            })
    }

    /// `name.arch`, the compliance item id.
    pub fn id(&self) -> String {
        format!("{}.{}", self.name, self.arch)
    }
}

/// COMPLIANT or NON_COMPLIANT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryStatus {
    Compliant,
    NonCompliant,
}

impl SummaryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SummaryStatus::Compliant => "COMPLIANT",
            SummaryStatus::NonCompliant => "NON_COMPLIANT",
        }
    }
}

/// The host summary (ssm-reference §5.2, §5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
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
    /// The highest compliance level among non-compliant items, at least INFORMATIONAL;
    /// `None` when the host is compliant.
    pub non_compliant_severity: Option<ComplianceLevel>,
    pub status: SummaryStatus,
}

/// The result of evaluating one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub baseline: String,
    pub evaluated_at: Timestamp,
    /// Items in report order (state, then name, then arch).
    pub items: Vec<PatchItem>,
    pub summary: Summary,
}

impl Evaluation {
    /// The versions an install operation should install: every Missing item's target that
    /// is not blocked.
    pub fn install_targets(&self) -> Vec<Nevra> {
        self.items
            .iter()
            .filter(|item| {
                item.state == PatchState::Missing
                    && !matches!(item.reason, Reason::BlockedByRejectedDependency { .. })
            })
            .filter_map(PatchItem::target_nevra)
            .collect()
    }

    /// After an install operation: what is still Missing becomes Failed (ssm-reference §3.3).
    pub fn into_install_report(self) -> Evaluation {
        self.mark_failed(|item| item.state == PatchState::Missing)
    }

    /// After an install operation: the items `failed` selects become Failed (a blocked
    /// item keeps saying why it was not attempted); order and summary follow.
    pub fn mark_failed(mut self, failed: impl Fn(&PatchItem) -> bool) -> Evaluation {
        for item in &mut self.items {
            if failed(item) {
                item.state = PatchState::Failed;
                if !matches!(item.reason, Reason::BlockedByRejectedDependency { .. }) {
                    item.reason = Reason::InstallFailed;
                }
            }
        }
        sort_items(&mut self.items);
        self.summary = summarise(&self.items, self.summary.not_applicable);
        self
    }

    /// Adds `count` NotApplicable items that were counted apart: a host that evaluates the
    /// names it has installed against one snapshot and counts the approved versions of every
    /// other name in snapshots of its own (the agent, to keep a large catalog out of memory;
    /// `docs/agent.md`, "Memory"). Only the summary changes.
    pub fn with_more_not_applicable(mut self, count: usize) -> Evaluation {
        self.summary = summarise(&self.items, self.summary.not_applicable + count);
        self
    }

    /// Items that make the host non-compliant.
    pub fn non_compliant(&self) -> impl Iterator<Item = &PatchItem> {
        self.items.iter().filter(|i| i.state.is_non_compliant())
    }
}

/// Sorts `items` by [`item_order`], stably, like `items.sort_by(item_order)`. It sorts indices
/// and then moves each item once: an item is a few hundred bytes, and moving items inside the
/// sort cost more than all the comparisons (a third of an evaluation, measured with callgrind
/// in `bench/evaluate`).
pub(crate) fn sort_items(items: &mut Vec<PatchItem>) {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| item_order(&items[a], &items[b]));
    if order
        .iter()
        .enumerate()
        .all(|(position, &index)| position == index)
    {
        return;
    }
    let mut slots: Vec<Option<PatchItem>> = std::mem::take(items).into_iter().map(Some).collect();
    items.extend(order.iter().map(|&index| {
        slots[index]
            .take()
            .expect("a permutation names each index once")
    }));
}

pub(crate) fn item_order(a: &PatchItem, b: &PatchItem) -> std::cmp::Ordering {
    a.state
        .cmp(&b.state)
        .then_with(|| a.name.cmp(&b.name))
        .then_with(|| a.arch.cmp(&b.arch))
}

pub(crate) fn evaluate(
    snapshot: &Snapshot<'_>,
    installed: &[InstalledPackage],
    pending_reboot: &[Nevra],
    options: &EvaluateOptions,
) -> Evaluation {
    // Highest installed version per (name, arch).
    let mut highest: BTreeMap<(&str, &str), &InstalledPackage> = BTreeMap::new();
    for package in installed {
        let key = (package.nevra.name.as_str(), package.nevra.arch.as_str());
        // One search per package; the first of equal highest versions stays.
        match highest.entry(key) {
            btree_map::Entry::Vacant(slot) => {
                slot.insert(package);
            }
            btree_map::Entry::Occupied(mut slot) => {
                if package.nevra.evr > slot.get().nevra.evr {
                    slot.insert(package);
                }
            }
        }
    }
    let pending: Set<&Nevra> = pending_reboot.iter().collect();
    // Only the BLOCK dependency check reads these, and only when it has providers to check.
    let installed_names: Set<&str> = if snapshot.providers.is_empty() {
        Set::default()
    } else {
        installed.iter().map(|p| p.nevra.name.as_str()).collect()
    };
    let block = snapshot.baseline.rejected_action == RejectedAction::Block;

    let mut items = Vec::with_capacity(highest.len());
    let mut in_baseline_installed = 0;
    for (&(name, arch), package) in &highest {
        let entry = snapshot.entry(name, arch);
        let rejected_entry = snapshot.rejected.match_package(&package.nevra);
        let mut item = match entry {
            Some(entry) => {
                in_baseline_installed += 1;
                item_for_entry(snapshot, name, arch, package, entry, &installed_names)
            }
            None => item_without_entry(snapshot, name, arch, package, rejected_entry, block),
        };
        if block
            && item.state == PatchState::Installed
            && let Some(entry) = rejected_entry
        {
            item.state = PatchState::InstalledRejected;
            item.reason = Reason::Rejected {
                entry: entry.to_owned(),
                action: RejectedAction::Block,
            };
        }
        if matches!(
            item.state,
            PatchState::Installed | PatchState::InstalledOther | PatchState::InstalledRejected
        ) && pending.contains(&package.nevra)
        {
            item.state = PatchState::InstalledPendingReboot;
            item.reason = Reason::PendingReboot;
        }
        items.push(item);
    }
    let not_applicable = snapshot.len() - in_baseline_installed;
    if options.include_not_applicable {
        for (name, entry) in snapshot.entries() {
            if highest.contains_key(&(name, entry.arch.as_str())) {
                continue;
            }
            items.push(PatchItem {
                name: name.to_owned(),
                arch: entry.arch.clone(),
                state: PatchState::NotApplicable,
                installed: None,
                installed_time: None,
                target: Some(Version::Rpm(entry.target.evr.clone())),
                compliance_level: entry.target.compliance_level,
                classification: None,
                severity: None,
                cves: Vec::new(),
                advisories: entry.target.advisories.clone(),
                reboot_suggested: false,
                reason: approver_reason(&entry.target.approver, &entry.target.advisories),
                released: entry.target.released,
                approved_at: entry.target.approved_at,
            });
        }
    }
    sort_items(&mut items);
    let summary = summarise(&items, not_applicable);
    Evaluation {
        baseline: snapshot.baseline.name.clone(),
        evaluated_at: snapshot.context.now,
        items,
        summary,
    }
}

fn approver_reason(approver: &Approver, advisories: &[String]) -> Reason {
    match approver {
        Approver::Rule(rule) => Reason::Rule {
            rule: *rule,
            advisory: advisories.first().cloned(),
        },
        Approver::Entry(entry) => Reason::ApprovedEntry {
            entry: entry.clone(),
        },
    }
}

fn item_for_entry(
    snapshot: &Snapshot<'_>,
    name: &str,
    arch: &str,
    package: &InstalledPackage,
    entry: &BaselineEntry,
    installed_names: &Set<&str>,
) -> PatchItem {
    let target = &entry.target;
    let installed = &package.nevra.evr;
    let missing = *installed < target.evr;
    let (cves, advisories, reboot) = if missing {
        let mut cves = Vec::new();
        let mut advisories = Vec::new();
        let mut reboot = false;
        for candidate in entry.approved.iter().filter(|c| c.evr > *installed) {
            cves.extend(candidate.cves.iter().cloned());
            advisories.extend(candidate.advisories.iter().cloned());
            reboot |= candidate.reboot_suggested;
        }
        cves.sort();
        cves.dedup();
        advisories.sort();
        advisories.dedup();
        (cves, advisories, reboot)
    } else {
        (Vec::new(), target.advisories.clone(), false)
    };
    let mut reason = approver_reason(&target.approver, &target.advisories);
    if missing
        && snapshot.baseline.rejected_action == RejectedAction::Block
        && let Some(requirement) =
            blocked_requirement(snapshot, name, arch, &target.evr, installed_names)
    {
        reason = Reason::BlockedByRejectedDependency { requirement };
    }
    PatchItem {
        name: name.to_owned(),
        arch: arch.to_owned(),
        state: if missing {
            PatchState::Missing
        } else {
            PatchState::Installed
        },
        installed: Some(Version::Rpm(installed.clone())),
        installed_time: package.install_time,
        target: Some(Version::Rpm(target.evr.clone())),
        compliance_level: target.compliance_level,
        classification: target.classification.clone(),
        severity: target.severity.clone(),
        cves,
        advisories,
        reboot_suggested: reboot,
        reason,
        released: target.released,
        approved_at: target.approved_at,
    }
}

/// Whether BLOCK's dependency check looks at a requirement named `capability`: not
/// `rpmlib(...)`, which rpm satisfies itself, nor a file path.
pub fn is_checked_requirement(capability: &str) -> bool {
    !capability.starts_with("rpmlib(") && !capability.starts_with('/')
}

/// Under BLOCK: a requirement of the target that nothing installed satisfies and whose
/// every provider in the catalog is rejected.
fn blocked_requirement(
    snapshot: &Snapshot<'_>,
    name: &str,
    arch: &str,
    target: &Evr,
    installed_names: &Set<&str>,
) -> Option<String> {
    if snapshot.providers.is_empty() {
        return None;
    }
    let package = snapshot.packages_by_name.get(name)?.iter().find_map(|&i| {
        let p = &snapshot.catalog.packages[i];
        (p.nevra.arch == arch && p.nevra.evr == *target).then_some(p)
    })?;
    for requirement in &package.requires {
        let capability = requirement.name.as_str();
        if !is_checked_requirement(capability) {
            continue;
        }
        let Some(providers) = snapshot.providers.get(capability) else {
            continue;
        };
        let satisfied_by_installed = providers.iter().any(|&i| {
            installed_names.contains(snapshot.catalog.packages[i].nevra.name.as_str())
                && snapshot
                    .rejected
                    .match_package(&snapshot.catalog.packages[i].nevra)
                    .is_none()
        });
        if satisfied_by_installed {
            continue;
        }
        let all_rejected = providers.iter().all(|&i| {
            snapshot
                .rejected
                .match_package(&snapshot.catalog.packages[i].nevra)
                .is_some()
        });
        if all_rejected {
            return Some(capability.to_owned());
        }
    }
    None
}

fn item_without_entry(
    snapshot: &Snapshot<'_>,
    name: &str,
    arch: &str,
    package: &InstalledPackage,
    rejected_entry: Option<&str>,
    block: bool,
) -> PatchItem {
    let installed = &package.nevra.evr;
    let (state, reason) = match rejected_entry {
        Some(entry) => (
            if block {
                PatchState::InstalledRejected
            } else {
                PatchState::InstalledOther
            },
            Reason::Rejected {
                entry: entry.to_owned(),
                action: snapshot.baseline.rejected_action,
            },
        ),
        None => (
            PatchState::InstalledOther,
            explain_unapproved(snapshot, name, arch, installed),
        ),
    };
    PatchItem {
        name: name.to_owned(),
        arch: arch.to_owned(),
        state,
        installed: Some(Version::Rpm(installed.clone())),
        installed_time: package.install_time,
        target: None,
        compliance_level: ComplianceLevel::Unspecified,
        classification: None,
        severity: None,
        cves: Vec::new(),
        advisories: Vec::new(),
        reboot_suggested: false,
        reason,
        released: None,
        approved_at: None,
    }
}

/// Why an installed (name, arch) has no baseline entry.
fn explain_unapproved(snapshot: &Snapshot<'_>, name: &str, arch: &str, installed: &Evr) -> Reason {
    if let Some(unavailable) = snapshot
        .unavailable
        .get(name)
        .and_then(|list| list.iter().find(|u| u.arch == arch))
    {
        return Reason::ApprovedVersionUnavailable {
            version: unavailable.evr.to_string(),
        };
    }
    // The newest advisory listing a newer version of this package.
    let newest = snapshot.listings.get(name).and_then(|listings| {
        listings
            .iter()
            .filter(|(a, evr, _)| *a == arch && *evr > installed)
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.2.cmp(&a.2)))
    });
    if let Some(&(_, evr, advisory_index)) = newest {
        let advisory = &snapshot.catalog.advisories[advisory_index];
        return Reason::NotApproved {
            detail: format!(
                "{} offers {evr}: {}",
                advisory.id,
                why_rules_refuse(snapshot, advisory)
            ),
        };
    }
    let newer_exists = snapshot.packages_by_name.get(name).is_some_and(|indices| {
        indices.iter().any(|&i| {
            let p = &snapshot.catalog.packages[i].nevra;
            p.arch == arch && p.evr > *installed
        })
    });
    if newer_exists {
        return Reason::NotApproved {
            detail: "newer versions are non-security updates (no advisory) and no rule \
                     enables non-security updates"
                .to_owned(),
        };
    }
    if snapshot.packages_by_name.contains_key(name) {
        Reason::NotApproved {
            detail: "no newer version is offered and no advisory lists this package".to_owned(),
        }
    } else {
        Reason::NotInRepositories
    }
}

/// A sentence on why no rule approves `advisory`.
fn why_rules_refuse(snapshot: &Snapshot<'_>, advisory: &crate::repo::Advisory) -> String {
    let baseline = snapshot.baseline;
    if baseline.rules.is_empty() {
        return "the baseline has no approval rules and no approved entry matches".to_owned();
    }
    let (classification, severity) = super::advisory_properties(advisory);
    let props = PatchProperties {
        product: Some(snapshot.context.product.as_str()),
        classification: Some(&classification),
        severity: Some(&severity),
        ..PatchProperties::default()
    };
    if !baseline.global_filters.accepts(&props) {
        return format!("{classification}/{severity} is excluded by the global filters");
    }
    let release = advisory_release_time(advisory);
    let mut parts = Vec::new();
    for (index, rule) in baseline.rules.iter().enumerate() {
        let failing = rule.filters.filters.iter().find(|filter| {
            let value = match filter.key {
                FilterKey::Product => props.product,
                FilterKey::Classification => props.classification,
                FilterKey::Severity => props.severity,
                FilterKey::Priority | FilterKey::Section => None,
            };
            !filter.accepts(value)
        });
        let part = match failing {
            Some(filter) => format!(
                "rule {} wants {} in [{}]",
                index + 1,
                filter.key,
                filter.values.join(", ")
            ),
            None => match approval_cutoff(rule.approval, snapshot.context.now) {
                Some(cutoff) => format!(
                    "rule {} approves releases before {cutoff}, released {release}",
                    index + 1
                ),
                None => format!("rule {} would approve it", index + 1),
            },
        };
        parts.push(part);
    }
    format!("{classification}/{severity}; {}", parts.join("; "))
}

/// Counts items into a host summary; `not_applicable` is counted separately (items may omit them).
pub fn summarise(items: &[PatchItem], not_applicable: usize) -> Summary {
    let mut summary = Summary {
        installed: 0,
        installed_other: 0,
        installed_rejected: 0,
        installed_pending_reboot: 0,
        not_applicable,
        missing: 0,
        failed: 0,
        critical_non_compliant: 0,
        security_non_compliant: 0,
        other_non_compliant: 0,
        non_compliant_severity: None,
        status: SummaryStatus::Compliant,
    };
    for item in items {
        match item.state {
            PatchState::Installed => summary.installed += 1,
            PatchState::InstalledOther => summary.installed_other += 1,
            PatchState::InstalledRejected => summary.installed_rejected += 1,
            PatchState::InstalledPendingReboot => summary.installed_pending_reboot += 1,
            PatchState::NotApplicable => {}
            PatchState::Missing => summary.missing += 1,
            PatchState::Failed => summary.failed += 1,
        }
        if !item.state.is_non_compliant() {
            continue;
        }
        let critical = item.compliance_level == ComplianceLevel::Critical;
        let security = item
            .classification
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case("security"));
        summary.critical_non_compliant += usize::from(critical);
        summary.security_non_compliant += usize::from(security);
        summary.other_non_compliant += usize::from(!critical && !security);
        let level = item.compliance_level.max(ComplianceLevel::Informational);
        summary.non_compliant_severity = Some(
            summary
                .non_compliant_severity
                .map_or(level, |current| current.max(level)),
        );
        summary.status = SummaryStatus::NonCompliant;
    }
    summary
}
