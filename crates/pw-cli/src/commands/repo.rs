//! `patchwarden repo inspect`.

use crate::printer::Printer;

/// Subcommands of `patchwarden repo`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum RepoCommand {
    /// Summarise a repository.
    Inspect,
}

pub(crate) fn run(_command: RepoCommand, _printer: &Printer) -> anyhow::Result<u8> {
    anyhow::bail!("not implemented yet")
}
