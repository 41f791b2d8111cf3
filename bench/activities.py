#!/usr/bin/env python3
"""The portal's activity reads under load, beside the same SQL run by pgbench.

Prints requests/s, p50 and p99 for: one activity with embeds; a page of 50 activities of a goal
with embeds; a search page; the page again with If-None-Match (304). Beside each, pgbench runs
the statements the service sends for it (same concurrency), and the ratio service/pgbench.
Usage: python3 bench/activities.py [--seconds 15] [--connections 32] [--pool 16]
"""
import argparse
import json

from common import Server, drop_database, ensure_tools, fresh_database, log, pgbench, psql, wrk

DB = "kp_bench_activities"
COLUMNS = ("a.id, a.plan_id, a.goal_id, a.title, a.description, a.start_year, a.start_term, a.end_year, "
           "a.recurrence, a.tags, a.position, a.created_at, a.updated_at, a.version")


def uuid_array(ids):
    return "'{" + ",".join(ids) + "}'::uuid[]"


def embed_sql(activity_ids, goal_ids, plan_ids):
    """The statements `build` sends for a page with embed=goal,plan,actors,follow_ups."""
    ids = uuid_array(activity_ids)
    return (
        f"SELECT activity_id, goal_id FROM activity_goals WHERE activity_id = ANY({ids}) ORDER BY activity_id, goal_id;\n"
        f"SELECT * FROM goals WHERE id = ANY({uuid_array(goal_ids)});\n"
        f"SELECT * FROM plans WHERE id = ANY({uuid_array(plan_ids)});\n"
        f"SELECT aa.activity_id, aa.role, ac.* FROM activity_actors aa JOIN actors ac ON ac.id = aa.actor_id "
        f"WHERE aa.activity_id = ANY({ids}) ORDER BY aa.activity_id, aa.role, ac.name, ac.id;\n"
        f"SELECT DISTINCT ON (activity_id) * FROM follow_ups WHERE activity_id = ANY({ids}) ORDER BY activity_id, year DESC;\n"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--pool", type=int, default=16)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    ensure_tools()
    db_url = fresh_database(DB)
    counts = psql(db_url, "SELECT (SELECT count(*) FROM activities) || ' activities, ' || (SELECT count(*) FROM actors) "
                          "|| ' actors, ' || (SELECT count(*) FROM activity_actors) || ' actor links, ' || "
                          "(SELECT count(*) FROM follow_ups) || ' follow-ups over ' || (SELECT count(DISTINCT year) FROM follow_ups) || ' years, ' "
                          "|| (SELECT count(*) FROM plans) || ' plans'")
    log(counts)
    server = Server(db_url, 18181, args.pool)
    try:
        goal = psql(db_url, "SELECT md5('goal1.1')::uuid")
        activity = psql(db_url, "SELECT md5('activity42')::uuid")
        embed = "embed=goal,actors,follow_ups,plan"
        page_path = f"/api/v1/activities?goal_id={goal}&{embed}&limit=50"
        item_path = f"/api/v1/activities/{activity}?{embed}"
        search_path = "/api/v1/activities?q=bibliotek&limit=50"
        relevance_path = "/api/v1/activities?q=bibliotek&sort=relevance&limit=50"

        _, headers, body = server.get(page_path)
        etag = headers["ETag"]
        page = json.loads(body)["items"]
        page_sql = (
            "SELECT n FROM data_version;\n"
            "WITH RECURSIVE goal_tree(id) AS (SELECT id FROM goals WHERE id = '" + goal + "' UNION SELECT c.id FROM goals c "
            "JOIN goal_tree t ON c.parent_id = t.id) SELECT " + COLUMNS + ", coalesce(g.code, '') AS goal_code, 0::real AS rank "
            "FROM activities a JOIN goals g ON g.id = a.goal_id WHERE true AND (a.goal_id IN (SELECT id FROM goal_tree) OR a.id IN "
            "(SELECT activity_id FROM activity_goals WHERE goal_id IN (SELECT id FROM goal_tree))) "
            "ORDER BY a.plan_id, a.position, a.id LIMIT 51;\n"
            + embed_sql([a["id"] for a in page], sorted({a["goal_id"] for a in page}), sorted({a["plan_id"] for a in page}))
        )
        _, _, body = server.get(item_path)
        item = json.loads(body)
        item_sql = (
            "SELECT n FROM data_version;\n"
            f"SELECT {COLUMNS.replace('a.', '')} FROM activities WHERE id = '{activity}' LIMIT 1;\n"
            + embed_sql([activity], [item["goal_id"]], [item["plan_id"]])
        )
        _, _, body = server.get(search_path)
        hits = json.loads(body)["items"]
        rank = "ts_rank(s.document, to_tsquery('swedish', 'bibliotek:*'))::real"

        def search_sql(order, hits):
            return (
                "SELECT n FROM data_version;\n"
                f"SELECT {COLUMNS}, coalesce(g.code, '') AS goal_code, {rank} AS rank FROM activities a JOIN goals g ON g.id = a.goal_id "
                "JOIN activity_search s ON s.activity_id = a.id WHERE true AND (s.document @@ plainto_tsquery('swedish', 'bibliotek') "
                f"OR s.body LIKE '%bibliotek%') ORDER BY {order} LIMIT 51;\n"
                f"SELECT activity_id, goal_id FROM activity_goals WHERE activity_id = ANY({uuid_array([a['id'] for a in hits])}) ORDER BY activity_id, goal_id;\n"
            )
        _, _, body = server.get(relevance_path)
        ranked = json.loads(body)["items"]
        c, s = args.connections, args.seconds
        rows = []
        for name, path, sql, headers in [
            ("activity by id, embeds", item_path, item_sql, None),
            ("page of 50 for a goal, embeds", page_path, page_sql, None),
            ("search q=bibliotek, page of 50", search_path, search_sql("a.plan_id, a.position, a.id", hits), None),
            ("search q=bibliotek by relevance", relevance_path, search_sql(f"{rank} DESC, a.id", ranked), None),
            ("page of 50, If-None-Match (304)", page_path, None, {"If-None-Match": etag}),
        ]:
            log(f"load: {name}")
            svc = wrk(server, path, c, s, headers)
            db = pgbench(db_url, sql, c, s) if sql else None
            rows.append((name, svc, db))
        rss = server.peak_rss_mib()
    finally:
        server.stop()
        if not args.keep:
            drop_database(DB)

    page_rps = rows[1][1]["rps"]
    print(f"\ndata: {counts}; {c} connections, {s} s per run, pool {args.pool}\n")
    print(f"| request | service req/s | p50 ms | p99 ms | errors | pgbench tx/s | pgbench p50 | pgbench p99 | service/pgbench |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, svc, db in rows:
        if db:
            ratio = f"{svc['rps'] / db['rps']:.2f}"
            dbs = f"{db['rps']:.0f} | {db['p50']:.2f} | {db['p99']:.2f}"
        else:
            ratio = f"{svc['rps'] / page_rps:.1f}× the uncached page"
            dbs = "– | – | –"
        print(f"| {name} | {svc['rps']:.0f} | {svc['p50']:.2f} | {svc['p99']:.2f} | {svc['errors']} | {dbs} | {ratio} |")
    print(f"\npeak RSS of the service: {rss:.1f} MiB")


if __name__ == "__main__":
    main()
