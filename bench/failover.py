#!/usr/bin/env python3
"""Three replicas behind HAProxy on a primary with a synchronous standby; a replica is killed and
later the primary, and no acknowledged write may be lost.

A script that prints figures, not a test. On this machine, without containers, it makes:
- a private PostgreSQL primary (initdb) loaded with the generated data set (bench/generate.sql),
  and a streaming standby of it (pg_basebackup -R), both on free loopback ports in temporary
  directories; the primary then waits for the standby on every commit:
  synchronous_commit = on, synchronous_standby_names = 'FIRST 1 (standby1)';
- three replicas of the service on three ports, each with
  DATABASE_URL=postgres://…@primary,standby/db?target_session_attrs=read-write;
- HAProxy (Debian's; installed when missing) in front, health-checking GET /health/ready.

Through the balancer it runs bench/load.py's mixed workload: portal readers with conditional
GETs, municipal pulls, a change-feed poller, follow-up batches (with an Idempotency-Key) and
single PUTs. Writers retry as README.md tells integrations (Operations: several replicas): no
answer, 409, 502, 503 or 504 is sent again unchanged, the same key, after 0.1 s doubling to 2 s.

Faults: at --kill-at of the run one replica gets SIGKILL and is started again --down seconds
later; at --failover-at the primary is stopped immediately (pg_ctl -m immediate, a crash) and
after --promote-after seconds the standby is promoted (pg_ctl promote).

Afterwards, on the promoted standby: every acknowledged write is there (row and history entry,
as written) and in the change feed, each exactly once; the feed is read afresh from the start
and as the live poller saw it. Prints per fault the time until the balancer stopped sending to
the dead replica (HAProxy marked it down) or until writes succeeded again after the promotion,
and the errors clients saw inside and outside the fault windows. Exits 1 when an acknowledged
write is missing or doubled, or an error came outside a fault window.

Usage: python3 bench/failover.py [--seconds 60] [--kill-at 0.2] [--down 5] [--failover-at 0.55]
       [--promote-after 1] [--debug] [--pool 8] [--readers 4] [--pullers 2] [--batch-writers 2]
       [--put-writers 2] [--batches-per-second 4] [--puts-per-second 20]
"""
import argparse
import csv
import http.client
import io
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import common
from common import PrivateCluster, Server, build_release, fresh_database, free_port, log, psql, run
from load import (STATUSES, BatchWriter, ChangePoller, Client, MunicipalPull, PortalReader, PutWriter, Run,
                  quantile, verify)

DB = "kp_bench_failover"
STANDBY = "standby1"
# The commit settings under test: a commit is acknowledged once the standby has flushed it.
SYNC_SETTINGS = {"synchronous_commit": "on", "synchronous_standby_names": f"FIRST 1 ({STANDBY})"}
# How integrations retry (README.md, Operations): these answers are worth the same request again.
RETRYABLE = (0, 409, 502, 503, 504)
FIRST_RETRY = 0.1
LAST_RETRY = 2.0
GIVE_UP_AFTER = 60
WATCH_EVERY = 0.02


class Standby(PrivateCluster):
    """A streaming standby of `primary`, made by pg_basebackup on a port and directory of its own."""

    def __init__(self, primary, name):
        self.bin = primary.bin
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="kp-bench-pg-standby-")
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "postgresql.log")
        self.as_owner = primary.as_owner
        if self.as_owner:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        os.chmod(self.dir, 0o700)
        try:
            # -R writes standby.signal and primary_conninfo (with the application_name the
            # primary's synchronous_standby_names names).
            self._owner_run([os.path.join(self.bin, "pg_basebackup"), "-D", self.data, "-R", "-X", "stream",
                             "-c", "fast", "-d",
                             f"host=127.0.0.1 port={primary.port} user=postgres application_name={name}"],
                            stdout=subprocess.DEVNULL)
            with open(os.path.join(self.data, "postgresql.conf"), "a") as conf:
                conf.write(f"\nport = {self.port}\nunix_socket_directories = '{self.dir}'\n"
                           f"cluster_name = '{name}'\n")
            self.start()
        except BaseException:
            self.destroy()
            raise

    def promote(self):
        self._pg_ctl("-w", "-t", "60", "promote")


def ensure_haproxy():
    if shutil.which("haproxy") is None:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        log("installing haproxy from Debian")
        run(sudo + ["apt-get", "install", "-y", "-qq", "haproxy"], stdout=subprocess.DEVNULL,
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    return shutil.which("haproxy") or "/usr/sbin/haproxy"


class Balancer:
    """HAProxy in front of the replicas, with its statistics page on a port of its own."""

    def __init__(self, directory, replica_ports):
        self.port, self.stats_port = free_port(), free_port()
        template = os.path.join(common.ROOT, "bench", "haproxy.cfg")
        with open(template) as f:
            config = f.read()
        servers = "".join(f"    server replica{n + 1} 127.0.0.1:{port} check\n"
                          for n, port in enumerate(replica_ports))
        config = (config.replace("@BIND@", f"127.0.0.1:{self.port}")
                  .replace("@STATS@", f"127.0.0.1:{self.stats_port}") + servers)
        self.config_path = os.path.join(directory, "haproxy.cfg")
        with open(self.config_path, "w") as f:
            f.write(config)
        binary = ensure_haproxy()
        run([binary, "-c", "-q", "-f", self.config_path])
        self.log = open(os.path.join(directory, "haproxy.log"), "w")
        self.proc = subprocess.Popen([binary, "-db", "-f", self.config_path], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = self.states()
            if states and all(s == "UP" for s in states.values()):
                return
            time.sleep(0.1)
        self.stop()
        sys.exit("HAProxy did not see the replicas up")

    def stats(self):
        """HAProxy's statistics, one dict per server of the backend."""
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.stats_port, timeout=2)
            connection.request("GET", "/stats;csv")
            text = connection.getresponse().read().decode()
            connection.close()
        except (OSError, http.client.HTTPException):
            return []
        rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
        return [r for r in rows if r["pxname"] == "replicas" and r["svname"] not in ("FRONTEND", "BACKEND")]

    def states(self):
        """Each server's state: UP, DOWN, or a transition such as "UP 1/2"."""
        return {r["svname"]: r["status"] for r in self.stats()}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Watch(threading.Thread):
    """Notes the balancer's view of every server every 20 ms: when it marked one down or up."""

    def __init__(self, balancer):
        super().__init__(daemon=True, name="watch")
        self.balancer = balancer
        self.samples = []  # (t, {server: state})
        self.until = threading.Event()

    def run(self):
        while not self.until.is_set():
            self.samples.append((time.monotonic(), self.balancer.states()))
            self.until.wait(WATCH_EVERY)

    def first(self, after, test):
        return next((t for t, states in self.samples if t >= after and states and test(states)), None)


class Retrying:
    """A writer that sends a write again, unchanged, until it is answered (README.md)."""

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
        attempts = []
        retry = FIRST_RETRY
        while True:
            status, headers, data = self.send(marker, keys, statuses)
            attempts.append(status)
            if status not in RETRYABLE or time.monotonic() - start > GIVE_UP_AFTER:
                break
            # A write that is under way is carried through, also when the run ends.
            time.sleep(retry)
            retry = min(retry * 2, LAST_RETRY)
        self.writes.append({
            "kind": self.kind, "marker": marker, "keys": keys, "statuses": statuses, "start": start,
            "end": time.monotonic(), "http": status, "problem": None, "ack": 200 <= status < 300,
            "attempts": attempts, "replayed": headers is not None and headers.get("Idempotent-Replayed") == "true",
        })



class RetryingBatches(Retrying, BatchWriter):
    pass


class RetryingPuts(Retrying, PutWriter):
    pass


def feed_counts(port, token, run_id, keys):
    """How often each of `keys` is in the change feed, read from the start through the balancer."""
    client = Client(port, token)
    counts = dict.fromkeys(keys, 0)
    cursor = None
    while True:
        path = "/api/v1/changes?limit=1000" + (f"&since={cursor}" if cursor else "")
        status, _, data = client.request("GET", path)
        if status != 200:
            raise RuntimeError(f"the change feed answered {status}")
        page = json.loads(data)
        for item in page["items"]:
            if item["entity"] == "follow_up" and item.get("key"):
                key = (item["key"]["activity_id"], item["key"]["year"])
                if key in counts:
                    counts[key] += 1
        cursor = page["next_cursor"]
        if not page["has_more"]:
            client.close()
            return counts


def duplicated_history(db_url, run_id):
    """Follow-ups of the run with more than one history entry: a write applied twice."""
    return psql(db_url, f"SELECT activity_id || ' ' || year || ' ×' || count(*) FROM follow_up_history "
                        f"WHERE after->>'comment' LIKE 'load:{run_id}:%' GROUP BY activity_id, year "
                        f"HAVING count(*) > 1").splitlines()


def interrupted(*_):
    raise KeyboardInterrupt


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--kill-at", type=float, default=0.2, help="share of the run before a replica is killed")
    parser.add_argument("--down", type=float, default=5, help="seconds before the killed replica is started again")
    parser.add_argument("--failover-at", type=float, default=0.55, help="share of the run before the primary stops")
    parser.add_argument("--promote-after", type=float, default=1, help="seconds from the stop to the promotion")
    parser.add_argument("--debug", action="store_true", help="run the debug build instead of the release build")
    parser.add_argument("--pool", type=int, default=8, help="connections per replica")
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--pullers", type=int, default=2)
    parser.add_argument("--batch-writers", type=int, default=2)
    parser.add_argument("--put-writers", type=int, default=2)
    parser.add_argument("--batches-per-second", type=float, default=4, help="all batch writers together")
    parser.add_argument("--puts-per-second", type=float, default=20, help="all PUT writers together")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, interrupted)
    if args.debug:
        common.BIN = os.path.join(common.ROOT, "target", "debug", "kulturplan")
        log("building the debug binary")
        run(["cargo", "build", "-q"], cwd=common.ROOT)
    else:
        build_release()
    ensure_haproxy()
    primary = standby = balancer = watch = run_ = None
    replicas = []
    workers = []
    work = tempfile.mkdtemp(prefix="kp-bench-failover-")
    try:
        log("creating the primary")
        primary = PrivateCluster()
        db_primary = fresh_database(DB, primary.server_url)
        psql(db_primary, "VACUUM ANALYZE")
        counts = psql(db_primary, "SELECT (SELECT count(*) FROM activities) || ' activities, ' || "
                                  "(SELECT count(*) FROM actors) || ' actors, ' || (SELECT count(*) FROM "
                                  "activity_actors) || ' actor links, ' || (SELECT count(*) FROM follow_ups) "
                                  "|| ' follow-ups'")
        log(counts)
        log("creating the standby (pg_basebackup)")
        standby = Standby(primary, STANDBY)
        for name, value in SYNC_SETTINGS.items():
            psql(db_primary, f"ALTER SYSTEM SET {name} = '{value}'")
        psql(db_primary, "SELECT pg_reload_conf()")
        deadline = time.monotonic() + 30
        while psql(db_primary, f"SELECT sync_state FROM pg_stat_replication WHERE application_name = '{STANDBY}'") != "sync":
            if time.monotonic() > deadline:
                sys.exit("the standby did not become synchronous")
            time.sleep(0.1)
        replication = psql(db_primary, "SELECT application_name || ' ' || state || ' ' || sync_state "
                                       "FROM pg_stat_replication")
        settings = psql(db_primary, "SELECT string_agg(name || ' = ' || setting, ', ' ORDER BY name) FROM pg_settings "
                                    "WHERE name IN ('synchronous_commit', 'synchronous_standby_names')")
        log(f"replication: {replication}; {settings}")

        activities = psql(db_primary, "SELECT id FROM activities ORDER BY id").split()
        codes = psql(db_primary, "SELECT municipality_code FROM actors WHERE kind = 'municipality' ORDER BY 1").split()
        embed = "embed=goal,plan,actors,follow_ups"
        plans = [psql(db_primary, f"SELECT md5('{p}')::uuid") for p in ("plan3", "impl3", "plan2", "impl1")]
        goals = [psql(db_primary, f"SELECT md5('{g}')::uuid") for g in ("goal1.1", "goal2.2", "goal3.1.4")]
        paths = ([f"/api/v1/activities?plan_id={p}&{embed}&limit=50" for p in plans]
                 + [f"/api/v1/activities?goal_id={g}&{embed}&limit=50" for g in goals]
                 + ["/api/v1/activities?q=bibliotek&limit=50",
                    f"/api/v1/reports/follow-up-summary?plan_id={plans[0]}&year=2024"])

        # Every replica names both servers; only the one that takes writes is used.
        db_url = (f"postgres://postgres@127.0.0.1:{primary.port},127.0.0.1:{standby.port}/{DB}"
                  "?target_session_attrs=read-write&connect_timeout=2")
        ports = [free_port() for _ in range(3)]
        env = {"DB_ACQUIRE_TIMEOUT_MS": "1000", "LOG_FORMAT": "json"}

        def start_replica(n, life=1):
            log_path = os.path.join(work, f"replica{n + 1}.{life}.log")
            return Server(db_url, ports[n], args.pool, env=env, log_path=log_path)

        log("starting three replicas and HAProxy")
        replicas = [start_replica(n) for n in range(3)]
        balancer = Balancer(work, ports)
        token = replicas[0].token
        run_ = Run(balancer.port, token, activities)
        poller = ChangePoller(run_, 1)
        readers = [PortalReader(run_, n, paths) for n in range(args.readers)]
        pullers = [MunicipalPull(run_, n, codes) for n in range(args.pullers)]
        batchers = [RetryingBatches(run_, n, args.batches_per_second / args.batch_writers)
                    for n in range(args.batch_writers)]
        putters = [RetryingPuts(run_, n, args.puts_per_second / args.put_writers) for n in range(args.put_writers)]
        workers = readers + pullers + [poller] + batchers + putters
        watch = Watch(balancer)
        watch.start()
        log(f"load: {args.seconds:g} s through the balancer, {len(workers)} workers")
        loads = [os.getloadavg()]
        started = time.monotonic()
        for w in workers:
            w.start()
        moments = {"start": started}

        # Fault 1: a replica dies without warning, and is started again.
        time.sleep(max(0.0, started + args.seconds * args.kill_at - time.monotonic()))
        victim = 1
        log(f"SIGKILL to replica{victim + 1}")
        moments["kill"] = time.monotonic()
        replicas[victim].proc.kill()
        replicas[victim].proc.wait()
        time.sleep(max(0.0, moments["kill"] + args.down - time.monotonic()))
        log(f"starting replica{victim + 1} again")
        moments["restart"] = time.monotonic()
        replicas[victim] = start_replica(victim, life=2)
        moments["restarted"] = time.monotonic()

        # Fault 2: the primary crashes; the standby is promoted.
        time.sleep(max(0.0, started + args.seconds * args.failover_at - time.monotonic()))
        log("stopping the primary (immediate)")
        moments["stop"] = time.monotonic()
        primary.stop("immediate")
        moments["stopped"] = time.monotonic()
        time.sleep(max(0.0, moments["stop"] + args.promote_after - time.monotonic()))
        log("promoting the standby")
        moments["promote"] = time.monotonic()
        standby.promote()
        moments["promoted"] = time.monotonic()

        time.sleep(max(0.0, started + args.seconds - time.monotonic()))
        run_.stop.set()
        for w in workers:
            w.join(timeout=GIVE_UP_AFTER + 30)
        elapsed = time.monotonic() - started
        loads.append(os.getloadavg())
        watch.until.set()
        watch.join()

        # The feed after the last write, as the live poller follows it.
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
        db_new = f"{standby.server_url}/{DB}"
        verify(db_new, run_.id, writes)
        acked_keys = [key for w in writes if w["ack"] for key in w["keys"]]
        fresh_feed = feed_counts(balancer.port, token, run_.id, acked_keys)
        doubled = duplicated_history(db_new, run_.id)
        served = {r["svname"]: int(r["stot"]) for r in balancer.stats()}
        in_recovery = psql(db_new, "SELECT pg_is_in_recovery()")
    finally:
        if run_ is not None:
            run_.stop.set()
        if watch is not None:
            watch.until.set()
        if balancer is not None:
            balancer.stop()
        for server in replicas:
            server.stop()
        for cluster in (standby, primary):
            if cluster is not None:
                cluster.destroy()

    ok = report(args, counts, settings, workers, readers, pullers, poller, batchers, putters, writes, moments,
           watch, elapsed, fresh_feed, doubled, served, in_recovery, primary.version, loads)
    if ok:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"the logs of HAProxy and the replicas are kept in {work}", file=sys.stderr)
        sys.exit(1)


def report(args, counts, settings, workers, readers, pullers, poller, batchers, putters, writes, moments,
           watch, elapsed, fresh_feed, doubled, served, in_recovery, pg_version, loads):
    victim = "replica2"
    marked_down = watch.first(moments["kill"], lambda s: s.get(victim, "").startswith("DOWN"))
    back_up = watch.first(moments["restarted"], lambda s: s.get(victim) == "UP")
    attempts = sorted((start, end, status) for w in batchers + putters for start, end, status in w.samples)
    write_ok = next((end for start, end, status in attempts
                     if start >= moments["stopped"] and 200 <= status < 300), None)
    # The balancer's outage: from the first replica it took out after the stop until all are back.
    def everyone_up(states):
        return all(v == "UP" for v in states.values())

    went_down = watch.first(moments["stop"], lambda s: not everyone_up(s))
    all_up = watch.first(max(moments["promoted"], went_down or 0), everyone_up)
    windows = {
        "replica killed": (moments["kill"], marked_down or float("inf")),
        "primary failover": (moments["stop"], max(filter(None, (all_up, write_ok)), default=float("inf"))),
    }

    def window_of(start, end):
        return next((name for name, (a, b) in windows.items() if start <= b and end >= a), None)

    print(f"\ndata: {counts}; {args.seconds:g} s, 3 replicas ({'debug' if args.debug else 'release'} build, "
          f"pool {args.pool} each) behind HAProxy, workers: {args.readers} portal readers, {args.pullers} municipal "
          f"pullers, 1 change-feed poller, {args.batch_writers} batch writers ({args.batches_per_second:g} batches/s "
          f"of 50-200), {args.put_writers} PUT writers ({args.puts_per_second:g}/s); PostgreSQL {pg_version}, "
          f"primary + streaming standby, {settings}")
    print("load average: " + " at the start, ".join(" ".join(f"{x:.2f}" for x in la) for la in loads) + " at the end")
    print(f"requests per replica (HAProxy): {', '.join(f'{k} {v}' for k, v in sorted(served.items()))}\n")

    rows = []
    errors = {name: {} for name in [*windows, "outside"]}
    for kind, group in (("portal reads", readers), ("municipal pulls", pullers), ("change feed polls", [poller]),
                        ("follow-up batches", batchers), ("single follow-up PUTs", putters)):
        samples = [s for w in group for s in w.samples]
        ms = sorted((end - start) * 1000 for start, end, _ in samples)
        row = {"kind": kind, "requests": len(samples), "rps": len(samples) / elapsed,
               "p50": quantile(ms, 0.5), "p99": quantile(ms, 0.99)}
        for name in errors:
            row[name] = 0
        for start, end, status in samples:
            if status == 0 or status >= 500:
                name = window_of(start, end) or "outside"
                row[name] += 1
                label = str(status or "no answer")
                errors[name][label] = errors[name].get(label, 0) + 1
        rows.append(row)
        print(f"{kind}: {row['requests']} requests, {row['rps']:.1f} req/s, p50 {row['p50']:.2f} ms, "
              f"p99 {row['p99']:.2f} ms; errors: " + ", ".join(f"{row[n]} {n}" for n in errors))

    def ms(t, t0):
        return f"{(t - t0) * 1000:.0f} ms" if t is not None else "never"

    print(f"\nfault 1, SIGKILL to {victim} {moments['kill'] - moments['start']:.1f} s into the run: HAProxy marked "
          f"it down after {ms(marked_down, moments['kill'])}; started again after {args.down:g} s, up in HAProxy "
          f"{ms(back_up, moments['restart'])} after its start; client errors: "
          + (", ".join(f"{v}× {k}" for k, v in sorted(errors['replica killed'].items())) or "none"))
    print(f"fault 2, primary stopped (immediate) {moments['stop'] - moments['start']:.1f} s into the run, "
          f"standby promoted {moments['promote'] - moments['stop']:.2f} s later (promotion took "
          f"{ms(moments['promoted'], moments['promote'])}): first acknowledged write "
          f"{ms(write_ok, moments['promoted'])} after the promotion, every replica up in HAProxy "
          f"{ms(all_up, moments['promoted'])} after it; client errors: "
          + (", ".join(f"{v}× {k}" for k, v in sorted(errors['primary failover'].items())) or "none"))
    print("errors outside the fault windows: "
          + (", ".join(f"{v}× {k}" for k, v in sorted(errors['outside'].items())) or "none"))
    outside = sorted((start, end, status, w.kind) for w in workers for start, end, status in w.samples
                     if (status == 0 or status >= 500) and window_of(start, end) is None)
    for start, end, status, kind in outside[:10]:
        print(f"  {status or 'no answer'} to {kind}, sent {start - moments['start']:.2f} s into the run, "
              f"answered after {(end - start) * 1000:.0f} ms")

    acked = [w for w in writes if w["ack"]]
    lost = [w for w in acked if w["present"] < len(w["keys"])]
    unanswered = [w for w in writes if not w["ack"]]
    retried = [w for w in writes if len(w["attempts"]) > 1]
    replayed = [w for w in writes if w["replayed"]]
    n_items = sum(len(w["keys"]) for w in acked)
    feed_missing = [k for k, n in fresh_feed.items() if n == 0]
    feed_doubled = [k for k, n in fresh_feed.items() if n > 1]
    live_missing = len(set(fresh_feed) - poller.seen)
    print(f"\nwrites: {len(writes)}; acknowledged {len(acked)} ({n_items} follow-ups), {len(retried)} of them after "
          f"a retry ({len(replayed)} answered by an Idempotency-Key replay); never acknowledged {len(unanswered)}; "
          f"acknowledged but missing from the new primary {len(lost)}; applied twice (history) {len(doubled)}; "
          f"in the change feed read afresh: missing {len(feed_missing)}, more than once {len(feed_doubled)}; "
          f"missing from the live poller's feed {live_missing}; the new primary in recovery: {in_recovery}")
    for w in lost[:10]:
        print(f"  lost: {w['marker']} attempts {w['attempts']}")
    for line in doubled[:10]:
        print(f"  applied twice: {line}")
    failures = [w.failure for w in workers if w.failure]
    for failure in failures:
        print(f"worker failed: {failure}")

    print("\n| workload | requests | req/s | p50 ms | p99 ms | errors, replica killed | errors, primary failover "
          "| errors outside |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['kind']} | {r['requests']} | {r['rps']:.1f} | {r['p50']:.2f} | {r['p99']:.2f} | "
              f"{r['replica killed']} | {r['primary failover']} | {r['outside']} |")
    print("\n| | |\n|---|---|")
    print(f"| SIGKILL → HAProxy marks the replica down (no more requests to it) | {ms(marked_down, moments['kill'])} |")
    print(f"| restarted replica: start → up in HAProxy | {ms(back_up, moments['restart'])} |")
    print(f"| primary stop → standby promoted | {ms(moments['promoted'], moments['stop'])} |")
    print(f"| promotion → first acknowledged write | {ms(write_ok, moments['promoted'])} |")
    print(f"| promotion → every replica up in HAProxy | {ms(all_up, moments['promoted'])} |")
    print(f"| acknowledged writes | {len(acked)} ({n_items} follow-ups; {len(retried)} retried) |")
    print(f"| acknowledged writes missing on the new primary | {len(lost)} |")
    print(f"| applied twice | {len(doubled)} |")
    print(f"| acknowledged follow-ups missing from / doubled in the change feed | {len(feed_missing)} / {len(feed_doubled)} |")
    print(f"| errors outside the fault windows | {sum(errors['outside'].values())} |")

    bad = (len(lost) + len(doubled) + len(feed_missing) + len(feed_doubled) + live_missing + len(unanswered)
           + sum(errors["outside"].values()) + len(failures) + (marked_down is None) + (write_ok is None))
    if bad:
        print("\nFAILED: see the figures above", file=sys.stderr)
        return False
    print("\nverdict: no acknowledged write lost or doubled; errors only inside the fault windows")
    return True


if __name__ == "__main__":
    main()
