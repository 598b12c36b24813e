#!/usr/bin/env bash
# Memory and start-up of the release build, measured from outside: resident memory idle, under a sign-in load
# of 64 connections (wrk, from Debian's packages) at the production argon2id parameters, and at its peak;
# and the time from start to ready on an already migrated database. Uses the local Postgres on 127.0.0.1:5432
# (or BENCH_DATABASE_SERVER) and a database of its own, dropped at the end.
#   bench/memory.sh [seconds of load; default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_OF_LOAD="${1:-20}"
SERVER="${BENCH_DATABASE_SERVER:-postgres://postgres@127.0.0.1:5432}"
DB="hauth_bench_$$"
PORT="${BENCH_PORT:-4561}"
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 2; }
cargo build --release --locked -q
psql "$SERVER/postgres" -qc "create database $DB"
cleanup() {
  [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  psql "$SERVER/postgres" -qc "drop database if exists $DB with (force)" || true
  rm -f "$LUA" "$LOG"
}
LUA="$(mktemp --suffix .lua)"
trap cleanup EXIT
export DATABASE_URL="$SERVER/$DB" AUTH_PORT="$PORT" AUTH_HOST=127.0.0.1 AUTH_LOG_LEVEL=warn
export HASURA_GRAPHQL_JWT_SECRET='{"type":"HS256","key":"bench-secret-bench-secret-bench-secret-0123"}'
export AUTH_EMAIL_SIGNIN_EMAIL_VERIFIED_REQUIRED=false

LOG="$(mktemp --suffix .log)"
# Starts the service; COLD is the milliseconds until it answered ready.
start() {
  local started; started=$(date +%s%N)
  ./target/release/hauth serve >>"$LOG" 2>&1 & PID=$!
  until curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; do sleep 0.005; done
  COLD=$(( ($(date +%s%N) - started) / 1000000 ))
}
rss() { awk '/^VmRSS/ {print int($2/1024)}' "/proc/$PID/status"; }
peak() { awk '/^VmHWM/ {print int($2/1024)}' "/proc/$PID/status"; }

start   # migrates the new database
curl -fsS -H 'content-type: application/json' "http://127.0.0.1:$PORT/signup/email-password" \
  -d '{"email":"bench@example.com","password":"bench-password-123"}' >/dev/null
kill "$PID"; wait "$PID" 2>/dev/null || true
start
sleep 1
IDLE=$(rss)
cat > "$LUA" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"bench@example.com","password":"bench-password-123"}'
LUA
wrk -t2 -c64 -d"${SECONDS_OF_LOAD}s" -s "$LUA" "http://127.0.0.1:$PORT/signin/email-password" > /tmp/hauth-bench-wrk.txt &
WRK=$!
sleep $(( SECONDS_OF_LOAD / 2 ))
UNDER_LOAD=$(rss)
wait "$WRK"
RATE=$(awk '/Requests\/sec/ {print $2}' /tmp/hauth-bench-wrk.txt)
AFTER=$(rss)
PEAK=$(peak)
printf '%-34s %s\n' "cold start to ready (migrated)" "${COLD} ms" \
  "RSS idle" "${IDLE} MiB" \
  "RSS under 64-connection sign-in" "${UNDER_LOAD} MiB" \
  "RSS after the load" "${AFTER} MiB" \
  "peak RSS" "${PEAK} MiB" \
  "sign-ins/s (argon2id m=19456 t=2)" "${RATE}"
