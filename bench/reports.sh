#!/usr/bin/env bash
# The reports benchmark (a script, not a test): the follow-up summary and the collaboration
# matrix on the large generated data set, driven by wrk at 8 connections beside pgbench.
# Installs wrk from Debian when it is missing; prints the Markdown table BENCHMARKS.md holds.
# Options: --seconds N, --connections N, --pool N, --keep (see bench/reports.py).
set -euo pipefail
exec python3 "$(dirname "$0")/reports.py" "$@"
