//! `patchwarden baseline`: list, show, create, update and delete patch baselines on the
//! server, and make one the default for its operating system. `show` lists the approved and
//! rejected entries with their owner, reason, expiry and whether they still apply.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use pw_api::server::baselines::BaselineDetail;

use crate::commands::client::{
    ConnectionArgs, Output, print_json, resolve_baseline, run_with, time,
};
use crate::printer::Printer;
use crate::table::{Table, fields, opt};

/// Patch baselines on the server.
#[derive(Debug, Args)]
pub(crate) struct BaselineArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(subcommand)]
    command: BaselineCommand,
}

#[derive(Debug, Subcommand)]
enum BaselineCommand {
    /// List baselines.
    List,
    /// Show one baseline; with `--format`, print its file text instead.
    Show {
        /// Baseline id or name.
        id: String,
        /// Print the baseline file: native `toml` or `aws-json`.
        #[arg(long, value_parser = ["toml", "aws-json"])]
        format: Option<String>,
    },
    /// Create a baseline from a file (native TOML or AWS JSON; `-` reads stdin).
    Create {
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Replace a baseline with the contents of a file.
    Update {
        id: String,
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Delete a baseline.
    Delete { id: String },
    /// Make a baseline the default for its operating system.
    SetDefault { id: String },
}

fn read_input(path: &PathBuf) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
        return Ok(text);
    }
    Ok(fs_err::read_to_string(path)?)
}

fn print_detail(printer: &Printer, output: Output, detail: &BaselineDetail) -> anyhow::Result<()> {
    if output == Output::Json {
        return print_json(printer, detail);
    }
    let s = &detail.summary;
    printer.raw(&fields(&[
        ("id", s.id.clone()),
        ("name", s.name.clone()),
        ("operating system", s.operating_system.clone()),
        ("description", opt(s.description.as_deref())),
        ("predefined", s.predefined.to_string()),
        ("default for os", s.default_for_os.to_string()),
        ("patch groups", detail.patch_groups.join(", ")),
        ("created", time(s.created_at)),
        ("updated", time(s.updated_at)),
    ]));
    match pw_api::baseline::parse_toml(&detail.toml) {
        Ok(loaded) => {
            let now = jiff::Timestamp::now();
            for (title, list) in [
                ("approved patches", &loaded.baseline.approved),
                ("rejected patches", &loaded.baseline.rejected),
            ] {
                if list.is_empty() {
                    continue;
                }
                printer.line("");
                printer.line(&format!("{title}:"));
                printer.raw(&exceptions_table(list, now).render());
            }
        }
        Err(error) => printer.warn(&format!(
            "baseline `{}`: its text is unreadable, approved and rejected entries not shown: {error}",
            s.id
        )),
    }
    for warning in &detail.warnings {
        printer.warn(warning);
    }
    Ok(())
}

/// Approved or rejected entries with whether each still applies at `now`.
fn exceptions_table(list: &[pw_core::baseline::Exception], now: jiff::Timestamp) -> Table {
    let mut table = Table::new(&["ENTRY", "OWNER", "REASON", "EXPIRES", "STATUS"]);
    for exception in list {
        table.row(vec![
            exception.entry.clone(),
            opt(exception.owner.as_deref()),
            opt(exception.reason.as_deref()),
            opt(exception.expires),
            if exception.is_active(now) {
                "active"
            } else {
                "expired"
            }
            .to_owned(),
        ]);
    }
    table
}

/// Runs a `baseline` subcommand.
pub(crate) fn run(args: BaselineArgs, printer: &Printer) -> u8 {
    let output = args.connection.output;
    run_with(printer, || {
        let client = args.connection.client(printer)?;
        match args.command {
            BaselineCommand::List => {
                let baselines = client.baselines()?;
                if output == Output::Json {
                    return print_json(printer, &baselines);
                }
                let mut table =
                    Table::new(&["ID", "NAME", "OPERATING SYSTEM", "DEFAULT", "PREDEFINED"]);
                for b in &baselines {
                    table.row(vec![
                        b.id.clone(),
                        b.name.clone(),
                        b.operating_system.clone(),
                        if b.default_for_os { "yes" } else { "" }.to_owned(),
                        if b.predefined { "yes" } else { "" }.to_owned(),
                    ]);
                }
                printer.raw(&table.render());
            }
            BaselineCommand::Show { id, format } => {
                let id = resolve_baseline(&client, &id)?;
                match format {
                    Some(format) => printer.raw(&client.baseline_text(&id, &format)?),
                    None => print_detail(printer, output, &client.baseline(&id)?)?,
                }
            }
            BaselineCommand::Create { file } => {
                let detail = client.create_baseline(&read_input(&file)?)?;
                print_detail(printer, output, &detail)?;
            }
            BaselineCommand::Update { id, file } => {
                let id = resolve_baseline(&client, &id)?;
                let detail = client.update_baseline(&id, &read_input(&file)?)?;
                print_detail(printer, output, &detail)?;
            }
            BaselineCommand::Delete { id } => {
                let id = resolve_baseline(&client, &id)?;
                client.delete_baseline(&id)?;
                if output == Output::Json {
                    // The API answers 204 with no body.
                    return Ok(());
                }
                printer.line(&format!("deleted baseline {id}"));
            }
            BaselineCommand::SetDefault { id } => {
                let id = resolve_baseline(&client, &id)?;
                let detail = client.baseline(&id)?;
                let registered =
                    client.register_default_baseline(&detail.summary.operating_system, &id)?;
                if output == Output::Json {
                    return print_json(printer, &registered);
                }
                printer.line(&format!(
                    "baseline {} is the default for {}",
                    registered.baseline_id, registered.operating_system
                ));
            }
        }
        Ok(())
    })
}
