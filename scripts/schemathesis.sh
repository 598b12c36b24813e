#!/usr/bin/env bash
# Property-based check of the HTTP API against its own OpenAPI document: schemathesis (from PyPI) generates
# requests from /openapi.json of a running hauth, once without credentials, once with a bearer token and the
# actions secret, and once on the admin routes with the admin secret, and fails on any 5xx and on any answer the document does not describe (status, body
# schema, content type).
#
# Uses the Postgres at $TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432) for a throwaway
# database and the debug binary (built if missing). SCHEMATHESIS_EXAMPLES sets the examples per operation
# (default 60, over 3,000 cases in all) and SCHEMATHESIS_SEED the seed (default fixed, for repeatable runs).
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.32.5
venv=target/schemathesis-venv
server=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432}
examples=${SCHEMATHESIS_EXAMPLES:-60}
seed=${SCHEMATHESIS_SEED:-20261130}

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi
[ -x target/debug/hauth ] || cargo build --locked --bin hauth

database="schemathesis_$$"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
log=target/schemathesis-hauth.log
psql -q "$server/postgres" -c "create database $database"
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  psql -q "$server/postgres" -c "drop database if exists $database with (force)" || true
}
trap cleanup EXIT

DATABASE_URL="$server/$database" \
HASURA_GRAPHQL_JWT_SECRET='{"type":"HS256","key":"schemathesis-hs256-key-0123456789abcdef"}' \
AUTH_HOST=127.0.0.1 AUTH_PORT="$port" AUTH_SERVER_URL="$url" AUTH_CLIENT_URL="$url/app" \
AUTH_EMAIL_SIGNIN_EMAIL_VERIFIED_REQUIRED=false AUTH_ANONYMOUS_USERS_ENABLED=true \
AUTH_EMAIL_PASSWORDLESS_ENABLED=true AUTH_OTP_EMAIL_ENABLED=true \
AUTH_SMS_PASSWORDLESS_ENABLED=true AUTH_SMS_PROVIDER=dev \
AUTH_ACTIONS_SECRET=schemathesis-actions-secret HASURA_GRAPHQL_ADMIN_SECRET=schemathesis-admin-secret \
AUTH_PROVIDER_GITHUB_ENABLED=true AUTH_PROVIDER_GITHUB_CLIENT_ID=schemathesis-client \
AUTH_PROVIDER_GITHUB_CLIENT_SECRET=schemathesis-client-secret \
AUTH_ENCRYPTION_KEYS=k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY= \
AUTH_PASSWORD_HASH_MEMORY_KIB=1024 AUTH_PASSWORD_HASH_ITERATIONS=1 AUTH_LOG_LEVEL=warn \
  target/debug/hauth serve 2>"$log" &
pid=$!
for _ in $(seq 1 100); do
  curl -fs "$url/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "$url/healthz" >/dev/null

token=$(curl -fs "$url/signup/email-password" -H 'content-type: application/json' \
  -d '{"email":"schemathesis@example.com","password":"schemathesis-password"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["session"]["accessToken"])')

run() {
  "$venv/bin/schemathesis" run "$url/openapi.json" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
    --max-examples "$examples" --seed "$seed" --generation-database none --no-color "$@"
}
echo "schemathesis: without credentials"
run
echo "schemathesis: with a bearer token and the actions secret"
run -H "Authorization: Bearer $token" -H "X-Hauth-Actions-Secret: schemathesis-actions-secret"
echo "schemathesis: the admin routes with the admin secret"
run --include-path-regex '^/admin' -H "X-Hasura-Admin-Secret: schemathesis-admin-secret"
if grep -q '"level":"ERROR"\|ERROR' "$log"; then
  echo "hauth logged errors during the run:" >&2
  grep 'ERROR' "$log" | head -20 >&2
  exit 1
fi
