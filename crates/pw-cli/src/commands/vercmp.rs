//! `patchwarden vercmp rpm|deb A B`: compares two versions and prints `-1`, `0` or `1`.
//!
//! With `--batch`, reads `A<TAB>B` lines from stdin and prints one result per line; a line that
//! cannot be compared prints `error: <reason>` in its place and the rest still runs.

use std::cmp::Ordering;
use std::io::{self, BufRead};

use anyhow::Context as _;
use pw_core::version::deb::DebVersion;
use pw_core::version::rpm::Evr;

use crate::exit_code;
use crate::printer::Printer;

/// Arguments of `patchwarden vercmp`.
#[derive(Debug, clap::Args)]
pub(crate) struct VercmpArgs {
    /// Which ordering: `rpm` (epoch:version-release, as rpm compares them) or `deb` (as dpkg).
    #[arg(value_enum)]
    kind: VersionKind,
    /// The first version.
    #[arg(required_unless_present = "batch", conflicts_with = "batch")]
    left: Option<String>,
    /// The second version.
    #[arg(required_unless_present = "batch", conflicts_with = "batch")]
    right: Option<String>,
    /// Read `A<TAB>B` lines from stdin and print one result per line.
    #[arg(long)]
    batch: bool,
}

/// The version orderings `vercmp` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum VersionKind {
    Rpm,
    Deb,
}

/// Flush batch output once this much has accumulated.
const BATCH_FLUSH_BYTES: usize = 64 * 1024;

pub(crate) fn run(args: &VercmpArgs, printer: &Printer) -> anyhow::Result<u8> {
    if args.batch {
        return run_batch(args.kind, printer);
    }
    let (Some(left), Some(right)) = (args.left.as_deref(), args.right.as_deref()) else {
        // clap enforces both; keep a message rather than a panic should that ever change.
        printer.error("two versions are required (or `--batch`)");
        return Ok(exit_code::USAGE);
    };
    match compare(args.kind, left, right) {
        Ok(ordering) => {
            printer.line(ordering_text(ordering));
            Ok(exit_code::OK)
        }
        Err(reason) => {
            printer.error(&reason);
            Ok(exit_code::USAGE)
        }
    }
}

fn run_batch(kind: VersionKind, printer: &Printer) -> anyhow::Result<u8> {
    let mut input = io::stdin().lock();
    let mut line = Vec::new();
    let mut output = String::with_capacity(BATCH_FLUSH_BYTES + 1024);
    loop {
        line.clear();
        let read = input
            .read_until(b'\n', &mut line)
            .context("cannot read stdin")?;
        if read == 0 {
            break;
        }
        match compare_line(kind, &line) {
            Ok(ordering) => output.push_str(ordering_text(ordering)),
            Err(reason) => {
                output.push_str("error: ");
                output.push_str(&reason);
            }
        }
        output.push('\n');
        if output.len() >= BATCH_FLUSH_BYTES {
            printer.raw(&output);
            output.clear();
        }
    }
    printer.raw(&output);
    Ok(exit_code::OK)
}

/// Compares one `A<TAB>B` line (its line ending included).
fn compare_line(kind: VersionKind, line: &[u8]) -> Result<Ordering, String> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = std::str::from_utf8(line).map_err(|_| "the line is not valid UTF-8".to_owned())?;
    let mut fields = line.split('\t');
    match (fields.next(), fields.next(), fields.next()) {
        (Some(left), Some(right), None) => compare(kind, left, right),
        _ => Err(format!(
            "expected two versions separated by one tab, got `{line}`"
        )),
    }
}

fn compare(kind: VersionKind, left: &str, right: &str) -> Result<Ordering, String> {
    match kind {
        VersionKind::Rpm => {
            let left = Evr::parse(left).map_err(|error| error.to_string())?;
            let right = Evr::parse(right).map_err(|error| error.to_string())?;
            Ok(left.cmp(&right))
        }
        VersionKind::Deb => {
            let left = DebVersion::parse(left).map_err(|error| error.to_string())?;
            let right = DebVersion::parse(right).map_err(|error| error.to_string())?;
            Ok(left.cmp(&right))
        }
    }
}

fn ordering_text(ordering: Ordering) -> &'static str {
    match ordering {
        Ordering::Less => "-1",
        Ordering::Equal => "0",
        Ordering::Greater => "1",
    }
}
