//! `patchwarden vercmp rpm|deb A B`.

use crate::printer::Printer;

/// Arguments of `patchwarden vercmp`.
#[derive(Debug, clap::Args)]
pub(crate) struct VercmpArgs {}

pub(crate) fn run(_args: VercmpArgs, _printer: &Printer) -> anyhow::Result<u8> {
    anyhow::bail!("not implemented yet")
}
