#!/usr/bin/env bash
# Console page times at fleet scale: crates/pw-server/examples/consolebench.rs seeds a store
# with a generated fleet (10,000 nodes, 1,000 patch items each, 90 days of history by
# default) and measures the server time of the console's pages, p50 and p95, and their
# weight gzipped; on SQLite, and on PostgreSQL when PATCHWARDEN_TEST_PG_URL is set.
# Usage: bench/console/run.sh [NODES] [ITEMS] [DAYS]
set -euo pipefail
cd "$(dirname "$0")/../.."
nodes="${1:-10000}"
items="${2:-1000}"
days="${3:-90}"
cargo build --release --locked -p pw-server --example consolebench
bin=target/release/examples/consolebench
"$bin" --nodes "$nodes" --items "$items" --days "$days"
if [ -n "${PATCHWARDEN_TEST_PG_URL:-}" ]; then
    "$bin" --nodes "$nodes" --items "$items" --days "$days" --database "$PATCHWARDEN_TEST_PG_URL"
fi
