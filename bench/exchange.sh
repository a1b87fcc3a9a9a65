#!/usr/bin/env bash
# Load benchmark of the exchange service (`POST /v1/token`) on loopback with wrk:
# requests/s, p50 and p99 for the reuse path (one subject, its still-fresh token handed out
# again from the encrypted cache) and the mint path (every request a new subject: as-user
# External OAuth session, CURRENT_USER() check, SHOW, ADD PAT, store writes).
#
#   bench/exchange.sh            # N=3000 subjects, 10 s per path, 16 connections, 2 threads
#   N=5000 DURATION=20s CONNS=32 bench/exchange.sh
#
# Needs wrk (Debian: apt-get install wrk). Builds the fixture in release mode (a benchmark).
# The emulator, the service and wrk share this machine's cores: figures are for comparing
# paths and versions on one machine, not absolute capacity.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-3000}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-16}
if ! command -v wrk >/dev/null; then
    echo "wrk not found: apt-get install wrk" >&2
    exit 2
fi
cargo build --quiet --release -p snowpat-server --example exchange_bench
DIR=$(mktemp -d)
cleanup() {
    exec 3>&- 2>/dev/null || true
    wait "${FIXTURE:-0}" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT
mkfifo "$DIR/in"
target/release/examples/exchange_bench "$DIR" "$N" <"$DIR/in" >"$DIR/fixture.log" 2>&1 &
FIXTURE=$!
exec 3>"$DIR/in"
for _ in $(seq 1 600); do
    [ -s "$DIR/url" ] && break
    kill -0 "$FIXTURE" 2>/dev/null || { cat "$DIR/fixture.log" >&2; exit 1; }
    sleep 0.5
done
URL=$(cat "$DIR/url")
echo "service: $URL  (subjects for the mint path: $N, duration $DURATION, connections $CONNS)"

summary() { # name, wrk output file
    local rps p50 p99 non2xx
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$2")
    p50=$(awk '$1 == "50%" {print $2}' "$2")
    p99=$(awk '$1 == "99%" {print $2}' "$2")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$2")
    printf '%-6s requests/s %10s   p50 %9s   p99 %9s   non-2xx %s\n' "$1" "$rps" "$p50" "$p99" "${non2xx:-0}"
}

metric() { # reason
    curl -s "$URL/metrics" | awk -v r="reason=\"$1\"" 'index($0, r) && /^snowpat_exchange_requests_total/ {print $2}' | head -1
}

# Reuse path: mint subject 0's token once, then hammer it.
wrk -t1 -c1 -d1s -s "$DIR/reuse.lua" "$URL/v1/token" >/dev/null
wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$DIR/reuse.lua" "$URL/v1/token" >"$DIR/reuse.txt"
created_before=$(metric created); created_before=${created_before:-0}
wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$DIR/mint.lua" "$URL/v1/token" >"$DIR/mint.txt"
created_after=$(metric created); created_after=${created_after:-0}
mint_requests=$(awk '/requests in/ {print $1}' "$DIR/mint.txt")
echo
summary reuse "$DIR/reuse.txt"
summary mint "$DIR/mint.txt"
echo
echo "mint path: $((created_after - created_before)) PATs created (ADD) for $mint_requests requests"
if [ "$((created_after - created_before))" -ge "$N" ]; then
    echo "warning: every subject was used; raise N so the mint path does not fall back to reuse" >&2
fi
echo "metrics:"
curl -s "$URL/metrics" | grep '^snowpat_exchange_requests_total\|^snowpat_exchange_snowflake_statements_total'
