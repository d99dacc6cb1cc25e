#!/usr/bin/env bash
# The shipping profile against the alternatives: build time, binary size and metadata-parse
# speed (against libsolv, through bench/metadata/run.sh) for
#   plain  the release profile before LTO (lto = false, 16 codegen units)
#   thin   lto = "thin", codegen-units = 1
#   fat    lto = "fat",  codegen-units = 1 (what `cargo xtask dist` ships)
# Each variant builds in its own target directory (target/bench-shipping/VARIANT), for the
# host (Debian's glibc; the zig linker does not change the code generated). Sizes are of the
# binary with its debug sections removed, as packaged.
#
# Usage: bench/shipping/run.sh [--runs N]   (default 3; bench/metadata's generator data)
# Takes 15-25 minutes on 2 cores. Results: bench/shipping/RESULTS.md (written by hand from
# this output).
set -euo pipefail
repo_root="$(cd "$(dirname "$0")/../.." && pwd)"
runs=3
[[ "${1:-}" == "--runs" ]] && runs="$2"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
declare -A lto=([plain]=false [thin]=thin [fat]=fat)
declare -A units=([plain]=16 [thin]=1 [fat]=1)
echo "| variant | build s (pw-cli, clean) | patchwarden MB (debug removed) | parse_bench MB |"
echo "|---|---:|---:|---:|"
for variant in plain thin fat; do
  target="$repo_root/target/bench-shipping/$variant"
  rm -rf "$target"
  start=$(date +%s)
  (cd "$repo_root" && CARGO_TARGET_DIR="$target" CARGO_PROFILE_RELEASE_LTO="${lto[$variant]}" \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS="${units[$variant]}" \
    cargo build --release --locked --quiet -p pw-cli --bin patchwarden)
  seconds=$(( $(date +%s) - start ))
  (cd "$repo_root" && CARGO_TARGET_DIR="$target" CARGO_PROFILE_RELEASE_LTO="${lto[$variant]}" \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS="${units[$variant]}" \
    cargo build --release --locked --quiet -p pw-repo --example parse_bench)
  objcopy --strip-debug "$target/release/patchwarden" "$out/patchwarden-$variant"
  objcopy --strip-debug "$target/release/examples/parse_bench" "$out/parse_bench-$variant"
  size=$(stat -c %s "$out/patchwarden-$variant")
  psize=$(stat -c %s "$out/parse_bench-$variant")
  printf '| %s | %d | %.1f | %.1f |\n' "$variant" "$seconds" "$(echo "$size/1048576" | bc -l)" "$(echo "$psize/1048576" | bc -l)"
done
for variant in plain thin fat; do
  echo
  echo "### parse speed, $variant"
  PARSE_BENCH_BIN="$out/parse_bench-$variant" "$repo_root/bench/metadata/run.sh" --runs "$runs" 2>/dev/null
done
