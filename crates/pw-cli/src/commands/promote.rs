//! `patchwarden promote`: carry what STG verified over to PRD's baseline.
//!
//! Reads the latest compliance report of every node whose baseline is `--from` (or whose
//! patch group is `--patch-group`), and the Install reports in those nodes' recent history
//! (each report whole, for its post-install hook outcome), and sorts each patch, a
//! (name, arch) at its target version:
//!
//! * Installed on at least one node and Failed on none: "verified on STG", added to PRD's
//!   approved list as the exact version entry.
//! * Failed on any node, or put on a node by an install whose post-install hook failed: "broke
//!   STG", added to PRD's rejected list as the exact version entry (the automatic-rejection
//!   policy; `--reject-failures-only` runs only this half). Rejection wins over approval.
//!
//! The exact version entry follows PRD's family ([`Exact`], the one place rpm and apt differ):
//! rpm's `name-[epoch:]version-release.arch`, apt's `name.arch:version` (the `nav` form).
//!
//! Entries PRD already has (an active entry that matches the exact version) are not added
//! again, nothing is ever removed, and the 50-entry limit of each list is respected: what does
//! not fit is reported and the exit code is 1. Every added entry carries
//! `owner = "patchwarden promote"` and a reason naming the STG nodes and the time; the server
//! records the baseline update, and who made it, in its audit log.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::Context as _;
use clap::Args;
use jiff::Timestamp;
use pw_api::server::compliance::{ComplianceSummary, Operation};
use pw_client::Client;
use pw_core::baseline::{Baseline, Exception, Family, MAX_PATCH_ENTRIES};
use pw_core::exact::Exact;
use pw_core::pattern::PatternSet;
use pw_core::release::{ReleasePolicy, ReleaseSelection, ReleaseVersion};
use serde::Serialize;

use crate::commands::client::{ConnectionArgs, Output, error_exit, find_baseline, print_json};
use crate::exit_code;
use crate::printer::Printer;
use crate::table::Table;

/// The owner written on every entry this command adds.
pub(crate) const OWNER: &str = "patchwarden promote";

/// How many of each node's most recent reports are searched for post-install hook failures.
const HISTORY_LIMIT: &str = "100";

/// Approve in PRD what STG verified; reject in PRD what failed on STG.
#[derive(Debug, Args)]
pub(crate) struct PromoteArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// The STG baseline (id or name) whose nodes' reports are read.
    #[arg(long, value_name = "STG_BASELINE")]
    from: String,
    /// The PRD baseline (id or name) whose approved and rejected lists are extended.
    #[arg(long, value_name = "PRD_BASELINE")]
    to: String,
    /// Read the nodes of this patch group instead of the nodes of `--from`.
    #[arg(long, value_name = "STG_GROUP")]
    patch_group: Option<String>,
    /// Only add failures to PRD's rejected list (the policy to run on a schedule).
    #[arg(long)]
    reject_failures_only: bool,
    /// Read post-install hook failures only from Install reports made at or after this
    /// instant (RFC 3339); at most each node's last 100 reports are read in any case.
    #[arg(long, value_name = "TIMESTAMP")]
    since: Option<Timestamp>,
    /// Show what would be added; change nothing.
    #[arg(long)]
    dry_run: bool,
}

/// One entry added (or that would be added, or that did not fit).
#[derive(Debug, Clone, Serialize)]
struct Change {
    /// `approve` or `reject`.
    list: &'static str,
    entry: String,
    owner: String,
    reason: String,
}

/// The `--output json` shape.
#[derive(Debug, Serialize)]
struct PromoteReport {
    from: String,
    to: String,
    dry_run: bool,
    nodes_read: usize,
    /// Install reports of those nodes read for post-install hook failures.
    install_reports_read: usize,
    added: Vec<Change>,
    /// Entries that were due but did not fit under the 50-entry limit of their list.
    not_added: Vec<Change>,
    /// Whether PRD's baseline was updated on the server.
    updated: bool,
}

/// Per patch (name, arch, target version), what the STG reports say about it.
type Observations = BTreeMap<(String, String, String), Observed>;

/// What STG's reports say about one patch at one version.
#[derive(Debug, Default)]
struct Observed {
    installed_on: BTreeSet<String>,
    /// Hosts whose latest report has the patch Failed; the latest such report's time.
    failed_on: BTreeSet<String>,
    failed_at: Option<Timestamp>,
    /// Hosts where an install put this version on and then its post-install hook failed;
    /// the latest such report's time.
    hook_failed_on: BTreeSet<String>,
    hook_failed_at: Option<Timestamp>,
}

impl Observed {
    /// Whether the patch broke STG: Failed somewhere, or a post-install hook failed after it.
    fn broke(&self) -> bool {
        !self.failed_on.is_empty() || !self.hook_failed_on.is_empty()
    }

    /// `failed on STG node(s) H at T`, `post-install hook failed on STG node(s) H at T`, or
    /// both joined by `; `.
    fn reject_reason(&self) -> String {
        let part = |what: &str, hosts: &BTreeSet<String>, at: Option<Timestamp>| {
            let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
            let at = at.map_or_else(
                || "-".to_owned(),
                |t| t.strftime("%Y-%m-%d %H:%M:%SZ").to_string(),
            );
            format!("{what} on STG node(s) {} at {at}", hosts.join(", "))
        };
        let mut parts = Vec::new();
        if !self.failed_on.is_empty() {
            parts.push(part("failed", &self.failed_on, self.failed_at));
        }
        if !self.hook_failed_on.is_empty() {
            parts.push(part(
                "post-install hook failed",
                &self.hook_failed_on,
                self.hook_failed_at,
            ));
        }
        parts.join("; ")
    }
}

/// Keeps the later of `slot` and `at`.
fn keep_latest(slot: &mut Option<Timestamp>, at: Timestamp) {
    *slot = Some(slot.map_or(at, |t| t.max(at)));
}

/// Whether a report is STG's: it names `--patch-group` when given, else the `--from` baseline.
fn is_stg(summary: &ComplianceSummary, args: &PromoteArgs, from_id: &str) -> bool {
    match &args.patch_group {
        Some(group) => summary.patch_group.as_deref() == Some(group.as_str()),
        None => summary.baseline_id.as_deref() == Some(from_id),
    }
}

/// What the STG reports say, and how much was read.
struct Reading {
    nodes: usize,
    install_reports: usize,
    observed: Observations,
    releases: ReleaseObservations,
}

/// Per release version (Amazon Linux 2023), what STG's Install reports say about it.
type ReleaseObservations = BTreeMap<String, ReleaseSeen>;

/// STG installs made against one release.
#[derive(Debug, Default)]
struct ReleaseSeen {
    /// Hosts an install moved to the release (or kept on it) with nothing failed.
    ran_on: BTreeSet<String>,
    /// Hosts where an install against the release had a Failed patch or a failed
    /// post-install hook; the latest such report's time.
    broke_on: BTreeSet<String>,
    broke_at: Option<Timestamp>,
}

/// Reads the STG reports: per (name, arch, target), the hosts it is installed and failed on
/// (latest reports) and those where the install that put it there had its post-install hook
/// fail (the Install reports among each node's last [`HISTORY_LIMIT`], since `--since`).
fn observe(
    client: &Client,
    args: &PromoteArgs,
    from_id: &str,
    family: Family,
) -> anyhow::Result<Reading> {
    let hostnames: HashMap<String, String> = client
        .nodes(&[])?
        .into_iter()
        .map(|n| (n.id, n.hostname))
        .collect();
    let summaries = client.compliance_nodes(&[])?;
    let since = args.since.map(|t| t.to_string());
    let mut history_filters = vec![("limit", HISTORY_LIMIT)];
    if let Some(since) = &since {
        history_filters.push(("from", since.as_str()));
    }
    let mut observed: Observations = BTreeMap::new();
    let mut releases: ReleaseObservations = BTreeMap::new();
    let (mut nodes, mut install_reports) = (0, 0);
    for summary in summaries.iter().filter(|s| is_stg(s, args, from_id)) {
        nodes += 1;
        let host = hostnames
            .get(&summary.node_id)
            .cloned()
            .unwrap_or_else(|| summary.node_id.clone());
        let compliance = client.node_compliance(&summary.node_id, &[])?;
        for item in compliance.items {
            let Some(target) = item.target else { continue };
            let key = (item.name, item.arch, target);
            match item.state.as_str() {
                "Installed" => {
                    observed
                        .entry(key)
                        .or_default()
                        .installed_on
                        .insert(host.clone());
                }
                "Failed" => {
                    let seen = observed.entry(key).or_default();
                    seen.failed_on.insert(host.clone());
                    keep_latest(&mut seen.failed_at, compliance.summary.reported_at);
                }
                _ => {}
            }
        }
        let history = client.node_compliance_history(&summary.node_id, &history_filters)?;
        for past in history
            .iter()
            .filter(|s| s.operation == Operation::Install && is_stg(s, args, from_id))
        {
            install_reports += 1;
            let report = client.compliance_report(past.report_id)?;
            let Some(install) = report.install else {
                continue;
            };
            let broke = !install.failed.is_empty() || install.post_install_hook_failure.is_some();
            if let Some(release) = &report.release
                && release.plan != "ahead"
                && let Some(evaluated) = &release.evaluated
            {
                let seen = releases.entry(evaluated.clone()).or_default();
                if broke {
                    seen.broke_on.insert(host.clone());
                    keep_latest(&mut seen.broke_at, past.reported_at);
                } else if release.after == *evaluated {
                    seen.ran_on.insert(host.clone());
                }
            }
            if install.post_install_hook_failure.is_none() {
                continue;
            }
            for item in report.patches {
                let Some(target) = item.target else { continue };
                let exact = Exact::parse(family, &item.name, &item.arch, &target)
                    .with_context(|| format!("compliance report {}", past.report_id))?;
                if !install.installed.iter().any(|k| exact.is_install_key(k)) {
                    continue;
                }
                let seen = observed.entry((item.name, item.arch, target)).or_default();
                seen.hook_failed_on.insert(host.clone());
                keep_latest(&mut seen.hook_failed_at, past.reported_at);
            }
        }
    }
    Ok(Reading {
        nodes,
        install_reports,
        observed,
        releases,
    })
}

/// Decides the entries to add, appends those that fit to `prd`, and returns (added, not added).
fn plan(
    prd: &mut Baseline,
    observed: &Observations,
    source: &str,
    reject_only: bool,
    now: Timestamp,
) -> anyhow::Result<(Vec<Change>, Vec<Change>)> {
    let active = |list: &[Exception]| {
        PatternSet::parse(
            list.iter()
                .filter(|e| e.is_active(now))
                .map(|e| e.entry.clone())
                .collect::<Vec<_>>(),
        )
    };
    let approved = active(&prd.approved);
    let rejected = active(&prd.rejected);
    let family = prd.operating_system.family();
    let today = now.strftime("%Y-%m-%d").to_string();
    let (mut added, mut not_added) = (Vec::new(), Vec::new());
    for ((name, arch, target), seen) in observed {
        let exact = Exact::parse(family, name, arch, target)?;
        let (list, reason) = if seen.broke() {
            if exact.matched_by(&rejected) {
                continue;
            }
            ("reject", seen.reject_reason())
        } else {
            if reject_only || exact.matched_by(&approved) || exact.matched_by(&rejected) {
                continue;
            }
            let reason = format!(
                "installed on {} STG nodes ({source}) without failure, promoted {today}",
                seen.installed_on.len()
            );
            ("approve", reason)
        };
        let change = Change {
            list,
            entry: exact.entry(),
            owner: OWNER.to_owned(),
            reason,
        };
        let target_list = if list == "approve" {
            &mut prd.approved
        } else {
            &mut prd.rejected
        };
        if target_list.len() >= MAX_PATCH_ENTRIES {
            not_added.push(change);
            continue;
        }
        target_list.push(Exception {
            entry: change.entry.clone(),
            owner: Some(change.owner.clone()),
            reason: Some(change.reason.clone()),
            expires: None,
        });
        added.push(change);
    }
    Ok((added, not_added))
}

/// Release versions (Amazon Linux 2023): a release an STG install ran on without failure is
/// added to PRD's `[release] verified`, one whose install failed (or whose post-install hook
/// failed) to its `reject`. A PRD baseline without `[release]` gets one that takes only
/// verified releases. Returns (added, not added).
fn plan_releases(
    prd: &mut Baseline,
    releases: &ReleaseObservations,
    source: &str,
    reject_only: bool,
    now: Timestamp,
) -> (Vec<Change>, Vec<Change>) {
    let (mut added, mut not_added) = (Vec::new(), Vec::new());
    if prd.operating_system != pw_core::baseline::OperatingSystem::AmazonLinux2023 {
        return (added, not_added);
    }
    let today = now.strftime("%Y-%m-%d").to_string();
    for (version, seen) in releases {
        let Ok(release) = ReleaseVersion::parse(version) else {
            continue;
        };
        let broke = !seen.broke_on.is_empty();
        if !broke && (reject_only || seen.ran_on.is_empty()) {
            continue;
        }
        let policy = prd.release.get_or_insert_with(|| ReleasePolicy {
            selection: ReleaseSelection::Newest(pw_core::baseline::Approval::Immediate),
            reject: Vec::new(),
            verified: Vec::new(),
            require_verified: true,
        });
        let (list, entries, reason) = if broke {
            let hosts: Vec<&str> = seen.broke_on.iter().map(String::as_str).collect();
            let at = seen.broke_at.map_or_else(
                || "-".to_owned(),
                |t| t.strftime("%Y-%m-%d %H:%M:%SZ").to_string(),
            );
            (
                "reject-release",
                &mut policy.reject,
                format!("install failed on STG node(s) {} at {at}", hosts.join(", ")),
            )
        } else {
            if policy.verified.contains(&release) || policy.reject.contains(&release) {
                continue;
            }
            (
                "verify-release",
                &mut policy.verified,
                format!(
                    "ran on {} STG nodes ({source}) without failure, promoted {today}",
                    seen.ran_on.len()
                ),
            )
        };
        if entries.contains(&release) {
            continue;
        }
        let change = Change {
            list,
            entry: release.to_string(),
            owner: OWNER.to_owned(),
            reason,
        };
        if entries.len() >= pw_core::baseline::MAX_RELEASE_ENTRIES {
            not_added.push(change);
            continue;
        }
        entries.push(release);
        added.push(change);
    }
    (added, not_added)
}

fn changes_table(changes: &[Change]) -> String {
    let mut table = Table::new(&["LIST", "ENTRY", "REASON"]);
    for change in changes {
        table.row(vec![
            change.list.to_owned(),
            change.entry.clone(),
            change.reason.clone(),
        ]);
    }
    table.render()
}

fn promote(args: &PromoteArgs, printer: &Printer) -> anyhow::Result<u8> {
    let client = args.connection.client(printer)?;
    let baselines = client.baselines()?;
    let from = find_baseline(&baselines, &args.from).context("--from")?;
    let to = find_baseline(&baselines, &args.to).context("--to")?;
    if from.id == to.id {
        anyhow::bail!("--from and --to name the same baseline `{}`", to.id);
    }
    let detail = client.baseline(&to.id)?;
    let mut prd = pw_api::baseline::parse_toml(&detail.toml)
        .with_context(|| format!("baseline `{}` from the server", to.id))?
        .baseline;
    let reading = observe(&client, args, &from.id, prd.operating_system.family())?;
    let source = match &args.patch_group {
        Some(group) => format!("patch group {group}"),
        None => format!("baseline {}", from.name),
    };
    let now = Timestamp::now();
    let (mut added, mut not_added) = plan(
        &mut prd,
        &reading.observed,
        &source,
        args.reject_failures_only,
        now,
    )?;
    let (releases_added, releases_not_added) = plan_releases(
        &mut prd,
        &reading.releases,
        &source,
        args.reject_failures_only,
        now,
    );
    added.extend(releases_added);
    not_added.extend(releases_not_added);
    let updated = !args.dry_run && !added.is_empty();
    if updated {
        client.update_baseline(&to.id, &pw_api::baseline::to_toml(&prd))?;
    }
    if args.connection.output == Output::Json {
        print_json(
            printer,
            &PromoteReport {
                from: from.id.clone(),
                to: to.id.clone(),
                dry_run: args.dry_run,
                nodes_read: reading.nodes,
                install_reports_read: reading.install_reports,
                added,
                not_added: not_added.clone(),
                updated,
            },
        )?;
    } else {
        let verb = if args.dry_run { "would add" } else { "added" };
        printer.line(&format!(
            "read {} STG node report(s); {verb} {} entr{} to baseline {}",
            reading.nodes,
            added.len(),
            if added.len() == 1 { "y" } else { "ies" },
            to.name
        ));
        if !added.is_empty() {
            printer.raw(&changes_table(&added));
        }
        if !not_added.is_empty() {
            printer.warn(&format!(
                "{} entr{} did not fit (at most {MAX_PATCH_ENTRIES} per list):",
                not_added.len(),
                if not_added.len() == 1 { "y" } else { "ies" },
            ));
            printer.raw(&changes_table(&not_added));
        }
    }
    Ok(if not_added.is_empty() {
        exit_code::OK
    } else {
        exit_code::FAILURE
    })
}

/// Runs `patchwarden promote`.
pub(crate) fn run(args: &PromoteArgs, printer: &Printer) -> u8 {
    match promote(args, printer) {
        Ok(code) => code,
        Err(error) => error_exit(printer, &error),
    }
}

#[cfg(test)]
mod tests {
    use pw_core::baseline::OperatingSystem;

    use super::*;

    fn seen(installed: &[&str], failed: &[&str]) -> Observed {
        Observed {
            installed_on: installed.iter().map(|h| (*h).to_owned()).collect(),
            failed_on: failed.iter().map(|h| (*h).to_owned()).collect(),
            failed_at: (!failed.is_empty()).then(|| Timestamp::from_second(0).unwrap()),
            ..Observed::default()
        }
    }

    fn key(name: &str, target: &str) -> (String, String, String) {
        (name.to_owned(), "x86_64".to_owned(), target.to_owned())
    }

    fn apt_key(name: &str, target: &str) -> (String, String, String) {
        (name.to_owned(), "amd64".to_owned(), target.to_owned())
    }

    #[test]
    fn full_lists_report_what_did_not_fit() {
        let mut prd = Baseline::empty("PRD", OperatingSystem::AmazonLinux2);
        prd.approved = (0..MAX_PATCH_ENTRIES)
            .map(|i| Exception::new(format!("pkg{i}")))
            .collect();
        let observed = BTreeMap::from([
            (key("foo", "1.0-1"), seen(&["a"], &[])),
            (key("bar", "2.0-1"), seen(&["a"], &["b"])),
        ]);
        let (added, not_added) =
            plan(&mut prd, &observed, "baseline STG", false, Timestamp::now()).unwrap();
        assert_eq!(added.len(), 1);
        assert_eq!(added[0].entry, "bar-2.0-1.x86_64");
        assert_eq!(not_added.len(), 1);
        assert_eq!(not_added[0].entry, "foo-1.0-1.x86_64");
        assert_eq!(prd.approved.len(), MAX_PATCH_ENTRIES);
        assert_eq!(prd.rejected.len(), 1);
    }

    #[test]
    fn existing_entries_and_rejections_are_respected() {
        let now = Timestamp::now();
        let mut prd = Baseline::empty("PRD", OperatingSystem::AmazonLinux2);
        prd.approved = vec![Exception::new("foo")];
        prd.rejected = vec![Exception::new("baz-*")];
        let observed = BTreeMap::from([
            (key("foo", "1:1.0-1"), seen(&["a"], &[])),
            (key("baz", "1.0-1"), seen(&["a", "b"], &[])),
            (key("qux", "3.0-1"), seen(&["a", "b"], &[])),
        ]);
        let (added, _) = plan(&mut prd, &observed, "baseline STG", true, now).unwrap();
        assert!(added.is_empty());
        let (added, _) = plan(&mut prd, &observed, "baseline STG", false, now).unwrap();
        assert_eq!(added.len(), 1);
        assert_eq!(added[0].entry, "qux-3.0-1.x86_64");
        assert!(
            added[0]
                .reason
                .starts_with("installed on 2 STG nodes (baseline STG)")
        );
    }

    #[test]
    fn family_switch_writes_and_matches_each_familys_exact_form() {
        let rpm = Exact::parse(Family::Dnf, "bar", "x86_64", "1:2.0-3.el9").unwrap();
        assert_eq!(rpm.entry(), "bar-1:2.0-3.el9.x86_64");
        assert!(rpm.is_install_key("bar-1:2.0-3.el9.x86_64"));
        assert!(!rpm.is_install_key("bar-1:2.0-4.el9.x86_64"));
        assert!(!rpm.is_install_key("bar:x86_64=1:2.0-3.el9"));
        let zero_epoch = Exact::parse(Family::Yum, "foo", "noarch", "0:1.0-1").unwrap();
        assert_eq!(zero_epoch.entry(), "foo-1.0-1.noarch");

        let apt = Exact::parse(Family::Apt, "openssl", "amd64", "3.0.2-0ubuntu1.15").unwrap();
        assert_eq!(apt.entry(), "openssl.amd64:3.0.2-0ubuntu1.15");
        assert!(apt.is_install_key("openssl:amd64=3.0.2-0ubuntu1.15"));
        assert!(!apt.is_install_key("openssl:arm64=3.0.2-0ubuntu1.15"));
        assert!(!apt.is_install_key("openssl:amd64=3.0.2-0ubuntu1.16"));
        assert!(!apt.is_install_key("openssl-3.0.2-0ubuntu1.15.amd64"));
        let epoch = Exact::parse(Family::Apt, "libc6", "amd64", "1:2.36-9").unwrap();
        assert_eq!(epoch.entry(), "libc6.amd64:1:2.36-9");

        // The entry each family writes is matched by that family's list matching, for that
        // version only.
        for exact in [&rpm, &zero_epoch, &apt, &epoch] {
            assert!(exact.matched_by(&PatternSet::parse([exact.entry()])));
        }
        let next = Exact::parse(Family::Apt, "openssl", "amd64", "3.0.2-0ubuntu1.16").unwrap();
        assert!(!next.matched_by(&PatternSet::parse([apt.entry()])));
        assert!(apt.matched_by(&PatternSet::parse(["openssl"])));

        // Versions are read by the family's rules.
        assert!(Exact::parse(Family::Apt, "foo", "amd64", "1.0 beta").is_err());
        let error = Exact::parse(Family::Dnf, "foo", "x86_64", "").unwrap_err();
        assert!(
            error.to_string().contains("is not an rpm version"),
            "{error}"
        );
    }

    #[test]
    fn apt_baselines_get_nav_entries_and_hook_failures_reject() {
        let now = Timestamp::now();
        let mut prd = Baseline::empty("PRD", OperatingSystem::Ubuntu);
        prd.approved = vec![Exception::new("curl.amd64:7.81.0-1ubuntu1.15")];
        let hook_failed = Observed {
            installed_on: BTreeSet::from(["a".to_owned()]),
            hook_failed_on: BTreeSet::from(["a".to_owned()]),
            hook_failed_at: Some(Timestamp::from_second(0).unwrap()),
            ..Observed::default()
        };
        let observed = BTreeMap::from([
            (apt_key("curl", "7.81.0-1ubuntu1.15"), seen(&["a"], &[])),
            (apt_key("openssl", "3.0.2-0ubuntu1.15"), seen(&["a"], &[])),
            (apt_key("libssl3", "3.0.2-0ubuntu1.15"), seen(&[], &["b"])),
            (apt_key("bash", "5.1-6ubuntu1.1"), hook_failed),
        ]);
        let (added, not_added) = plan(&mut prd, &observed, "baseline STG", false, now).unwrap();
        assert!(not_added.is_empty());
        let got: Vec<(&str, &str)> = added.iter().map(|c| (c.list, c.entry.as_str())).collect();
        assert_eq!(
            got,
            [
                ("reject", "bash.amd64:5.1-6ubuntu1.1"),
                ("reject", "libssl3.amd64:3.0.2-0ubuntu1.15"),
                ("approve", "openssl.amd64:3.0.2-0ubuntu1.15"),
            ]
        );
        assert_eq!(
            added[0].reason,
            "post-install hook failed on STG node(s) a at 1970-01-01 00:00:00Z"
        );
        assert_eq!(
            added[1].reason,
            "failed on STG node(s) b at 1970-01-01 00:00:00Z"
        );
        // A second run adds nothing.
        let (again, _) = plan(&mut prd, &observed, "baseline STG", false, now).unwrap();
        assert!(again.is_empty());
    }

    #[test]
    fn both_failures_are_named_in_one_reason() {
        let mut both = seen(&[], &["b"]);
        both.hook_failed_on.insert("a".to_owned());
        both.hook_failed_at = Some(Timestamp::from_second(60).unwrap());
        assert_eq!(
            both.reject_reason(),
            "failed on STG node(s) b at 1970-01-01 00:00:00Z; \
             post-install hook failed on STG node(s) a at 1970-01-01 00:01:00Z"
        );
    }
}
