//! Evaluation: inventory + catalog + baseline + instant → per-package patch states.
//!
//! Two steps, so that a maintenance-window execution decides once for every host:
//!
//! 1. [`Snapshot::build`] applies a baseline to a catalog (available packages and advisories)
//!    at one evaluation instant and keeps, per (name, arch), the version the baseline
//!    approves (ssm-reference §3.2): the highest approved version, ties broken by compliance
//!    level, and only if exactly that version is available (no fallback).
//! 2. [`Snapshot::evaluate`] compares one host's inventory with the snapshot and gives every
//!    (name, arch) one [`PatchState`] with its reason (§3.3, §5).
//!
//! Both are pure and deterministic: same inputs, same output, in a stable order.

pub mod apt;
mod lists;
mod report;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use jiff::{SignedDuration, Timestamp};

use crate::baseline::{
    Approval, Baseline, ComplianceLevel, Family, PatchProperties, RejectedAction,
};
use crate::evaluate::lists::ExceptionList;
use crate::nevra::Nevra;
use crate::repo::{Advisory, Package};
use crate::version::rpm::Evr;

pub use crate::evaluate::report::{
    Evaluation, PatchItem, PatchState, Reason, Summary, SummaryStatus, Version,
    is_checked_requirement, summarise,
};

/// The snapshot's hash maps and sets. Their keys are package names and versions from
/// repository metadata, looked up hundreds of thousands of times per snapshot: foldhash
/// (seeded per process, so keys are not predictable from outside) instead of SipHash, which
/// took a fifth of a warm agent scan.
pub(crate) type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
/// See [`Map`].
pub(crate) type Set<T> = HashSet<T, foldhash::fast::RandomState>;

/// A package installed on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledPackage {
    pub nevra: Nevra,
    pub install_time: Option<Timestamp>,
}

/// What a host offers to evaluate against: its available packages and advisories.
#[derive(Debug, Clone, Copy)]
pub struct Catalog<'a> {
    pub packages: &'a [Package],
    pub advisories: &'a [Advisory],
}

/// The settings of one evaluation that do not come from the baseline.
#[derive(Debug, Clone)]
pub struct Context {
    /// The product string of the host (`AmazonLinux2`, `RedhatEnterpriseLinux9.4`).
    pub product: String,
    /// yum or dnf semantics (ssm-reference §3.5); Debian and Ubuntu are evaluated elsewhere.
    pub family: Family,
    /// The evaluation instant: approval delays are measured against it.
    pub now: Timestamp,
}

/// Which approval added a candidate version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approver {
    /// The approval rule with this index (0-based).
    Rule(usize),
    /// The approved-patches entry (a package pattern, advisory, CVE or Bugzilla ID).
    Entry(String),
}

/// One approved version of a (name, arch), with what it carries from its advisories.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub evr: Evr,
    pub compliance_level: ComplianceLevel,
    pub classification: Option<String>,
    pub severity: Option<String>,
    pub advisories: Vec<String>,
    pub cves: Vec<String>,
    pub reboot_suggested: bool,
    pub approver: Approver,
    /// When this version was released, when known (see [`PatchItem::released`]).
    pub released: Option<Timestamp>,
    /// When this version became approved, when known (see [`PatchItem::approved_at`]).
    pub approved_at: Option<Timestamp>,
}

/// The baseline's answer for one (name, arch): the version to be at, and everything
/// approved on the way there (for CVE reporting).
#[derive(Debug, Clone)]
pub struct BaselineEntry {
    pub arch: String,
    /// The approved target; the first element of `approved` after merging.
    pub target: Candidate,
    /// Every approved version, highest first (merged per version).
    pub approved: Vec<Candidate>,
}

/// An approved top version that the repositories do not offer: the (name, arch) has no
/// baseline entry (no fallback to a lower approved version), and we say why.
#[derive(Debug, Clone)]
struct Unavailable {
    arch: String,
    evr: Evr,
}

/// A baseline applied to a catalog at one instant.
#[derive(Debug)]
pub struct Snapshot<'a> {
    baseline: &'a Baseline,
    catalog: Catalog<'a>,
    context: Context,
    entries: Map<String, Vec<BaselineEntry>>,
    unavailable: Map<String, Vec<Unavailable>>,
    rejected: ExceptionList<'a>,
    /// Advisory listings by package name: (arch, version, advisory index), to explain.
    listings: Map<&'a str, Vec<(&'a str, &'a Evr, usize)>>,
    /// Providers of each capability, built only when BLOCK needs dependency checks.
    providers: Map<&'a str, Vec<usize>>,
    /// Package indices by name, to look up requirements and availability.
    packages_by_name: Map<&'a str, Vec<usize>>,
    /// The number of entries (for NotApplicable counting).
    n_entries: usize,
}

/// Title-cases a classification or severity as the yum path does (`security` → `Security`).
pub fn title_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut start = true;
    for c in text.chars() {
        if c.is_alphabetic() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            start = false;
        } else {
            out.push(c);
            start = true;
        }
    }
    out
}

/// An advisory's `CLASSIFICATION` and `SEVERITY` as baseline filters compare them: the type
/// and severity title-cased, a missing severity as `None` (ssm-reference §3.5).
pub fn advisory_properties(advisory: &Advisory) -> (String, String) {
    let classification = title_case(&advisory.kind);
    let severity = advisory
        .severity
        .as_deref()
        .map(title_case)
        .unwrap_or_else(|| "None".to_owned());
    (classification, severity)
}

/// The instant an advisory counts as released: `updated`, else `issued`, else the epoch
/// (ssm-reference §1.5: unknown dates are approved immediately).
pub fn advisory_release_time(advisory: &Advisory) -> Timestamp {
    advisory
        .updated
        .or(advisory.issued)
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The instant before which a release must lie to be approved by `approval` at `now`.
/// `None` means no limit (approved immediately).
pub fn approval_cutoff(approval: Approval, now: Timestamp) -> Option<Timestamp> {
    let day_after = |date: jiff::civil::Date| {
        date.tomorrow()
            .ok()
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MAX)
    };
    match approval {
        Approval::AfterDays(days) => Some(
            now.checked_sub(SignedDuration::from_hours(24 * i64::from(days)))
                .unwrap_or(Timestamp::MIN),
        ),
        Approval::UntilDate(date) => Some(day_after(date)),
        Approval::UntilRelative(relative) => Some(day_after(relative.resolve(now))),
        Approval::Immediate => None,
    }
}

/// When `approval` approved a version released at `release`: the release plus the delay of
/// an age rule; the release itself under a date limit or without one.
pub fn approved_at(approval: Approval, release: Timestamp) -> Timestamp {
    match approval {
        Approval::AfterDays(days) => release
            .checked_add(SignedDuration::from_hours(24 * i64::from(days)))
            .unwrap_or(Timestamp::MAX),
        Approval::UntilDate(_) | Approval::UntilRelative(_) | Approval::Immediate => release,
    }
}

/// When `approver` approved a version released at `released`: known for a rule and a known
/// release; an approved-patches entry approves from whenever it was added, which the
/// baseline does not keep.
pub(crate) fn approval_instant(
    baseline: &Baseline,
    approver: &Approver,
    released: Option<Timestamp>,
) -> Option<Timestamp> {
    match approver {
        Approver::Rule(index) => {
            let rule = baseline.rules.get(*index)?;
            released.map(|release| approved_at(rule.approval, release))
        }
        Approver::Entry(_) => None,
    }
}

/// A release instant worth showing: the epoch stands for "no date" (see
/// [`advisory_release_time`]).
fn known(release: Timestamp) -> Option<Timestamp> {
    (release != Timestamp::UNIX_EPOCH).then_some(release)
}

fn before(release: Timestamp, cutoff: Option<Timestamp>) -> bool {
    cutoff.is_none_or(|cutoff| release < cutoff)
}

/// Where the approval pass puts each approved version: [`Collector`] keeps the candidates
/// (to build a snapshot), [`Counter`] only the highest version per (name, arch) (to count
/// entries). Both see the same decisions.
trait Approved<'a> {
    fn add(&mut self, nevra: &'a Nevra, candidate: impl FnOnce() -> Candidate);
}

struct Collector<'a> {
    by_name: Map<&'a str, Vec<(&'a str, Candidate)>>,
}

impl<'a> Approved<'a> for Collector<'a> {
    fn add(&mut self, nevra: &'a Nevra, candidate: impl FnOnce() -> Candidate) {
        self.by_name
            .entry(nevra.name.as_str())
            .or_default()
            .push((nevra.arch.as_str(), candidate()));
    }
}

/// The highest approved version per (name, arch).
#[derive(Default)]
struct Counter<'a> {
    highest: Map<(&'a str, &'a str), &'a Evr>,
}

impl<'a> Approved<'a> for Counter<'a> {
    fn add(&mut self, nevra: &'a Nevra, _candidate: impl FnOnce() -> Candidate) {
        self.highest
            .entry((nevra.name.as_str(), nevra.arch.as_str()))
            .and_modify(|highest| {
                if nevra.evr > **highest {
                    *highest = &nevra.evr;
                }
            })
            .or_insert(&nevra.evr);
    }
}

/// What the approval pass leaves besides the approved versions.
struct Approvals<'a> {
    rejected: ExceptionList<'a>,
    listings: Map<&'a str, Vec<(&'a str, &'a Evr, usize)>>,
    packages_by_name: Map<&'a str, Vec<usize>>,
}

/// Whether the catalog offers exactly (name, arch, evr).
fn offered(
    catalog: &Catalog<'_>,
    packages_by_name: &Map<&str, Vec<usize>>,
    name: &str,
    arch: &str,
    evr: &Evr,
) -> bool {
    packages_by_name.get(name).is_some_and(|indices| {
        indices.iter().any(|&i| {
            let p = &catalog.packages[i].nevra;
            p.arch == arch && p.evr == *evr
        })
    })
}

/// How a baseline treats packages that no advisory lists ("non-security" updates).
struct NonSecurity {
    /// The global filters accept a package without advisory.
    global_ok: bool,
    /// The rules that approve such packages.
    rules: Vec<usize>,
    /// Whether anything may approve such a package at all.
    wanted: bool,
}

impl NonSecurity {
    fn of(baseline: &Baseline, approved: &ExceptionList<'_>, product: Option<&str>) -> NonSecurity {
        let none_props = PatchProperties {
            product,
            ..PatchProperties::default()
        };
        let global_ok = baseline.global_filters.accepts(&none_props);
        let rules: Vec<usize> = baseline
            .rules
            .iter()
            .enumerate()
            .filter(|(_, rule)| rule.enable_non_security && rule.filters.accepts(&none_props))
            .map(|(index, _)| index)
            .collect();
        let wanted = (baseline.approved_enable_non_security && !approved.is_empty())
            || (global_ok && !rules.is_empty());
        NonSecurity {
            global_ok,
            rules,
            wanted,
        }
    }
}

impl<'a> Snapshot<'a> {
    /// Applies `baseline` to `catalog` at `context.now`.
    ///
    /// Per name: a name's entries depend only on its own packages and advisory listings and on
    /// the properties of the advisories that list it, never on other names (the agent counts
    /// NotApplicable items of a large catalog part by part on that ground; pw-agent's
    /// `catalog` tests hold it to the whole catalog's answer).
    pub fn build(baseline: &'a Baseline, catalog: Catalog<'a>, context: Context) -> Snapshot<'a> {
        let mut collector = Collector {
            by_name: Map::default(),
        };
        let Approvals {
            rejected,
            listings,
            packages_by_name,
        } = approve(baseline, catalog, &context, &mut collector);
        Snapshot::select(
            baseline,
            catalog,
            context,
            collector,
            rejected,
            listings,
            packages_by_name,
        )
    }

    /// The number of entries [`Snapshot::build`] gives for the same arguments
    /// ([`Snapshot::len`]), without building them: the same approvals, keeping only the
    /// highest approved version of each (name, arch).
    pub fn count(baseline: &Baseline, catalog: Catalog<'_>, context: &Context) -> usize {
        let mut counter = Counter::default();
        let approval = approve(baseline, catalog, context, &mut counter);
        counter
            .highest
            .iter()
            .filter(|((name, arch), evr)| {
                offered(&catalog, &approval.packages_by_name, name, arch, evr)
            })
            .count()
    }

    fn select(
        baseline: &'a Baseline,
        catalog: Catalog<'a>,
        context: Context,
        collector: Collector<'a>,
        rejected: ExceptionList<'a>,
        listings: Map<&'a str, Vec<(&'a str, &'a Evr, usize)>>,
        packages_by_name: Map<&'a str, Vec<usize>>,
    ) -> Snapshot<'a> {
        // Pick one target per (name, arch): highest version, then highest compliance level.
        let mut entries: Map<String, Vec<BaselineEntry>> = Map::default();
        let mut unavailable: Map<String, Vec<Unavailable>> = Map::default();
        let mut n_entries = 0;
        for (name, mut candidates) in collector.by_name {
            candidates.sort_by(|(arch_a, a), (arch_b, b)| {
                arch_a
                    .cmp(arch_b)
                    .then_with(|| b.evr.cmp(&a.evr))
                    .then_with(|| b.compliance_level.cmp(&a.compliance_level))
                    .then_with(|| rank_classification(b).cmp(&rank_classification(a)))
            });
            let mut start = 0;
            while start < candidates.len() {
                let arch = candidates[start].0;
                let end = candidates[start..]
                    .iter()
                    .position(|(a, _)| *a != arch)
                    .map_or(candidates.len(), |offset| start + offset);
                let approved_versions = merge_versions(&candidates[start..end]);
                start = end;
                let top = &approved_versions[0];
                if offered(&catalog, &packages_by_name, name, arch, &top.evr) {
                    n_entries += 1;
                    entries
                        .entry(name.to_owned())
                        .or_default()
                        .push(BaselineEntry {
                            arch: arch.to_owned(),
                            target: top.clone(),
                            approved: approved_versions,
                        });
                } else {
                    unavailable
                        .entry(name.to_owned())
                        .or_default()
                        .push(Unavailable {
                            arch: arch.to_owned(),
                            evr: top.evr.clone(),
                        });
                }
            }
        }

        let mut providers: Map<&str, Vec<usize>> = Map::default();
        if baseline.rejected_action == RejectedAction::Block && !rejected.is_empty() {
            for (index, package) in catalog.packages.iter().enumerate() {
                providers
                    .entry(package.nevra.name.as_str())
                    .or_default()
                    .push(index);
                for provide in &package.provides {
                    if provide.name != package.nevra.name {
                        providers
                            .entry(provide.name.as_str())
                            .or_default()
                            .push(index);
                    }
                }
            }
        }

        Snapshot {
            baseline,
            catalog,
            context,
            entries,
            unavailable,
            rejected,
            listings,
            providers,
            packages_by_name,
            n_entries,
        }
    }

    /// Whether [`Snapshot::build`] with these arguments may approve a package that no
    /// advisory lists. When it may not, a name that no advisory lists has no entry, whatever
    /// its packages: a caller that builds snapshots of parts of a catalog can leave such
    /// names out.
    pub fn approves_unlisted(baseline: &Baseline, context: &Context) -> bool {
        let approved = ExceptionList::new(&baseline.approved, context.now);
        NonSecurity::of(baseline, &approved, Some(context.product.as_str())).wanted
    }

    /// The baseline this snapshot applies.
    pub fn baseline(&self) -> &Baseline {
        self.baseline
    }

    /// The evaluation instant.
    pub fn now(&self) -> Timestamp {
        self.context.now
    }

    /// The entry for one (name, arch), if the baseline approves a version of it.
    pub fn entry(&self, name: &str, arch: &str) -> Option<&BaselineEntry> {
        self.entries.get(name)?.iter().find(|e| e.arch == arch)
    }

    /// The number of (name, arch) with an approved, available version.
    pub fn len(&self) -> usize {
        self.n_entries
    }

    pub fn is_empty(&self) -> bool {
        self.n_entries == 0
    }

    /// Every (name, arch) entry, sorted by name then arch.
    pub fn entries(&self) -> Vec<(&str, &BaselineEntry)> {
        let mut all: Vec<(&str, &BaselineEntry)> = self
            .entries
            .iter()
            .flat_map(|(name, list)| list.iter().map(move |e| (name.as_str(), e)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(b.0).then_with(|| a.1.arch.cmp(&b.1.arch)));
        all
    }

    /// Evaluates one host. `pending_reboot` lists packages installed by an earlier install
    /// operation that the host has not rebooted since.
    pub fn evaluate(
        &self,
        installed: &[InstalledPackage],
        pending_reboot: &[Nevra],
        options: &EvaluateOptions,
    ) -> Evaluation {
        report::evaluate(self, installed, pending_reboot, options)
    }
}

/// The approval pass of [`Snapshot::build`]: every approved version of every package the
/// advisories list or (with non-security approvals) the catalog offers, into `collector`.
fn approve<'a>(
    baseline: &'a Baseline,
    catalog: Catalog<'a>,
    context: &Context,
    collector: &mut impl Approved<'a>,
) -> Approvals<'a> {
    let now = context.now;
    let approved = ExceptionList::new(&baseline.approved, now);
    let rejected = ExceptionList::new(&baseline.rejected, now);
    let cutoffs: Vec<Option<Timestamp>> = baseline
        .rules
        .iter()
        .map(|rule| approval_cutoff(rule.approval, now))
        .collect();
    let product = Some(context.product.as_str());
    let mut listed: Set<(&str, &str, &Evr)> = Set::default();
    let mut listings: Map<&str, Vec<(&str, &Evr, usize)>> = Map::default();

    for (advisory_index, advisory) in catalog.advisories.iter().enumerate() {
        let (classification, severity) = advisory_properties(advisory);
        let props = PatchProperties {
            product,
            classification: Some(&classification),
            severity: Some(&severity),
            ..PatchProperties::default()
        };
        let release = advisory_release_time(advisory);
        let global_ok = baseline.global_filters.accepts(&props);
        // Approvals that apply to every package of the advisory.
        let mut levels: Vec<(ComplianceLevel, Approver)> = Vec::new();
        if global_ok {
            for (index, rule) in baseline.rules.iter().enumerate() {
                if rule.filters.accepts(&props) && before(release, cutoffs[index]) {
                    levels.push((rule.compliance_level, Approver::Rule(index)));
                }
            }
        }
        let id_gate = match context.family {
            Family::Yum => global_ok,
            Family::Dnf | Family::Apt => true,
        };
        if id_gate && let Some(entry) = approved.match_advisory(advisory) {
            levels.push((
                baseline.approved_compliance_level,
                Approver::Entry(entry.to_owned()),
            ));
        }
        // Made per candidate, when one is kept (counting keeps none).
        let cves = || -> Vec<String> {
            advisory
                .references
                .iter()
                .filter(|r| r.kind.eq_ignore_ascii_case("cve"))
                .map(|r| r.id.clone())
                .collect()
        };
        for listed_package in &advisory.packages {
            let nevra = &listed_package.nevra;
            let reboot = advisory.reboot_suggested || listed_package.reboot_suggested;
            listed.insert((nevra.name.as_str(), nevra.arch.as_str(), &nevra.evr));
            listings.entry(nevra.name.as_str()).or_default().push((
                nevra.arch.as_str(),
                &nevra.evr,
                advisory_index,
            ));
            if rejected.match_package(nevra).is_some() {
                continue;
            }
            let make = |level: ComplianceLevel, approver: Approver| Candidate {
                evr: nevra.evr.clone(),
                compliance_level: level,
                classification: Some(classification.clone()),
                severity: advisory.severity.as_deref().map(title_case),
                advisories: vec![advisory.id.clone()],
                cves: cves(),
                reboot_suggested: reboot,
                released: known(release),
                approved_at: approval_instant(baseline, &approver, known(release)),
                approver,
            };
            if let Some(entry) = approved.match_package(nevra) {
                let gate = match context.family {
                    Family::Yum | Family::Dnf => true,
                    Family::Apt => global_ok,
                };
                if gate {
                    collector.add(nevra, || {
                        make(
                            baseline.approved_compliance_level,
                            Approver::Entry(entry.to_owned()),
                        )
                    });
                }
            }
            for (level, approver) in &levels {
                collector.add(nevra, || make(*level, approver.clone()));
            }
        }
    }

    // Notice-less packages: "non-security" updates, approved only when enabled.
    let NonSecurity {
        global_ok: global_none_ok,
        rules: non_security_rules,
        wanted: wants_non_security,
    } = NonSecurity::of(baseline, &approved, product);
    let mut packages_by_name: Map<&str, Vec<usize>> = Map::default();
    for (index, package) in catalog.packages.iter().enumerate() {
        let nevra = &package.nevra;
        packages_by_name
            .entry(nevra.name.as_str())
            .or_default()
            .push(index);
        if !wants_non_security
            || listed.contains(&(nevra.name.as_str(), nevra.arch.as_str(), &nevra.evr))
            || rejected.match_package(nevra).is_some()
        {
            continue;
        }
        let built = package
            .build_time
            .and_then(|t| Timestamp::from_second(t).ok())
            .and_then(known);
        let make = |level: ComplianceLevel, approver: Approver| Candidate {
            evr: nevra.evr.clone(),
            compliance_level: level,
            classification: None,
            severity: None,
            advisories: Vec::new(),
            cves: Vec::new(),
            reboot_suggested: false,
            released: built,
            approved_at: approval_instant(baseline, &approver, built),
            approver,
        };
        if baseline.approved_enable_non_security
            && let Some(entry) = approved.match_package(nevra)
        {
            collector.add(nevra, || {
                make(
                    baseline.approved_compliance_level,
                    Approver::Entry(entry.to_owned()),
                )
            });
        }
        if global_none_ok {
            let release = built.unwrap_or(Timestamp::UNIX_EPOCH);
            for &index in &non_security_rules {
                if before(release, cutoffs[index]) {
                    let rule = &baseline.rules[index];
                    collector.add(nevra, || make(rule.compliance_level, Approver::Rule(index)));
                }
            }
        }
    }

    Approvals {
        rejected,
        listings,
        packages_by_name,
    }
}

/// Options of [`Snapshot::evaluate`].
#[derive(Debug, Clone, Default)]
pub struct EvaluateOptions {
    /// Also list NotApplicable items (approved, but not installed). They are always counted.
    pub include_not_applicable: bool,
}

fn rank_classification(candidate: &Candidate) -> u8 {
    match candidate.classification.as_deref() {
        Some("Security") => 3,
        Some("Bugfix") => 2,
        Some(_) => 1,
        None => 0,
    }
}

/// Merges candidates of one arch, sorted highest version first, into one per version:
/// the highest compliance level wins and its classification/severity are kept (the sort
/// put the most significant first), advisories and CVEs are united.
fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn merge_versions(sorted: &[(&str, Candidate)]) -> Vec<Candidate> {
    let mut merged: Vec<Candidate> = Vec::new();
    for (_, candidate) in sorted {
        match merged.last_mut() {
            Some(last) if last.evr == candidate.evr => {
                for advisory in &candidate.advisories {
                    if !last.advisories.contains(advisory) {
                        last.advisories.push(advisory.clone());
                    }
                }
                for cve in &candidate.cves {
                    if !last.cves.contains(cve) {
                        last.cves.push(cve.clone());
                    }
                }
                last.reboot_suggested |= candidate.reboot_suggested;
                // The earliest release and approval of the version, by any advisory or rule.
                last.released = earliest(last.released, candidate.released);
                last.approved_at = earliest(last.approved_at, candidate.approved_at);
            }
            _ => merged.push(candidate.clone()),
        }
    }
    for candidate in &mut merged {
        candidate.advisories.sort();
        candidate.cves.sort();
    }
    merged
}
