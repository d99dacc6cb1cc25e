//! `patchwarden patch-group`: which baseline each patch group uses, per operating system.

use clap::{Args, Subcommand};

use crate::commands::client::{ConnectionArgs, Output, print_json, run_with};
use crate::printer::Printer;
use crate::table::Table;

/// Patch-group registrations on the server.
#[derive(Debug, Args)]
pub(crate) struct PatchGroupArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(subcommand)]
    command: PatchGroupCommand,
}

#[derive(Debug, Subcommand)]
enum PatchGroupCommand {
    /// List registrations.
    List,
    /// Register a patch group with a baseline (for the baseline's operating system).
    Register { group: String, baseline_id: String },
    /// Remove a patch group's registration for one operating system.
    Deregister {
        group: String,
        /// The operating system of the registration (AMAZON_LINUX_2023, ...).
        #[arg(long)]
        os: String,
    },
}

/// Runs a `patch-group` subcommand.
pub(crate) fn run(args: PatchGroupArgs, printer: &Printer) -> u8 {
    let output = args.connection.output;
    run_with(printer, || {
        let client = args.connection.client(printer)?;
        match args.command {
            PatchGroupCommand::List => {
                let groups = client.patch_groups()?;
                if output == Output::Json {
                    return print_json(printer, &groups);
                }
                let mut table = Table::new(&["PATCH GROUP", "OPERATING SYSTEM", "BASELINE"]);
                for g in &groups {
                    table.row(vec![
                        g.patch_group.clone(),
                        g.operating_system.clone(),
                        g.baseline_id.clone(),
                    ]);
                }
                printer.raw(&table.render());
            }
            PatchGroupCommand::Register { group, baseline_id } => {
                let registered = client.register_patch_group(&group, &baseline_id)?;
                if output == Output::Json {
                    return print_json(printer, &registered);
                }
                printer.line(&format!(
                    "patch group {} uses baseline {} for {}",
                    registered.patch_group, registered.baseline_id, registered.operating_system
                ));
            }
            PatchGroupCommand::Deregister { group, os } => {
                client.deregister_patch_group(&group, &os)?;
                if output == Output::Json {
                    // The API answers 204 with no body.
                    return Ok(());
                }
                printer.line(&format!("patch group {group} deregistered for {os}"));
            }
        }
        Ok(())
    })
}
