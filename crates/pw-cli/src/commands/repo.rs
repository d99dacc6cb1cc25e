//! `patchwarden repo inspect`: summarise an rpm-md repository, or dump one updateinfo file.
//!
//! Output shapes (stable; scripts and tests rely on them):
//! - `repo inspect LOCATION`: a human summary; with `--json`, a [`RepositorySummary`] object.
//! - `repo inspect --updateinfo FILE --json`: an array of [`AdvisoryJson`] objects with exactly
//!   the keys `id`, `type`, `status`, `severity`, `title`, `issued`, `updated`,
//!   `references`, `packages`, `reboot_suggested`.
//!
//! Diagnostics (skipped entries, unparsable dates) go to stderr as warnings in every mode.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::PathBuf;

use anyhow::Context;
use pw_core::repo::updateinfo::parse_updateinfo;
use pw_core::repo::{Advisory, Diagnostic};
use serde::Serialize;

use crate::exit_code;
use crate::printer::Printer;

/// Subcommands of `patchwarden repo`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum RepoCommand {
    /// Summarise a repository (revision, packages, advisories by type and severity,
    /// diagnostics), or parse a single updateinfo file with `--updateinfo`.
    Inspect(InspectArgs),
}

/// Arguments of `patchwarden repo inspect`.
#[derive(Debug, clap::Args)]
pub(crate) struct InspectArgs {
    /// The repository: a directory (its root or its `repodata`), a `file://` or an
    /// `http(s)://` URL.
    #[arg(value_name = "PATH_OR_URL", required_unless_present = "updateinfo")]
    location: Option<String>,
    /// Parse this updateinfo file (plain or gzip/xz/bzip2/zstd) instead of a repository and
    /// list its advisories.
    #[arg(long, value_name = "FILE", conflicts_with = "location")]
    updateinfo: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(command: RepoCommand, printer: &Printer) -> anyhow::Result<u8> {
    match command {
        RepoCommand::Inspect(args) => inspect(args, printer),
    }
}

fn inspect(args: InspectArgs, printer: &Printer) -> anyhow::Result<u8> {
    if let Some(path) = args.updateinfo {
        return inspect_updateinfo(&path, args.json, printer);
    }
    let Some(location) = args.location else {
        printer.error("a repository location or --updateinfo FILE is required");
        return Ok(exit_code::USAGE);
    };
    let repository = pw_repo::load(&location)
        .with_context(|| format!("failed to load repository {location}"))?;
    report_diagnostics(
        &repository.diagnostics,
        repository.suppressed_diagnostics,
        printer,
    );
    let summary = RepositorySummary::new(&repository);
    if args.json {
        printer.line(&serde_json::to_string_pretty(&summary)?);
    } else {
        printer.raw(&summary.to_text());
    }
    Ok(exit_code::OK)
}

fn inspect_updateinfo(path: &PathBuf, json: bool, printer: &Printer) -> anyhow::Result<u8> {
    let file = fs_err::File::open(path)?;
    let parsed = parse_updateinfo(BufReader::with_capacity(64 * 1024, file))
        .with_context(|| format!("failed to parse {}", path.display()))?;
    report_diagnostics(&parsed.diagnostics, parsed.suppressed_diagnostics, printer);
    if json {
        let advisories: Vec<AdvisoryJson> = parsed.value.iter().map(AdvisoryJson::from).collect();
        printer.line(&serde_json::to_string_pretty(&advisories)?);
    } else {
        let mut text = String::new();
        for advisory in &parsed.value {
            let issued = advisory
                .issued
                .map_or_else(|| "-".to_owned(), |issued| issued.to_string());
            let severity = advisory.severity.as_deref().unwrap_or("-");
            let title = advisory.title.as_deref().unwrap_or("");
            text.push_str(&format!(
                "{}\t{}\t{severity}\t{issued}\t{title}\n",
                advisory.id, advisory.kind
            ));
        }
        text.push_str(&format!("{} advisories\n", parsed.value.len()));
        printer.raw(&text);
    }
    Ok(exit_code::OK)
}

fn report_diagnostics(diagnostics: &[Diagnostic], suppressed: u64, printer: &Printer) {
    for diagnostic in diagnostics {
        printer.warn(&diagnostic.to_string());
    }
    if suppressed > 0 {
        printer.warn(&format!("{suppressed} more diagnostics not shown"));
    }
}

/// `repo inspect --json`.
#[derive(Debug, Serialize)]
struct RepositorySummary {
    location: String,
    revision: Option<String>,
    /// `primary` or `primary_db`: where the packages were read from.
    primary_source: String,
    /// Every repomd record: type and location.
    records: Vec<RecordJson>,
    packages: usize,
    advisories: usize,
    /// Advisory counts by `type` as written.
    advisories_by_type: BTreeMap<String, usize>,
    /// Advisory counts by severity, lower-cased; `none` when absent.
    advisories_by_severity: BTreeMap<String, usize>,
    diagnostics: Vec<String>,
    suppressed_diagnostics: u64,
}

#[derive(Debug, Serialize)]
struct RecordJson {
    #[serde(rename = "type")]
    kind: String,
    location: String,
}

impl RepositorySummary {
    fn new(repository: &pw_repo::Repository) -> RepositorySummary {
        let mut advisories_by_type = BTreeMap::new();
        let mut advisories_by_severity = BTreeMap::new();
        for advisory in &repository.advisories {
            *advisories_by_type.entry(advisory.kind.clone()).or_insert(0) += 1;
            let severity = advisory
                .severity
                .as_deref()
                .map_or_else(|| "none".to_owned(), str::to_lowercase);
            *advisories_by_severity.entry(severity).or_insert(0) += 1;
        }
        RepositorySummary {
            location: repository.location.clone(),
            revision: repository.repomd.revision.clone(),
            primary_source: repository.primary_source.to_string(),
            records: repository
                .repomd
                .records
                .iter()
                .map(|record| RecordJson {
                    kind: record.kind.clone(),
                    location: record.location.clone(),
                })
                .collect(),
            packages: repository.packages.len(),
            advisories: repository.advisories.len(),
            advisories_by_type,
            advisories_by_severity,
            diagnostics: repository
                .diagnostics
                .iter()
                .map(ToString::to_string)
                .collect(),
            suppressed_diagnostics: repository.suppressed_diagnostics,
        }
    }

    fn to_text(&self) -> String {
        let counts = |map: &BTreeMap<String, usize>| {
            if map.is_empty() {
                return "-".to_owned();
            }
            let parts: Vec<String> = map
                .iter()
                .map(|(key, count)| format!("{key} {count}"))
                .collect();
            parts.join(", ")
        };
        let records: Vec<&str> = self
            .records
            .iter()
            .map(|record| record.kind.as_str())
            .collect();
        let diagnostics = self.diagnostics.len() as u64 + self.suppressed_diagnostics;
        format!(
            "repository:   {}\nrevision:     {}\nrecords:      {}\npackages:     {} (from {})\nadvisories:   {}\n  by type:     {}\n  by severity: {}\ndiagnostics:  {diagnostics}\n",
            self.location,
            self.revision.as_deref().unwrap_or("-"),
            records.join(", "),
            self.packages,
            self.primary_source,
            self.advisories,
            counts(&self.advisories_by_type),
            counts(&self.advisories_by_severity),
        )
    }
}

/// One advisory of `repo inspect --updateinfo FILE --json`. The key set is a stable interface.
#[derive(Debug, Serialize)]
struct AdvisoryJson {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    status: Option<String>,
    /// As written, or null.
    severity: Option<String>,
    title: Option<String>,
    /// RFC 3339 in UTC (`2018-01-11T21:05:00Z`), or null.
    issued: Option<String>,
    updated: Option<String>,
    references: Vec<ReferenceJson>,
    packages: Vec<PackageJson>,
    /// True when the advisory or any of its packages suggests a reboot.
    reboot_suggested: bool,
}

#[derive(Debug, Serialize)]
struct ReferenceJson {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

#[derive(Debug, Serialize)]
struct PackageJson {
    name: String,
    /// A string; "0" when absent.
    epoch: String,
    version: String,
    release: String,
    arch: String,
}

impl From<&Advisory> for AdvisoryJson {
    fn from(advisory: &Advisory) -> AdvisoryJson {
        AdvisoryJson {
            id: advisory.id.clone(),
            kind: advisory.kind.clone(),
            status: advisory.status.clone(),
            severity: advisory.severity.clone(),
            title: advisory.title.clone(),
            issued: advisory.issued.map(|timestamp| timestamp.to_string()),
            updated: advisory.updated.map(|timestamp| timestamp.to_string()),
            references: advisory
                .references
                .iter()
                .map(|reference| ReferenceJson {
                    kind: reference.kind.clone(),
                    id: reference.id.clone(),
                })
                .collect(),
            packages: advisory
                .packages
                .iter()
                .map(|package| PackageJson {
                    name: package.nevra.name.clone(),
                    epoch: package.nevra.evr.epoch.to_string(),
                    version: package.nevra.evr.version.clone(),
                    release: package.nevra.evr.release.clone(),
                    arch: package.nevra.arch.clone(),
                })
                .collect(),
            reboot_suggested: advisory.suggests_reboot(),
        }
    }
}
