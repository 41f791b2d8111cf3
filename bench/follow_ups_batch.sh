#!/usr/bin/env bash
# Benchmark of the follow-up batch: 10,000 new follow-ups in one POST /api/v1/follow-ups/batch, then
# the same batch again (all unchanged), and the same rows as CSV through /follow-ups/import. Beside
# them, as the limit, a plain INSERT … ON CONFLICT of the same rows through psql (COPY into a temporary
# table, then one INSERT; no history, no validation). Not a test: it prints wall times.
#
#   bench/follow_ups_batch.sh     # or make bench-batch; ROUNDS=3 BENCH_PORT=18089 BENCH_DATABASE_URL=…/kp_bench_batch
#
# It creates its own database, builds and starts the release binary on a loopback port, and drops the
# database again at the end. Needs cargo, curl and psql.
set -euo pipefail
cd "$(dirname "$0")/.."

# Its own database on the server of DATABASE_URL (or the local one), unless BENCH_DATABASE_URL names one.
server_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/kulturplan}"
server_url="${server_url%%\?*}"
db_url="${BENCH_DATABASE_URL:-${server_url%/*}/kp_bench_batch}"
port="${BENCH_PORT:-18089}"
rounds="${ROUNDS:-3}"
items=10000
base="${db_url%%\?*}"
db_name="${base##*/}"
maintenance="${base%/*}/postgres"
work="$(mktemp -d)"
server_pid=""
export PGOPTIONS="-c client_min_messages=warning"

cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    psql "$maintenance" -qc "DROP DATABASE IF EXISTS \"$db_name\" WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
    "$(. /etc/os-release && echo "$PRETTY_NAME"), $(psql "$maintenance" -Atc 'SHOW server_version' | cut -d' ' -f1 | sed 's/^/PostgreSQL /')," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== building the release binary"
cargo build --release -q
bin=./target/release/kulturplan

psql "$maintenance" -qc "DROP DATABASE IF EXISTS \"$db_name\" WITH (FORCE)" >/dev/null
psql "$maintenance" -qc "CREATE DATABASE \"$db_name\"" >/dev/null
DATABASE_URL="$db_url" RUST_LOG=warn "$bin" migrate

echo "== seeding a plan, a goal and $items activities"
psql "$db_url" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO plans (id, title, kind, first_year, last_year)
    VALUES ('00000000-0000-4000-8000-000000000001', 'Benchmarkplan', 'implementation_plan', 2024, 2027);
INSERT INTO goals (id, plan_id, kind, title)
    VALUES ('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000001', 'objective', 'Benchmarkmål');
INSERT INTO activities (id, plan_id, goal_id, title, start_year, recurrence, position)
    SELECT gen_random_uuid(), '00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002',
           'Aktivitet ' || n, 2024, 'annual', n
    FROM generate_series(1, $items) n;
ANALYZE;
SQL

# The same rows three ways: a JSON batch, a CSV file for the import, a CSV file for psql's COPY.
psql "$db_url" -Atc "SELECT json_build_object('items', json_agg(json_build_object(
    'activity_id', id, 'year', 2025, 'status', 'ongoing', 'comment', 'Pågår enligt plan, ' || title) ORDER BY position))
    FROM activities" > "$work/batch.json"
{ echo "activity_id;year;status;comment"
  psql "$db_url" -Atc "SELECT id || ';2025;gul;Pågår enligt plan, ' || title FROM activities ORDER BY position"; } > "$work/import.csv"
psql "$db_url" -Atc "COPY (SELECT id, 2025, 'ongoing', 'Pågår enligt plan, ' || title FROM activities ORDER BY position)
    TO STDOUT WITH (FORMAT csv)" > "$work/rows.csv"
echo "   batch body $(wc -c < "$work/batch.json") bytes, CSV $(wc -c < "$work/import.csv") bytes"

echo "== starting the service on 127.0.0.1:$port"
DATABASE_URL="$db_url" BIND_ADDR="127.0.0.1:$port" RUST_LOG=warn "$bin" serve &
server_pid=$!
for _ in $(seq 1 100); do
    if curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then break; fi
    sleep 0.1
done
token="$(DATABASE_URL="$db_url" "$bin" token --scope follow_ups:write --subject bench --ttl 1h)"

reset() { psql "$db_url" -qc "TRUNCATE follow_ups, follow_up_history, idempotency_keys" >/dev/null; }

# POSTs a file and prints the wall time; fails unless the answer is 200 with the expected counts.
post() { # path content-type file expect-created expect-unchanged
    local start end status
    start=$(now)
    status=$(curl -s -o "$work/answer.json" -w '%{http_code}' -X POST "http://127.0.0.1:$port$1" \
        -H "Authorization: Bearer $token" -H "Content-Type: $2" --data-binary "@$3")
    end=$(now)
    if [ "$status" != 200 ] || ! grep -q "\"created\":$4,\"updated\":0,\"unchanged\":$5" "$work/answer.json"; then
        echo "unexpected answer $status: $(head -c 300 "$work/answer.json")" >&2
        exit 1
    fi
    elapsed "$start" "$end"
}

psql_upsert() {
    local start end
    start=$(now)
    psql "$db_url" -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
BEGIN;
CREATE TEMP TABLE input (activity_id uuid, year integer, status text, comment text) ON COMMIT DROP;
\copy input FROM '$work/rows.csv' WITH (FORMAT csv)
INSERT INTO follow_ups AS f (id, activity_id, year, status, comment, reported_by)
    SELECT gen_random_uuid(), activity_id, year, status, comment, 'bench' FROM input ORDER BY activity_id, year
    ON CONFLICT (activity_id, year) DO UPDATE
        SET status = EXCLUDED.status, comment = EXCLUDED.comment, reported_by = EXCLUDED.reported_by, reported_at = now()
        WHERE (f.status, f.comment) IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.comment);
COMMIT;
SQL
    end=$(now)
    elapsed "$start" "$end"
}

declare -a batch_new batch_again csv_new csv_again sql_new sql_again
for round in $(seq 1 "$rounds"); do
    reset; batch_new+=("$(post /api/v1/follow-ups/batch application/json "$work/batch.json" $items 0)")
    batch_again+=("$(post /api/v1/follow-ups/batch application/json "$work/batch.json" 0 $items)")
    reset; csv_new+=("$(post /api/v1/follow-ups/import text/csv "$work/import.csv" $items 0)")
    csv_again+=("$(post /api/v1/follow-ups/import text/csv "$work/import.csv" 0 $items)")
    reset; sql_new+=("$(psql_upsert)")
    sql_again+=("$(psql_upsert)")
    echo "   round $round done"
done

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
row() { local label="$1"; shift; printf '%-56s %7s s   (%s)\n' "$label" "$(median "$@")" "$*"; }

echo
echo "== $items follow-ups, wall time in seconds (median of $rounds rounds; each round in brackets)"
row "POST /follow-ups/batch, new rows" "${batch_new[@]}"
row "POST /follow-ups/batch, same batch again (unchanged)" "${batch_again[@]}"
row "POST /follow-ups/import (CSV), new rows" "${csv_new[@]}"
row "POST /follow-ups/import (CSV), same file again" "${csv_again[@]}"
row "psql: COPY + INSERT ... ON CONFLICT, new rows (limit)" "${sql_new[@]}"
row "psql: COPY + INSERT ... ON CONFLICT, same rows again" "${sql_again[@]}"
echo "== load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
