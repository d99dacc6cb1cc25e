//! `patchwarden webhook`: signed JSON POSTs on events (docs/server.md, "Webhooks").

use clap::{Args, Subcommand};
use std::path::PathBuf;

use pw_api::server::webhooks::{WebhookSpec, WebhookUpdate};

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
        #[command(flatten)]
        secret: SecretArgs,
        /// An event to send (repeatable; none: every event).
        #[arg(long = "event", value_name = "EVENT")]
        events: Vec<String>,
        /// critical.overdue: days a critical patch may be missing first [default: 7].
        #[arg(long, value_name = "DAYS")]
        critical_days: Option<u32>,
        #[arg(long)]
        description: Option<String>,
    },
    /// Change a webhook: the options given replace its settings; a secret option rotates its
    /// secret (its delivery log stays).
    Update {
        id: String,
        #[arg(long)]
        url: Option<String>,
        #[command(flatten)]
        secret: SecretArgs,
        /// The events to send (repeatable; replaces the list).
        #[arg(long = "event", value_name = "EVENT")]
        events: Vec<String>,
        /// Send every event from now on.
        #[arg(long, conflicts_with = "events")]
        all_events: bool,
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

/// Where the shared secret that signs each body comes from (16 to 256 characters). Prefer the
/// variable or the file: a command line is visible to `ps`.
#[derive(Debug, Args)]
#[group(multiple = false)]
struct SecretArgs {
    /// The secret itself.
    #[arg(long)]
    secret: Option<String>,
    /// An environment variable that holds the secret.
    #[arg(long, value_name = "NAME")]
    secret_env: Option<String>,
    /// A file that holds the secret (a trailing newline is dropped).
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
}

impl SecretArgs {
    /// The secret, when one of the options gives it.
    fn read(self) -> anyhow::Result<Option<String>> {
        match self.secret {
            Some(secret) => Ok(Some(secret)),
            None => read_secret(self.secret_env.as_deref(), self.secret_file.as_deref()),
        }
    }
}

/// A webhook secret from the environment variable `env` or the file `file` (its content
/// without a trailing newline); `None` when neither is given. The command line and
/// declarative files (`secret_env`, `secret_file`) read secrets through this.
pub(crate) fn read_secret(
    env: Option<&str>,
    file: Option<&std::path::Path>,
) -> anyhow::Result<Option<String>> {
    if let Some(name) = env {
        #[expect(
            clippy::disallowed_methods,
            reason = "the operator names the variable that holds the secret"
        )]
        let value = std::env::var(name);
        return value
            .map(Some)
            .map_err(|_| anyhow::anyhow!("secret_env `{name}` is not set"));
    }
    if let Some(path) = file {
        let text = fs_err::read_to_string(path)?;
        return Ok(Some(text.trim_end_matches(['\n', '\r']).to_owned()));
    }
    Ok(None)
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
                let secret = secret.read()?.ok_or_else(|| {
                    anyhow::anyhow!("give the secret: --secret-env, --secret-file or --secret")
                })?;
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
            WebhookCommand::Update {
                id,
                url,
                secret,
                events,
                all_events,
                critical_days,
                description,
            } => {
                let current = client
                    .webhooks()?
                    .into_iter()
                    .find(|hook| hook.id == id)
                    .ok_or_else(|| anyhow::anyhow!("webhook `{id}` does not exist"))?;
                let updated = client.update_webhook(
                    &id,
                    &WebhookUpdate {
                        url: url.unwrap_or(current.url),
                        secret: secret.read()?,
                        events: if all_events {
                            Vec::new()
                        } else if events.is_empty() {
                            current.events
                        } else {
                            events
                        },
                        description: description.or(current.description),
                        critical_days: Some(critical_days.unwrap_or(current.critical_days)),
                    },
                )?;
                if output == Output::Json {
                    return print_json(printer, &updated);
                }
                printer.line(&format!("webhook {} updated", updated.id));
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
