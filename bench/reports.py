#!/usr/bin/env python3
"""The culture board's reports under load, beside the same SQL run by pgbench.

Prints requests/s, p50 and p99 for the follow-up summary and the collaboration matrix of a culture
plan of the generated data set (bench/generate.sql), twice each: as kept for the current data
version (what every reader after the first gets until the data changes) and computed afresh
(`Cache-Control: no-cache`, what the first reader after a write gets). Beside the computed runs,
pgbench sends the statements the service sends for them (same concurrency). A third run reads
the report while a writer changes a follow-up every 100 ms (`--writes-per-second`): every write
moves the data version, so the next readers find nothing kept, and those arriving together share
one computation. Then the same for a plan holding all 6,000 activities, a worst case made only in
this script's database.
Usage: python3 bench/reports.py [--seconds 15] [--connections 8] [--pool 16] [--writes-per-second 10] [--keep]
"""
import argparse
import json
import threading
import time
import urllib.request

from common import (ROOT, Server, drop_database, ensure_tools, fresh_database, log, pgbench, psql,
                    run, wrk)

DB = "kp_bench_reports"
YEAR = 2023
ALL_PLANS = "00000000-0000-4000-8000-0000000000a1"


def report_sql(name, plan, year=YEAR):
    """The statement a report sends (printed by examples/report_sql.rs), with its values."""
    text = run(["cargo", "run", "-q", "--release", "--example", "report_sql", "--", name],
               cwd=ROOT, capture_output=True).stdout.strip()
    return text.replace("$2", str(year)).replace("$1", f"'{plan}'::uuid") + ";\n"


def computed_sql(plan, statements):
    """What the service sends for a report it computes: the data version for the ETag, then one
    read-only snapshot with the data version, the plan and the report's statements."""
    return (
        "SELECT n FROM data_version;\n"
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n"
        "SELECT n FROM data_version;\n"
        f"SELECT * FROM plans WHERE id = '{plan}' LIMIT 1;\n"
        + "".join(statements)
        + "COMMIT;\n"
    )


class Writer(threading.Thread):
    """Changes one follow-up at a steady rate until stopped; counts the writes and any errors."""

    def __init__(self, server, activity, per_second):
        super().__init__(daemon=True)
        self.server, self.activity, self.pause = server, activity, 1 / per_second
        self.stopped = threading.Event()
        self.writes = self.errors = 0

    def run(self):
        statuses = ["ongoing", "delayed"]
        while not self.stopped.is_set():
            started = time.monotonic()
            body = json.dumps({"status": statuses[self.writes % 2], "comment": "bench"}).encode()
            req = urllib.request.Request(
                f"{self.server.base}/api/v1/activities/{self.activity}/follow-ups/{YEAR + 1}", data=body,
                method="PUT", headers={"Authorization": f"Bearer {self.server.token}",
                                       "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    r.read()
                self.writes += 1
            except OSError:
                self.errors += 1
            self.stopped.wait(max(0.0, self.pause - (time.monotonic() - started)))


def under_writes(server, path, activity, args):
    writer = Writer(server, activity, args.writes_per_second)
    writer.start()
    try:
        result = wrk(server, path, args.connections, args.seconds)
    finally:
        writer.stopped.set()
        writer.join()
    result["errors"] += writer.errors
    result["writes"] = writer.writes
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--pool", type=int, default=16)
    parser.add_argument("--writes-per-second", type=float, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    ensure_tools()
    run(["cargo", "build", "--release", "-q", "--example", "report_sql"], cwd=ROOT)
    db_url = fresh_database(DB)
    # A plan above the three culture plans: every activity in one report (the worst case).
    psql(db_url, f"INSERT INTO plans (id, title, kind, status, first_year, last_year) "
                 f"VALUES ('{ALL_PLANS}', 'Alla kulturplaner', 'culture_plan', 'adopted', 2012, 2023)")
    psql(db_url, f"UPDATE plans SET parent_id = '{ALL_PLANS}' WHERE kind = 'culture_plan' AND id <> '{ALL_PLANS}'")
    # The steady state autovacuum keeps: statistics and visibility maps up to date.
    psql(db_url, "VACUUM ANALYZE")
    counts = psql(db_url, "SELECT (SELECT count(*) FROM activities) || ' activities, ' || (SELECT count(*) FROM actors) "
                          "|| ' actors (' || (SELECT count(*) FROM actors WHERE kind = 'municipality') || ' municipalities), ' "
                          "|| (SELECT count(*) FROM activity_actors) || ' actor links, ' || (SELECT count(*) FROM follow_ups) "
                          "|| ' follow-ups over ' || (SELECT count(DISTINCT year) FROM follow_ups) || ' years, ' "
                          "|| (SELECT count(*) FROM plans) || ' plans, ' || (SELECT count(*) FROM goals) || ' goals'")
    log(counts)
    culture_plan = psql(db_url, "SELECT md5('plan3')::uuid")
    in_plan = psql(db_url, f"SELECT count(*) FROM activities a JOIN plans p ON p.id = a.plan_id "
                           f"WHERE p.parent_id = '{culture_plan}' OR p.id = '{culture_plan}'")
    municipalities = "SELECT * FROM actors WHERE kind = 'municipality' ORDER BY name, id;\n"
    # The writer's activity: one of the culture plan's, so its write changes what is reported.
    written = psql(db_url, f"SELECT a.id FROM activities a JOIN plans p ON p.id = a.plan_id "
                           f"WHERE p.parent_id = '{culture_plan}' ORDER BY a.id LIMIT 1")
    server = Server(db_url, 18182, args.pool)
    rows = []
    try:
        for label, plan, n in [("culture plan", culture_plan, in_plan), ("all plans", ALL_PLANS, 6000)]:
            summary = f"/api/v1/reports/follow-up-summary?plan_id={plan}&year={YEAR}"
            matrix = f"/api/v1/reports/collaboration-matrix?plan_id={plan}"
            cases = [
                (f"follow-up summary, {label} ({n} activities)", summary,
                 computed_sql(plan, [report_sql("summary", plan)])),
                (f"collaboration matrix, {label} ({n} activities)", matrix,
                 computed_sql(plan, [report_sql("matrix-goals", plan), report_sql("matrix-counts", plan),
                                     municipalities])),
            ]
            for name, path, sql in cases:
                server.get(path)  # computed once, kept for the runs that read it as kept
                log(f"load: {name}, kept")
                rows.append((f"{name}, kept", wrk(server, path, args.connections, args.seconds), None))
                log(f"load: {name}, computed")
                computed = wrk(server, path, args.connections, args.seconds, {"Cache-Control": "no-cache"})
                rows.append((f"{name}, computed", computed,
                             pgbench(db_url, sql, args.connections, args.seconds)))
                log(f"load: {name}, under writes")
                written_rate = f"{args.writes_per_second:g}"
                rows.append((f"{name}, under {written_rate} writes/s", under_writes(server, path, written, args), None))
        rss = server.peak_rss_mib()
    finally:
        server.stop()
        if not args.keep:
            drop_database(DB)

    c, s = args.connections, args.seconds
    print(f"\ndata: {counts}; year {YEAR}; {c} connections, {s} s per run, pool {args.pool}\n")
    print("| request | service req/s | p50 ms | p99 ms | errors | pgbench tx/s | pgbench p50 | pgbench p99 | service/pgbench |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, svc, db in rows:
        if db:
            dbs = f"{db['rps']:.0f} | {db['p50']:.2f} | {db['p99']:.2f} | {svc['rps'] / db['rps']:.2f}"
        else:
            dbs = "– | – | – | –"
        print(f"| {name} | {svc['rps']:.0f} | {svc['p50']:.2f} | {svc['p99']:.2f} | {svc['errors']} | {dbs} |")
    for name, svc, _ in rows:
        if "writes" in svc:
            print(f"\n{name}: {svc['writes']} writes during the run")
    print(f"\npeak RSS of the service: {rss:.1f} MiB")


if __name__ == "__main__":
    main()
