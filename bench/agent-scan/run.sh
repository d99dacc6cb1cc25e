#!/usr/bin/env bash
# Agent scan benchmark (issue 5): on an installroot with a few hundred real packages, the wall
# time and peak RSS of `patchwarden agent scan --no-refresh` side by side with
# `dnf -C updateinfo list --available`, both on a warm metadata cache (`dnf makecache` first),
# interleaved, medians of --runs repetitions. patchwarden runs twice per repetition: with its
# catalog cache warm (`<state-dir>/catalog`, the normal case: the metadata did not change
# since the last scan) and cold (the cache removed first: the first scan after a refresh that
# brought new metadata, which parses the XML and writes the cache).
#
# Usage: bench/agent-scan/run.sh [--packages N] [--runs N] [--keep DIR] [--generator PATH] [--small-only]
#                                [--baseline FILE] [--compare BIN]
#   --packages    packages installed in the root (default 300); the repository has ~2.5x as many
#   --runs        repetitions per tool (default 5), after one untimed warm-up run each
#   --keep        keep (and reuse) the built packages, repository and roots in DIR
#   --generator   gen_rpmmd.py (default ../shared/bench/gen_rpmmd.py next to the repo); used for
#                 the second scenario, which adds an Amazon Linux 2 sized metadata-only repository
#   --small-only  skip that second scenario
#   --baseline    patchwarden's baseline file (default: the built-in Amazon Linux 2023 one); one
#                 with `rejected_patches_action = "BLOCK"` and a rejection measures the
#                 dependency check's load (provides and requires of every package)
#   --compare     another patchwarden binary (an earlier build), measured beside this one, warm
#                 and cold, with its own state directories: before and after in one run
# Needs: rpm, rpmbuild, createrepo_c, modifyrepo_c, dnf, /usr/bin/time (Debian package `time`),
# python3, cargo. Run as root (rpm chroots into the installroot for scriptlets).
set -euo pipefail

repo_root="$(cd "$(dirname "$0")/../.." && pwd)"
generator="$repo_root/../shared/bench/gen_rpmmd.py"
packages=300
runs=5
keep=""
large=true
baseline=""
compare=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --packages) packages="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    --generator) generator="$2"; shift 2 ;;
    --small-only) large=false; shift ;;
    --baseline) baseline="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
    --compare) compare="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
for tool in rpm rpmbuild createrepo_c modifyrepo_c dnf python3 cargo; do
  command -v "$tool" > /dev/null || { echo "missing $tool" >&2; exit 1; }
done
[[ -x /usr/bin/time ]] || { echo "missing /usr/bin/time (apt-get install time)" >&2; exit 1; }
if $large && [[ ! -f "$generator" ]]; then
  echo "generator not found: $generator (use --generator, or --small-only)" >&2; exit 1
fi

if [[ -n "$keep" ]]; then work="$(cd "$(dirname "$keep")" && pwd)/$(basename "$keep")"; mkdir -p "$work"
else work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT; fi

echo "building patchwarden (release) and the fixture builder..." >&2
(cd "$repo_root" && cargo build --release --quiet -p pw-cli --bin patchwarden)
(cd "$repo_root" && cargo build --quiet -p pw-test-support --example agent_scan_fixture)
patchwarden="$repo_root/target/release/patchwarden"

fixture="$work/fixture-$packages"
if [[ ! -f "$fixture/summary.tsv" ]]; then
  echo "building $packages packages, their updates, a repository and an installroot (about a minute)..." >&2
  rm -rf "$fixture"
  "$repo_root/target/debug/examples/agent_scan_fixture" "$fixture" --packages "$packages" > "$fixture.summary.tmp"
  mv "$fixture.summary.tmp" "$fixture/summary.tsv"
fi

scenarios=(small)
if $large; then
  if [[ ! -f "$work/al2like/SUMMARY.txt" ]]; then
    echo "generating Amazon Linux 2 sized metadata (gen_rpmmd.py defaults)..." >&2
    python3 "$generator" --out "$work/al2like" > /dev/null
  fi
  scenarios+=(large)
fi

results="$work/results.tsv"
: > "$results"
for scenario in "${scenarios[@]}"; do
  root="$work/root-$scenario"
  rm -rf "$root" "$work"/state-"$scenario"*
  cp -a "$fixture/root" "$root"
  if [[ "$scenario" == large ]]; then
    printf '[al2like]\nname=generated Amazon Linux 2 sized metadata\nbaseurl=file://%s\nenabled=1\ngpgcheck=0\n' \
      "$work/al2like" > "$root/etc/yum.repos.d/al2like.repo"
  fi
  echo "[$scenario] dnf makecache..." >&2
  dnf -q --installroot="$root" --releasever=1 makecache > /dev/null
  dnf_cmd=(dnf --installroot="$root" --releasever=1 -C updateinfo list --available)
  if [[ -n "$baseline" ]]; then baseline_args=(--baseline "$baseline"); else baseline_args=(--default-baseline); fi
  scan_args=(agent scan --root "$root" "${baseline_args[@]}" --os AMAZON_LINUX_2023
             --product AmazonLinux2023 --package-manager dnf --releasever 1 --no-refresh
             --at 2024-06-01T00:00:00Z)
  cold_state="$work/state-$scenario-cold"
  pw_cmd=("$patchwarden" "${scan_args[@]}" --state-dir "$work/state-$scenario")
  pw_cold_cmd=("$patchwarden" "${scan_args[@]}" --state-dir "$cold_state")
  # Without --compare, the comparison runs this build again (its rows are not printed).
  other="${compare:-$patchwarden}"
  compare_cmd=("$other" "${scan_args[@]}" --state-dir "$work/state-$scenario-compare")
  compare_cold_cmd=("$other" "${scan_args[@]}" --state-dir "$work/state-$scenario-compare-cold")
  # What each side reports, once (also the warm-up run, which writes the catalog cache).
  "${dnf_cmd[@]}" > "$work/dnf-$scenario.txt"
  "${pw_cmd[@]}" > "$work/pw-$scenario.txt"
  "${pw_cold_cmd[@]}" > "$work/pw-$scenario-cold.txt"
  "${pw_cmd[@]}" > "$work/pw-$scenario-warm.txt"
  cmp -s "$work/pw-$scenario-warm.txt" "$work/pw-$scenario-cold.txt" \
    || echo "[$scenario] warning: the reports with the cache warm and cold differ" >&2
  if [[ -n "$compare" ]]; then
    "${compare_cold_cmd[@]}" > "$work/compare-$scenario-cold.txt"
    "${compare_cmd[@]}" > "$work/compare-$scenario.txt"
    cmp -s "$work/pw-$scenario.txt" "$work/compare-$scenario.txt" \
      || echo "[$scenario] warning: the compared build's report differs from this build's" >&2
  fi
  echo "[$scenario] $runs runs each, interleaved..." >&2
  # dnf's own cold case: its cache removed, then `dnf makecache` (which parses the metadata
  # into its .solv files) and the same listing, as one command.
  dnf_cold_cmd=(sh -c "dnf -q --installroot='$root' --releasever=1 makecache > /dev/null && $(printf '%q ' "${dnf_cmd[@]}")")
  python3 - "$scenario" "$runs" "$results" "$work" "$root" "${#dnf_cmd[@]}" "${#pw_cmd[@]}" "${compare:+1}" \
    "${dnf_cmd[@]}" "${pw_cmd[@]}" "${pw_cold_cmd[@]}" "${compare_cmd[@]}" "${compare_cold_cmd[@]}" \
    "${dnf_cold_cmd[@]}" <<'PY'
import os, shutil, subprocess, sys, time
scenario, runs, results, work, root = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
n_dnf, n_pw, compare = int(sys.argv[6]), int(sys.argv[7]), sys.argv[8] == "1"
argv = sys.argv[9:]
pw = lambda k: argv[n_dnf + k * n_pw:n_dnf + (k + 1) * n_pw]
commands = {"dnf": argv[:n_dnf], "patchwarden": pw(0), "patchwarden-cold": pw(1)}
if compare:
    commands.update({"compare": pw(2), "compare-cold": pw(3)})
commands["dnf-cold"] = argv[n_dnf + 4 * n_pw:]
with open(results, "a") as out:
    for _ in range(runs):
        for tool, argv in commands.items():
            if tool in ("patchwarden-cold", "compare-cold"):
                state = "cold" if tool == "patchwarden-cold" else "compare-cold"
                shutil.rmtree(os.path.join(work, f"state-{scenario}-{state}", "catalog"), ignore_errors=True)
            if tool == "dnf-cold":
                shutil.rmtree(os.path.join(root, "var/cache/dnf"), ignore_errors=True)
            # /usr/bin/time gives the peak RSS (wait4's ru_maxrss: the largest of the process
            # and the children it waited for, such as `rpm -qa`); the wall time is taken here,
            # in finer steps than time's 10 ms.
            read_end, write_end = os.pipe()
            started = time.perf_counter()
            proc = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", f"/dev/fd/{write_end}", *argv],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    pass_fds=(write_end,))
            proc.wait()
            seconds = time.perf_counter() - started
            os.close(write_end)
            kb = os.read(read_end, 100).decode().split()[-1]
            os.close(read_end)
            if proc.returncode != 0:
                sys.exit(f"{tool} failed with {proc.returncode}: {' '.join(argv)}")
            out.write(f"{scenario}\t{tool}\t{seconds:.4f}\t{kb}\n")
PY
done

python3 - "$results" "$work" "$packages" "$compare" "$baseline" <<'PY'
import os, statistics, sys
results, work, packages, compare, baseline = sys.argv[1:6]
rows = {}
for line in open(results):
    scenario, tool, seconds, kb = line.split()
    rows.setdefault((scenario, tool), []).append((float(seconds), int(kb)))
summary = dict(l.rstrip("\n").split("\t") for l in open(f"{work}/fixture-{packages}/summary.tsv"))
print(f"Root: {summary['installed']} installed packages; repository: {summary['repository_packages']} packages, "
      f"{summary['advisories']} advisories listing {summary['advisory_packages']} packages. "
      f"dnf {os.popen('dnf --version').readline().strip()}, rpm {os.popen('rpm --version').read().split()[-1]}. "
      f"Load average at the end: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores).")
print(f"Baseline: {baseline or 'the built-in Amazon Linux 2023 default'}."
      + (f" Compared build: `{compare}`." if compare else ""))
for scenario in ("small", "large"):
    if (scenario, "dnf") not in rows:
        continue
    dnf_lines = sum(1 for _ in open(f"{work}/dnf-{scenario}.txt"))
    pw_text = open(f"{work}/pw-{scenario}.txt").read()
    missing = sum(1 for l in pw_text.splitlines() if l.startswith("Missing"))
    print()
    title = ("the fixture repository only" if scenario == "small"
             else "plus an Amazon Linux 2 sized metadata repository (gen_rpmmd.py defaults: 58,077 packages, 3,000 advisories)")
    print(f"Scenario `{scenario}`: {title}. dnf lists {dnf_lines} advisory lines; patchwarden reports {missing} Missing.")
    print()
    print("Warm rows compare with dnf's listing on its warm cache; cold rows with dnf's `makecache` on an empty cache plus the listing.")
    print()
    print("| tool | median wall ms | min–max ms | median peak RSS MB | time vs dnf | RSS vs dnf |")
    print("|---|---:|---:|---:|---:|---:|")
    for tool, label, peer in (
            ("dnf", "`dnf -C updateinfo list --available`", "dnf"),
            ("compare", "compared build, catalog cache warm", "dnf"),
            ("patchwarden", "`patchwarden agent scan --no-refresh`, catalog cache warm", "dnf"),
            ("dnf-cold", "`dnf makecache` (cache removed) + the listing", "dnf-cold"),
            ("compare-cold", "compared build, catalog cache cold", "dnf-cold"),
            ("patchwarden-cold", "`patchwarden agent scan --no-refresh`, catalog cache cold", "dnf-cold")):
        if (scenario, tool) not in rows:
            continue
        base_t = statistics.median(s for s, _ in rows[(scenario, peer)])
        base_m = statistics.median(k for _, k in rows[(scenario, peer)])
        times = [s for s, _ in rows[(scenario, tool)]]
        t = statistics.median(times)
        m = statistics.median(k for _, k in rows[(scenario, tool)])
        print(f"| {label} | {t * 1e3:.0f} | {min(times) * 1e3:.0f}–{max(times) * 1e3:.0f} | {m / 1024:.1f} | "
              f"{t / base_t:.2f}x | {m / base_m:.2f}x |")
PY
