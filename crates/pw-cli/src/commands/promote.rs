//! `patchwarden promote`: carry what STG verified over to PRD's baseline.
//!
//! Reads the latest compliance report of every node whose baseline is `--from` (or whose
//! patch group is `--patch-group`) and sorts each patch, a (name, arch) at its target version:
//!
//! * Installed on at least one node and Failed on none: "verified on STG", added to PRD's
//!   approved list as the exact version entry `name-[epoch:]version-release.arch`.
//! * Failed on any node: "broke STG", added to PRD's rejected list as the exact version entry
//!   (the automatic-rejection policy; `--reject-failures-only` runs only this half).
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
use pw_api::server::baselines::BaselineSummary;
use pw_client::Client;
use pw_core::baseline::{Baseline, Exception, Family, MAX_PATCH_ENTRIES};
use pw_core::nevra::Nevra;
use pw_core::pattern::PatternSet;
use pw_core::version::rpm::Evr;
use serde::Serialize;

use crate::commands::client::{ConnectionArgs, Output, error_exit, print_json};
use crate::exit_code;
use crate::printer::Printer;
use crate::table::Table;

/// The owner written on every entry this command adds.
const OWNER: &str = "patchwarden promote";

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
    failed_on: BTreeSet<String>,
    failed_at: Option<Timestamp>,
}

fn find_baseline<'a>(
    baselines: &'a [BaselineSummary],
    wanted: &str,
    flag: &str,
) -> anyhow::Result<&'a BaselineSummary> {
    baselines
        .iter()
        .find(|b| b.id == wanted)
        .or_else(|| baselines.iter().find(|b| b.name == wanted))
        .with_context(|| format!("{flag}: no baseline has the id or name `{wanted}`"))
}

/// Reads the STG reports: per (name, arch, target), the hosts it is installed and failed on.
fn observe(
    client: &Client,
    args: &PromoteArgs,
    from_id: &str,
) -> anyhow::Result<(usize, Observations)> {
    let hostnames: HashMap<String, String> = client
        .nodes(&[])?
        .into_iter()
        .map(|n| (n.id, n.hostname))
        .collect();
    let summaries = client.compliance_nodes(&[])?;
    let selected = summaries.iter().filter(|s| match &args.patch_group {
        Some(group) => s.patch_group.as_deref() == Some(group.as_str()),
        None => s.baseline_id.as_deref() == Some(from_id),
    });
    let mut observed: Observations = BTreeMap::new();
    let mut nodes = 0;
    for summary in selected {
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
                    let at = compliance.summary.reported_at;
                    seen.failed_at = Some(seen.failed_at.map_or(at, |t| t.max(at)));
                }
                _ => {}
            }
        }
    }
    Ok((nodes, observed))
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
    let today = now.strftime("%Y-%m-%d").to_string();
    let (mut added, mut not_added) = (Vec::new(), Vec::new());
    for ((name, arch, target), seen) in observed {
        let evr = Evr::parse(target)
            .with_context(|| format!("{name}.{arch}: target `{target}` is not an rpm version"))?;
        let nevra = Nevra::new(name.clone(), evr, arch.clone());
        let entry = format!("{name}-{target}.{arch}");
        let (list, reason) = if !seen.failed_on.is_empty() {
            if rejected.matches_rpm(&nevra).is_some() {
                continue;
            }
            let hosts: Vec<&str> = seen.failed_on.iter().map(String::as_str).collect();
            let at = seen.failed_at.map_or_else(
                || "-".to_owned(),
                |t| t.strftime("%Y-%m-%d %H:%M:%SZ").to_string(),
            );
            let reason = format!("failed on STG node(s) {} at {at}", hosts.join(", "));
            ("reject", reason)
        } else {
            if reject_only
                || approved.matches_rpm(&nevra).is_some()
                || rejected.matches_rpm(&nevra).is_some()
            {
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
            entry,
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
    let from = find_baseline(&baselines, &args.from, "--from")?;
    let to = find_baseline(&baselines, &args.to, "--to")?;
    if from.id == to.id {
        anyhow::bail!("--from and --to name the same baseline `{}`", to.id);
    }
    let (nodes_read, observed) = observe(&client, args, &from.id)?;
    let detail = client.baseline(&to.id)?;
    let mut prd = pw_api::baseline::parse_toml(&detail.toml)
        .with_context(|| format!("baseline `{}` from the server", to.id))?
        .baseline;
    if prd.operating_system.family() == Family::Apt {
        anyhow::bail!(
            "--to: baseline `{}` is for Debian/Ubuntu; promote writes rpm version entries only",
            to.name
        );
    }
    let source = match &args.patch_group {
        Some(group) => format!("patch group {group}"),
        None => format!("baseline {}", from.name),
    };
    let (added, not_added) = plan(
        &mut prd,
        &observed,
        &source,
        args.reject_failures_only,
        Timestamp::now(),
    )?;
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
                nodes_read,
                added,
                not_added: not_added.clone(),
                updated,
            },
        )?;
    } else {
        let verb = if args.dry_run { "would add" } else { "added" };
        printer.line(&format!(
            "read {nodes_read} STG node report(s); {verb} {} entr{} to baseline {}",
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
        }
    }

    fn key(name: &str, target: &str) -> (String, String, String) {
        (name.to_owned(), "x86_64".to_owned(), target.to_owned())
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
}
