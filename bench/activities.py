#!/usr/bin/env python3
"""The portal's activity reads under load, beside the same SQL run by pgbench.

Prints requests/s, p50 and p99 for: one activity, flat and with embeds; a page of 50 activities
of a goal, flat and with embeds; a search page, by position and by relevance. Each is read three
ways: computed on every request (`Cache-Control: no-cache`, as the first read after a write),
repeated (answered from the kept rendering), and revalidated with If-None-Match (304). Beside the
computed reads, pgbench runs the statements the service sends for them (same concurrency), and
the ratio service/pgbench; beside the kept and 304 reads, the ratio to the computed read.
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
        f"SELECT activity_id, actors::text AS actors FROM activity_actor_lists WHERE activity_id = ANY({ids});\n"
        f"SELECT f.* FROM unnest({ids}) AS i(id) CROSS JOIN LATERAL "
        f"(SELECT * FROM follow_ups WHERE activity_id = i.id ORDER BY year DESC LIMIT 1) f;\n"
    )


def linked_sql(activity_ids):
    """The one statement `build` sends for activities without embeds: their linked goals."""
    return (f"SELECT activity_id, goal_id FROM activity_goals WHERE activity_id = ANY({uuid_array(activity_ids)}) "
            "ORDER BY activity_id, goal_id;\n")


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
        flat_page_path = f"/api/v1/activities?goal_id={goal}&limit=50"
        page_path = f"{flat_page_path}&{embed}"
        flat_item_path = f"/api/v1/activities/{activity}"
        item_path = f"{flat_item_path}?{embed}"
        search_path = "/api/v1/activities?q=bibliotek&limit=50"
        relevance_path = "/api/v1/activities?q=bibliotek&sort=relevance&limit=50"

        _, _, body = server.get(page_path)
        page = json.loads(body)["items"]
        page_ids = [a["id"] for a in page]
        page_query = (
            f"SELECT {COLUMNS}, '' AS goal_code, 0::real AS rank FROM goal_activities x JOIN activities a ON a.id = x.activity_id "
            f"WHERE true AND x.goal_id = '{goal}' ORDER BY x.plan_id, x.position, x.activity_id LIMIT 51;\n"
        )
        version = "SELECT n FROM data_version;\n"
        page_sql = version + page_query + embed_sql(page_ids, sorted({a["goal_id"] for a in page}), sorted({a["plan_id"] for a in page}))
        flat_page_sql = version + page_query + linked_sql(page_ids)
        _, _, body = server.get(item_path)
        item = json.loads(body)
        item_query = f"SELECT {COLUMNS.replace('a.', '')} FROM activities WHERE id = '{activity}' LIMIT 1;\n"
        item_sql = version + item_query + embed_sql([activity], [item["goal_id"]], [item["plan_id"]])
        flat_item_sql = version + item_query + linked_sql([activity])
        _, _, body = server.get(search_path)
        hits = json.loads(body)["items"]
        rank = "ts_rank(s.document, to_tsquery('swedish', 'bibliotek:*'))::real"

        def search_sql(order, hits):
            return (
                version
                + f"SELECT {COLUMNS}, '' AS goal_code, {rank} AS rank FROM activities a "
                "JOIN activity_search s ON s.activity_id = a.id WHERE true AND (s.document @@ plainto_tsquery('swedish', 'bibliotek') "
                f"OR s.body LIKE '%bibliotek%') ORDER BY {order} LIMIT 51;\n"
                + linked_sql([a['id'] for a in hits])
            )
        _, _, body = server.get(relevance_path)
        ranked = json.loads(body)["items"]
        c, s = args.connections, args.seconds
        computed = {"Cache-Control": "no-cache"}
        rows = []
        for name, path, sql in [
            ("activity by id", flat_item_path, flat_item_sql),
            ("activity by id, embeds", item_path, item_sql),
            ("page of 50 for a goal", flat_page_path, flat_page_sql),
            ("page of 50 for a goal, embeds", page_path, page_sql),
            ("search q=bibliotek, page of 50", search_path, search_sql("a.plan_id, a.position, a.id", hits)),
            ("search q=bibliotek by relevance", relevance_path, search_sql(f"{rank} DESC, a.id", ranked)),
        ]:
            _, headers, _ = server.get(path)
            etag = headers["ETag"]
            log(f"load: {name}, computed")
            first = wrk(server, path, c, s, computed)
            rows.append((f"{name}, computed", first, pgbench(db_url, sql, c, s), None))
            log(f"load: {name}, kept")
            rows.append((f"{name}, kept", wrk(server, path, c, s), None, first))
            log(f"load: {name}, If-None-Match (304)")
            rows.append((f"{name}, If-None-Match (304)", wrk(server, path, c, s, {"If-None-Match": etag}), None, first))
        rss = server.peak_rss_mib()
    finally:
        server.stop()
        if not args.keep:
            drop_database(DB)

    print(f"\ndata: {counts}; {c} connections, {s} s per run, pool {args.pool}\n")
    print("| request | service req/s | p50 ms | p99 ms | errors | pgbench tx/s | pgbench p50 | pgbench p99 | service/pgbench |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, svc, db, computed_run in rows:
        if db:
            ratio = f"{svc['rps'] / db['rps']:.2f}"
            dbs = f"{db['rps']:.0f} | {db['p50']:.2f} | {db['p99']:.2f}"
        else:
            ratio = f"{svc['rps'] / computed_run['rps']:.1f}× computed"
            dbs = "– | – | –"
        print(f"| {name} | {svc['rps']:.0f} | {svc['p50']:.2f} | {svc['p99']:.2f} | {svc['errors']} | {dbs} | {ratio} |")
    print(f"\npeak RSS of the service: {rss:.1f} MiB")


if __name__ == "__main__":
    main()
