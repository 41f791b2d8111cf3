#!/usr/bin/env python3
"""The board's document under load: requests/s, p50 and p99 of the HTML and the .xlsx for a plan
holding all 6,000 activities of the generated data set (bench/generate.sql), as kept for the current
data version (every reader after the first until the data changes) and computed afresh after a write
(`Cache-Control: no-cache`, what the first reader after a write gets). Targets: p99 under 200 ms kept,
under 1 s computed.
Usage: python3 bench/board.py [--seconds 10] [--connections 4] [--pool 16] [--keep]
"""
import argparse

from common import ROOT, Server, build_release, drop_database, ensure_tools, fresh_database, log, psql, wrk

DB = "kp_bench_board"
YEAR = 2023
ALL_PLANS = "00000000-0000-4000-8000-0000000000a1"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--pool", type=int, default=16)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    ensure_tools()
    build_release()
    db_url = fresh_database(DB)
    # A plan above the culture plans: every activity in one document (the worst case).
    psql(db_url, f"INSERT INTO plans (id, title, kind, status, first_year, last_year) "
                 f"VALUES ('{ALL_PLANS}', 'Alla kulturplaner', 'culture_plan', 'adopted', 2012, 2023)")
    psql(db_url, f"UPDATE plans SET parent_id = '{ALL_PLANS}' WHERE kind = 'culture_plan' AND id <> '{ALL_PLANS}'")
    psql(db_url, "VACUUM ANALYZE")
    activities = psql(db_url, "SELECT count(*) FROM activities")
    server = Server(db_url, 18184, args.pool)
    rows = []
    try:
        for fmt in ["html", "xlsx"]:
            path = f"/api/v1/reports/board-document?plan_id={ALL_PLANS}&year={YEAR}&format={fmt}"
            _, headers, body = server.get(path)
            size = len(body) / 1024
            log(f"load: board document ({fmt}), kept")
            rows.append((f"{fmt}, kept", size, wrk(server, path, args.connections, args.seconds)))
            log(f"load: board document ({fmt}), computed")
            rows.append((f"{fmt}, computed", size,
                         wrk(server, path, args.connections, args.seconds, {"Cache-Control": "no-cache"})))
        rss = server.peak_rss_mib()
    finally:
        server.stop()
        if not args.keep:
            drop_database(DB)

    print(f"\ndata: {activities} activities in one plan; year {YEAR}; {args.connections} connections, "
          f"{args.seconds} s per run, pool {args.pool}\n")
    print("| board document | size KiB | req/s | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, size, r in rows:
        print(f"| {name} | {size:.0f} | {r['rps']:.1f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} |")
    print(f"\npeak RSS of the service: {rss:.1f} MiB")


if __name__ == "__main__":
    main()
