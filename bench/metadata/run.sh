#!/usr/bin/env bash
# Metadata-parsing benchmark: Patchwarden's primary.xml and updateinfo.xml parsers against
# libsolv's rpmmd2solv and updateinfoxml2solv, side by side on the same uncompressed files.
#
# Usage: bench/metadata/run.sh [--generator PATH] [--runs N] [--keep DIR]
#   --generator  gen_rpmmd.py to use (default: ../shared/bench/gen_rpmmd.py next to the repo)
#   --runs       repetitions per tool, interleaved (default 5); medians are reported
#   --keep       keep the generated data in DIR instead of a temporary directory
# Needs: python3, /usr/bin/time (Debian package `time`), libsolv-tools, cargo.
# Our side is crates/pw-repo/examples/parse_bench.rs (release build, LTO): "collect" builds the
# full Vec<Package>/Vec<Advisory> as pw_repo::load does; "stream" builds every value and
# hands it to a callback that drops it (bounded memory); "no-deps" skips provides/requires;
# "compact" keeps every package with its provides/requires in a CompactCatalog (strings
# interned, dependencies as ids), as the agent holds a repository.
set -euo pipefail

repo_root="$(cd "$(dirname "$0")/../.." && pwd)"
generator="$repo_root/../shared/bench/gen_rpmmd.py"
runs=5
keep=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --generator) generator="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

for tool in python3 rpmmd2solv updateinfoxml2solv cargo; do
  command -v "$tool" >/dev/null || { echo "missing $tool (libsolv-tools for the *2solv tools)" >&2; exit 1; }
done
[[ -x /usr/bin/time ]] || { echo "missing /usr/bin/time (apt-get install time)" >&2; exit 1; }
[[ -f "$generator" ]] || { echo "generator not found: $generator (use --generator)" >&2; exit 1; }

if [[ -n "$keep" ]]; then work="$keep"; mkdir -p "$work"; else work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT; fi

echo "generating data (gen_rpmmd.py defaults: Amazon Linux 2 scale)..." >&2
python3 "$generator" --out "$work/data" > "$work/summary.txt"
gunzip -c "$work"/data/repodata/*-primary.xml.gz > "$work/primary.xml"
gunzip -c "$work"/data/repodata/*-updateinfo.xml.gz > "$work/updateinfo.xml"

# The release profile is the shipping profile (fat LTO, one codegen unit): what users run.
# PARSE_BENCH_BIN=path measures a parse_bench built elsewhere (bench/shipping compares profiles).
if [[ -n "${PARSE_BENCH_BIN:-}" ]]; then
  ours="$PARSE_BENCH_BIN"
else
  echo "building parse_bench (release: fat LTO takes a few minutes on 2 cores)..." >&2
  (cd "$repo_root" && cargo build --release --quiet -p pw-repo --example parse_bench)
  ours="$repo_root/target/release/examples/parse_bench"
fi

# measure LABEL INPUT COMMAND...: appends "LABEL seconds kilobytes" to results.
results="$work/results.txt"
: > "$results"
measure() {
  local label="$1" input="$2"
  shift 2
  /usr/bin/time -f "%e %M %U %S" -o "$work/time.txt" "$@" < "$input" > "$work/out.txt"
  echo "$label $(cat "$work/time.txt")" >> "$results"
}

echo "what each side found:" >&2
"$ours" primary "$work/primary.xml" >&2
"$ours" primary "$work/primary.xml" --compact >&2
"$ours" updateinfo "$work/updateinfo.xml" >&2

for run in $(seq "$runs"); do
  echo "run $run/$runs..." >&2
  measure libsolv-primary "$work/primary.xml" rpmmd2solv
  measure ours-primary-collect /dev/null "$ours" primary "$work/primary.xml"
  measure ours-primary-stream /dev/null "$ours" primary "$work/primary.xml" --stream
  measure ours-primary-nodeps /dev/null "$ours" primary "$work/primary.xml" --no-dependencies
  measure ours-primary-compact /dev/null "$ours" primary "$work/primary.xml" --compact
  measure libsolv-updateinfo "$work/updateinfo.xml" updateinfoxml2solv
  measure ours-updateinfo-collect /dev/null "$ours" updateinfo "$work/updateinfo.xml"
  measure ours-updateinfo-stream /dev/null "$ours" updateinfo "$work/updateinfo.xml" --stream
done

python3 - "$results" "$work/primary.xml" "$work/updateinfo.xml" <<'PY'
import os, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    label, seconds, kb, user, system = line.split()
    rows.setdefault(label, []).append((float(seconds), int(kb), float(user) + float(system)))
sizes = {"primary": os.path.getsize(sys.argv[2]), "updateinfo": os.path.getsize(sys.argv[3])}
print(f"load average at the end: {os.getloadavg()[0]:.2f} (2-core machine shared with other jobs); runs per tool: {len(rows['libsolv-primary'])}, interleaved; medians")
print()
print("| file | tool | wall s | CPU s (user+sys) | MB/s (wall) | peak RSS MB | speed-up, wall | speed-up, CPU | RSS vs libsolv |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for kind in ("primary", "updateinfo"):
    base = f"libsolv-{kind}"
    median = lambda label, index: statistics.median(row[index] for row in rows[label])
    base_wall, base_rss, base_cpu = median(base, 0), median(base, 1), median(base, 2)
    for label in [l for l in rows if l == base or l.startswith(f"ours-{kind}-")]:
        wall, rss, cpu = median(label, 0), median(label, 1), median(label, 2)
        name = ("libsolv " + ("rpmmd2solv" if kind == "primary" else "updateinfoxml2solv")) if label == base else "patchwarden " + label.split("-")[-1]
        ratio = lambda a, b: f"{a / b:.2f}x" if b > 0 else "n/a"
        mbs = f"{sizes[kind] / 1e6 / wall:.0f}" if wall > 0 else "n/a"
        print(f"| {kind}.xml ({sizes[kind] / 1e6:.1f} MB) | {name} | {wall:.2f} | {cpu:.2f} | {mbs} | {rss / 1024:.1f} | {ratio(base_wall, wall)} | {ratio(base_cpu, cpu)} | {rss / base_rss:.2f}x |")
PY
