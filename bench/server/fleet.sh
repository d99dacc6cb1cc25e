#!/usr/bin/env bash
# Fleet-scale benchmarks (issue 16) against the release server as its own process, on SQLite
# and (when PATCHWARDEN_TEST_PG_URL is set) on a PostgreSQL database of its own, created and
# dropped here. Runs one of the examples of crates/pw-server/examples with the server's
# address, pid and an admin token:
#   bench/server/fleet.sh longpoll --agents 18000 --seconds 75   (held long polls)
#   bench/server/fleet.sh fanout --agents 10000                  (a window's fan-out)
#   REPLICAS=2 bench/server/fleet.sh fanout --agents 10000      (with REPLICAS set: PostgreSQL
#                                                                 only, agents split between them)
#   REPLICAS=3 bench/server/fleet.sh longpoll --agents 50000 --seconds 75
#                                    (one longpoll client process per replica, each with its
#                                     share of the agents, all at once)
# Each simulated agent holds one connection, so the server needs AGENTS + a few hundred
# descriptors: the script raises the soft limit to the hard one. A process can hold no more
# descriptors than the hard limit: past it, spread the agents over replicas.
set -euo pipefail
cd "$(dirname "$0")/../.."
example="${1:?usage: bench/server/fleet.sh longpoll|fanout [options]}"
shift
ulimit -n "$(ulimit -Hn)"
cargo build --release --locked -p pw-cli
cargo build --release --locked -p pw-server --example "$example"
bin=target/release/patchwarden
work=$(mktemp -d)
server_pid=
cleanup() {
    local status=$?
    [[ -n $server_pid ]] && pkill -P $$ -f "$bin server" 2>/dev/null; wait 2>/dev/null
    if [[ $status != 0 && -s $work/server.log ]]; then
        echo "== the servers' log (last 30 lines)" >&2
        tail -30 "$work/server.log" >&2
    fi
    rm -rf "$work"
}
trap cleanup EXIT

start_server() { # port, storage flags...: starts one server, sets $started_pid
    local port=$1
    shift
    (cd "$work" && RUST_LOG=warn exec "$OLDPWD/$bin" server --no-config --listen "127.0.0.1:$port" "$@") \
        2>> "$work/server.log" &
    started_pid=$!
    for _ in $(seq 100); do
        curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

run() { # replicas, storage flags...
    local replicas=$1 port token extra=() pids=() urls=()
    shift
    port=$(free_port)
    token=$("$bin" server token create --role admin --no-config "$@")
    start_server "$port" "$@"
    server_pid=$started_pid
    pids+=("$started_pid")
    urls+=("http://127.0.0.1:$port")
    for _ in $(seq 2 "$replicas"); do
        local other
        other=$(free_port)
        start_server "$other" "$@"
        pids+=("$started_pid")
        urls+=("http://127.0.0.1:$other")
        extra+=(--replica "http://127.0.0.1:$other" --replica-pid "$started_pid")
    done
    echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    if [[ $example == longpoll && $replicas -gt 1 ]]; then
        # One client per replica with its share of the agents, all at once: one process can
        # hold no more connections than the descriptor limit.
        local shares=() clients=() index
        for index in "${!urls[@]}"; do
            shares+=($(((agents + replicas - 1 - index) / replicas)))
            "target/release/examples/$example" --server "${urls[$index]}" --pid "${pids[$index]}" \
                --token "$token" "${args[@]}" --agents "${shares[$index]}" > "$work/client-$index.txt" 2>&1 &
            clients+=($!)
        done
        local failed=0
        for index in "${!clients[@]}"; do
            wait "${clients[$index]}" || failed=1
            echo "-- replica $((index + 1)) (${urls[$index]}), ${shares[$index]} agents"
            cat "$work/client-$index.txt"
        done
        ((failed == 0)) || { echo "a client failed" >&2; return 1; }
    else
        "target/release/examples/$example" --server "http://127.0.0.1:$port" --pid "$server_pid" \
            --token "$token" "${extra[@]}" "${args[@]}"
    fi
    kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true
    server_pid=
}

args=("$@")
replicas=${REPLICAS:-1}
agents=1000
for ((i = 0; i < ${#args[@]}; i++)); do
    [[ ${args[$i]} == --agents ]] && agents=${args[$((i + 1))]}
done
if [[ -z ${REPLICAS:-} ]]; then
    echo "== SQLite"
    run 1 --data-dir "$work/data"
fi
if [[ -n ${PATCHWARDEN_TEST_PG_URL:-} ]]; then
    echo "== PostgreSQL, $replicas replica(s)"
    db=pw_fleet_bench
    psql -q "$PATCHWARDEN_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    run "$replicas" --database "${PATCHWARDEN_TEST_PG_URL%/*}/$db"
    psql -q "$PATCHWARDEN_TEST_PG_URL" -c "DROP DATABASE $db"
fi
