//! Evaluation on Debian and Ubuntu (ssm-reference §3.6): the apt sibling of the rpm
//! [`Snapshot`](crate::evaluate::Snapshot).
//!
//! apt has no advisories in its indices, so "security" is a property of where a version
//! comes from: a version is a security update iff one of its [`Origin`]s
//! [is security](Origin::is_security). For every installed (name, arch):
//!
//! 1. the candidates are the available versions at least as new as the installed one,
//!    newest first;
//! 2. a candidate is approved iff the global filters accept it (PRODUCT, PRIORITY, SECTION),
//!    it matches no rejected entry, and an approval rule accepts it (filters, and its
//!    approval delay when the version's release time is known) or an approved entry matches
//!    it, and in either case it is a security version or the rule (or the approved list)
//!    enables non-security updates;
//! 3. the target is the newest approved candidate: Missing when it is newer than the
//!    installed version, Installed when it is the installed version, and InstalledOther
//!    (InstalledRejected under BLOCK for a rejected package) when nothing is approved.
//!
//! Approval delays: the original approves immediately on Debian and Ubuntu because no
//! release date is known. We take a per-version `first_seen` instant (recorded by the
//! agent: the `Date` of the Release file in which it first saw the version) and apply
//! `ApproveAfterDays`/`ApproveUntilDate` to it; a version without one is approved
//! immediately. See `docs/apt.md`.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::evaluate::{Map, Set};

use jiff::Timestamp;

use crate::apt::Origin;
use crate::apt::packages::DebPackage;
use crate::apt::reboot::needs_reboot;
use crate::baseline::{Baseline, ComplianceLevel, FilterKey, PatchProperties, RejectedAction};
use crate::evaluate::lists::ExceptionList;
use crate::evaluate::report::{item_order, summarise};
use crate::evaluate::{
    Approver, EvaluateOptions, Evaluation, PatchItem, PatchState, Reason, Version, approval_cutoff,
};
use crate::version::deb::DebVersion;

/// A package dpkg has on disk (its files are present at this version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptInstalled {
    pub name: String,
    /// As dpkg records it: `amd64`, `all`, `i386`.
    pub arch: String,
    pub version: DebVersion,
    pub install_time: Option<Timestamp>,
    /// False when dpkg has the files but the package is not configured (a maintainer script
    /// failed: `half-configured`, `unpacked`, ...). Such a package at its target version is
    /// reported Failed, not Installed.
    pub configured: bool,
}

/// One available version of a package, with everything the baseline looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptAvailable {
    pub name: String,
    pub arch: String,
    pub version: DebVersion,
    /// The `Priority` of the Packages entry (`optional`), the PRIORITY filter's value.
    pub priority: Option<String>,
    /// The `Section` (`libs`, `contrib/net`), the SECTION filter's value.
    pub section: Option<String>,
    /// Every suite that offers this version.
    pub origins: Vec<Origin>,
    /// When the version was first seen in a repository, if recorded: the release time that
    /// approval delays are measured from.
    pub first_seen: Option<Timestamp>,
    /// The package names of each `Pre-Depends`/`Depends` group (alternatives), for BLOCK.
    pub depends: Vec<Vec<String>>,
    /// Ubuntu's `Phased-Update-Percentage`, when the version is phased. 0 means Ubuntu
    /// halted the rollout (a regression): such a version is never approved. Any other value
    /// is left to the baseline and the windows, which are the rollout (docs/apt.md).
    pub phased_update_percentage: Option<u8>,
}

impl AptAvailable {
    /// An available version from a Packages entry and the origins of its index.
    pub fn from_package(package: &DebPackage, origins: Vec<Origin>) -> AptAvailable {
        AptAvailable {
            name: package.name.clone(),
            arch: package.architecture.clone(),
            version: package.version.clone(),
            priority: package.priority.clone(),
            section: package.section.clone(),
            origins,
            first_seen: None,
            depends: package
                .pre_depends
                .iter()
                .chain(&package.depends)
                .map(|group| group.iter().map(|relation| relation.name.clone()).collect())
                .collect(),
            phased_update_percentage: package.phased_update_percentage,
        }
    }

    /// Whether one of the origins makes this a security update.
    pub fn is_security(&self) -> bool {
        self.origins.iter().any(Origin::is_security)
    }
}

/// A package at one version: an install target, or a package installed by an earlier
/// install operation that still waits for a reboot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DebTarget {
    pub name: String,
    pub arch: String,
    pub version: DebVersion,
}

impl DebTarget {
    /// `name=version` for `apt-get install`, with `:arch` when the architecture is not
    /// `all` (`openssl:amd64=3.0.14-1~deb12u2`).
    pub fn apt_spec(&self) -> String {
        if self.arch == "all" {
            format!("{}={}", self.name, self.version)
        } else {
            format!("{}:{}={}", self.name, self.arch, self.version)
        }
    }

    /// The key by which agent state, reports (`install.installed`) and inventories name a
    /// Debian package version: `name:arch=version`, the architecture always present.
    pub fn key(name: &str, arch: &str, version: &DebVersion) -> String {
        format!("{name}:{arch}={version}")
    }

    /// Reads a [`DebTarget::key`]; `None` when it is not one.
    pub fn parse_key(key: &str) -> Option<DebTarget> {
        let (name_arch, version) = key.split_once('=')?;
        let (name, arch) = name_arch.split_once(':')?;
        Some(DebTarget {
            name: name.to_owned(),
            arch: arch.to_owned(),
            version: DebVersion::parse(version).ok()?,
        })
    }
}

/// What a Debian or Ubuntu host offers to evaluate.
#[derive(Debug, Clone, Copy)]
pub struct AptHost<'a> {
    pub installed: &'a [AptInstalled],
    pub available: &'a [AptAvailable],
    /// Packages installed by an earlier install operation; the host has not rebooted since.
    pub pending_reboot: &'a [DebTarget],
}

/// The settings of one apt evaluation that do not come from the baseline.
#[derive(Debug, Clone)]
pub struct AptContext {
    /// The product string (`Debian12`, `Ubuntu22.04`).
    pub product: String,
    /// dpkg's native architecture (`amd64`): `all` packages are grouped with it, as apt does.
    pub native_arch: String,
    /// The evaluation instant: approval delays are measured against it.
    pub now: Timestamp,
}

/// One available version after merging duplicates (the same version listed by several
/// suites).
#[derive(Debug)]
struct Offer<'a> {
    first: &'a AptAvailable,
    origins: Vec<&'a Origin>,
    first_seen: Option<Timestamp>,
    security: bool,
    /// Every suite offering this version has it at `Phased-Update-Percentage: 0`: Ubuntu
    /// halted its rollout.
    halted: bool,
}

/// An approved version.
#[derive(Debug, Clone)]
struct Approved {
    level: ComplianceLevel,
    approver: Approver,
}

struct Evaluator<'a> {
    baseline: &'a Baseline,
    context: &'a AptContext,
    approved: ExceptionList<'a>,
    rejected: ExceptionList<'a>,
    cutoffs: Vec<Option<Timestamp>>,
    /// (name, grouping arch) → offers, newest first.
    offers: Map<(&'a str, &'a str), Vec<Offer<'a>>>,
}

impl<'a> Evaluator<'a> {
    fn group_arch<'s>(&'s self, arch: &'s str) -> &'s str {
        if arch == "all" {
            self.context.native_arch.as_str()
        } else {
            arch
        }
    }

    fn properties(&self, offer: &Offer<'a>) -> PatchProperties<'a> {
        PatchProperties {
            product: None,
            classification: None,
            severity: None,
            priority: offer.first.priority.as_deref(),
            section: offer.first.section.as_deref(),
        }
    }

    fn match_list(&self, list: &ExceptionList<'a>, offer: &Offer<'a>) -> Option<&'a str> {
        let package = offer.first;
        let version = package.version.to_string();
        list.match_deb(&package.name, &version, &package.arch)
            .or_else(|| {
                (package.arch == "all")
                    .then(|| list.match_deb(&package.name, &version, &self.context.native_arch))
                    .flatten()
            })
    }

    /// When `approved` approved `offer`: by a rule, its delay after the version was first
    /// seen (apt has no release dates); unknown for an approved entry.
    fn approved_at(&self, approved: &Approved, offer: &Offer<'a>) -> Option<Timestamp> {
        super::approval_instant(self.baseline, &approved.approver, offer.first_seen)
    }

    /// The approval of one version, if any (the highest compliance level wins; rules come
    /// before the approved list on ties).
    fn approve(&self, offer: &Offer<'a>) -> Option<Approved> {
        let mut props = self.properties(offer);
        props.product = Some(self.context.product.as_str());
        if offer.halted
            || !self.baseline.global_filters.accepts(&props)
            || self.match_list(&self.rejected, offer).is_some()
        {
            return None;
        }
        let mut best: Option<Approved> = None;
        let mut consider = |candidate: Approved| {
            if best.as_ref().is_none_or(|b| candidate.level > b.level) {
                best = Some(candidate);
            }
        };
        for (index, rule) in self.baseline.rules.iter().enumerate() {
            let released_in_time = match (offer.first_seen, self.cutoffs[index]) {
                (Some(seen), Some(cutoff)) => seen < cutoff,
                _ => true,
            };
            if (offer.security || rule.enable_non_security)
                && released_in_time
                && rule.filters.accepts(&props)
            {
                consider(Approved {
                    level: rule.compliance_level,
                    approver: Approver::Rule(index),
                });
            }
        }
        if (offer.security || self.baseline.approved_enable_non_security)
            && let Some(entry) = self.match_list(&self.approved, offer)
        {
            consider(Approved {
                level: self.baseline.approved_compliance_level,
                approver: Approver::Entry(entry.to_owned()),
            });
        }
        best
    }

    /// Why `offer` is not approved, in one sentence.
    fn refusal(&self, offer: &Offer<'a>) -> String {
        let version = &offer.first.version;
        let mut props = self.properties(offer);
        props.product = Some(self.context.product.as_str());
        let shown = |value: Option<&str>| value.unwrap_or("none").to_owned();
        let kind = if offer.security {
            "security"
        } else {
            "non-security"
        };
        let from = offer
            .origins
            .iter()
            .filter_map(|origin| origin.archive.as_deref())
            .collect::<Vec<_>>()
            .join(", ");
        let head = format!("{version} ({kind}, from {from})");
        if offer.halted {
            return format!(
                "{head}: Ubuntu halted its phased rollout (Phased-Update-Percentage: 0)"
            );
        }
        if !self.baseline.global_filters.accepts(&props) {
            return format!(
                "{head} is excluded by the global filters (priority {}, section {})",
                shown(props.priority),
                shown(props.section)
            );
        }
        if let Some(entry) = self.match_list(&self.rejected, offer) {
            return format!("{head} matches rejected entry `{entry}`");
        }
        if self.baseline.rules.is_empty() && self.approved.is_empty() {
            return format!("{head}: the baseline has no approval rules and no approved entries");
        }
        let mut parts = Vec::new();
        for (index, rule) in self.baseline.rules.iter().enumerate() {
            let number = index + 1;
            let failing = rule.filters.filters.iter().find(|filter| {
                let value = match filter.key {
                    FilterKey::Product => props.product,
                    FilterKey::Priority => props.priority,
                    FilterKey::Section => props.section,
                    FilterKey::Classification | FilterKey::Severity => None,
                };
                !filter.accepts(value)
            });
            let part = if let Some(filter) = failing {
                format!(
                    "rule {number} wants {} in [{}]",
                    filter.key,
                    filter.values.join(", ")
                )
            } else if !offer.security && !rule.enable_non_security {
                format!("rule {number} does not enable non-security updates")
            } else {
                match (offer.first_seen, self.cutoffs[index]) {
                    (Some(seen), Some(cutoff)) => format!(
                        "rule {number} approves versions first seen before {cutoff}, this one was first seen {seen}"
                    ),
                    _ => format!("rule {number} would approve it"),
                }
            };
            parts.push(part);
        }
        if !self.approved.is_empty() {
            parts.push("no approved entry matches it (or the approved list does not enable non-security updates)".to_owned());
        }
        format!("{head}: {}", parts.join("; "))
    }

    /// Under BLOCK: a dependency group of `offer` that nothing installed satisfies and whose
    /// every alternative is offered only in rejected versions.
    fn blocked_dependency(&self, offer: &Offer<'a>, installed_names: &Set<&str>) -> Option<String> {
        if self.baseline.rejected_action != RejectedAction::Block || self.rejected.is_empty() {
            return None;
        }
        for group in &offer.first.depends {
            if group
                .iter()
                .any(|name| installed_names.contains(name.as_str()))
            {
                continue;
            }
            let all_rejected = group.iter().all(|name| {
                let keys = [
                    (name.as_str(), self.group_arch(&offer.first.arch)),
                    (name.as_str(), self.context.native_arch.as_str()),
                ];
                let offers: Vec<&Offer<'a>> = keys
                    .iter()
                    .filter_map(|key| self.offers.get(key))
                    .flatten()
                    .collect();
                !offers.is_empty()
                    && offers
                        .iter()
                        .all(|o| self.match_list(&self.rejected, o).is_some())
            });
            if all_rejected {
                return Some(group.join(" | "));
            }
        }
        None
    }
}

/// The reason behind an approval: the rule, with the security suite as its "advisory" (apt
/// has none), or the approved entry.
fn approval_reason(approved: &Approved, offer: &Offer<'_>) -> Reason {
    match &approved.approver {
        Approver::Rule(rule) => Reason::Rule {
            rule: *rule,
            advisory: offer
                .origins
                .iter()
                .find(|origin| origin.is_security())
                .and_then(|origin| origin.archive.clone().or_else(|| origin.label.clone())),
        },
        Approver::Entry(entry) => Reason::ApprovedEntry {
            entry: entry.clone(),
        },
    }
}

/// Evaluates a Debian or Ubuntu host against `baseline`. Pure and deterministic.
pub fn evaluate_apt(
    baseline: &Baseline,
    host: AptHost<'_>,
    context: &AptContext,
    options: &EvaluateOptions,
) -> Evaluation {
    let now = context.now;
    let mut evaluator = Evaluator {
        baseline,
        context,
        approved: ExceptionList::new(&baseline.approved, now),
        rejected: ExceptionList::new(&baseline.rejected, now),
        cutoffs: baseline
            .rules
            .iter()
            .map(|rule| approval_cutoff(rule.approval, now))
            .collect(),
        offers: Map::default(),
    };

    // Group the available versions by (name, arch), merging duplicate versions.
    let mut offers: Map<(&str, &str), Vec<Offer<'_>>> = Map::default();
    for available in host.available {
        let arch = if available.arch == "all" {
            context.native_arch.as_str()
        } else {
            available.arch.as_str()
        };
        let list = offers.entry((available.name.as_str(), arch)).or_default();
        match list
            .iter_mut()
            .find(|offer| offer.first.version == available.version)
        {
            Some(offer) => {
                for origin in &available.origins {
                    if !offer.origins.contains(&origin) {
                        offer.origins.push(origin);
                    }
                }
                offer.security |= available.is_security();
                offer.halted &= available.phased_update_percentage == Some(0);
                offer.first_seen = match (offer.first_seen, available.first_seen) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            None => list.push(Offer {
                first: available,
                origins: available.origins.iter().collect(),
                first_seen: available.first_seen,
                security: available.is_security(),
                halted: available.phased_update_percentage == Some(0),
            }),
        }
    }
    for list in offers.values_mut() {
        list.sort_by(|a, b| b.first.version.cmp(&a.first.version));
    }
    evaluator.offers = offers;
    let evaluator = evaluator;

    // One installed version per (name, arch); dpkg allows only one, keep the highest anyway.
    let mut installed: BTreeMap<(&str, &str), &AptInstalled> = BTreeMap::new();
    for package in host.installed {
        let key = (package.name.as_str(), evaluator.group_arch(&package.arch));
        match installed.get(&key) {
            Some(existing) if existing.version >= package.version => {}
            _ => {
                installed.insert(key, package);
            }
        }
    }
    let installed_names: Set<&str> = host.installed.iter().map(|p| p.name.as_str()).collect();
    let pending: Set<(&str, &str, &DebVersion)> = host
        .pending_reboot
        .iter()
        .map(|target| (target.name.as_str(), target.arch.as_str(), &target.version))
        .collect();
    let block = baseline.rejected_action == RejectedAction::Block;

    let mut items = Vec::with_capacity(installed.len());
    for (&(name, group_arch), package) in &installed {
        let candidates: &[Offer<'_>] = evaluator
            .offers
            .get(&(name, group_arch))
            .map_or(&[], Vec::as_slice);
        let candidates: Vec<&Offer<'_>> = candidates
            .iter()
            .filter(|o| o.first.version >= package.version)
            .collect();
        let target = candidates
            .iter()
            .find_map(|offer| evaluator.approve(offer).map(|approved| (*offer, approved)));
        let mut item = PatchItem {
            name: name.to_owned(),
            arch: package.arch.clone(),
            state: PatchState::InstalledOther,
            installed: Some(Version::Deb(package.version.clone())),
            installed_time: package.install_time,
            target: None,
            compliance_level: ComplianceLevel::Unspecified,
            classification: None,
            severity: None,
            cves: Vec::new(),
            advisories: Vec::new(),
            reboot_suggested: false,
            reason: Reason::NotInRepositories,
            released: None,
            approved_at: None,
        };
        let installed_version = package.version.to_string();
        let rejected_entry = evaluator
            .rejected
            .match_deb(name, &installed_version, &package.arch)
            .or_else(|| {
                (package.arch == "all")
                    .then(|| {
                        evaluator
                            .rejected
                            .match_deb(name, &installed_version, &context.native_arch)
                    })
                    .flatten()
            });
        match target {
            Some((offer, approved)) => {
                let missing = offer.first.version > package.version;
                item.state = if missing {
                    PatchState::Missing
                } else {
                    PatchState::Installed
                };
                item.target = Some(Version::Deb(offer.first.version.clone()));
                item.compliance_level = approved.level;
                item.classification = offer.security.then(|| "Security".to_owned());
                item.severity = offer.first.priority.clone();
                item.reboot_suggested = missing && needs_reboot(name);
                item.reason = approval_reason(&approved, offer);
                item.released = offer.first_seen;
                item.approved_at = evaluator.approved_at(&approved, offer);
                if missing
                    && let Some(requirement) = evaluator.blocked_dependency(offer, &installed_names)
                {
                    item.reason = Reason::BlockedByRejectedDependency { requirement };
                }
            }
            None => {
                item.reason = match (rejected_entry, candidates.first()) {
                    (Some(entry), _) => Reason::Rejected {
                        entry: entry.to_owned(),
                        action: baseline.rejected_action,
                    },
                    (None, Some(newest)) => Reason::NotApproved {
                        detail: evaluator.refusal(newest),
                    },
                    (None, None) if evaluator.offers.contains_key(&(name, group_arch)) => {
                        Reason::NotApproved {
                            detail: "no version at least as new as the installed one is offered"
                                .to_owned(),
                        }
                    }
                    (None, None) => Reason::NotInRepositories,
                };
                if block && rejected_entry.is_some() {
                    item.state = PatchState::InstalledRejected;
                }
            }
        }
        if item.state == PatchState::Installed && !package.configured {
            item.state = PatchState::Failed;
            item.reason = Reason::InstallFailed;
        }
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
        ) && pending.contains(&(name, package.arch.as_str(), &package.version))
        {
            item.state = PatchState::InstalledPendingReboot;
            item.reason = Reason::PendingReboot;
        }
        items.push(item);
    }

    // NotApplicable: approved versions of packages that are not installed.
    let mut not_applicable = 0;
    let mut keys: Vec<&(&str, &str)> = evaluator
        .offers
        .keys()
        .filter(|key| !installed.contains_key(*key))
        .collect();
    keys.sort();
    for key in keys {
        let Some(list) = evaluator.offers.get(key) else {
            continue;
        };
        let Some((offer, approved)) = list
            .iter()
            .find_map(|offer| evaluator.approve(offer).map(|a| (offer, a)))
        else {
            continue;
        };
        not_applicable += 1;
        if options.include_not_applicable {
            items.push(PatchItem {
                name: key.0.to_owned(),
                arch: offer.first.arch.clone(),
                state: PatchState::NotApplicable,
                installed: None,
                installed_time: None,
                target: Some(Version::Deb(offer.first.version.clone())),
                compliance_level: approved.level,
                classification: offer.security.then(|| "Security".to_owned()),
                severity: offer.first.priority.clone(),
                cves: Vec::new(),
                advisories: Vec::new(),
                reboot_suggested: false,
                reason: approval_reason(&approved, offer),
                released: offer.first_seen,
                approved_at: evaluator.approved_at(&approved, offer),
            });
        }
    }

    items.sort_by(item_order);
    let summary = summarise(&items, not_applicable);
    Evaluation {
        baseline: baseline.name.clone(),
        evaluated_at: now,
        items,
        summary,
    }
}

/// The versions an install operation should install: every Missing item's Debian target
/// that is not blocked.
pub fn install_targets(evaluation: &Evaluation) -> Vec<DebTarget> {
    evaluation
        .items
        .iter()
        .filter(|item| {
            item.state == PatchState::Missing
                && !matches!(item.reason, Reason::BlockedByRejectedDependency { .. })
        })
        .filter_map(|item| {
            let version = item.target.as_ref()?.as_deb()?;
            Some(DebTarget {
                name: item.name.clone(),
                arch: item.arch.clone(),
                version: version.clone(),
            })
        })
        .collect()
}
