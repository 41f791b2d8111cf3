#!/usr/bin/env bash
# Makes sure a PostgreSQL answers at DATABASE_URL: uses it if it answers, otherwise starts the
# local Debian cluster, otherwise installs Debian's postgresql package and starts it.
set -euo pipefail

url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/kulturplan}"
base="${url%%\?*}"
maintenance="${base%/*}/postgres"

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi

answers() {
    command -v psql >/dev/null 2>&1 && psql "$maintenance" -Atqc 'SELECT 1' >/dev/null 2>&1
}

if answers; then
    exit 0
fi

installed_here=false
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "ensure-postgres: no PostgreSQL here; installing Debian's postgresql package" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    installed_here=true
fi

for version in $(ls /etc/postgresql 2>/dev/null); do
    for cluster in $(ls "/etc/postgresql/$version"); do
        $sudo pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start 2>/dev/null || true
    done
done

for _ in $(seq 1 30); do
    if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then break; fi
    sleep 1
done

if answers; then
    exit 0
fi

if $installed_here; then
    # A cluster installed just now asks for passwords on 127.0.0.1; local development trusts loopback.
    for hba in /etc/postgresql/*/main/pg_hba.conf; do
        if ! $sudo grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
            $sudo sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
        fi
    done
    for version in $(ls /etc/postgresql); do
        $sudo pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    done
    sleep 1
fi

if answers; then
    exit 0
fi
echo "ensure-postgres: PostgreSQL does not answer at $maintenance; set DATABASE_URL to a reachable server" >&2
exit 1
