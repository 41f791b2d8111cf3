#!/usr/bin/env bash
# The mixed load benchmark (a script, not a test): portal reads with conditional GETs, municipal
# collaboration pulls and change-feed polling, follow-up batches and single PUTs, for a bounded
# time against the release build on a private PostgreSQL cluster, which is restarted in the
# middle. Prints throughput, p99 and error counts per workload, the recovery time, and whether
# every acknowledged write is in the database; the Markdown tables BENCHMARKS.md holds.
# Options: --seconds N, --restart-at SHARE, --down SECONDS, --no-restart, --pool N (see bench/load.py).
set -euo pipefail
exec python3 "$(dirname "$0")/load.py" "$@"
