//! `patchwarden webhook`: signed JSON POSTs on events (docs/server.md, "Webhooks").

use clap::{Args, Subcommand};
use pw_api::server::webhooks::WebhookSpec;

use crate::commands::client::{ConnectionArgs, Output, print_json, run_with};
use crate::printer::Printer;
use crate::table::Table;

/// Webhooks on the server (admin).
#[derive(Debug, Args)]
pub(crate) struct WebhookArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(subcommand)]
    command: WebhookCommand,
}

#[derive(Debug, Subcommand)]
enum WebhookCommand {
    /// List webhooks.
    List,
    /// Create a webhook.
    Create {
        /// Where to POST (http:// or https://).
        #[arg(long)]
        url: String,
        /// The shared secret that signs each body (16 to 256 characters).
        #[arg(long)]
        secret: String,
        /// An event to send (repeatable; none: every event).
        #[arg(long = "event", value_name = "EVENT")]
        events: Vec<String>,
        /// critical.overdue: days a critical patch may be missing first [default: 7].
        #[arg(long, value_name = "DAYS")]
        critical_days: Option<u32>,
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a webhook and its delivery log.
    Delete { id: String },
    /// A webhook's deliveries, newest first.
    Deliveries { id: String },
}

/// Runs a `webhook` subcommand.
pub(crate) fn run(args: WebhookArgs, printer: &Printer) -> u8 {
    let output = args.connection.output;
    run_with(printer, || {
        let client = args.connection.client(printer)?;
        match args.command {
            WebhookCommand::List => {
                let hooks = client.webhooks()?;
                if output == Output::Json {
                    return print_json(printer, &hooks);
                }
                let mut table = Table::new(&["ID", "URL", "EVENTS", "CRITICAL DAYS"]);
                for hook in &hooks {
                    table.row(vec![
                        hook.id.clone(),
                        hook.url.clone(),
                        if hook.events.is_empty() {
                            "all".to_owned()
                        } else {
                            hook.events.join(",")
                        },
                        hook.critical_days.to_string(),
                    ]);
                }
                printer.raw(&table.render());
            }
            WebhookCommand::Create {
                url,
                secret,
                events,
                critical_days,
                description,
            } => {
                let created = client.create_webhook(&WebhookSpec {
                    url,
                    secret,
                    events,
                    description,
                    critical_days,
                })?;
                if output == Output::Json {
                    return print_json(printer, &created);
                }
                printer.line(&format!("webhook {} posts to {}", created.id, created.url));
            }
            WebhookCommand::Delete { id } => {
                client.delete_webhook(&id)?;
                if output != Output::Json {
                    printer.line(&format!("webhook {id} deleted"));
                }
            }
            WebhookCommand::Deliveries { id } => {
                let deliveries = client.webhook_deliveries(&id)?;
                if output == Output::Json {
                    return print_json(printer, &deliveries);
                }
                let mut table =
                    Table::new(&["ID", "EVENT", "STATUS", "ATTEMPTS", "CREATED", "LAST ERROR"]);
                for d in &deliveries {
                    table.row(vec![
                        d.id.to_string(),
                        d.event.clone(),
                        d.status.clone(),
                        d.attempts.to_string(),
                        d.created_at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                        d.last_error.clone().unwrap_or_default(),
                    ]);
                }
                printer.raw(&table.render());
            }
        }
        Ok(())
    })
}
