#!/usr/bin/env bash
# hauth's hot paths measured from outside, each beside a ceiling measured in the same run on the same machine:
#   - HTTP paths are driven by wrk (Debian's `wrk`) against the release build on a fresh database;
#   - a bare poem handler built from the same dependency versions (examples/bare_handler.rs);
#   - pgbench running the statement shapes of the database-bound paths;
#   - raw argon2id hashes/s and JWT verifications/s on all cores (examples/ceilings.rs);
#   - resident memory idle, under a 64-connection sign-in load and at its peak, and cold start to ready.
#
#   bench/run.sh [seconds per measurement; default 10]
#
# Uses the Postgres on 127.0.0.1:5432 (or BENCH_DATABASE_SERVER, a URL without a database) and a database of
# its own, dropped at the end. Needs wrk, pgbench, psql, openssl, python3 and curl. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
SERVER="${BENCH_DATABASE_SERVER:-postgres://postgres@127.0.0.1:5432}"
DB="hauth_bench_$$"
PORT="${BENCH_PORT:-4561}"
BARE_PORT=$((PORT + 1))
URL="http://127.0.0.1:$PORT"
for tool in wrk pgbench psql openssl python3 curl; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (see bench/README.md)" >&2; exit 2; }
done

echo "building the release binaries…" >&2
cargo build --release --locked -q --bin hauth --example bare_handler
CARGO_TARGET_DIR=target/bench-ceilings cargo build --release --locked -q --manifest-path bench/ceilings/Cargo.toml
HAUTH="${BENCH_HAUTH:-./target/release/hauth}"  # another build can be compared with BENCH_HAUTH
CEILINGS=./target/bench-ceilings/release/hauth-bench-ceilings
# The jsonwebtoken backend hauth is built with (Cargo.toml).
HAUTH_BACKEND=$(grep -o '"aws_lc_rs"\|"rust_crypto"' Cargo.toml | head -1 | tr -d '"')

WORK="$(mktemp -d)"
PID="" BARE_PID=""
cleanup() {
  for pid in $PID $BARE_PID; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  psql "$SERVER/postgres" -qc "drop database if exists $DB with (force)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
psql "$SERVER/postgres" -qc "create database $DB"
DATABASE="$SERVER/$DB"

# Keys for the asymmetric runs, shared by hauth and the verification ceiling.
openssl genpkey -algorithm ed25519 -out "$WORK/EdDSA.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/ES256.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/RS256.pem" 2>/dev/null
HMAC_KEY="bench-secret-bench-secret-bench-secret-0123"
jwt_secret() { # <alg>: HASURA_GRAPHQL_JWT_SECRET for that algorithm
  if [ "$1" = HS256 ]; then
    printf '{"type":"HS256","key":"%s"}' "$HMAC_KEY"
  else
    python3 -c 'import json,sys; print(json.dumps({"type": sys.argv[1], "signing_key": open(sys.argv[2]).read()}))' \
      "$1" "$WORK/$1.pem"
  fi
}

export DATABASE_URL="$DATABASE" AUTH_PORT="$PORT" AUTH_HOST=127.0.0.1 AUTH_LOG_LEVEL=warn
export AUTH_EMAIL_SIGNIN_EMAIL_VERIFIED_REQUIRED=false AUTH_RATE_LIMIT_ENABLE=false
# Starts hauth with the JWT algorithm $1; COLD is the milliseconds until /readyz answered.
start() {
  local started; started=$(date +%s%N)
  HASURA_GRAPHQL_JWT_SECRET="$(jwt_secret "$1")" "$HAUTH" serve >>"$WORK/hauth.log" 2>&1 &
  PID=$! SERVER_PID=$!
  until curl -fsS "$URL/readyz" >/dev/null 2>&1; do
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/hauth.log" >&2; exit 1; }
    sleep 0.002
  done
  COLD=$(( ($(date +%s%N) - started) / 1000000 ))
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }
rss() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$PID/status"; }
peak() { awk '/^VmHWM/ {printf "%.1f", $2/1024}' "/proc/$PID/status"; }
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)["session"][sys.argv[1]])' "$1"; }
sign_in() { # prints the session's field $1
  curl -fsS -H 'content-type: application/json' "$URL/signin/email-password" \
    -d '{"email":"bench@example.com","password":"bench-password-123"}' | json_field "$1"
}

# wrk's figures: requests/s, p99 latency in ms, and the server's CPU time per request in µs (user + system,
# from /proc/<pid>/stat, of the process SERVER_PID; wrk's own share of the cores is not in it).
WRK_RATE="" WRK_P99="" WRK_CPU=""
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
load() { # <connections> <seconds> <url> [lua script] [header]
  local out="$WORK/wrk.txt" args=(-t2 -c"$1" -d"$2s" --latency) before after
  [ -n "${4:-}" ] && args+=(-s "$4")
  [ -n "${5:-}" ] && args+=(-H "$5")
  before=$(cpu_ticks "$SERVER_PID")
  wrk "${args[@]}" "$3" >"$out"
  after=$(cpu_ticks "$SERVER_PID")
  WRK_RATE=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$out")
  WRK_CPU=$(python3 -c 'import os,sys; t,r,s=map(float,sys.argv[1:]); hz=os.sysconf("SC_CLK_TCK"); print(f"{t/hz*1e6/(r*s):.1f}")' \
    "$((after - before))" "$WRK_RATE" "$2")
  WRK_P99=$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v) } else { sub(/s/, "", v); v *= 1000 } printf "%.2f", v }' "$out")
  if grep -q "Non-2xx" "$out"; then echo "wrk saw errors on $3:" >&2; cat "$out" >&2; exit 1; fi
}

ROWS=()
row() { ROWS+=("$(printf '| %s | %s | %s | %s |' "$1" "$2" "$3" "$4")"); }
share() { python3 -c 'import sys; print(f"{100*float(sys.argv[1])/float(sys.argv[2]):.0f} %")' "$1" "$2"; }

# --- start-up and the data the paths need --------------------------------------------------------------------
echo "migrating and seeding…" >&2
start HS256
curl -fsS -H 'content-type: application/json' "$URL/signup/email-password" \
  -d '{"email":"bench@example.com","password":"bench-password-123"}' >/dev/null
USER_ID=$(sign_in user | python3 -c 'import ast,sys; print(ast.literal_eval(sys.stdin.read())["id"])')
stop
# Other users and one fresh refresh token per rotation wrk will send, spread over 1,000 users, so rotations
# contend on rows as a real population's would. Token rows are written the way hauth writes them.
WRK_TOKENS=$(( DURATION * 10000 ))
TOKENS=$(( WRK_TOKENS + DURATION * 15000 ))
psql "$DATABASE" -qv ON_ERROR_STOP=1 -v tokens="$TOKENS" -v uid="$USER_ID" >/dev/null <<'SQL'
insert into auth.users (id, email, display_name, default_role, locale)
select gen_random_uuid(), 'user' || n || '@example.com', 'user ' || n, 'user', 'en' from generate_series(1, 999) n;
insert into auth.user_roles (user_id, role) select id, 'user' from auth.users where id <> :'uid';
-- Token n is md5('bench' || n) in the UUID shape, so pgbench can name the row of any token.
with tokens as (select n, md5('bench' || n)::uuid::text as token from generate_series(1, :tokens) n),
     owners as (select id, row_number() over (order by id) - 1 as k from auth.users)
insert into auth.refresh_tokens (id, user_id, refresh_token_hash, created_at, expires_at, type, family_id,
                                 signed_in_at)
select t.id, o.id, '\x' || encode(sha256(t.token::bytea), 'hex'), now(), now() + interval '30 days', 'regular',
       t.id, now()
from (select gen_random_uuid() as id, * from tokens) t join owners o on o.k = t.n % 1000;
analyze;
SQL
psql "$DATABASE" -Atc "select md5('bench' || n)::uuid from generate_series(1, $WRK_TOKENS) n" >"$WORK/tokens.txt"

start HS256
COLD_START=$COLD
sleep 1
IDLE=$(rss)
ACCESS=$(sign_in accessToken)
BEARER="Authorization: Bearer $ACCESS"

# --- HTTP paths and their ceilings ---------------------------------------------------------------------------
echo "measuring the HTTP paths…" >&2
./target/release/examples/bare_handler "$BARE_PORT" >/dev/null 2>&1 &
BARE_PID=$! SERVER_PID=$!
until curl -fsS "http://127.0.0.1:$BARE_PORT/" >/dev/null 2>&1; do sleep 0.01; done
load "$CONNECTIONS" "$DURATION" "http://127.0.0.1:$BARE_PORT/hasura/webhook" "" "$BEARER"
BARE_RATE=$WRK_RATE BARE_P99=$WRK_P99 BARE_CPU=$WRK_CPU
kill "$BARE_PID"; wait "$BARE_PID" 2>/dev/null || true; BARE_PID="" SERVER_PID=$PID

# JWT verification alone, in-process on every core, for both backends (hauth is idle meanwhile).
for backend in rust_crypto aws_lc_rs; do "$CEILINGS" jwt "$DURATION" "$WORK" "$backend" >>"$WORK/jwt.txt"; done
verify_rate() { awk -v alg="$1" -v backend="$HAUTH_BACKEND" '$1 == alg && $2 == backend {print $3}' "$WORK/jwt.txt"; }
# What a server that must also speak HTTP can do at most: the bare handler's cost and the check's, added.
HS256_VERIFY=$(verify_rate HS256)
combined() { python3 -c 'import sys; a,b=map(float,sys.argv[1:]); print(f"{1/(1/a+1/b):.0f}")' "$@"; }
HS256_COMBINED=$(combined "$BARE_RATE" "$HS256_VERIFY")
load "$CONNECTIONS" "$DURATION" "$URL/hasura/webhook" "" "$BEARER"
row "GET /hasura/webhook, HS256" "$WRK_RATE req/s, p99 $WRK_P99 ms, $WRK_CPU µs CPU/req" \
  "bare poem handler $BARE_RATE req/s, p99 $BARE_P99 ms, $BARE_CPU µs CPU/req; with HS256's check added $HS256_COMBINED/s" \
  "$(share "$WRK_RATE" "$BARE_RATE") / $(share "$WRK_RATE" "$HS256_COMBINED")"
load "$CONNECTIONS" "$DURATION" "$URL/.well-known/jwks.json"
row "GET /.well-known/jwks.json" "$WRK_RATE req/s, p99 $WRK_P99 ms, $WRK_CPU µs CPU/req" "bare poem handler $BARE_RATE req/s, $BARE_CPU µs CPU/req" \
  "$(share "$WRK_RATE" "$BARE_RATE")"

# GET /user: hauth reads the user with roles in one statement; pgbench runs that statement, prepared, on as
# many connections as hauth's pool holds.
POOL="${AUTH_DATABASE_POOL_SIZE:-16}"
pgbench_rate() { # <script> [-D var=value]…
  local script=$1; shift
  pgbench -n -M prepared -c "$POOL" -j 2 -T "$DURATION" -f "$script" "$@" "$DATABASE" 2>&1 |
    awk '/^tps/ {printf "%.0f", $3} /error/ {print > "/dev/stderr"}'
}
load "$CONNECTIONS" "$DURATION" "$URL/user" "" "$BEARER"
USER_RATE=$WRK_RATE USER_P99=$WRK_P99
# The statement itself, with pgbench's variable for its parameter.
sed 's/\$1/:uid/' src/db/sql/users/select_user_by_id.sql >"$WORK/select-user.sql"
echo ';' >>"$WORK/select-user.sql"
PG_SELECT=$(pgbench_rate "$WORK/select-user.sql" -D uid="$USER_ID")
row "GET /user" "$USER_RATE req/s, p99 $USER_P99 ms, $WRK_CPU µs CPU/req" "pgbench, the same SELECT: $PG_SELECT tps" \
  "$(share "$USER_RATE" "$PG_SELECT")"

# POST /token: every request presents a refresh token used nowhere else, as clients do.
BENCH_TOKENS="$WORK/tokens.txt" BENCH_WRK_THREADS=2 \
  load "$CONNECTIONS" "$DURATION" "$URL/token" bench/wrk/rotate.lua
ROTATE_RATE=$WRK_RATE ROTATE_P99=$WRK_P99 ROTATE_CPU=$WRK_CPU
PG_ROTATE=$(pgbench_rate bench/pgbench/rotate-shape.sql -D tokens="$TOKENS" -D uid="$USER_ID")
# hauth's rotation statement in a transaction, its parameters as hauth fills them, on tokens no other run
# used (client c of C takes tokens first + 1 + c + k*C, k = 0, 1, …).
{
  printf '\\set n :first + 1 + :client_id + :k * :clients\n\\set k :k + 1\nbegin;\n'
  sed -e "s/\\\$1/'\\\\x' || encode(sha256(md5('bench' || :n)::uuid::text::bytea), 'hex')/g" \
    -e 's/\$2/now()/g' -e "s/\\\$3/'\\\\x00'::bytea/g" -e 's/\$4/gen_random_uuid()/g' \
    -e "s/\\\$5/'\\\\x' || md5(random()::text)/g" -e 's/\$6::bigint/null::bigint/g' -e 's/\$6/null::bigint/g' \
    -e "s/\\\$7/now() + interval '30 days'/g" src/db/sql/refresh_tokens/rotate_refresh_token.sql
  printf ';\ncommit;\n'
} >"$WORK/rotate-hauth.sql"
PG_HAUTH_ROTATE=$(pgbench_rate "$WORK/rotate-hauth.sql" -D first="$WRK_TOKENS" -D clients="$POOL" -D k=0)
row "POST /token (rotation)" "$ROTATE_RATE req/s, p99 $ROTATE_P99 ms, $ROTATE_CPU µs CPU/req" \
  "pgbench UPDATE + INSERT in one transaction: $PG_ROTATE tps; hauth's statements: $PG_HAUTH_ROTATE tps" \
  "$(share "$ROTATE_RATE" "$PG_ROTATE") / $(share "$ROTATE_RATE" "$PG_HAUTH_ROTATE")"

# Sign-in at the production argon2id parameters, 64 connections; resident memory is read halfway through.
cat >"$WORK/signin.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"bench@example.com","password":"bench-password-123"}'
LUA
wrk -t2 -c64 -d"${DURATION}s" -s "$WORK/signin.lua" "$URL/signin/email-password" >"$WORK/signin.txt" &
WRK_PID=$!
sleep $(( DURATION / 2 ))
UNDER_LOAD=$(rss)
wait "$WRK_PID"
SIGNIN_RATE=$(awk '/Requests\/sec/ {printf "%.1f", $2}' "$WORK/signin.txt")
AFTER=$(rss)
# The webhook while sign-ins saturate both cores: hashing runs off the request threads.
wrk -t2 -c64 -d"${DURATION}s" -s "$WORK/signin.lua" "$URL/signin/email-password" >/dev/null &
WRK_PID=$!
sleep 1
load 4 $(( DURATION - 2 )) "$URL/hasura/webhook" "" "$BEARER"
SATURATED_RATE=$WRK_RATE SATURATED_P99=$WRK_P99
wait "$WRK_PID"
PEAK=$(peak)
stop

# --- ceilings in-process: argon2id and JWT verification on all cores -----------------------------------------
echo "measuring argon2id alone and the webhook with asymmetric keys…" >&2
"$CEILINGS" argon2 "$DURATION" >"$WORK/argon2.txt"
ARGON2_BEST=$(sort -t' ' -k2 -g "$WORK/argon2.txt" | tail -1)
row "POST /signin/email-password (argon2id m=19456 t=2 p=1)" "$SIGNIN_RATE /s" \
  "$(paste -sd';' "$WORK/argon2.txt" | sed 's/;/; /g') hashes/s, all cores" \
  "$(share "$SIGNIN_RATE" "${ARGON2_BEST#* }") of ${ARGON2_BEST%% *}"
row "GET /hasura/webhook, HS256, while sign-ins saturate the CPU" "$SATURATED_RATE req/s, p99 $SATURATED_P99 ms" \
  "target p99 < 5 ms" ""

for alg in EdDSA ES256 RS256; do
  start "$alg"
  ACCESS=$(sign_in accessToken)
  load "$CONNECTIONS" "$DURATION" "$URL/hasura/webhook" "" "Authorization: Bearer $ACCESS"
  stop
  VERIFY=$(verify_rate "$alg")
  COMBINED=$(combined "$BARE_RATE" "$VERIFY")
  row "GET /hasura/webhook, $alg" "$WRK_RATE req/s, p99 $WRK_P99 ms, $WRK_CPU µs CPU/req" \
    "verify alone $VERIFY/s; with the bare handler's HTTP cost $COMBINED/s" \
    "$(share "$WRK_RATE" "$VERIFY") / $(share "$WRK_RATE" "$COMBINED")"
done

# --- the table ---------------------------------------------------------------------------------------------------
echo
echo "hauth $(git describe --always --dirty 2>/dev/null || echo '?') on $(nproc) cores, $DURATION s per figure, wrk -c$CONNECTIONS unless said"
echo
echo "| path | hauth | ceiling (same run) | share |"
echo "|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo
echo "JWT verifications/s on $(nproc) cores (jsonwebtoken's decode; hauth is built with $HAUTH_BACKEND):"
echo
echo "| algorithm | backend | verifications/s |"
echo "|---|---|---|"
awk '{printf "| %s | %s | %s |\n", $1, $2, $3}' "$WORK/jwt.txt"
echo
echo "| memory and start-up | hauth |"
echo "|---|---|"
echo "| cold start to ready, migrated database | $COLD_START ms |"
echo "| RSS idle | $IDLE MiB |"
echo "| RSS under 64-connection sign-in load | $UNDER_LOAD MiB |"
echo "| RSS after that load | $AFTER MiB |"
echo "| peak RSS | $PEAK MiB |"
