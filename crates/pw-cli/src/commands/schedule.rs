//! `patchwarden schedule next|check`.

use crate::printer::Printer;

/// Subcommands of `patchwarden schedule`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ScheduleCommand {
    /// Validate an expression.
    Check,
}

pub(crate) fn run(_command: ScheduleCommand, _printer: &Printer) -> anyhow::Result<u8> {
    anyhow::bail!("not implemented yet")
}
