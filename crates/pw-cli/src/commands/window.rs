//! `patchwarden window`: maintenance windows on the server: list, show, create from a JSON
//! `WindowSpec` file, enable, disable, the next occurrences, delete, run now (optionally
//! following the execution to its end).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use pw_api::server::windows::{Window, WindowSpec};

use crate::commands::client::{ConnectionArgs, Output, print_json, resolve_window, run_with, time};
use crate::commands::execution::{follow, follow_exit, parse_interval, print_execution};
use crate::printer::Printer;
use crate::table::{Table, fields, opt};

/// Maintenance windows on the server.
#[derive(Debug, Args)]
pub(crate) struct WindowArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(subcommand)]
    command: WindowCommand,
}

#[derive(Debug, Subcommand)]
enum WindowCommand {
    /// List windows.
    List,
    /// Show one window (id or name) with its targets and tasks.
    Show { id: String },
    /// Create a window from a JSON file holding a `WindowSpec` (see docs/api.md).
    Create {
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Replace a window's own fields (schedule, duration, ...) from a `WindowSpec` JSON file;
    /// its targets and tasks stay.
    Update {
        /// The window's id or name.
        id: String,
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Let the scheduler open executions of a window (id or name).
    Enable { id: String },
    /// Stop the scheduler from opening executions of a window (id or name).
    Disable { id: String },
    /// The next occurrences of a window's schedule.
    Next {
        /// The window's id or name.
        id: String,
        /// How many occurrences.
        #[arg(short = 'n', default_value_t = 5)]
        count: u32,
    },
    /// Delete a window (id or name).
    Delete { id: String },
    /// Open an execution of a window now (even a disabled one), as the scheduler would.
    Run {
        /// The window's id or name.
        id: String,
        /// Follow the execution until it ends (as `execution follow`); exit code 0 when it
        /// ends `SUCCESS`, 1 otherwise.
        #[arg(long)]
        follow: bool,
        /// With `--follow`: seconds between polls (fractions allowed).
        #[arg(long, default_value = "2", value_parser = parse_interval, value_name = "SECS")]
        interval: Duration,
    },
}

/// A `WindowSpec` from a JSON file (`-` reads standard input).
fn read_spec(file: &std::path::Path) -> anyhow::Result<WindowSpec> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        fs_err::read_to_string(file)?
    };
    serde_json::from_str(&text).with_context(|| format!("{} is not a window spec", file.display()))
}

fn print_window(printer: &Printer, output: Output, window: &Window) -> anyhow::Result<()> {
    if output == Output::Json {
        return print_json(printer, window);
    }
    let s = &window.spec;
    printer.raw(&fields(&[
        ("id", window.id.clone()),
        ("name", s.name.clone()),
        ("description", opt(s.description.as_deref())),
        ("schedule", s.schedule.clone()),
        ("timezone", opt(s.schedule_timezone.as_deref())),
        ("duration hours", s.duration_hours.to_string()),
        ("cutoff hours", s.cutoff_hours.to_string()),
        ("enabled", s.enabled.to_string()),
        ("next execution", time(window.next_execution_at)),
    ]));
    Ok(())
}

/// Runs a `window` subcommand.
pub(crate) fn run(args: WindowArgs, printer: &Printer) -> u8 {
    let output = args.connection.output;
    let mut followed = None;
    let code = run_with(printer, || {
        let client = args.connection.client(printer)?;
        match args.command {
            WindowCommand::List => {
                let windows = client.windows()?;
                if output == Output::Json {
                    return print_json(printer, &windows);
                }
                let mut table =
                    Table::new(&["ID", "NAME", "SCHEDULE", "ENABLED", "NEXT EXECUTION"]);
                for w in &windows {
                    table.row(vec![
                        w.id.clone(),
                        w.spec.name.clone(),
                        w.spec.schedule.clone(),
                        if w.spec.enabled { "yes" } else { "no" }.to_owned(),
                        time(w.next_execution_at),
                    ]);
                }
                printer.raw(&table.render());
            }
            WindowCommand::Show { id } => {
                let id = resolve_window(&client, &id)?;
                let window = client.window(&id)?;
                if output == Output::Json {
                    // The answer to `GET /api/v1/windows/{id}`; targets and tasks are
                    // separate resources.
                    return print_json(printer, &window);
                }
                let targets = client.window_targets(&id)?;
                let tasks = client.window_tasks(&id)?;
                print_window(printer, output, &window)?;
                let mut table = Table::new(&["TARGET", "NAME", "FILTERS"]);
                for t in &targets {
                    let filters: Vec<String> = t
                        .spec
                        .targets
                        .iter()
                        .map(|f| format!("{}={}", f.key, f.values.join(",")))
                        .collect();
                    table.row(vec![
                        t.id.clone(),
                        opt(t.spec.name.as_deref()),
                        filters.join(" "),
                    ]);
                }
                printer.line("");
                printer.raw(&table.render());
                let mut table = Table::new(&["TASK", "PRIORITY", "OPERATION", "REBOOT", "NAME"]);
                for t in &tasks {
                    table.row(vec![
                        t.id.clone(),
                        t.spec.priority.to_string(),
                        t.spec.operation.as_str().to_owned(),
                        t.spec.reboot_option.as_str().to_owned(),
                        opt(t.spec.name.as_deref()),
                    ]);
                }
                printer.line("");
                printer.raw(&table.render());
            }
            WindowCommand::Create { file } => {
                print_window(printer, output, &client.create_window(&read_spec(&file)?)?)?;
            }
            WindowCommand::Update { id, file } => {
                let spec = read_spec(&file)?;
                let id = resolve_window(&client, &id)?;
                print_window(printer, output, &client.update_window(&id, &spec)?)?;
            }
            WindowCommand::Enable { id } => {
                let id = resolve_window(&client, &id)?;
                print_window(printer, output, &client.set_window_enabled(&id, true)?)?;
            }
            WindowCommand::Disable { id } => {
                let id = resolve_window(&client, &id)?;
                print_window(printer, output, &client.set_window_enabled(&id, false)?)?;
            }
            WindowCommand::Next { id, count } => {
                let id = resolve_window(&client, &id)?;
                let next = client.next_executions(&id, count)?;
                if output == Output::Json {
                    return print_json(printer, &next);
                }
                let mut table = Table::new(&["START", "END", "LAST TASK START", "LOCAL START"]);
                for o in &next.occurrences {
                    table.row(vec![
                        time(Some(o.start)),
                        time(Some(o.end)),
                        time(Some(o.last_task_start)),
                        o.local_start.clone(),
                    ]);
                }
                printer.raw(&table.render());
            }
            WindowCommand::Delete { id } => {
                let id = resolve_window(&client, &id)?;
                client.delete_window(&id)?;
                if output == Output::Json {
                    // The API answers 204 with no body.
                    return Ok(());
                }
                printer.line(&format!("deleted window {id}"));
            }
            WindowCommand::Run {
                id,
                follow: follow_it,
                interval,
            } => {
                let id = resolve_window(&client, &id)?;
                let execution = client.run_window(&id)?;
                if !follow_it {
                    return print_execution(printer, output, &execution);
                }
                if output == Output::Table {
                    printer.line(&format!("execution {} of window {id} opened", execution.id));
                }
                followed = Some(follow(&client, printer, output, &execution.id, interval)?);
            }
        }
        Ok(())
    });
    follow_exit(followed, code)
}
