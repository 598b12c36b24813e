# syntax=docker/dockerfile:1
# hauth: a release build in a Rust image, run from a small Debian image as an unprivileged user.
#   docker build -t hauth .
#   docker run --rm -p 4000:4000 -e DATABASE_URL=... -e HASURA_GRAPHQL_JWT_SECRET=... hauth

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src
# The whole crate (see .dockerignore): migrations and email templates are embedded in the binary, and
# Cargo.toml names the test and bench targets, so their files must be present for the manifest to load.
COPY . .
# The registry and target caches survive between builds; the binary is copied out of the cached target.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin hauth \
    && install -D -m 0755 target/release/hauth /out/hauth

FROM debian:bookworm-slim AS runtime
# ca-certificates: TLS to providers, SMTP and Postgres. curl: the container health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 hauth \
    && useradd --system --uid 10001 --gid hauth --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin hauth
COPY --from=builder /out/hauth /usr/local/bin/hauth
USER 10001:10001
ENV AUTH_HOST=0.0.0.0 \
    AUTH_PORT=4000
EXPOSE 4000
# /healthz answers 200 once the service is up (it sits under AUTH_API_PREFIX when one is set).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS -o /dev/null "http://127.0.0.1:${AUTH_PORT}${AUTH_API_PREFIX}/healthz" || exit 1
ENTRYPOINT ["hauth"]
CMD ["serve"]
