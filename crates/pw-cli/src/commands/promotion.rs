//! `patchwarden promotion`: promotion policies stored on the server (docs/promotion.md).
//! A policy names its baselines by id or name; `list` and `show` give what each policy has
//! done, with its evidence.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use pw_api::server::promotion::{HealthyApproval, PromotionPolicy, PromotionSpec};
use pw_client::Client;

use crate::commands::client::{ConnectionArgs, Output, print_json, run_with};
use crate::printer::Printer;
use crate::table::Table;

/// Promotion policies on the server.
#[derive(Debug, Args)]
pub(crate) struct PromotionArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(subcommand)]
    command: PromotionCommand,
}

/// The settings of `create` and `update`.
#[derive(Debug, Args)]
struct SpecArgs {
    /// The staging baseline (id or name) whose nodes' reports are read.
    #[arg(long, value_name = "STG_BASELINE")]
    from: String,
    /// The production baseline (id or name) whose lists the policy extends.
    #[arg(long, value_name = "PRD_BASELINE")]
    to: String,
    /// Read the nodes of this patch group instead of the nodes of `--from`.
    #[arg(long, value_name = "STG_GROUP")]
    patch_group: Option<String>,
    /// Do not reject what failed on staging (the policy then only approves).
    #[arg(long)]
    no_reject_failures: bool,
    /// Approve versions installed and healthy on at least this many staging nodes.
    #[arg(long, value_name = "N")]
    approve_nodes: Option<u32>,
    /// ... and on at least this percentage of the staging nodes.
    #[arg(long, value_name = "PERCENT")]
    approve_percent: Option<u8>,
    /// ... each for at least this long (`3d`, `12h`, `1d12h`).
    #[arg(long, value_name = "DURATION")]
    soak: Option<String>,
}

impl SpecArgs {
    fn spec(self) -> PromotionSpec {
        let approves =
            self.approve_nodes.is_some() || self.approve_percent.is_some() || self.soak.is_some();
        PromotionSpec {
            from: self.from,
            to: self.to,
            patch_group: self.patch_group,
            reject_failures: !self.no_reject_failures,
            approve_when_healthy: approves.then_some(HealthyApproval {
                nodes: self.approve_nodes,
                percent: self.approve_percent,
                soak: self.soak,
            }),
        }
    }
}

#[derive(Debug, Subcommand)]
enum PromotionCommand {
    /// List policies and what they have done.
    List,
    /// One policy (by id, or `FROM:TO` baseline names) with every change and its evidence.
    Show { policy: String },
    /// Create a policy.
    Create(SpecArgs),
    /// Replace a policy's settings (its baselines stay).
    Update {
        policy: String,
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Delete a policy (what it added stays in the baseline).
    Delete { policy: String },
    /// Run a policy on every staging node's reports now.
    Run {
        policy: String,
        /// Say what it would add; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// The policy with id `wanted`, or whose baselines are `FROM:TO` (ids or names).
fn find(client: &Client, wanted: &str) -> anyhow::Result<PromotionPolicy> {
    let policies = client.promotions()?;
    if let Some(found) = policies.iter().find(|p| p.id == wanted) {
        return Ok(found.clone());
    }
    if let Some((from, to)) = wanted.split_once(':') {
        let baselines = client.baselines()?;
        let id_of = |text: &str| {
            baselines
                .iter()
                .find(|b| b.id == text || b.name == text)
                .map_or_else(|| text.to_owned(), |b| b.id.clone())
        };
        let (from, to) = (id_of(from), id_of(to));
        if let Some(found) = policies
            .iter()
            .find(|p| p.from_baseline_id == from && p.to_baseline_id == to)
        {
            return Ok(found.clone());
        }
    }
    anyhow::bail!("no promotion policy `{wanted}` (give its id, or FROM:TO baseline names)")
}

fn approval_text(spec: &PromotionSpec) -> String {
    let Some(healthy) = &spec.approve_when_healthy else {
        return "-".to_owned();
    };
    let mut text = format!("{} node(s)", healthy.nodes.unwrap_or(1));
    if let Some(percent) = healthy.percent {
        text.push_str(&format!(", {percent}%"));
    }
    if let Some(soak) = &healthy.soak {
        text.push_str(&format!(", soak {soak}"));
    }
    text
}

fn print_policy(printer: &Printer, policy: &PromotionPolicy) {
    printer.line(&format!(
        "{}: {} -> {}{}; reject failures: {}; approve when healthy: {}",
        policy.id,
        policy.spec.from,
        policy.spec.to,
        policy
            .spec
            .patch_group
            .as_ref()
            .map_or_else(String::new, |g| format!(" (patch group {g})")),
        if policy.spec.reject_failures {
            "yes"
        } else {
            "no"
        },
        approval_text(&policy.spec)
    ));
    if let Some(error) = &policy.last_error {
        printer.line(&format!("last run failed: {error}"));
    }
    if policy.changes.is_empty() {
        printer.line("no changes yet");
        return;
    }
    let mut table = Table::new(&["AT", "LIST", "ENTRY", "NODES", "REPORTS", "REASON"]);
    for change in &policy.changes {
        table.row(vec![
            change.at.strftime("%Y-%m-%d %H:%M").to_string(),
            change.list.clone(),
            change.entry.clone(),
            change.evidence.nodes.join(","),
            change
                .evidence
                .reports
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
            change.reason.clone(),
        ]);
    }
    printer.raw(&table.render());
}

/// Runs a `promotion` subcommand.
pub(crate) fn run(args: PromotionArgs, printer: &Printer) -> u8 {
    let output = args.connection.output;
    run_with(printer, || {
        let client = args.connection.client(printer)?;
        match args.command {
            PromotionCommand::List => {
                let policies = client.promotions()?;
                if output == Output::Json {
                    return print_json(printer, &policies);
                }
                let mut table = Table::new(&[
                    "ID",
                    "FROM",
                    "TO",
                    "REJECT FAILURES",
                    "APPROVE WHEN HEALTHY",
                    "CHANGES",
                    "LAST RUN",
                ]);
                for p in &policies {
                    table.row(vec![
                        p.id.clone(),
                        p.spec.from.clone(),
                        p.spec.to.clone(),
                        if p.spec.reject_failures { "yes" } else { "no" }.to_owned(),
                        approval_text(&p.spec),
                        p.changes.len().to_string(),
                        p.last_error.as_ref().map_or_else(
                            || {
                                p.last_run_at.map_or_else(
                                    || "-".to_owned(),
                                    |t| t.strftime("%Y-%m-%d %H:%M").to_string(),
                                )
                            },
                            |e| format!("failed: {e}"),
                        ),
                    ]);
                }
                printer.raw(&table.render());
            }
            PromotionCommand::Show { policy } => {
                let found = find(&client, &policy)?;
                if output == Output::Json {
                    return print_json(printer, &found);
                }
                print_policy(printer, &found);
            }
            PromotionCommand::Create(spec) => {
                let created = client.create_promotion(&spec.spec())?;
                if output == Output::Json {
                    return print_json(printer, &created);
                }
                print_policy(printer, &created);
            }
            PromotionCommand::Update { policy, spec } => {
                let found = find(&client, &policy)?;
                let updated = client.update_promotion(&found.id, &spec.spec())?;
                if output == Output::Json {
                    return print_json(printer, &updated);
                }
                print_policy(printer, &updated);
            }
            PromotionCommand::Delete { policy } => {
                let found = find(&client, &policy)?;
                client.delete_promotion(&found.id)?;
                if output == Output::Json {
                    return Ok(());
                }
                printer.line(&format!("promotion policy {} deleted", found.id));
            }
            PromotionCommand::Run { policy, dry_run } => {
                let found = find(&client, &policy)?;
                let run = client
                    .run_promotion(&found.id, dry_run)
                    .with_context(|| format!("running {}", found.id))?;
                if output == Output::Json {
                    return print_json(printer, &run);
                }
                for skipped in &run.skipped {
                    printer.warn(&format!("left out: {skipped}"));
                }
                let verb = if dry_run { "would add" } else { "added" };
                printer.line(&format!(
                    "read {} staging node(s) and {} Install report(s); {verb} {} entr{}",
                    run.nodes_read,
                    run.install_reports_read,
                    run.added.len(),
                    if run.added.len() == 1 { "y" } else { "ies" }
                ));
                for change in &run.added {
                    printer.line(&format!(
                        "  {} {}: {}",
                        change.list, change.entry, change.reason
                    ));
                }
                for change in &run.not_added {
                    printer.warn(&format!(
                        "did not fit: {} {} (at most {} per list)",
                        change.list,
                        change.entry,
                        pw_core::baseline::MAX_PATCH_ENTRIES
                    ));
                }
            }
        }
        Ok(())
    })
}
