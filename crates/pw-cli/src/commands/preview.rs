//! `patchwarden preview`: what a baseline would do on nodes, from their uploaded inventories,
//! without touching them.

use clap::Args;
use pw_api::server::agent::PreviewRequest;

use crate::commands::client::{ConnectionArgs, Output, print_json, resolve_node, run_with};
use crate::printer::Printer;
use crate::table::{Table, opt};

/// Preview a baseline against nodes' inventories.
#[derive(Debug, Args)]
pub(crate) struct PreviewArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// The baseline to evaluate [default: the one that applies to each node].
    #[arg(long)]
    baseline: Option<String>,
    /// A node to evaluate, by id or hostname (repeatable).
    #[arg(long = "node", value_name = "ID", required = true)]
    nodes: Vec<String>,
    /// Also list patches that are not applicable.
    #[arg(long)]
    include_not_applicable: bool,
    /// List only patches in this state (repeatable: `--state Missing --state Failed`);
    /// the counts cover every patch.
    #[arg(long = "state", value_name = "STATE")]
    states: Vec<String>,
}

/// Runs `preview`.
pub(crate) fn run(args: PreviewArgs, printer: &Printer) -> u8 {
    let PreviewArgs {
        connection,
        baseline,
        nodes,
        include_not_applicable,
        states,
    } = args;
    let output = connection.output;
    run_with(printer, || {
        let client = connection.client(printer)?;
        let request = PreviewRequest {
            baseline_id: baseline,
            node_ids: nodes
                .iter()
                .map(|node| resolve_node(&client, node))
                .collect::<anyhow::Result<_>>()?,
            targets: Vec::new(),
            at: None,
            include_not_applicable,
            states,
            limit: None,
            after: None,
        };
        let response = client.preview(&request)?;
        if output == Output::Json {
            return print_json(printer, &response);
        }
        for node in &response.nodes {
            let Some(evaluation) = &node.evaluation else {
                printer.line(&format!(
                    "{} ({}): {}",
                    node.node_id,
                    node.hostname,
                    opt(node.error.as_deref())
                ));
                continue;
            };
            let s = &evaluation.summary;
            printer.line(&format!(
                "{} ({}): baseline {}, {} missing, {} installed, {} failed",
                node.node_id, node.hostname, s.baseline, s.missing, s.installed, s.failed
            ));
            let mut table = Table::new(&["STATE", "PACKAGE", "INSTALLED", "TARGET", "WHY"]);
            for p in &evaluation.patches {
                table.row(vec![
                    p.state.clone(),
                    format!("{}.{}", p.name, p.arch),
                    opt(p.installed.as_deref()),
                    opt(p.target.as_deref()),
                    p.reason.clone(),
                ]);
            }
            printer.raw(&table.render());
        }
        Ok(())
    })
}
