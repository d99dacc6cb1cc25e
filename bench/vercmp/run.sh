#!/usr/bin/env bash
# RPM version-comparison throughput: pw-core against librpm, side by side on the same pairs.
#
#   bench/vercmp/run.sh            # 1,000,000 pairs, best of 5 rounds
#   N=200000 ROUNDS=3 REPEATS=2 bench/vercmp/run.sh
#
# The harnesses run alternately REPEATS times (ROUNDS timed rounds each) and every method keeps
# its fastest round, so that a burst of load from other processes on a shared machine does not
# land on one side only.
#
# Needs gcc and librpm-dev (rpm 4.18). Both harnesses load every pair into memory and parse it
# first, then time only the comparison loop; see README.md in this directory.
set -euo pipefail
cd "$(dirname "$0")/../.."

N="${N:-1000000}"
ROUNDS="${ROUNDS:-5}"
REPEATS="${REPEATS:-3}"
DATA_DIR=bench-data/vercmp
BUILD_DIR=target/bench/vercmp
mkdir -p "$DATA_DIR" "$BUILD_DIR"

PAIRS="$DATA_DIR/pairs-$N.tsv"
if [[ ! -s "$PAIRS" ]]; then
    echo "generating $N pairs into $PAIRS" >&2
    python3 bench/vercmp/gen_pairs.py "$N" >"$PAIRS.tmp"
    mv "$PAIRS.tmp" "$PAIRS"
fi

echo "building (release)" >&2
cargo build --release --quiet -p pw-core --example vercmp_bench
have_cli=true
if ! cargo build --release --quiet -p pw-cli --bin patchwarden 2>"$BUILD_DIR/cli-build.log"; then
    echo "warning: patchwarden does not build (see $BUILD_DIR/cli-build.log); leaving out the end-to-end row" >&2
    have_cli=false
fi
gcc -O2 -Wall -Wextra -o "$BUILD_DIR/librpm_bench" bench/vercmp/librpm_bench.c -lrpmio -lrpm

RUNS="$BUILD_DIR/runs.tsv"
: >"$RUNS"
for _ in $(seq "$REPEATS"); do
    "$BUILD_DIR/librpm_bench" "$PAIRS" "$ROUNDS" >>"$RUNS"
    target/release/examples/vercmp_bench "$ROUNDS" <"$PAIRS" >>"$RUNS"
done
# The fastest run of each method.
RESULTS="$BUILD_DIR/results.tsv"
sort -t$'\t' -k1,1 -k3,3g "$RUNS" | awk -F'\t' '!seen[$1]++' >"$RESULTS"

# Every method must agree on how many pairs are less, equal and greater.
if [[ "$(cut -f4 "$RESULTS" | sort -u | wc -l)" -ne 1 ]]; then
    echo "error: the methods disagree on the results:" >&2
    cat "$RESULTS" >&2
    exit 1
fi

# End to end, for reference: the batch CLI parses every line and writes every result.
cli_seconds=""
if $have_cli; then
    start=$(date +%s.%N)
    target/release/patchwarden vercmp rpm --batch <"$PAIRS" >"$BUILD_DIR/cli-output.txt"
    end=$(date +%s.%N)
    cli_seconds=$(echo "$end - $start" | bc -l)
fi

echo
echo "$N pairs from bench/vercmp/gen_pairs.py, best of $REPEATS x $ROUNDS rounds, $(nproc) CPUs ($(uname -m)), rpm $(rpm --version | awk '{print $3}')"
echo
awk -F'\t' -v cli="$cli_seconds" '
    { ns[$1] = $3 / $2 * 1e9; pairs = $2; counts = $4 }
    function row(label, ours, theirs) {
        printf "| %s | %.1f | %.1f | %.2f | %.2f | %.2fx |\n", label, ns[theirs], ns[ours], 1e3 / ns[theirs], 1e3 / ns[ours], ns[theirs] / ns[ours]
    }
    END {
        printf "| comparison | librpm ns/cmp | pw-core ns/cmp | librpm M cmp/s | pw-core M cmp/s | pw-core speed-up |\n"
        printf "|---|---:|---:|---:|---:|---:|\n"
        row("EVR: `rpmverCmp` vs `Evr::cmp`", "pw-core Evr::cmp", "librpm rpmverCmp")
        row("version and release strings: `rpmvercmp` vs `rpmvercmp`", "pw-core rpmvercmp", "librpm rpmvercmp")
        if (cli != "")
            printf "\nEnd to end, `patchwarden vercmp rpm --batch` (read, parse, compare, write each line): %.1f ns per pair, %.2f M pairs/s.\n", cli / pairs * 1e9, pairs / cli / 1e6
        printf "\nless/equal/greater counts (identical for every method): %s\n", counts
    }' "$RESULTS"
