//! `patchwarden evaluate`: offline evaluation of a baseline.

use crate::printer::Printer;

/// Arguments of `patchwarden evaluate`.
#[derive(Debug, clap::Args)]
pub(crate) struct EvaluateArgs {}

pub(crate) fn run(_args: EvaluateArgs, _printer: &Printer) -> anyhow::Result<u8> {
    anyhow::bail!("not implemented yet")
}
