#!/usr/bin/env bash
# Evaluation benchmark (issue 4): load an Amazon Linux 2 sized catalog once, build the
# snapshot of the default Amazon Linux 2 baseline, then evaluate the 20 generated inventories
# many times on one core. Reports load time, snapshot time, time per host (median over the
# repetitions) and the projection to 10,000 hosts.
#
# Usage: bench/evaluate/run.sh [--generator PATH] [--repetitions N] [--keep DIR] [--at RFC3339]
#   --generator    gen_rpmmd.py to use (default: ../shared/bench/gen_rpmmd.py next to the repo)
#   --repetitions  evaluations of each inventory (default 50); the median per host counts
#   --keep         keep (and reuse) the generated data in DIR instead of a temporary directory
#   --at           evaluation instant (default 2026-06-01T00:00:00Z, after every generated date)
# Needs: python3, cargo; taskset (util-linux) to pin to one core when present.
# The Rust side is crates/pw-agent/examples/evaluate_bench.rs (release build); results and the
# profile in RESULTS.md.
set -euo pipefail

repo_root="$(cd "$(dirname "$0")/../.." && pwd)"
generator="$repo_root/../shared/bench/gen_rpmmd.py"
repetitions=50
keep=""
at=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --generator) generator="$2"; shift 2 ;;
    --repetitions) repetitions="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    --at) at="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ -f "$generator" ]] || { echo "generator not found: $generator (use --generator)" >&2; exit 1; }

if [[ -n "$keep" ]]; then work="$keep"; mkdir -p "$work"; else work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT; fi
if [[ ! -f "$work/data/SUMMARY.txt" ]]; then
  echo "generating data (gen_rpmmd.py defaults: Amazon Linux 2 scale)..." >&2
  python3 "$generator" --out "$work/data" > /dev/null
fi

echo "building evaluate_bench (release)..." >&2
# EVALUATE_BENCH_BIN=path measures an evaluate_bench built elsewhere (another profile).
if [[ -n "${EVALUATE_BENCH_BIN:-}" ]]; then
  bench="$EVALUATE_BENCH_BIN"
else
  (cd "$repo_root" && cargo build --release --quiet -p pw-agent --example evaluate_bench)
  bench="$repo_root/target/release/examples/evaluate_bench"
fi

pin=()
if command -v taskset > /dev/null; then pin=(taskset -c 0); fi
args=("$work/data" --repetitions "$repetitions")
[[ -n "$at" ]] && args+=(--at "$at")
echo "evaluating (${pin[*]:-unpinned}, $repetitions repetitions per host)..." >&2
"${pin[@]}" "$bench" "${args[@]}" > "$work/results.tsv"

python3 - "$work/results.tsv" "$work/data/SUMMARY.txt" <<'PY'
import os, sys
values, nodes = {}, []
for line in open(sys.argv[1]):
    fields = line.rstrip("\n").split("\t")
    if fields[0] == "node":
        nodes.append(fields[1:])
    else:
        values[fields[0]] = fields[1]
summary = dict(l.strip().split(": ", 1) for l in open(sys.argv[2]) if ": " in l)
ms = lambda key: float(values[key]) * 1e3
print(f"Data: gen_rpmmd.py defaults: {summary['primary entries']} packages ({summary['package names']} names), "
      f"{summary['advisories']} advisories, {values['nodes']} hosts x {values['installed_per_node_mean']} installed. "
      f"Baseline: default Amazon Linux 2 (Security Critical/Important + Bugfix, 7 days), at {values['evaluated_at']}.")
print(f"Snapshot: {values['snapshot_entries']} approved (name, arch) entries. "
      f"Load average at the end: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores).")
print(f"Evaluations digest: {values['evaluations_digest']} (changes only if an evaluation result changes).")
print()
print("| step | time |")
print("|---|---:|")
print(f"| load catalog once (`pw_repo::load`: verify, gunzip, parse primary + updateinfo) | {ms('load_seconds'):.0f} ms |")
print(f"| build snapshot once (`Snapshot::build`) | {ms('snapshot_seconds'):.0f} ms |")
print(f"| parse one inventory (`parse_rpm_inventory`, 1,200 lines) | {ms('inventory_parse_seconds_per_node'):.2f} ms |")
print(f"| evaluate one host, median of all {int(values['repetitions']) * len(nodes)} evaluations | {ms('evaluate_median_seconds_per_node'):.2f} ms |")
print(f"| evaluate one host, mean of the per-host medians | {ms('evaluate_mean_of_node_medians_seconds'):.2f} ms |")
print(f"| evaluate one host, mean of all evaluations | {ms('evaluate_mean_seconds_per_node'):.2f} ms |")
proj = float(values['projected_10000_nodes_seconds'])
with_parse = proj + float(values['inventory_parse_seconds_per_node']) * 10_000
print(f"| 10,000 hosts on one core (load + snapshot + 10,000 x mean per-host median) | "
      f"{float(values['load_seconds']) + float(values['snapshot_seconds']) + proj:.1f} s |")
print(f"| the same, with each host's inventory parsed too | "
      f"{float(values['load_seconds']) + float(values['snapshot_seconds']) + with_parse:.1f} s |")
print()
print("| host | installed | median ms | Missing | InstalledOther |")
print("|---|---:|---:|---:|---:|")
for name, packages, median, missing, other in nodes:
    print(f"| {name} | {packages} | {float(median) * 1e3:.2f} | {missing} | {other} |")
PY
