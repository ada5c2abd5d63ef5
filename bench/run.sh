#!/usr/bin/env bash
# Runs every benchmark scenario, each against a fresh server on a fresh data
# directory, and prints one JSON line per measurement.
#   bench/run.sh [REQUESTS] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."

requests=${1:-2000}
concurrency=${2:-32}
port=${BENCH_PORT:-3990}
bun=./node_modules/.bin/bun
export ADMIN_EMAIL=bench-admin@example.com
export ADMIN_PASSWORD=bench-admin-password

scenario() {
  local dir
  dir=$(mktemp -d)
  DATA_DIR="$dir" PORT="$port" LOG_LEVEL=warn "$bun" src/cli.ts serve >"$dir/server.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 50); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.2
  done
  "$bun" bench/load.ts --url "http://127.0.0.1:$port" --requests "$requests" \
    --concurrency "$concurrency" "$@"
  kill -TERM "$pid"
  wait "$pid" || true
  rm -rf "$dir"
}

scenario --mode hot
scenario --mode hot --capacity 50
scenario --mode many --events 50
scenario --mode replay
