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

use std::collections::HashMap;

use anyhow::Context as _;
use clap::Args;
use jiff::Timestamp;
use pw_api::agent::item_evidence;
use pw_api::server::compliance::{ComplianceSummary, Operation};
use pw_client::Client;
use pw_core::baseline::MAX_PATCH_ENTRIES;
use pw_core::promotion::{self, Approve, NodeEvidence, Reading, Rules};
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

/// One entry added (or that would be added, or that did not fit), as `--output json`
/// writes it.
#[derive(Debug, Clone, Serialize)]
struct Change {
    /// `approve`, `reject`, `verify-release` or `reject-release`.
    list: &'static str,
    entry: String,
    owner: String,
    reason: String,
}

impl From<promotion::Change> for Change {
    fn from(change: promotion::Change) -> Change {
        Change {
            list: change.list,
            entry: change.entry,
            owner: change.owner,
            reason: change.reason,
        }
    }
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

/// Whether a report is STG's: it names `--patch-group` when given, else the `--from` baseline.
fn is_stg(summary: &ComplianceSummary, args: &PromoteArgs, from_id: &str) -> bool {
    match &args.patch_group {
        Some(group) => summary.patch_group.as_deref() == Some(group.as_str()),
        None => summary.baseline_id.as_deref() == Some(from_id),
    }
}

/// Reads the STG reports into the evidence the decision takes: per STG node its latest
/// report's items, and the Install reports among its last [`HISTORY_LIMIT`] (since
/// `--since`).
fn observe(
    client: &Client,
    args: &PromoteArgs,
    from_id: &str,
) -> anyhow::Result<Vec<NodeEvidence>> {
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
    let mut nodes = Vec::new();
    for summary in summaries.iter().filter(|s| is_stg(s, args, from_id)) {
        let host = hostnames
            .get(&summary.node_id)
            .cloned()
            .unwrap_or_else(|| summary.node_id.clone());
        let compliance = client.node_compliance(&summary.node_id, &[])?;
        let mut installs = Vec::new();
        let history = client.node_compliance_history(&summary.node_id, &history_filters)?;
        for past in history
            .iter()
            .filter(|s| s.operation == Operation::Install && is_stg(s, args, from_id))
        {
            let report = client.compliance_report(past.report_id)?;
            installs.extend(report.install_evidence(Some(past.report_id), past.reported_at));
        }
        nodes.push(NodeEvidence {
            host,
            latest_report: Some(compliance.summary.report_id),
            latest_at: compliance.summary.reported_at,
            latest: item_evidence(&compliance.items),
            installs,
        });
    }
    Ok(nodes)
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
    let evidence = observe(&client, args, &from.id)?;
    let reading = Reading::observe(prd.operating_system.family(), &evidence);
    for skipped in &reading.skipped {
        printer.warn(&format!("left out: {skipped}"));
    }
    let source = match &args.patch_group {
        Some(group) => format!("patch group {group}"),
        None => format!("baseline {}", from.name),
    };
    let rules = Rules {
        owner: OWNER,
        source: &source,
        approve: if args.reject_failures_only {
            Approve::Never
        } else {
            Approve::VERIFIED
        },
    };
    let now = Timestamp::now();
    let (added, not_added) = promotion::plan(&mut prd, &reading.observed, &rules, now)?;
    let (releases_added, releases_not_added) =
        promotion::plan_releases(&mut prd, &reading.releases, &rules, now);
    let added: Vec<Change> = added
        .into_iter()
        .chain(releases_added)
        .map(Change::from)
        .collect();
    let not_added: Vec<Change> = not_added
        .into_iter()
        .chain(releases_not_added)
        .map(Change::from)
        .collect();
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
