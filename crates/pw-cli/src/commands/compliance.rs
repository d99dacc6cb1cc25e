//! `patchwarden compliance`: fleet summary, roll-ups per patch group or baseline (with release
//! drift), one node's patches and history, and the export
//! (CSV or JSON rows).

use clap::{Args, Subcommand};
use pw_api::server::compliance::ComplianceSummary;

use crate::commands::client::{ConnectionArgs, Output, print_json, resolve_node, run_with, time};
use crate::printer::Printer;
use crate::table::{Table, opt};

/// Compliance as the nodes reported it.
#[derive(Debug, Args)]
pub(crate) struct ComplianceArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(subcommand)]
    command: ComplianceCommand,
}

#[derive(Debug, Subcommand)]
enum ComplianceCommand {
    /// The latest summary of every node.
    Summary,
    /// One node's patches from its latest report.
    Node {
        /// Node id or hostname.
        id: String,
        /// Only patches in this state (Installed, Missing, Failed, ...).
        #[arg(long)]
        state: Option<String>,
    },
    /// Per patch group (or `--by baseline`): nodes reporting, compliant, with missing or
    /// failed patches, and the release drift of Amazon Linux 2023 nodes.
    Groups {
        #[arg(long, value_parser = ["patch-group", "baseline"], default_value = "patch-group")]
        by: String,
    },
    /// One node's past reports, newest first.
    History {
        /// Node id or hostname.
        id: String,
        /// At most this many reports.
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Every node's patches, one row each.
    Export {
        /// `csv` prints the server's CSV; `json` its rows.
        #[arg(long, value_parser = ["csv", "json"], default_value = "csv")]
        format: String,
    },
}

fn summary_table(summaries: &[ComplianceSummary]) -> String {
    let mut table = Table::new(&[
        "NODE",
        "STATUS",
        "OPERATION",
        "BASELINE",
        "MISSING",
        "FAILED",
        "INSTALLED",
        "PENDING REBOOT",
        "RELEASE",
        "REPORTED",
    ]);
    for s in summaries {
        table.row(vec![
            s.node_id.clone(),
            s.status.clone(),
            s.operation.as_str().to_owned(),
            opt(s.baseline_id.as_deref()),
            s.missing.to_string(),
            s.failed.to_string(),
            s.installed.to_string(),
            s.installed_pending_reboot.to_string(),
            opt(s.release.as_deref()),
            time(Some(s.reported_at)),
        ]);
    }
    table.render()
}

/// Runs a `compliance` subcommand.
pub(crate) fn run(args: ComplianceArgs, printer: &Printer) -> u8 {
    let output = args.connection.output;
    run_with(printer, || {
        let client = args.connection.client(printer)?;
        match args.command {
            ComplianceCommand::Summary => {
                let summaries = client.compliance_nodes(&[])?;
                if output == Output::Json {
                    return print_json(printer, &summaries);
                }
                printer.raw(&summary_table(&summaries));
            }
            ComplianceCommand::Groups { by } => {
                let groups = if by == "baseline" {
                    client.compliance_baselines()?
                } else {
                    client.compliance_patch_groups()?
                };
                if output == Output::Json {
                    return print_json(printer, &groups);
                }
                let mut table = Table::new(&[
                    if by == "baseline" {
                        "BASELINE"
                    } else {
                        "PATCH GROUP"
                    },
                    "NODES",
                    "REPORTED",
                    "COMPLIANT",
                    "WITH MISSING",
                    "WITH FAILED",
                    "RELEASES",
                ]);
                for g in &groups {
                    let releases: Vec<String> = g
                        .releases
                        .iter()
                        .map(|(release, n)| format!("{release}: {n}"))
                        .collect();
                    table.row(vec![
                        g.key.clone(),
                        g.nodes.to_string(),
                        g.nodes_reported.to_string(),
                        g.nodes_compliant.to_string(),
                        g.nodes_with_missing.to_string(),
                        g.nodes_with_failed.to_string(),
                        opt((!releases.is_empty())
                            .then(|| releases.join(", "))
                            .as_deref()),
                    ]);
                }
                printer.raw(&table.render());
            }
            ComplianceCommand::Node { id, state } => {
                let id = resolve_node(&client, &id)?;
                let filters: Vec<(&str, &str)> =
                    state.iter().map(|s| ("state", s.as_str())).collect();
                let compliance = client.node_compliance(&id, &filters)?;
                if output == Output::Json {
                    return print_json(printer, &compliance);
                }
                let s = &compliance.summary;
                printer.line(&format!(
                    "{}: {} ({} missing, {} failed; {} at {}){}",
                    s.node_id,
                    s.status,
                    s.missing,
                    s.failed,
                    s.operation.as_str(),
                    time(Some(s.reported_at)),
                    s.release
                        .as_deref()
                        .map(|r| format!("; release {r}"))
                        .unwrap_or_default()
                ));
                let mut table = Table::new(&[
                    "STATE",
                    "PACKAGE",
                    "INSTALLED",
                    "TARGET",
                    "CLASSIFICATION",
                    "SEVERITY",
                    "WHY",
                ]);
                for item in &compliance.items {
                    table.row(vec![
                        item.state.clone(),
                        format!("{}.{}", item.name, item.arch),
                        opt(item.installed.as_deref()),
                        opt(item.target.as_deref()),
                        opt(item.classification.as_deref()),
                        opt(item.severity.as_deref()),
                        item.reason.clone(),
                    ]);
                }
                printer.raw(&table.render());
            }
            ComplianceCommand::History { id, limit } => {
                let id = resolve_node(&client, &id)?;
                let limit_text = limit.map(|n| n.to_string());
                let filters: Vec<(&str, &str)> =
                    limit_text.iter().map(|n| ("limit", n.as_str())).collect();
                let history = client.node_compliance_history(&id, &filters)?;
                if output == Output::Json {
                    return print_json(printer, &history);
                }
                printer.raw(&summary_table(&history));
            }
            ComplianceCommand::Export { format } => {
                if format == "json" || output == Output::Json {
                    print_json(printer, &client.compliance_export(&[])?)?;
                } else {
                    printer.raw(&client.compliance_export_csv(&[])?);
                }
            }
        }
        Ok(())
    })
}
