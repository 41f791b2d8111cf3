# Build stage: the release binary.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
RUN cargo build --release --locked

# Run stage: the binary, the seed data and a non-root user.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app kulturplan
WORKDIR /app
COPY --from=build /src/target/release/kulturplan /usr/local/bin/kulturplan
COPY seeds ./seeds
USER kulturplan
ENV BIND_ADDR=0.0.0.0:8080 SEEDS_DIR=/app/seeds
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD curl -fsS http://127.0.0.1:8080/health/ready || exit 1
CMD ["sh", "-c", "kulturplan seed && exec kulturplan serve"]
