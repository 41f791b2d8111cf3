#!/usr/bin/env python3
"""A mixed workload for a bounded time, with a PostgreSQL restart in the middle.

A script that prints figures, not a test. It makes a throwaway PostgreSQL cluster of its own (the
shared one on 5432 is never restarted), loads the generated data set (bench/generate.sql), starts
the release build against it and runs, concurrently over loopback:
- portal readers: activity pages with embeds, searches and one activity, each page read again
  with the ETag it answered (If-None-Match: 304 until a write moves the data version);
- municipal pulls: a municipality's collaborations walked page by page (conditional GETs too),
  and a change-feed poller following /changes from the beginning;
- integration writers: follow-up batches of 50-200 items (with an Idempotency-Key) and single
  PUTs of one follow-up. Every write owns keys (activity, year) no other write touches and
  carries a marker in its comment, so the database can be checked for each of them afterwards.

At --restart-at of the run PostgreSQL is stopped (fast shutdown), kept down for --down seconds
and started again. A probe polls /health/ready and an API read every 20 ms meanwhile: the
outage is from the stop until PostgreSQL accepts sessions again, the recovery time from then
until the service's first 2xx. Afterwards every acknowledged write must be in the database
(follow-up and history row, as written) and in the change feed; refused writes must have left no
trace ("outcome unknown" ones may have either).

Prints, per workload: requests, req/s, p50/p99, status counts, 5xx inside and outside the outage
window (from the stop until the recovery); the outage, the recovery time, the writes and what
became of them, peak RSS; then Markdown tables for BENCHMARKS.md. Exits 1 when an acknowledged
write was lost, a refused write left a trace, or an error answer came outside the outage.

Usage: python3 bench/load.py [--seconds 60] [--restart-at 0.4] [--down 2] [--no-restart]
       [--stop-mode fast|immediate] [--pool 16] [--acquire-timeout-ms 1000]
       [--readers 4] [--pullers 2] [--batch-writers 2] [--put-writers 2] [--batches-per-second 4]
       [--puts-per-second 20]
"""
import argparse
import http.client
import json
import os
import random
import signal
import statistics
import sys
import threading
import time
import uuid

from common import PrivateCluster, Server, build_release, free_port, fresh_database, log, pg_accepting, psql

DB = "kp_bench_load"
STATUSES = ("planned", "delayed", "completed", "ongoing")
# Years no generated follow-up uses: every key a write gets is new.
FIRST_YEAR = 2030
LAST_YEAR = 2100
PROBE_EVERY = 0.02
# A worker pauses this long after an error answer: a client backs off, but not for the whole
# Retry-After, so the run sees when the service is back.
BACKOFF = 0.1
STALE_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class Client:
    """One keep-alive HTTP connection, reopened after a failure."""

    def __init__(self, port, token, timeout=30):
        self.port, self.timeout = port, timeout
        self.auth = {"Authorization": f"Bearer {token}"} if token else {}
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        """(status, headers, body). Raises OSError or HTTPException when no answer came."""
        headers = {**self.auth, **(headers or {})}
        for attempt in (1, 2):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                if response.will_close:
                    self.close()
                return response.status, response.headers, data
            except (OSError, http.client.HTTPException) as error:
                self.close()
                # A kept-alive connection the server closed while idle: any client reopens it
                # and sends a read again. A write is never sent twice.
                if not (reused and method == "GET" and attempt == 1 and isinstance(error, STALE_CONNECTION)):
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def problem_type(headers, data):
    if headers is not None and "problem+json" in (headers.get("Content-Type") or ""):
        try:
            return json.loads(data).get("type")
        except ValueError:
            return None
    return None


class Run:
    """What the workers share: the stop signal, the key allocator and the run's marker."""

    def __init__(self, port, token, activities):
        self.port, self.token, self.activities = port, token, activities
        self.id = uuid.uuid4().hex[:8]
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._next_key = 0

    def keys(self, n):
        """n (activity, year) keys no other write of the run gets."""
        with self._lock:
            first, self._next_key = self._next_key, self._next_key + n
        per_year = len(self.activities)
        out = []
        for k in range(first, first + n):
            year = FIRST_YEAR + k // per_year
            if year > LAST_YEAR:
                raise RuntimeError("the run used up its follow-up keys; write fewer")
            out.append((self.activities[k % per_year], year))
        return out


class Worker(threading.Thread):
    kind = "?"

    def __init__(self, run, n):
        super().__init__(daemon=True, name=f"{self.kind}-{n}")
        self.shared, self.n = run, n
        self.client = Client(run.port, run.token)
        self.samples = []  # (start, end, status); status 0: no answer
        self.rng = random.Random(f"{self.kind}{n}")
        self.failure = None

    def call(self, method, path, body=None, headers=None):
        start = time.monotonic()
        try:
            status, response_headers, data = self.client.request(method, path, body, headers)
        except (OSError, http.client.HTTPException):
            status, response_headers, data = 0, None, b""
        self.samples.append((start, time.monotonic(), status))
        if status == 0 or status >= 500:
            self.shared.stop.wait(BACKOFF)
        return status, response_headers, data

    def run(self):
        try:
            while not self.shared.stop.is_set():
                self.step()
        # A broken worker is reported with the figures (and fails the run), never silent.
        except Exception as error:
            self.failure = f"{self.name}: {error!r}"
        finally:
            self.client.close()


class PortalReader(Worker):
    """The regional portal: pages of activities with embeds, read again with their ETag."""

    kind = "portal reads"

    def __init__(self, run, n, paths):
        super().__init__(run, n)
        self.paths, self.etags = paths, {}

    def step(self):
        path = self.rng.choice(self.paths)
        headers = {"If-None-Match": self.etags[path]} if path in self.etags else None
        status, response_headers, _ = self.call("GET", path, headers=headers)
        if status == 200 and response_headers.get("ETag"):
            self.etags[path] = response_headers["ETag"]


class MunicipalPull(Worker):
    """A municipality's system: all its collaborations, page by page, each page conditionally."""

    kind = "municipal pulls"

    def __init__(self, run, n, codes):
        super().__init__(run, n)
        self.codes = codes[n % len(codes):] + codes[:n % len(codes)]
        self.turn = 0
        self.pages = {}  # path: (etag, next_cursor)

    def step(self):
        code = self.codes[self.turn % len(self.codes)]
        self.turn += 1
        cursor = None
        while not self.shared.stop.is_set():
            path = f"/api/v1/municipalities/{code}/collaborations?year=2024&limit=100"
            if cursor:
                path += f"&cursor={cursor}"
            held = self.pages.get(path)
            status, headers, data = self.call("GET", path, headers={"If-None-Match": held[0]} if held else None)
            if status == 200:
                cursor = json.loads(data)["next_cursor"]
                if headers.get("ETag"):
                    self.pages[path] = (headers["ETag"], cursor)
            elif status == 304 and held:
                cursor = held[1]
            else:
                return
            if not cursor:
                return


class ChangePoller(Worker):
    """A system following the change feed from the beginning; keeps the follow-up keys it saw."""

    kind = "change feed polls"

    def __init__(self, run, n):
        super().__init__(run, n)
        self.cursor = None
        self.seen = set()

    def poll(self, record=True):
        """One page; True when more is ready now. None when the call failed."""
        path = "/api/v1/changes?limit=1000" + (f"&since={self.cursor}" if self.cursor else "")
        if record:
            status, _, data = self.call("GET", path)
        else:
            try:
                status, _, data = self.client.request("GET", path)
            except (OSError, http.client.HTTPException):
                return None
        if status != 200:
            return None
        page = json.loads(data)
        for item in page["items"]:
            if item["entity"] == "follow_up" and item.get("key"):
                self.seen.add((item["key"]["activity_id"], item["key"]["year"]))
        self.cursor = page["next_cursor"]
        return page["has_more"]

    def step(self):
        if not self.poll():
            self.shared.stop.wait(0.2)


class Writer(Worker):
    """Writes at a steady rate; records every write, its keys and what it was answered."""

    def __init__(self, run, n, per_second):
        super().__init__(run, n)
        self.pause = 1 / per_second
        self.next_at = time.monotonic() + self.rng.random() * self.pause
        self.writes = []
        self.seq = 0

    def step(self):
        delay = self.next_at - time.monotonic()
        if delay > 0 and self.shared.stop.wait(delay):
            return
        self.next_at = max(self.next_at + self.pause, time.monotonic())
        self.seq += 1
        marker = f"load:{self.shared.id}:{self.short}{self.n}:{self.seq}"
        keys = self.shared.keys(self.size())
        statuses = [self.rng.choice(STATUSES) for _ in keys]
        start = time.monotonic()
        status, headers, data = self.send(marker, keys, statuses)
        self.writes.append({
            "kind": self.kind, "marker": marker, "keys": keys, "statuses": statuses, "start": start,
            "end": time.monotonic(), "http": status, "problem": problem_type(headers, data),
            "ack": 200 <= status < 300,
        })


class BatchWriter(Writer):
    kind = "follow-up batches"
    short = "b"

    def size(self):
        return self.rng.randint(50, 200)

    def send(self, marker, keys, statuses):
        body = json.dumps({"items": [{"activity_id": a, "year": y, "status": s, "comment": marker}
                                     for (a, y), s in zip(keys, statuses)]})
        return self.call("POST", "/api/v1/follow-ups/batch", body,
                         {"Content-Type": "application/json", "Idempotency-Key": marker})


class PutWriter(Writer):
    kind = "single follow-up PUTs"
    short = "p"

    def size(self):
        return 1

    def send(self, marker, keys, statuses):
        (activity, year), = keys
        body = json.dumps({"status": statuses[0], "comment": marker})
        return self.call("PUT", f"/api/v1/activities/{activity}/follow-ups/{year}", body,
                         {"Content-Type": "application/json"})


class Probe(threading.Thread):
    """Polls /health/ready and an API read every 20 ms while the database is away."""

    def __init__(self, run):
        super().__init__(daemon=True, name="probe")
        self.ready = Client(run.port, None, timeout=10)
        self.api = Client(run.port, run.token, timeout=10)
        self.samples = {"ready": [], "api": []}  # name: [(start, end, status)]
        self.until = threading.Event()

    def run(self):
        while not self.until.is_set():
            started = time.monotonic()
            for name, client, path in (("ready", self.ready, "/health/ready"),
                                       ("api", self.api, "/api/v1/plans?limit=1")):
                start = time.monotonic()
                try:
                    status = client.request("GET", path)[0]
                except (OSError, http.client.HTTPException):
                    status = 0
                self.samples[name].append((start, time.monotonic(), status))
            self.until.wait(max(0.0, PROBE_EVERY - (time.monotonic() - started)))
        self.ready.close()
        self.api.close()

    def first_ok_after(self, name, t):
        return next((end for start, end, status in self.samples[name] if start >= t and 200 <= status < 300), None)


def restart(cluster, down, probe, mode):
    """Stops PostgreSQL, waits, starts it; returns the moments of the outage."""
    t = {"stop": time.monotonic()}
    probe.start()
    cluster.stop(mode)
    t["stopped"] = time.monotonic()
    time.sleep(down)
    t["start"] = time.monotonic()
    cluster.start(wait=False)
    while not pg_accepting(cluster.port, timeout=0.2):
        time.sleep(0.005)
    t["accepting"] = time.monotonic()
    # Both the readiness probe and an API read, each asked after the database was gone.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready = probe.first_ok_after("ready", t["stopped"])
        api = probe.first_ok_after("api", t["stopped"])
        if ready and api:
            t["ready"], t["api"] = ready, api
            break
        time.sleep(PROBE_EVERY)
    probe.until.set()
    probe.join()
    return t


def quantile(values, q):
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


def summarize(kind, workers, seconds, window):
    samples = [s for w in workers for s in w.samples]
    ms = sorted((end - start) * 1000 for start, end, _ in samples)

    def in_window(start, end):
        return window is not None and start <= window[1] and end >= window[0]

    outside = sorted((end - start) * 1000 for start, end, _ in samples if not in_window(start, end))
    inside = [(end - start) * 1000 for start, end, _ in samples if in_window(start, end)]
    bad = [(start, end) for start, end, status in samples if status == 0 or status >= 500]
    return {
        "kind": kind, "requests": len(samples), "rps": len(samples) / seconds,
        "p50": quantile(ms, 0.5), "p99": quantile(ms, 0.99), "p99_outside": quantile(outside, 0.99),
        "max_inside": max(inside, default=float("nan")),
        "2xx": sum(200 <= s < 300 for _, _, s in samples), "304": sum(s == 304 for _, _, s in samples),
        "4xx": sum(400 <= s < 500 for _, _, s in samples),
        "5xx_in": sum(in_window(*b) for b in bad), "5xx_out": sum(not in_window(*b) for b in bad),
        "no_answer": sum(s == 0 for _, _, s in samples),
    }


def verify(db_url, run_id, writes):
    """What became of each write, read back from the database."""
    like = f"load:{run_id}:%"
    rows = {}
    for line in psql(db_url, f"SELECT activity_id, year, coalesce(status, ''), comment FROM follow_ups "
                             f"WHERE comment LIKE '{like}'").splitlines():
        activity, year, status, comment = line.split("|", 3)
        rows[(activity, int(year))] = (status, comment)
    history = set()
    for line in psql(db_url, f"SELECT activity_id, year, coalesce(after->>'status', ''), after->>'comment' "
                             f"FROM follow_up_history WHERE after->>'comment' LIKE '{like}'").splitlines():
        activity, year, status, comment = line.split("|", 3)
        history.add((activity, int(year), status, comment))
    for write in writes:
        found = [rows.get(key) == (status, write["marker"]) and (*key, status, write["marker"]) in history
                 for key, status in zip(write["keys"], write["statuses"])]
        write["present"] = sum(found)
        # Any trace at all, even a partial one, of a write that was refused.
        write["traced"] = any(rows.get(key, (None, None))[1] == write["marker"] for key in write["keys"]) or any(
            (*key, status, write["marker"]) in history for key, status in zip(write["keys"], write["statuses"]))


def interrupted(*_):
    raise KeyboardInterrupt


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--restart-at", type=float, default=0.4, help="share of the run before the restart")
    parser.add_argument("--down", type=float, default=2, help="seconds PostgreSQL stays stopped")
    parser.add_argument("--no-restart", action="store_true", help="the same workload without the restart")
    parser.add_argument("--stop-mode", choices=("fast", "immediate"), default="fast",
                        help="pg_ctl's shutdown mode; immediate is a crash, recovered from the WAL on start")
    parser.add_argument("--pool", type=int, default=16)
    parser.add_argument("--acquire-timeout-ms", type=int, default=1000)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--pullers", type=int, default=2)
    parser.add_argument("--batch-writers", type=int, default=2)
    parser.add_argument("--put-writers", type=int, default=2)
    parser.add_argument("--batches-per-second", type=float, default=4, help="all batch writers together")
    parser.add_argument("--puts-per-second", type=float, default=20, help="all PUT writers together")
    args = parser.parse_args()

    # A SIGTERM unwinds like Ctrl-C, so the service and the cluster are removed either way.
    signal.signal(signal.SIGTERM, interrupted)
    load_before = os.getloadavg()
    build_release()
    cluster = server = run = None
    workers = []
    try:
        log("creating a private PostgreSQL cluster")
        cluster = PrivateCluster()
        db_url = fresh_database(DB, cluster.server_url)
        # The steady state autovacuum keeps: statistics and visibility maps up to date.
        psql(db_url, "VACUUM ANALYZE")
        counts = psql(db_url, "SELECT (SELECT count(*) FROM activities) || ' activities, ' || (SELECT count(*) FROM actors) "
                              "|| ' actors, ' || (SELECT count(*) FROM activity_actors) || ' actor links, ' || "
                              "(SELECT count(*) FROM follow_ups) || ' follow-ups'")
        log(counts)
        activities = psql(db_url, "SELECT id FROM activities ORDER BY id").split()
        codes = psql(db_url, "SELECT municipality_code FROM actors WHERE kind = 'municipality' ORDER BY 1").split()
        embed = "embed=goal,plan,actors,follow_ups"
        plans = [psql(db_url, f"SELECT md5('{p}')::uuid") for p in ("plan3", "impl3", "plan2", "impl1")]
        goals = [psql(db_url, f"SELECT md5('{g}')::uuid") for g in ("goal1.1", "goal2.2", "goal3.1.4")]
        paths = ([f"/api/v1/activities?plan_id={p}&{embed}&limit=50" for p in plans]
                 + [f"/api/v1/activities?goal_id={g}&{embed}&limit=50" for g in goals]
                 + ["/api/v1/activities?q=bibliotek&limit=50",
                    f"/api/v1/activities/{psql(db_url, 'SELECT md5($$activity42$$)::uuid')}?{embed}"])

        server = Server(db_url, free_port(), args.pool,
                        env={"DB_ACQUIRE_TIMEOUT_MS": str(args.acquire_timeout_ms), "LOG_FORMAT": "json"},
                        log_path=os.path.join(cluster.dir, "service.log"))
        run = Run(server.port, server.token, activities)
        poller = ChangePoller(run, 1)
        readers = [PortalReader(run, n, paths) for n in range(args.readers)]
        pullers = [MunicipalPull(run, n, codes) for n in range(args.pullers)]
        batchers = [BatchWriter(run, n, args.batches_per_second / args.batch_writers) for n in range(args.batch_writers)]
        putters = [PutWriter(run, n, args.puts_per_second / args.put_writers) for n in range(args.put_writers)]
        workers = readers + pullers + [poller] + batchers + putters
        load_start = os.getloadavg()
        log(f"load: {args.seconds:g} s, {len(workers)} workers"
            + ("" if args.no_restart else f", PostgreSQL restarted at {args.restart_at:.0%}"))
        started = time.monotonic()
        for w in workers:
            w.start()
        moments = None
        if not args.no_restart:
            time.sleep(max(0.0, started + args.seconds * args.restart_at - time.monotonic()))
            log("stopping PostgreSQL")
            moments = restart(cluster, args.down, Probe(run), args.stop_mode)
            moments["run_start"] = started
            log("PostgreSQL is back" + ("" if "api" in moments else "; the service never answered 2xx again"))
        time.sleep(max(0.0, started + args.seconds - time.monotonic()))
        run.stop.set()
        for w in workers:
            w.join(timeout=60)
        elapsed = time.monotonic() - started
        load_end = os.getloadavg()

        # The feed after the last write: every acknowledged follow-up must be in it.
        failed = 0
        while failed < 50:
            more = poller.poll(record=False)
            if more is False:
                break
            if more is None:
                failed += 1
                time.sleep(0.1)
        poller.client.close()
        writes = [w for writer in batchers + putters for w in writer.writes]
        verify(db_url, run.id, writes)
        rss = server.peak_rss_mib()
        server.stop()
        service_log = read_service_log(os.path.join(cluster.dir, "service.log"))
    finally:
        if run is not None:
            run.stop.set()
        if server is not None:
            server.stop()
        if cluster is not None:
            cluster.destroy()

    report(args, counts, workers, readers, pullers, poller, batchers, putters, writes, moments, elapsed,
           rss, service_log, (load_before, load_start, load_end), cluster.version)


def read_service_log(path):
    """How often the service warned or erred, per message: how it saw the outage."""
    seen = {}
    with open(path, errors="replace") as f:
        for line in f:
            try:
                entry = json.loads(line)
                level, message = entry.get("level"), entry.get("fields", {}).get("message", "")
            except ValueError:
                level, message = "OTHER", line.strip()[:200]
            if level != "INFO":
                seen[(level, message)] = seen.get((level, message), 0) + 1
    return seen


def after(t, t0):
    """Milliseconds from t0 to t. PostgreSQL is watched every 5 ms and the service every 20 ms, so
    the service may be seen back a moment before PostgreSQL: that reads as 0."""
    return max(0.0, (t - t0) * 1000)


def report(args, counts, workers, readers, pullers, poller, batchers, putters, writes, moments, elapsed,
           rss, service_log, loads, pg_version):
    window = None
    recovered = None
    if moments:
        recovered = max(moments["ready"], moments["api"]) if "api" in moments else float("inf")
        window = (moments["stop"], recovered)
    rows = [summarize(kind, group, elapsed, window) for kind, group in (
        ("portal reads", readers), ("municipal pulls", pullers), ("change feed polls", [poller]),
        ("follow-up batches", batchers), ("single follow-up PUTs", putters))]
    acked = [w for w in writes if w["ack"]]
    lost = [w for w in acked if w["present"] < len(w["keys"])]
    # No answer at all, or the service's own "could not learn whether it committed".
    def outcome_unknown(w):
        return w["http"] == 0 or w["problem"] == "/problems/outcome-unknown"

    unknown = [w for w in writes if not w["ack"] and outcome_unknown(w)]
    refused = [w for w in writes if not w["ack"] and not outcome_unknown(w)]
    refused_traced = [w for w in refused if w["traced"]]
    partial = [w for w in writes if 0 < w["present"] < len(w["keys"])]
    acked_keys = {key for w in acked for key in w["keys"]}
    feed_missing = len(acked_keys - poller.seen)
    first_workload_ok = None
    if moments:
        oks = [end for w in workers for start, end, status in w.samples
               if start >= moments["stopped"] and 200 <= status < 300]
        first_workload_ok = min(oks) if oks else None
    failures = [w.failure for w in workers if w.failure]

    la = " ".join(f"{x:.2f}" for x in loads[1])
    print(f"\ndata: {counts}; {args.seconds:g} s, pool {args.pool}, workers: {args.readers} portal readers, "
          f"{args.pullers} municipal pullers, 1 change-feed poller, {args.batch_writers} batch writers "
          f"({args.batches_per_second:g} batches/s of 50-200), {args.put_writers} PUT writers ({args.puts_per_second:g}/s); "
          f"PostgreSQL {pg_version}, private cluster")
    print(f"load average: {' '.join(f'{x:.2f}' for x in loads[0])} before the set-up, {la} at the start, "
          f"{' '.join(f'{x:.2f}' for x in loads[2])} at the end\n")
    for r in rows:
        print(f"{r['kind']}: {r['requests']} requests, {r['rps']:.1f} req/s, p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms "
              f"(outside the outage {r['p99_outside']:.2f} ms"
              + (f", slowest inside {r['max_inside']:.0f} ms" if moments else "") + f"); 2xx {r['2xx']}, 304 {r['304']}, 4xx {r['4xx']}, "
              f"5xx or no answer: {r['5xx_in']} inside the outage window, {r['5xx_out']} outside "
              f"({r['no_answer']} without an answer)")
    if moments:
        outage = moments["accepting"] - moments["stop"]
        print(f"\nrestart ({args.stop_mode} stop) {moments['stop'] - moments['run_start']:.1f} s into the run: "
              f"stop took {moments['stopped'] - moments['stop']:.3f} s, down {moments['start'] - moments['stopped']:.3f} s, "
              f"accepting {moments['accepting'] - moments['start']:.3f} s after the start; outage {outage:.3f} s")
        if "api" in moments:
            workload = (f"{after(first_workload_ok, moments['accepting']):.0f} ms" if first_workload_ok
                        else "never")
            print(f"recovery after PostgreSQL accepted again: /health/ready 200 after "
                  f"{after(moments['ready'], moments['accepting']):.0f} ms, first API 2xx (probe) after "
                  f"{after(moments['api'], moments['accepting']):.0f} ms, first 2xx of the workload after {workload}")
        else:
            print("recovery: the service did not answer 2xx within 60 s of PostgreSQL accepting again")
    n_items = sum(len(w["keys"]) for w in acked)
    print(f"\nwrites: {len(writes)}; acknowledged {len(acked)} ({n_items} follow-ups); lost acknowledged {len(lost)}; "
          f"refused {len(refused)} ({len(refused_traced)} left a trace); outcome unknown {len(unknown)} "
          f"({sum(w['traced'] for w in unknown)} left a trace); partially written {len(partial)}; "
          f"acknowledged follow-ups missing from the change feed {feed_missing}")
    statuses = {}
    for w in writes:
        if not w["ack"]:
            label = f"{w['http']} {w['problem'] or ''}".strip()
            statuses[label] = statuses.get(label, 0) + 1
    if statuses:
        print("refused writes by answer: " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))
    print(f"peak RSS of the service: {rss:.1f} MiB")
    if service_log:
        print("service log: " + "; ".join(f"{level} {message!r} ×{n}" for (level, message), n
                                           in sorted(service_log.items(), key=lambda item: -item[1])))
    for failure in failures:
        print(f"worker failed: {failure}")

    # The tables for BENCHMARKS.md.
    print("\n| workload | requests | req/s | p50 ms | p99 ms | p99 ms outside the outage | 2xx | 304 | 4xx "
          "| 5xx in the outage | 5xx outside |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['kind']} | {r['requests']} | {r['rps']:.1f} | {r['p50']:.2f} | {r['p99']:.2f} | "
              f"{r['p99_outside']:.2f} | {r['2xx']} | {r['304']} | {r['4xx']} | {r['5xx_in']} | {r['5xx_out']} |")
    print("\n| | |\n|---|---|")
    if moments:
        print(f"| outage: stop issued → PostgreSQL accepting again | {outage:.2f} s |")
        if "api" in moments:
            print(f"| recovery: PostgreSQL accepting → `/health/ready` 200 | {after(moments['ready'], moments['accepting']):.0f} ms |")
            print(f"| recovery: PostgreSQL accepting → first 2xx API answer | {after(moments['api'], moments['accepting']):.0f} ms |")
        else:
            print("| recovery | **none within 60 s** |")
    print(f"| acknowledged writes | {len(acked)} ({n_items} follow-ups) |")
    print(f"| lost acknowledged writes | {len(lost)} |")
    print(f"| refused writes (5xx), left a trace | {len(refused)}, {len(refused_traced)} |")
    print(f"| outcome unknown, left a trace | {len(unknown)}, {sum(w['traced'] for w in unknown)} |")
    print(f"| acknowledged follow-ups missing from the change feed | {feed_missing} |")
    print(f"| peak RSS of the service | {rss:.1f} MiB |")

    bad = (len(lost) + len(refused_traced) + len(partial) + feed_missing + sum(r["5xx_out"] for r in rows)
           + len(failures) + (1 if moments and "api" not in moments else 0))
    if bad:
        print("\nFAILED: see the figures above", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
