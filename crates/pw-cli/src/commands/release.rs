//! `patchwarden release`: the Amazon Linux 2023 releases the server knows (docs/releases.md).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use crate::commands::client::{ConnectionArgs, Output, print_json, run_with};
use crate::printer::Printer;
use crate::table::Table;

/// Releases of versioned repositories (Amazon Linux 2023) known to the server.
#[derive(Debug, Args)]
pub(crate) struct ReleaseArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(subcommand)]
    command: ReleaseCommand,
}

#[derive(Debug, Subcommand)]
enum ReleaseCommand {
    /// List the learned releases, newest first.
    List,
    /// Record the releases of a release list (`releasemd.xml`, a path or URL): for servers
    /// that cannot reach Amazon's or a mirror's URL.
    Import {
        /// `releasemd.xml`: a path, a file:// or an http(s):// URL.
        location: String,
    },
    /// Fetch the server's configured release list now.
    Refresh,
}

/// Runs a `release` subcommand.
pub(crate) fn run(args: ReleaseArgs, printer: &Printer) -> u8 {
    let output = args.connection.output;
    run_with(printer, || {
        let client = args.connection.client(printer)?;
        let outcome = match args.command {
            ReleaseCommand::List => {
                let releases = client.releases()?;
                if output == Output::Json {
                    return print_json(printer, &releases);
                }
                let mut table = Table::new(&["RELEASE", "DATE", "LEARNED", "SOURCE"]);
                for r in &releases.releases {
                    table.row(vec![
                        r.version.clone(),
                        r.release_date.clone(),
                        r.learned_at.to_string(),
                        r.source.clone(),
                    ]);
                }
                printer.raw(&table.render());
                return Ok(());
            }
            ReleaseCommand::Import { location } => {
                let location = if location.contains("://") {
                    location
                } else {
                    std::path::absolute(PathBuf::from(&location))
                        .with_context(|| format!("cannot resolve {location}"))?
                        .display()
                        .to_string()
                };
                let parsed = pw_repo::load_releases(&location, Duration::from_secs(60))
                    .with_context(|| format!("cannot read the release list {location}"))?;
                for diagnostic in &parsed.diagnostics {
                    printer.warn(&diagnostic.to_string());
                }
                client.import_releases(parsed.value.iter().map(ToString::to_string).collect())?
            }
            ReleaseCommand::Refresh => client.refresh_releases()?,
        };
        if output == Output::Json {
            return print_json(printer, &outcome);
        }
        for diagnostic in &outcome.diagnostics {
            printer.warn(diagnostic);
        }
        printer.line(&format!(
            "{} releases read from {}, {} new",
            outcome.releases, outcome.source, outcome.new
        ));
        Ok(())
    })
}
