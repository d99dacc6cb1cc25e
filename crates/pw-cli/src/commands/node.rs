//! `patchwarden node`: list and show enrolled nodes, set their tags, and queue scan or
//! install commands for them.

use clap::{Args, Subcommand};
use pw_api::server::agent::{CommandInfo, CreateNodeCommand};
use pw_api::server::nodes::NodeSummary;
use pw_api::server::tokens::Tag;
use pw_api::server::windows::{RebootOption, TaskOperation};

use crate::commands::client::{
    ConnectionArgs, Output, parse_tag, print_json, resolve_node, run_with, time,
};
use crate::printer::Printer;
use crate::table::{Table, fields, opt};

/// Nodes enrolled on the server.
#[derive(Debug, Args)]
pub(crate) struct NodeArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(subcommand)]
    command: NodeCommand,
}

#[derive(Debug, Subcommand)]
enum NodeCommand {
    /// List nodes, optionally only those with all the given tags.
    List {
        /// Only nodes with this tag (repeatable).
        #[arg(long, value_name = "KEY=VALUE", value_parser = parse_tag)]
        tag: Vec<Tag>,
    },
    /// Show one node.
    Show {
        /// Node id or hostname.
        id: String,
    },
    /// Replace a node's tags.
    Tag {
        /// Node id or hostname.
        id: String,
        #[arg(value_name = "KEY=VALUE", value_parser = parse_tag)]
        tags: Vec<Tag>,
    },
    /// Queue a scan on a node.
    Scan {
        /// Node id or hostname.
        id: String,
        /// Evaluate against this baseline instead of the one that applies to the node.
        #[arg(long)]
        baseline: Option<String>,
    },
    /// Queue an install on a node.
    Install {
        /// Node id or hostname.
        id: String,
        /// Install against this baseline instead of the one that applies to the node.
        #[arg(long)]
        baseline: Option<String>,
        /// Reboot after installing when needed, or never.
        #[arg(long, value_parser = ["RebootIfNeeded", "NoReboot"], default_value = "RebootIfNeeded")]
        reboot_option: String,
    },
    /// Put back on a node the versions a window execution's install replaced there.
    Rollback {
        /// Node id or hostname.
        id: String,
        /// The execution whose install to undo.
        #[arg(long, value_name = "EXECUTION_ID")]
        execution: String,
        /// Reboot afterwards when needed, or never.
        #[arg(long, value_parser = ["RebootIfNeeded", "NoReboot"], default_value = "RebootIfNeeded")]
        reboot_option: String,
    },
}

fn tags_text(tags: &[Tag]) -> String {
    tags.iter()
        .map(|t| format!("{}={}", t.key, t.value))
        .collect::<Vec<_>>()
        .join(",")
}

fn print_node(printer: &Printer, output: Output, node: &NodeSummary) -> anyhow::Result<()> {
    if output == Output::Json {
        return print_json(printer, node);
    }
    let compliance = node
        .compliance
        .as_ref()
        .map(|c| format!("{} ({} missing, {} failed)", c.status, c.missing, c.failed));
    printer.raw(&fields(&[
        ("id", node.id.clone()),
        ("hostname", node.hostname.clone()),
        ("operating system", node.operating_system.clone()),
        ("product", node.product.clone()),
        ("agent version", node.agent_version.clone()),
        ("tags", tags_text(&node.tags)),
        ("patch group", opt(node.patch_group.as_deref())),
        ("baseline", opt(node.baseline_id.as_deref())),
        ("enrolled", time(Some(node.enrolled_at))),
        ("last seen", time(node.last_seen_at)),
        ("inventory", time(node.inventory_at)),
        ("compliance", opt(compliance)),
    ]));
    Ok(())
}

fn print_command(printer: &Printer, output: Output, command: &CommandInfo) -> anyhow::Result<()> {
    if output == Output::Json {
        return print_json(printer, command);
    }
    printer.line(&format!(
        "queued command {} for node {} ({:?})",
        command.id, command.node_id, command.state
    ));
    Ok(())
}

/// Runs a `node` subcommand.
pub(crate) fn run(args: NodeArgs, printer: &Printer) -> u8 {
    let output = args.connection.output;
    run_with(printer, || {
        let client = args.connection.client(printer)?;
        match args.command {
            NodeCommand::List { tag } => {
                let texts: Vec<String> = tag
                    .iter()
                    .map(|t| format!("{}={}", t.key, t.value))
                    .collect();
                let filters: Vec<(&str, &str)> =
                    texts.iter().map(|t| ("tag", t.as_str())).collect();
                let nodes = client.nodes(&filters)?;
                if output == Output::Json {
                    return print_json(printer, &nodes);
                }
                let mut table = Table::new(&[
                    "ID",
                    "HOSTNAME",
                    "OPERATING SYSTEM",
                    "PATCH GROUP",
                    "STATUS",
                    "LAST SEEN",
                ]);
                for n in &nodes {
                    table.row(vec![
                        n.id.clone(),
                        n.hostname.clone(),
                        n.operating_system.clone(),
                        opt(n.patch_group.as_deref()),
                        opt(n.compliance.as_ref().map(|c| c.status.clone())),
                        time(n.last_seen_at),
                    ]);
                }
                printer.raw(&table.render());
            }
            NodeCommand::Show { id } => {
                let id = resolve_node(&client, &id)?;
                print_node(printer, output, &client.node(&id)?)?;
            }
            NodeCommand::Tag { id, tags } => {
                let id = resolve_node(&client, &id)?;
                print_node(printer, output, &client.set_node_tags(&id, tags)?)?;
            }
            NodeCommand::Scan { id, baseline } => {
                let id = resolve_node(&client, &id)?;
                let command = CreateNodeCommand {
                    operation: TaskOperation::Scan,
                    baseline_id: baseline,
                    reboot_option: RebootOption::NoReboot,
                    install_override_list: Vec::new(),
                };
                print_command(printer, output, &client.create_node_command(&id, &command)?)?;
            }
            NodeCommand::Install {
                id,
                baseline,
                reboot_option,
            } => {
                let id = resolve_node(&client, &id)?;
                let reboot_option = reboot_option_of(&reboot_option);
                let command = CreateNodeCommand {
                    operation: TaskOperation::Install,
                    baseline_id: baseline,
                    reboot_option,
                    install_override_list: Vec::new(),
                };
                print_command(printer, output, &client.create_node_command(&id, &command)?)?;
            }
            NodeCommand::Rollback {
                id,
                execution,
                reboot_option,
            } => {
                let id = resolve_node(&client, &id)?;
                let request = pw_api::server::agent::RollbackRequest {
                    execution_id: execution,
                    reboot_option: reboot_option_of(&reboot_option),
                };
                print_command(printer, output, &client.rollback_node(&id, &request)?)?;
            }
        }
        Ok(())
    })
}

/// `NoReboot`, or `RebootIfNeeded` for anything else (clap allows only the two).
fn reboot_option_of(text: &str) -> RebootOption {
    if text == "NoReboot" {
        RebootOption::NoReboot
    } else {
        RebootOption::RebootIfNeeded
    }
}
