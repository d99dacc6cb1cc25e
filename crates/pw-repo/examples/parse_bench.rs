//! Parses one metadata file and prints what it found: the Rust side of
//! `bench/metadata/run.sh` (run it under `/usr/bin/time -v`).
//!
//! Usage: `parse_bench primary|updateinfo|primary-db FILE [--stream|--compact] [--no-dependencies]`,
//! `parse_bench repo LOCATION`, or `parse_bench repo-cached DIR CACHE_FILE [--no-dependencies]
//! [--no-details]` (a load through the catalog cache file: the first run writes it, later
//! ones read it; both flags give the agent's options). `--stream` visits each value and drops it instead of
//! collecting a `Vec` (the bounded-memory mode); `--compact` (primary, repo-cached) keeps each
//! package in a `CompactCatalog`, every string once, as the agent holds a repository (with
//! repo-cached: through the compact cache file the agent writes and reads).

use std::io::{self, BufReader, Write};

use pw_core::repo::primary::{PrimaryOptions, parse_primary_with, parse_primary_with_options};
use pw_core::repo::primary_db::parse_primary_db;
use pw_core::repo::updateinfo::{parse_updateinfo, parse_updateinfo_with};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(kind), Some(path)) = (args.first(), args.get(1)) else {
        return Err("usage: parse_bench primary|updateinfo|primary-db|repo FILE [--stream]".into());
    };
    let stream = args.iter().any(|arg| arg == "--stream");
    let compact = args.iter().any(|arg| arg == "--compact");
    let options = PrimaryOptions {
        dependencies: !args.iter().any(|arg| arg == "--no-dependencies"),
    };
    let open = || -> io::Result<BufReader<fs_err::File>> {
        Ok(BufReader::with_capacity(
            64 * 1024,
            fs_err::File::open(path)?,
        ))
    };
    let summary = match (kind.as_str(), stream) {
        ("primary", false) if compact => {
            let mut catalog = pw_core::repo::compact::CompactCatalog::new();
            let parsed = parse_primary_with(open()?, options, |package| {
                catalog.push_package(&package);
            })?;
            catalog.shrink_to_fit();
            format!(
                "packages {} dependencies {} diagnostics {} held {:.1} MB",
                catalog.package_count(),
                catalog.dependency_count(),
                parsed.diagnostics.len(),
                catalog.heap_bytes() as f64 / 1e6
            )
        }
        ("primary", false) => {
            let parsed = parse_primary_with_options(open()?, options)?;
            let dependencies: usize = parsed
                .value
                .iter()
                .map(|package| package.provides.len() + package.requires.len())
                .sum();
            format!(
                "packages {} dependencies {dependencies} diagnostics {}",
                parsed.value.len(),
                parsed.diagnostics.len()
            )
        }
        ("primary", true) => {
            let (mut packages, mut dependencies) = (0usize, 0usize);
            let parsed = parse_primary_with(open()?, options, |package| {
                packages += 1;
                dependencies += package.provides.len() + package.requires.len();
            })?;
            format!(
                "packages {packages} dependencies {dependencies} diagnostics {}",
                parsed.diagnostics.len()
            )
        }
        ("updateinfo", false) => {
            let parsed = parse_updateinfo(open()?)?;
            let packages: usize = parsed
                .value
                .iter()
                .map(|advisory| advisory.packages.len())
                .sum();
            format!(
                "advisories {} packages {packages} diagnostics {}",
                parsed.value.len(),
                parsed.diagnostics.len()
            )
        }
        ("updateinfo", true) => {
            let (mut advisories, mut packages) = (0usize, 0usize);
            let parsed = parse_updateinfo_with(open()?, |advisory| {
                advisories += 1;
                packages += advisory.packages.len();
            })?;
            format!(
                "advisories {advisories} packages {packages} diagnostics {}",
                parsed.diagnostics.len()
            )
        }
        ("primary-db", _) => {
            let parsed = parse_primary_db(&fs_err::read(path)?)?;
            format!(
                "packages {} diagnostics {}",
                parsed.value.len(),
                parsed.diagnostics.len()
            )
        }
        ("repo-cached", _) => {
            let cache_file = args
                .get(2)
                .filter(|arg| !arg.starts_with("--"))
                .ok_or("repo-cached needs DIR CACHE_FILE")?;
            let load_options = pw_repo::LoadOptions {
                dependencies: options.dependencies,
                details: !args.iter().any(|arg| arg == "--no-details"),
                ..pw_repo::LoadOptions::default()
            };
            let (dir, cache_file) = (std::path::Path::new(path), std::path::Path::new(cache_file));
            if compact {
                let load = pw_repo::load_dir_compact_cached(dir, &load_options, cache_file)?;
                let catalog = &load.repository.catalog;
                format!(
                    "packages {} advisories {} dependencies {} held {} bytes cache {:?}",
                    catalog.package_count(),
                    catalog.advisory_count(),
                    catalog.dependency_count(),
                    catalog.heap_bytes(),
                    load.cache
                )
            } else {
                let load = pw_repo::load_dir_cached(dir, &load_options, cache_file)?;
                let repository = load.repository;
                format!(
                    "packages {} advisories {} diagnostics {} cache {:?}",
                    repository.packages.len(),
                    repository.advisories.len(),
                    repository.diagnostics.len(),
                    load.cache
                )
            }
        }
        ("repo", _) => {
            let repository = pw_repo::load(path)?;
            format!(
                "packages {} advisories {} diagnostics {}",
                repository.packages.len(),
                repository.advisories.len(),
                repository.diagnostics.len()
            )
        }
        _ => return Err(format!("unknown kind {kind:?}").into()),
    };
    writeln!(io::stdout(), "{summary}")?;
    Ok(())
}
