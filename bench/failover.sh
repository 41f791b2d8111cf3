#!/usr/bin/env bash
# Several replicas and a PostgreSQL failover on one machine, without containers (a script, not
# a test): a private primary with a synchronous streaming standby, three replicas of the release
# build, HAProxy in front; bench/load.py's mixed workload through the balancer while one replica
# is killed and restarted and later the primary crashes and the standby is promoted. Prints per
# fault how long until traffic moved and the errors clients saw, and whether every acknowledged
# write is on the new primary and in the change feed exactly once (exit 1 otherwise).
# Options: --seconds N, --kill-at SHARE, --down S, --failover-at SHARE, --promote-after S,
# --debug (see bench/failover.py).
set -euo pipefail
exec python3 "$(dirname "$0")/failover.py" "$@"
