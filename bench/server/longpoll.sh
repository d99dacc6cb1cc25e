#!/usr/bin/env bash
# Long polls at fleet scale (issue 16): N agents enrolled over HTTP, every one holding
# `GET /api/v1/agent/commands?wait=30` at once and polling again when answered, for S seconds,
# on SQLite and PostgreSQL (see bench/server/fleet.sh).
# Usage: bench/server/longpoll.sh [AGENTS] [SECONDS]   (default 18000 75)
# 50,000 agents need a hard descriptor limit above 50,000.
set -euo pipefail
exec "$(dirname "$0")/fleet.sh" longpoll --agents "${1:-18000}" --seconds "${2:-75}"
