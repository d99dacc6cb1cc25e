//! `patchwarden execution`: the executions maintenance windows opened: list, show with task
//! and per-node statuses, cancel, follow until the end (also `window run --follow`).

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal as _;
use std::time::Duration;

use clap::{Args, Subcommand};
use jiff::Timestamp;
use pw_api::server::windows::{Execution, ExecutionStatus, Invocation};
use pw_client::Client;
use serde::Serialize;

use crate::commands::client::{ConnectionArgs, Output, print_json, run_with, time};
use crate::exit_code;
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
    /// Poll an execution until it ends, printing each node's status changes; exit code 0
    /// when it ends `SUCCESS`, 1 otherwise.
    Follow {
        id: String,
        /// Seconds between polls (fractions allowed).
        #[arg(long, default_value = "2", value_parser = parse_interval, value_name = "SECS")]
        interval: Duration,
    },
}

/// Parses `--interval`: a positive number of seconds, fractions allowed.
pub(crate) fn parse_interval(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(seconds > 0.0 && seconds <= 86_400.0) {
        return Err(format!(
            "`{text}` is out of range: expected more than 0, at most 86400"
        ));
    }
    Duration::try_from_secs_f64(seconds).map_err(|error| format!("`{text}`: {error}"))
}

/// Whether an execution (or invocation) status is final.
fn is_terminal(status: ExecutionStatus, ended_at: Option<Timestamp>) -> bool {
    match status {
        ExecutionStatus::Success
        | ExecutionStatus::Failed
        | ExecutionStatus::TimedOut
        | ExecutionStatus::Cancelled
        | ExecutionStatus::SkippedOverlapping => true,
        ExecutionStatus::Pending | ExecutionStatus::InProgress | ExecutionStatus::Cancelling => {
            false
        }
        // A status this CLI does not know: final once the server gave it an end.
        ExecutionStatus::Unknown => ended_at.is_some(),
    }
}

/// One status change of one invocation, as `--output json` prints it.
#[derive(Debug, Serialize)]
struct Event<'a> {
    at: Timestamp,
    node_id: &'a str,
    /// `null` when the invocation is first seen.
    from: Option<&'static str>,
    to: &'static str,
    details: Option<&'a str>,
}

/// The progress counts over every invocation of an execution.
fn progress(e: &Execution) -> String {
    let (mut total, mut done, mut succeeded, mut failed, mut running, mut pending) =
        (0, 0, 0, 0, 0, 0);
    for invocation in e.tasks.iter().flat_map(|t| &t.invocations) {
        total += 1;
        if is_terminal(invocation.status, invocation.ended_at) {
            done += 1;
        }
        match invocation.status {
            ExecutionStatus::Success => succeeded += 1,
            ExecutionStatus::Pending => pending += 1,
            ExecutionStatus::InProgress | ExecutionStatus::Cancelling => running += 1,
            ExecutionStatus::Unknown if invocation.ended_at.is_none() => running += 1,
            _ => failed += 1,
        }
    }
    format!(
        "{done}/{total} nodes done: {succeeded} succeeded, {failed} failed, {running} running, {pending} pending"
    )
}

/// When a change happened: the server's start or end of the invocation, else `observed`.
fn event_time(invocation: &Invocation, observed: Timestamp) -> Timestamp {
    let server = if is_terminal(invocation.status, invocation.ended_at) {
        invocation.ended_at
    } else {
        invocation.started_at
    };
    server.unwrap_or(observed)
}

/// Polls execution `id` every `interval` until it ends, printing each invocation's status
/// changes and the progress, then the final execution. Returns its final status.
pub(crate) fn follow(
    client: &Client,
    printer: &Printer,
    output: Output,
    id: &str,
    interval: Duration,
) -> anyhow::Result<ExecutionStatus> {
    let json = output == Output::Json;
    let terminal = !json && std::io::stdout().is_terminal();
    // Hostnames make the lines readable; following works without them.
    let hostnames: HashMap<String, String> = client
        .nodes(&[])
        .map(|nodes| nodes.into_iter().map(|n| (n.id, n.hostname)).collect())
        .unwrap_or_default();
    let mut seen: BTreeMap<String, ExecutionStatus> = BTreeMap::new();
    let mut last_progress = String::new();
    // A server restarting or a network blip does not end the follow: retried for about a
    // minute (or 30 polls, whichever is longer), then the error is the answer.
    let mut failures: u32 = 0;
    let patience = u32::try_from(60_000 / interval.as_millis().max(10))
        .unwrap_or(u32::MAX)
        .max(30);
    loop {
        let execution = match client.execution(id) {
            Ok(execution) => {
                failures = 0;
                execution
            }
            Err(error) if error.is_retryable() && failures < patience => {
                failures += 1;
                if failures == 1 {
                    printer.warn(&format!("{error}; retrying"));
                }
                std::thread::sleep(interval);
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        let observed = Timestamp::now();
        let mut lines = Vec::new();
        for invocation in execution.tasks.iter().flat_map(|t| &t.invocations) {
            let from = seen.insert(invocation.id.clone(), invocation.status);
            if from == Some(invocation.status) {
                continue;
            }
            let event = Event {
                at: event_time(invocation, observed),
                node_id: &invocation.node_id,
                from: from.map(ExecutionStatus::as_str),
                to: invocation.status.as_str(),
                details: invocation.status_details.as_deref(),
            };
            if json {
                lines.push(serde_json::to_string(&event)?);
            } else {
                let node = match hostnames.get(&invocation.node_id) {
                    Some(host) => format!("{} ({host})", invocation.node_id),
                    None => invocation.node_id.clone(),
                };
                let mut line = format!(
                    "{}  {node}  {} → {}",
                    time(Some(event.at)),
                    event.from.unwrap_or("-"),
                    event.to
                );
                if let Some(details) = event.details {
                    line.push_str("  ");
                    line.push_str(details);
                }
                lines.push(line);
            }
        }
        let progress = progress(&execution);
        if terminal {
            // Event lines scroll above the progress line, which is redrawn in place.
            let mut text = String::from("\r\x1b[2K");
            for line in &lines {
                text.push_str(line);
                text.push('\n');
            }
            text.push_str(&progress);
            printer.raw(&text);
        } else {
            for line in &lines {
                printer.line(line);
            }
            if !json && progress != last_progress {
                printer.line(&progress);
            }
        }
        last_progress = progress;
        if is_terminal(execution.status, execution.ended_at) {
            if terminal {
                printer.raw("\n");
            }
            if json {
                printer.line(&serde_json::to_string(&execution)?);
            } else {
                printer.line("");
                print_execution(printer, output, &execution)?;
            }
            return Ok(execution.status);
        }
        std::thread::sleep(interval);
    }
}

/// The exit code of a follow that ran without error: 0 for `SUCCESS`, 1 otherwise.
pub(crate) fn follow_exit(status: Option<ExecutionStatus>, code: u8) -> u8 {
    match status {
        Some(status) if code == exit_code::OK && status != ExecutionStatus::Success => {
            exit_code::FAILURE
        }
        _ => code,
    }
}

pub(crate) fn print_execution(
    printer: &Printer,
    output: Output,
    e: &Execution,
) -> anyhow::Result<()> {
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
    let mut followed = None;
    let code = run_with(printer, || {
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
            ExecutionCommand::Follow { id, interval } => {
                followed = Some(follow(&client, printer, output, &id, interval)?);
            }
        }
        Ok(())
    });
    follow_exit(followed, code)
}
