//! Times pw-core's rpm version comparison on pairs loaded into memory first; the counterpart of
//! `bench/vercmp/librpm_bench.c` (run both with `bench/vercmp/run.sh`).
//!
//! Reads `left<TAB>right` EVR lines on stdin; an optional argument gives the number of rounds
//! (default 5). Two methods, each timed over every pair per round (the best round counts):
//!
//! * `pw-core Evr::cmp`: [`Evr`]'s ordering on values parsed before timing (librpm's
//!   `rpmverCmp`);
//! * `pw-core rpmvercmp`: [`rpmvercmp`] on version and release, epochs compared as integers.
//!
//! Output, one line per method: `method<TAB>pairs<TAB>best_seconds<TAB>less/equal/greater`.

use std::cmp::Ordering;
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use pw_core::version::rpm::{Evr, rpmvercmp};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: u32 = std::env::args()
        .nth(1)
        .map(|text| text.parse())
        .transpose()?
        .unwrap_or(5);
    let mut input = String::new();
    io::stdin().read_to_string(&mut input)?;
    let mut pairs = Vec::new();
    for line in input.lines() {
        let Some((left, right)) = line.split_once('\t') else {
            continue;
        };
        pairs.push((Evr::parse(left)?, Evr::parse(right)?));
    }

    let evr_cmp = |left: &Evr, right: &Evr| left.cmp(right);
    let split_cmp = |left: &Evr, right: &Evr| {
        left.epoch
            .cmp(&right.epoch)
            .then_with(|| rpmvercmp(&left.version, &right.version))
            .then_with(|| match (left.has_release(), right.has_release()) {
                (true, true) => rpmvercmp(&left.release, &right.release),
                (left, right) => left.cmp(&right),
            })
    };
    let mut out = io::stdout().lock();
    for (name, compare) in [
        (
            "pw-core Evr::cmp",
            &evr_cmp as &dyn Fn(&Evr, &Evr) -> Ordering,
        ),
        ("pw-core rpmvercmp", &split_cmp),
    ] {
        let mut best = Duration::MAX;
        let mut counts = [0u64; 3];
        for _ in 0..rounds {
            let mut round_counts = [0u64; 3];
            let start = Instant::now();
            for (left, right) in &pairs {
                let ordering = compare(black_box(left), black_box(right));
                round_counts[(ordering as i8 + 1) as usize] += 1;
            }
            best = best.min(start.elapsed());
            counts = round_counts;
        }
        writeln!(
            out,
            "{name}\t{}\t{:.6}\t{}/{}/{}",
            pairs.len(),
            best.as_secs_f64(),
            counts[0],
            counts[1],
            counts[2]
        )?;
    }
    Ok(())
}
