#!/usr/bin/env bash
# Server load benchmark: polls and report uploads from N simulated agents over real HTTP on
# loopback, against SQLite and (when PATCHWARDEN_TEST_PG_URL is set) PostgreSQL.
# Usage: bench/server/run.sh [AGENTS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
agents="${1:-10000}"
seconds="${2:-15}"
cargo build --release --locked -p pw-server --example loadgen
bin=target/release/examples/loadgen
"$bin" --agents "$agents" --seconds "$seconds" --threads 32
"$bin" --agents "$agents" --seconds "$seconds" --threads 32 --auth-cache-seconds 0
if [ -n "${PATCHWARDEN_TEST_PG_URL:-}" ]; then
    "$bin" --agents "$agents" --seconds "$seconds" --threads 32 --database "$PATCHWARDEN_TEST_PG_URL"
    "$bin" --agents "$agents" --seconds "$seconds" --threads 32 --database "$PATCHWARDEN_TEST_PG_URL" --auth-cache-seconds 0
fi
