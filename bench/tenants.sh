#!/usr/bin/env bash
# Bulk tenant provisioning: `snowpat tenant provision --from FILE` (its defaults) against seed
# 000's Python class (bench/seed000_provision.py: one statement per request, one tenant at a
# time), each side on its own emulator with the same injected latency. Prints wall time,
# tenants/s and the speedup side by side. Not run in CI; see bench/README.md.
#
#   bench/tenants.sh [N] [LATENCY_MS]      # defaults: 1000 tenants, 50 ms
#   bench/tenants.sh 50                    # a quick run
#
# SNOWPAT_BIN=path picks the snowpat binary (default: target/release/snowpat, built if missing;
# its `snowpat emulator` subcommand is the emulator). PYTHON (default python3) needs `requests`.
# For exploring what bounds snowpat: BENCH_SNOWPAT_ARGS="--concurrency 256" adds flags to its
# `tenant provision`, and BENCH_SKIP_SEED=1 runs the snowpat side only.
set -euo pipefail

N="${1:-1000}"
LATENCY_MS="${2:-50}"
case "$N$LATENCY_MS" in *[!0-9]*) echo "usage: $0 [N] [LATENCY_MS]" >&2; exit 2 ;; esac
[ "$N" -ge 1 ] || { echo "usage: $0 [N] [LATENCY_MS]: N >= 1" >&2; exit 2; }

cd "$(dirname "$0")/.."
ROOT="$(pwd)"
SNOWPAT="${SNOWPAT_BIN:-$ROOT/target/release/snowpat}"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$SNOWPAT" ]; then
  echo "building $SNOWPAT (release)" >&2
  cargo build --release --locked -p snowpat >&2
fi
"$PYTHON" -c 'import requests' 2>/dev/null || {
  echo "$PYTHON lacks the requests package: pip install requests" >&2
  exit 2
}

WORK="$(mktemp -d)"
chmod 700 "$WORK"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
# minus A B: A - B, to the millisecond.
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }

# start_emulator SIDE: an emulator with the latency, on a free loopback port; sets URL.
start_emulator() {
  local dir="$WORK/$1"
  mkdir -p "$dir/secrets"
  chmod 700 "$dir" "$dir/secrets"
  "$SNOWPAT" emulator --listen 127.0.0.1:0 --latency-ms "$LATENCY_MS" \
    --admin-token-file "$dir/admin.token" >"$dir/emulator.out" 2>"$dir/emulator.err" &
  PIDS+=("$!")
  for _ in $(seq 1 200); do
    if grep -q '^listening on ' "$dir/emulator.out" 2>/dev/null; then
      URL="$(sed -n 's/^listening on //p' "$dir/emulator.out" | head -n1)"
      return 0
    fi
    sleep 0.05
  done
  echo "the $1 emulator did not start:" >&2
  cat "$dir/emulator.err" >&2
  exit 1
}

# bootstrap SIDE URL: seed 000's account exactly (`automation_auth = "pat"`, no network policy,
# `--seed-compat` so the automation role owns the deployment policy as the seed's class needs),
# run as ADMIN; leaves snowpat.toml naming the automation identity and its PAT file.
bootstrap() {
  local dir="$WORK/$1" url="$2"
  local blueprint='[blueprint.multi-tenant]
automation_auth = "pat"
allowed_cidrs = ["none"]'
  printf '%s\n' "$blueprint" >"$dir/snowpat.toml"
  (cd "$dir" && SNOWPAT_URL="$url" SNOWPAT_TOKEN_FILE="$dir/admin.token" \
    "$SNOWPAT" bootstrap multi-tenant --apply --seed-compat \
    --sink "file:$dir/automation.token" >"$dir/bootstrap.out" 2>"$dir/bootstrap.err") || {
    echo "bootstrap failed on the $1 side:" >&2
    cat "$dir/bootstrap.err" >&2
    exit 1
  }
  { sed -n '/^\[connection\]/,/^$/p' "$dir/bootstrap.out"; printf '\n%s\n' "$blueprint"; } \
    >"$dir/snowpat.toml"
}

seq -f 'T%05g' 1 "$N" >"$WORK/tenants.txt"

echo "bench: $N tenants, --latency-ms $LATENCY_MS, one emulator per side ($SNOWPAT)" >&2

start_emulator snowpat
SNOWPAT_URL_SIDE="$URL"
bootstrap snowpat "$SNOWPAT_URL_SIDE"
if [ "${BENCH_SKIP_SEED:-}" != 1 ]; then
  start_emulator seed
  SEED_URL_SIDE="$URL"
  bootstrap seed "$SEED_URL_SIDE"
fi

# CPU seconds (user + sys) a process has used so far, from /proc.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null \
    || echo "?"
}
SNOWPAT_EMULATOR_PID="${PIDS[0]}"
EMULATOR_CPU_BEFORE="$(cpu_seconds "$SNOWPAT_EMULATOR_PID")"

# snowpat, its defaults: no --concurrency.
dir="$WORK/snowpat"
TIMEFORMAT='%U %S'
t0="$(now)"
{ time (cd "$dir" && env -u SNOWPAT_URL -u SNOWPAT_TOKEN_FILE "$SNOWPAT" \
  --store "sqlite:$dir/state.db" --output json tenant provision \
  --from "$WORK/tenants.txt" --sink "file:$dir/secrets/{id}.token" ${BENCH_SNOWPAT_ARGS:-} \
  >"$dir/provision.out" 2>"$dir/provision.err"); } 2>"$dir/cpu" || {
  echo "snowpat tenant provision failed:" >&2
  tail -n 20 "$dir/provision.err" >&2
  exit 1
}
t1="$(now)"
SNOWPAT_CPU="$(awk '{ printf "%.2f", $1 + $2 }' "$dir/cpu")"
EMULATOR_CPU="$(minus "$(cpu_seconds "$SNOWPAT_EMULATOR_PID")" "$EMULATOR_CPU_BEFORE")"
SNOWPAT_SECONDS="$(minus "$t1" "$t0")"

if [ "${BENCH_SKIP_SEED:-}" = 1 ]; then
  created="$(grep -c '"action":"created"' "$WORK/snowpat/provision.out" || true)"
  [ "$created" -eq "$N" ] || { echo "snowpat created $created of $N" >&2; exit 1; }
  awk -v n="$N" -v lat="$LATENCY_MS" -v s="$SNOWPAT_SECONDS" -v a="${BENCH_SNOWPAT_ARGS:-defaults}" \
    -v c="$SNOWPAT_CPU" -v e="$EMULATOR_CPU" \
    'BEGIN { printf "snowpat (%s), %d tenants, %d ms: %.2f s, %.1f tenants/s; CPU s: snowpat %.2f, its emulator %.2f\n", a, n, lat, s, n / s, c, e }'
  exit 0
fi

# Seed 000's class, as written: one tenant at a time, one statement per request.
dir="$WORK/seed"
t0="$(now)"
"$PYTHON" "$ROOT/bench/seed000_provision.py" --url "$SEED_URL_SIDE" \
  --token-file "$dir/automation.token" --policy SNOWPAT.POLICIES.DEPLOYMENT_AUTH_POLICY \
  --from "$WORK/tenants.txt" --out "$dir/secrets" >"$dir/provision.out" 2>"$dir/provision.err" || {
  echo "the seed 000 script failed:" >&2
  tail -n 20 "$dir/provision.err" >&2
  exit 1
}
t1="$(now)"
SEED_SECONDS="$(minus "$t1" "$t0")"

# Both sides delivered one secret per tenant.
for side in snowpat seed; do
  got="$(find "$WORK/$side/secrets" -name '*.token' | wc -l)"
  if [ "$got" -ne "$N" ]; then
    echo "the $side side delivered $got of $N secrets" >&2
    exit 1
  fi
done
created="$(grep -c '"action":"created"' "$WORK/snowpat/provision.out" || true)"
[ "$created" -eq "$N" ] || { echo "snowpat created $created of $N" >&2; exit 1; }

awk -v n="$N" -v lat="$LATENCY_MS" -v s="$SNOWPAT_SECONDS" -v b="$SEED_SECONDS" 'BEGIN {
  printf "%-28s %10s %12s\n", "side (" n " tenants, " lat " ms)", "wall s", "tenants/s"
  printf "%-28s %10.2f %12.1f\n", "seed 000 class (python)", b, n / b
  printf "%-28s %10.2f %12.1f\n", "snowpat defaults", s, n / s
  printf "%-28s %10.1fx\n", "speedup", b / s
}'
echo "CPU seconds during the snowpat side: snowpat $SNOWPAT_CPU, its emulator $EMULATOR_CPU" >&2
