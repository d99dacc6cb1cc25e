#!/usr/bin/env bash
# Runs the fuzz targets (cargo-fuzz, libFuzzer, nightly) on corpora seeded from the test data.
#
# Usage: fuzz/run.sh [SECONDS per target, default 20] [TARGET...]
#   CI runs every target for a short while (.ci/run); a long run is the same command with a
#   larger number, e.g. `fuzz/run.sh 3600 primary_db`. Corpora grow in fuzz/corpus/<target>
#   (not committed); a crash stops the run with the input in fuzz/artifacts/<target>/, and
#   every crash becomes a test in the crate that owns the parser.
# Needs: the nightly toolchain, cargo-fuzz (.ci/deps installs it under /opt/pw-tools).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
seconds="${1:-20}"
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(updateinfo primary primary_db repomd releasemd apt schedule baseline identities catalog_cache dpkg_log agent_bodies)
fi
export PATH="/opt/pw-tools/bin:$PATH"
data="$root/crates/pw-core/test_data"

seed() { # seed TARGET FILE...: copies (decompressed) seed files into the target's corpus
  local target="$1"; shift
  local dir="$here/corpus/$target"
  mkdir -p "$dir"
  for file in "$@"; do
    local name; name="$(basename "$file")"
    case "$file" in
      *.gz) gzip -dc "$file" > "$dir/${name%.gz}" ;;
      *.xz) xz -dc "$file" > "$dir/${name%.xz}" ;;
      *.bz2) bzip2 -dc "$file" > "$dir/${name%.bz2}" ;;
      *) cp "$file" "$dir/$name" ;;
    esac
  done
}
seed updateinfo "$data"/repodata/sources/*/updateinfo.xml
seed primary "$data"/repodata/al2023/repodata/primary.xml.gz "$data"/repodata/rhel8/repodata/primary.xml.xz
seed primary_db "$data"/repodata/al2/repodata/primary.sqlite.bz2
seed repomd "$data"/repodata/*/repodata/repomd.xml
seed releasemd "$data"/releasemd/*.xml
seed apt "$data"/apt/*/*Packages "$data"/apt/*/*Release "$data"/apt/debian12/status
seed baseline "$root"/examples/strategy-*/*.toml
seed agent_bodies "$root"/fuzz/seeds/agent_bodies/*.json
mkdir -p "$here/corpus/schedule" "$here/corpus/identities" "$here/corpus/dpkg_log" "$here/corpus/catalog_cache"
# Catalog cache payloads (the file past its 84-byte header; the target frames its input) of the
# fixture repositories, as values and as the agent's compact catalog with dependencies.
(cd "$root" && cargo build --quiet --locked -p pw-repo --example parse_bench)
seeds=$(mktemp -d)
for name in al2 rhel8; do
  "$root/target/debug/examples/parse_bench" repo-cached "$data/repodata/$name" "$seeds/$name.bin" > /dev/null
  "$root/target/debug/examples/parse_bench" repo-cached "$data/repodata/$name" "$seeds/$name-compact.bin" --compact > /dev/null
  for file in "$seeds/$name.bin" "$seeds/$name-compact.bin"; do
    tail -c +85 "$file" > "$here/corpus/catalog_cache/seed-$(basename "$file")"
  done
done
rm -rf "$seeds"
printf '%s\n' '2026-01-05 10:00:01 startup packages configure' \
  '2026-01-05 10:00:02 upgrade openssl:amd64 3.0.11-1~deb12u1 3.0.11-1~deb12u2' \
  '2026-01-05 10:00:03 status half-configured openssl:amd64 3.0.11-1~deb12u2' \
  '2026-01-05 10:00:04 status installed openssl:amd64 3.0.11-1~deb12u2' \
  '2026-03-29 02:30:00 status installed libc6:amd64 2.36-9+deb12u4' > "$here/corpus/dpkg_log/seed-0"
i=0
for expression in 'cron(0 2 ? * * *)|Europe/Berlin' 'cron(30 23 ? * SUN#2 *)|UTC' \
    'cron(0 0 L * ? *)|America/New_York' 'rate(12 hours)|UTC' 'at(2026-03-29T02:30:00)|Europe/Berlin'; do
  printf '%s' "$expression" > "$here/corpus/schedule/seed-$i"; i=$((i + 1))
done
i=0
for pair in $'kernel-0:5.10.200-1.amzn2.x86_64\nkernel*' $'openssl-1:3.0.8-1.amzn2023.0.3.x86_64\nCVE-2023-0001' \
    $'1.0~rc1-1\n1.0-1' $'2:1.2.3-4ubuntu0.1\n1.2.3-4'; do
  printf '%s' "$pair" > "$here/corpus/identities/seed-$i"; i=$((i + 1))
done

cd "$here"
for target in "${targets[@]}"; do
  echo "fuzz: $target for ${seconds}s" >&2
  log="$(mktemp)"
  status=0
  cargo +nightly fuzz run -O "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 > "$log" 2>&1 || status=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|.*panicked)' "$log" || true
  if ((status != 0)); then
    tail -40 "$log" >&2
    echo "fuzz: $target found a crash (exit $status); the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  rm -f "$log"
done
