//! Times evaluation on a generated fleet: the Rust side of `bench/evaluate/run.sh`.
//!
//! Usage: `evaluate_bench DATA_DIR [--repetitions N] [--at RFC3339]`, where `DATA_DIR` is the
//! output of `gen_rpmmd.py` (`repodata/` and `inventory/node-*.tsv`). It loads the catalog once
//! with `pw_repo::load` (as the agent does: verified, dependencies included), builds one
//! [`Snapshot`] for the default Amazon Linux 2 baseline at `--at`, then evaluates every
//! inventory `N` times (round-robin, so each repetition sees every node once). Everything runs
//! on one thread.
//!
//! It lives in pw-agent because it needs the loader (pw-repo) and the inventory parser
//! (pw-pkgmgr) around pw-core; pw-core's library stays free of I/O.
//!
//! Output: `key<TAB>value` lines, one per figure, then one `node` line per inventory
//! (`node<TAB>file<TAB>packages<TAB>median_seconds<TAB>missing<TAB>installed_other`).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::hint::black_box;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use pw_core::baseline::{OperatingSystem, default_baseline};
use pw_core::evaluate::{Catalog, Context, EvaluateOptions, InstalledPackage, Snapshot};

/// After every date `gen_rpmmd.py` writes (2018-01-01 plus eight years, updates up to 20
/// days later), so every advisory is old enough for the default seven-day rule.
const DEFAULT_AT: &str = "2026-06-01T00:00:00Z";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut data_dir: Option<PathBuf> = None;
    let mut repetitions: usize = 20;
    let mut at = DEFAULT_AT.to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--repetitions" => {
                repetitions = args.next().ok_or("--repetitions needs a value")?.parse()?;
            }
            "--at" => at = args.next().ok_or("--at needs a value")?,
            _ if data_dir.is_none() => data_dir = Some(PathBuf::from(arg)),
            _ => return Err(format!("unexpected argument `{arg}`").into()),
        }
    }
    let data_dir =
        data_dir.ok_or("usage: evaluate_bench DATA_DIR [--repetitions N] [--at RFC3339]")?;
    let repetitions = repetitions.max(1);
    let now: Timestamp = at.parse()?;
    let mut out = io::stdout().lock();

    // Inventories first, so that file reads do not land in the timed sections.
    let inventory_dir = data_dir.join("inventory");
    let mut files: Vec<PathBuf> = fs_err::read_dir(&inventory_dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|path| path.extension().is_some_and(|e| e == "tsv"));
    files.sort();
    if files.is_empty() {
        return Err(format!("no *.tsv inventories in {}", inventory_dir.display()).into());
    }
    let texts: Vec<String> = files
        .iter()
        .map(fs_err::read_to_string)
        .collect::<Result<_, _>>()?;
    let parse_started = Instant::now();
    let inventories: Vec<Vec<InstalledPackage>> = texts
        .iter()
        .map(|text| pw_pkgmgr::rpm::parse_rpm_inventory(text))
        .collect::<Result<_, _>>()?;
    let parse_time = parse_started.elapsed();

    let load_started = Instant::now();
    let location = data_dir.to_string_lossy().into_owned();
    let repository = pw_repo::load(&location)?;
    let load_time = load_started.elapsed();

    let baseline = default_baseline(OperatingSystem::AmazonLinux2);
    let product = "AmazonLinux2".to_owned();
    let family = OperatingSystem::AmazonLinux2.family_for_product(&product);
    let build_started = Instant::now();
    let snapshot = Snapshot::build(
        &baseline,
        Catalog {
            packages: &repository.packages,
            advisories: &repository.advisories,
        },
        Context {
            product,
            family,
            now,
        },
    );
    let build_time = build_started.elapsed();

    let options = EvaluateOptions::default();
    // One warm-up pass, also the source of the per-node counts and of a digest of every
    // evaluation (its `Debug` text), which must not change when the engine is optimised.
    let mut digest = DefaultHasher::new();
    let counts: Vec<(usize, usize)> = inventories
        .iter()
        .map(|installed| {
            let evaluation = snapshot.evaluate(installed, &[], &options);
            format!("{evaluation:?}").hash(&mut digest);
            let with_not_applicable = EvaluateOptions {
                include_not_applicable: true,
            };
            let full = snapshot.evaluate(installed, &[], &with_not_applicable);
            format!("{full:?}").hash(&mut digest);
            format!("{:?}", full.into_install_report()).hash(&mut digest);
            (
                evaluation.summary.missing,
                evaluation.summary.installed_other,
            )
        })
        .collect();
    let mut per_node: Vec<Vec<Duration>> = vec![Vec::with_capacity(repetitions); inventories.len()];
    let timed_started = Instant::now();
    for _ in 0..repetitions {
        for (index, installed) in inventories.iter().enumerate() {
            let started = Instant::now();
            let evaluation = snapshot.evaluate(black_box(installed), &[], &options);
            black_box(&evaluation);
            drop(evaluation);
            per_node[index].push(started.elapsed());
        }
    }
    let timed_total = timed_started.elapsed();

    let medians: Vec<Duration> = per_node.iter_mut().map(|times| median(times)).collect();
    let mut all: Vec<Duration> = per_node.iter().flatten().copied().collect();
    let overall_median = median(&mut all);
    let mean_of_medians = medians.iter().sum::<Duration>() / medians.len() as u32;
    let evaluations = repetitions * inventories.len();
    let mean = timed_total / evaluations as u32;
    let packages: usize = inventories.iter().map(Vec::len).sum();

    let line = |out: &mut io::StdoutLock<'_>, key: &str, value: String| -> io::Result<()> {
        writeln!(out, "{key}\t{value}")
    };
    line(&mut out, "packages", repository.packages.len().to_string())?;
    line(
        &mut out,
        "advisories",
        repository.advisories.len().to_string(),
    )?;
    line(
        &mut out,
        "diagnostics",
        repository.diagnostics.len().to_string(),
    )?;
    line(&mut out, "snapshot_entries", snapshot.len().to_string())?;
    line(&mut out, "nodes", inventories.len().to_string())?;
    line(
        &mut out,
        "installed_per_node_mean",
        (packages / inventories.len()).to_string(),
    )?;
    line(&mut out, "repetitions", repetitions.to_string())?;
    line(&mut out, "evaluated_at", now.to_string())?;
    line(
        &mut out,
        "evaluations_digest",
        format!("{:016x}", digest.finish()),
    )?;
    line(&mut out, "load_seconds", secs(load_time))?;
    line(&mut out, "snapshot_seconds", secs(build_time))?;
    line(
        &mut out,
        "inventory_parse_seconds_per_node",
        secs(parse_time / inventories.len() as u32),
    )?;
    line(
        &mut out,
        "evaluate_median_seconds_per_node",
        secs(overall_median),
    )?;
    line(
        &mut out,
        "evaluate_mean_of_node_medians_seconds",
        secs(mean_of_medians),
    )?;
    line(&mut out, "evaluate_mean_seconds_per_node", secs(mean))?;
    line(
        &mut out,
        "projected_10000_nodes_seconds",
        secs(mean_of_medians * 10_000),
    )?;
    for (index, path) in files.iter().enumerate() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        writeln!(
            out,
            "node\t{name}\t{}\t{}\t{}\t{}",
            inventories[index].len(),
            secs(medians[index]),
            counts[index].0,
            counts[index].1
        )?;
    }
    Ok(())
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn secs(duration: Duration) -> String {
    format!("{:.6}", duration.as_secs_f64())
}
