#!/usr/bin/env bash
# Benchmark of response compression: the portal's heaviest page — all 234 seeded activities with every
# embed (`/api/v1/activities?limit=500&embed=goal,plan,actors,follow_ups`) — as it goes over the wire
# without compression, with gzip and with brotli, and its throughput for each (wrk over loopback). Not a
# test: it prints sizes and requests per second.
#
#   bench/compression.sh      # SECONDS_PER_RUN=10 CONNECTIONS=4 BENCH_PORT=18093 BENCH_DATABASE_URL=…/kp_bench_compression
#
# It creates its own database with the seed data, builds and starts the release binary on a loopback
# port, and drops the database again at the end. Needs cargo, curl, psql and wrk (installed from Debian
# when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

server_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/kulturplan}"
server_url="${server_url%%\?*}"
db_url="${BENCH_DATABASE_URL:-${server_url%/*}/kp_bench_compression}"
port="${BENCH_PORT:-18093}"
seconds="${SECONDS_PER_RUN:-10}"
connections="${CONNECTIONS:-4}"
base="${db_url%%\?*}"
db_name="${base##*/}"
maintenance="${base%/*}/postgres"
server_pid=""
export PGOPTIONS="-c client_min_messages=warning"

cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    psql "$maintenance" -qc "DROP DATABASE IF EXISTS \"$db_name\" WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

if ! command -v wrk >/dev/null; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get install -y -qq wrk >/dev/null
fi

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
    "$(. /etc/os-release && echo "$PRETTY_NAME"), load average $(cut -d' ' -f1-3 /proc/loadavg)"

cargo build --release -q
bin=./target/release/kulturplan
psql "$maintenance" -qc "DROP DATABASE IF EXISTS \"$db_name\" WITH (FORCE)" >/dev/null
psql "$maintenance" -qc "CREATE DATABASE \"$db_name\"" >/dev/null
DATABASE_URL="$db_url" RUST_LOG=warn "$bin" migrate
DATABASE_URL="$db_url" RUST_LOG=warn "$bin" seed >/dev/null

DATABASE_URL="$db_url" BIND_ADDR="127.0.0.1:$port" RUST_LOG=warn "$bin" serve &
server_pid=$!
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null && break
    sleep 0.1
done
token=$("$bin" token --scope read --ttl 1h --subject bench)
url="http://127.0.0.1:$port/api/v1/activities?limit=500&embed=goal,plan,actors,follow_ups"

printf '%-10s %12s %10s %10s %10s\n' encoding bytes req/s p50 p99
for encoding in identity gzip br; do
    bytes=$(curl -fs -H "Authorization: Bearer $token" -H "Accept-Encoding: $encoding" "$url" | wc -c)
    out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency \
        -H "Authorization: Bearer $token" -H "Accept-Encoding: $encoding" "$url")
    rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
    p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    printf '%-10s %12s %10s %10s %10s\n' "$encoding" "$bytes" "$rps" "$p50" "$p99"
done
items=$(curl -fs -H "Authorization: Bearer $token" "$url" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
echo "(the page holds $items activities)"
