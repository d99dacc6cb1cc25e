//! `patchwarden execution`: the executions maintenance windows opened: list, show with task
//! and per-node statuses, cancel.

use clap::{Args, Subcommand};
use pw_api::server::windows::Execution;

use crate::commands::client::{ConnectionArgs, Output, print_json, run_with, time};
use crate::printer::Printer;
use crate::table::{Table, fields, opt};

/// Window executions on the server.
#[derive(Debug, Args)]
pub(crate) struct ExecutionArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(subcommand)]
    command: ExecutionCommand,
}

#[derive(Debug, Subcommand)]
enum ExecutionCommand {
    /// List executions, optionally of one window.
    List {
        #[arg(long)]
        window: Option<String>,
    },
    /// Show one execution with its tasks and per-node invocations.
    Show { id: String },
    /// Cancel a running execution.
    Cancel { id: String },
}

fn print_execution(printer: &Printer, output: Output, e: &Execution) -> anyhow::Result<()> {
    if output == Output::Json {
        return print_json(printer, e);
    }
    printer.raw(&fields(&[
        ("id", e.id.clone()),
        ("window", e.window_id.clone()),
        ("status", e.status.as_str().to_owned()),
        ("details", opt(e.status_details.as_deref())),
        ("scheduled", time(Some(e.scheduled_at))),
        ("started", time(e.started_at)),
        ("ended", time(e.ended_at)),
    ]));
    let mut table = Table::new(&["TASK", "OPERATION", "NODE", "STATUS", "DETAILS"]);
    for task in &e.tasks {
        table.row(vec![
            task.task_id.clone(),
            task.operation.as_str().to_owned(),
            format!("({} targets)", task.targets),
            task.status.as_str().to_owned(),
            opt(task.status_details.as_deref()),
        ]);
        for invocation in &task.invocations {
            table.row(vec![
                String::new(),
                String::new(),
                invocation.node_id.clone(),
                invocation.status.as_str().to_owned(),
                opt(invocation.status_details.as_deref()),
            ]);
        }
    }
    if !e.tasks.is_empty() {
        printer.line("");
        printer.raw(&table.render());
    }
    Ok(())
}

/// Runs an `execution` subcommand.
pub(crate) fn run(args: ExecutionArgs, printer: &Printer) -> u8 {
    let output = args.connection.output;
    run_with(printer, || {
        let client = args.connection.client(printer)?;
        match args.command {
            ExecutionCommand::List { window } => {
                let executions = client.executions(window.as_deref())?;
                if output == Output::Json {
                    return print_json(printer, &executions);
                }
                let mut table =
                    Table::new(&["ID", "WINDOW", "STATUS", "SCHEDULED", "STARTED", "ENDED"]);
                for e in &executions {
                    table.row(vec![
                        e.id.clone(),
                        e.window_id.clone(),
                        e.status.as_str().to_owned(),
                        time(Some(e.scheduled_at)),
                        time(e.started_at),
                        time(e.ended_at),
                    ]);
                }
                printer.raw(&table.render());
            }
            ExecutionCommand::Show { id } => {
                print_execution(printer, output, &client.execution(&id)?)?;
            }
            ExecutionCommand::Cancel { id } => {
                print_execution(printer, output, &client.cancel_execution(&id)?)?;
            }
        }
        Ok(())
    })
}
