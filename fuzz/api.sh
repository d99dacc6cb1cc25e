#!/usr/bin/env bash
# Schemathesis against a running server: every operation of /openapi.json, with an admin, an
# operator and a read-only token, all checks, every phase (examples, coverage, fuzzing,
# stateful). Any failure fails the script.
#
#   fuzz/api.sh [MAX_EXAMPLES]     (default 20; CI runs the default, a long run: 500)
#
# Uses target/debug/patchwarden (built if missing) and the schemathesis in
# /opt/pw-tools/api-venv (.ci/deps installs it). Reports go to target/schemathesis/.
set -euo pipefail
cd "$(dirname "$0")/.."
max_examples=${1:-20}
st=${SCHEMATHESIS:-/opt/pw-tools/api-venv/bin/schemathesis}
bin=target/debug/patchwarden
[[ -x $bin ]] || cargo build -p pw-cli --locked

work=$(mktemp -d)
out=target/schemathesis
mkdir -p "$out"
server_pid=
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Schemathesis sends unknown credentials on purpose (its authentication checks); the
# brute-force limit would soon answer 429 to everything from loopback and hide the schema's
# behaviour, so it is off here (crates/pw-server/tests/it/e2e.rs tests the limit).
printf 'version = "1"\nauth_failures_per_minute = 0\n' > "$work/server.toml"
RUST_LOG=warn "$bin" server --config "$work/server.toml" --data-dir "$work/data" \
    --listen "127.0.0.1:$port" 2> "$out/server.log" &
server_pid=$!
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null

failed=0
for role in admin operator read-only; do
    token=$("$bin" server token create --role "$role" --data-dir "$work/data")
    echo "api.sh: schemathesis as $role, $max_examples examples per operation" >&2
    if ! "$st" --config-file fuzz/schemathesis.toml run "http://127.0.0.1:$port/openapi.json" \
        --header "Authorization: Bearer $token" \
        --max-examples "$max_examples" \
        --report junit --report-dir "$out/$role" \
        > "$out/$role.txt" 2>&1; then
        failed=1
        echo "api.sh: failures as $role (full output: $out/$role.txt):" >&2
        # The failures themselves (each operation, request and replay command), then the
        # summary; the warnings between them can run to hundreds of lines.
        sed -n '/^=* FAILURES =*$/,/^=* WARNINGS =*$/p' "$out/$role.txt" | head -n 400 >&2
        sed -n '/^=* SUMMARY =*$/,$p' "$out/$role.txt" >&2
    else
        tail -n 12 "$out/$role.txt" >&2
    fi
done
if grep -q "panicked" "$out/server.log"; then
    echo "api.sh: the server panicked (see $out/server.log)" >&2
    failed=1
fi
exit $failed
