#!/bin/sh
# Refreshes per second of the provider-token refresh worker against a provider stand-in that answers in
# 50 ms: serial (concurrency 1) and at concurrency 16, with the speed-up. Needs the test database (see the
# README: the local Postgres on 5432, TEST_DATABASE_URL, or the suite's own cluster).
#   bench/provider-token-refresh.sh [tokens refreshed at concurrency 16; default 640]
set -eu
cd "$(dirname "$0")/.."
BENCH_TOKENS="${1:-640}" exec cargo test --test it bench_provider_token_refreshes_per_second -- \
  --ignored --nocapture --test-threads 1
