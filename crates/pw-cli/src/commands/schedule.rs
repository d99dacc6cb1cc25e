//! `patchwarden schedule next|check`: evaluate maintenance-window schedule expressions.
//!
//! The binary owns the clock and the time-zone database: it resolves `--tz` with the
//! system database and passes the current time (whole seconds) when `--after` is absent;
//! `pw_core::schedule` does the rest.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use pw_core::schedule::{Schedule, WindowSchedule, WindowScheduleSettings};

use crate::exit_code;
use crate::printer::Printer;

/// Subcommands of `patchwarden schedule`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ScheduleCommand {
    /// Print the next start times of a schedule, one per line (RFC 3339 with the zone's offset).
    Next(NextArgs),
    /// Validate an expression: exit 0 if it is valid, 2 with the reason if it is not.
    Check(CheckArgs),
}

/// Arguments of `patchwarden schedule next`.
#[derive(Debug, clap::Args)]
pub(crate) struct NextArgs {
    /// The expression: `cron(...)`, `rate(...)` or `at(...)`.
    expression: String,
    /// IANA time zone the expression is read in (`ScheduleTimezone`).
    #[arg(long, value_name = "ZONE", default_value = "UTC")]
    tz: String,
    /// Print start times strictly after this instant (RFC 3339) [default: now].
    #[arg(long, value_name = "RFC3339")]
    after: Option<Timestamp>,
    /// How many start times to print; fewer when the series ends.
    #[arg(short = 'n', long = "count", value_name = "COUNT", default_value_t = 5)]
    count: usize,
    /// Days to wait after each cron occurrence (`ScheduleOffset`, 1-6, cron only).
    #[arg(long, value_name = "DAYS")]
    offset: Option<u8>,
    /// No occurrence before this instant (`StartDate`, ISO 8601 with offset).
    #[arg(long, value_name = "ISO")]
    start: Option<Timestamp>,
    /// No occurrence at or after this instant (`EndDate`, ISO 8601 with offset).
    #[arg(long, value_name = "ISO")]
    end: Option<Timestamp>,
    /// When the window was created (RFC 3339) [default: --after]. Cron occurrences at or
    /// before it do not count (offset rule), and a rate without a future --start is anchored
    /// at it.
    #[arg(long, value_name = "RFC3339")]
    created: Option<Timestamp>,
}

/// Arguments of `patchwarden schedule check`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// The expression: `cron(...)`, `rate(...)` or `at(...)`.
    expression: String,
}

pub(crate) fn run(command: ScheduleCommand, printer: &Printer) -> anyhow::Result<u8> {
    match command {
        ScheduleCommand::Next(args) => next(&args, printer),
        ScheduleCommand::Check(args) => check(&args, printer),
    }
}

fn next(args: &NextArgs, printer: &Printer) -> anyhow::Result<u8> {
    let schedule = match Schedule::parse(&args.expression) {
        Ok(schedule) => schedule,
        Err(error) => {
            printer.error(&error.to_string());
            return Ok(exit_code::USAGE);
        }
    };
    let time_zone = if args.tz == "UTC" {
        TimeZone::UTC
    } else {
        match TimeZone::get(&args.tz) {
            Ok(time_zone) => time_zone,
            Err(error) => {
                printer.error(&format!("invalid --tz `{}`: {error}", args.tz));
                return Ok(exit_code::USAGE);
            }
        }
    };
    let after = match args.after {
        Some(after) => after,
        // Whole seconds, so that a rate anchored "now" prints readable instants.
        None => Timestamp::from_second(Timestamp::now().as_second())?,
    };
    let window_schedule = match WindowSchedule::new(WindowScheduleSettings {
        schedule,
        time_zone,
        offset_days: args.offset,
        start: args.start,
        end: args.end,
        created: args.created.unwrap_or(after),
    }) {
        Ok(window_schedule) => window_schedule,
        Err(error) => {
            printer.error(&error.to_string());
            return Ok(exit_code::USAGE);
        }
    };
    for run in window_schedule.occurrences_after(after).take(args.count) {
        printer.line(
            &run.timestamp()
                .display_with_offset(run.offset())
                .to_string(),
        );
    }
    Ok(exit_code::OK)
}

fn check(args: &CheckArgs, printer: &Printer) -> anyhow::Result<u8> {
    match Schedule::parse(&args.expression) {
        Ok(_) => {
            printer.line("valid");
            Ok(exit_code::OK)
        }
        Err(error) => {
            printer.error(&error.to_string());
            Ok(exit_code::USAGE)
        }
    }
}
