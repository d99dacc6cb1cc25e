//! `patchwarden activation`: the codes with which agents enroll (`patchwarden agent enroll
//! --activation-code CODE` or `agent run --activation-code CODE`). A code is printed once,
//! when it is created; listings show its uses and expiry, never the code.

use clap::{Args, Subcommand};
use pw_api::server::tokens::{CreateActivation, Tag};

use crate::commands::client::{ConnectionArgs, Output, parse_tag, print_json, run_with, time};
use crate::printer::Printer;
use crate::table::Table;

/// Activation codes on the server (admin token).
#[derive(Debug, Args)]
pub(crate) struct ActivationArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(subcommand)]
    command: ActivationCommand,
}

#[derive(Debug, Subcommand)]
enum ActivationCommand {
    /// Create a code; prints the code alone on stdout (with `--output json`, the whole answer).
    Create {
        /// How many hosts may enroll with it.
        #[arg(long, default_value_t = 1)]
        max_uses: u32,
        /// How long it is valid, in hours.
        #[arg(long, default_value_t = 24)]
        expires_in_hours: u32,
        #[arg(long)]
        description: Option<String>,
        /// A tag given to every host that enrolls with it (repeatable), e.g.
        /// `--tag 'Patch Group=AL2-STG'`.
        #[arg(long, value_name = "KEY=VALUE", value_parser = parse_tag)]
        tag: Vec<Tag>,
        /// Hosts enrolling with it may declare no tags of their own: the code's tags are all
        /// they get. (Without it, a host may add tags for keys the code does not set; the
        /// code's own tags always bind.)
        #[arg(long)]
        no_node_tags: bool,
    },
    /// List codes with their uses and expiry.
    List,
    /// Delete a code (hosts enrolled with it stay enrolled).
    Delete { id: String },
}

fn tags(tags: &[Tag]) -> String {
    tags.iter()
        .map(|t| format!("{}={}", t.key, t.value))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs an `activation` subcommand.
pub(crate) fn run(args: ActivationArgs, printer: &Printer) -> u8 {
    let output = args.connection.output;
    run_with(printer, || {
        let client = args.connection.client(printer)?;
        match args.command {
            ActivationCommand::Create {
                max_uses,
                expires_in_hours,
                description,
                tag,
                no_node_tags,
            } => {
                let created = client.create_activation(&CreateActivation {
                    allow_node_tags: !no_node_tags,
                    expires_in_hours: Some(expires_in_hours),
                    max_uses: Some(max_uses),
                    description,
                    tags: tag,
                })?;
                if output == Output::Json {
                    return print_json(printer, &created);
                }
                printer.line(&created.code);
                printer.note(&format!(
                    "activation {}: up to {} host(s) until {}; the code is not shown again",
                    created.info.id,
                    created.info.max_uses,
                    time(Some(created.info.expires_at))
                ));
            }
            ActivationCommand::List => {
                let activations = client.activations()?;
                if output == Output::Json {
                    return print_json(printer, &activations);
                }
                let mut table = Table::new(&["ID", "USES", "EXPIRES", "TAGS", "DESCRIPTION"]);
                for a in &activations {
                    table.row(vec![
                        a.id.clone(),
                        format!("{}/{}", a.uses, a.max_uses),
                        time(Some(a.expires_at)),
                        if a.allow_node_tags {
                            tags(&a.tags)
                        } else {
                            format!("{} (no node tags)", tags(&a.tags))
                        },
                        a.description.clone().unwrap_or_default(),
                    ]);
                }
                printer.raw(&table.render());
            }
            ActivationCommand::Delete { id } => {
                client.delete_activation(&id)?;
                if output != Output::Json {
                    printer.line(&format!("activation {id} deleted"));
                }
            }
        }
        Ok(())
    })
}
