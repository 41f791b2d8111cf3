"""Shared pieces of the benchmark scripts: tools, the bench database, the release server, load runs."""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "kulturplan")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, **kw)


def ensure_tools():
    """wrk (Debian), pgbench and psql (PostgreSQL), the release build."""
    run([os.path.join(ROOT, "scripts", "ensure-postgres.sh")])
    if shutil.which("wrk") is None:
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        log("installing wrk from Debian")
        run(sudo + ["apt-get", "install", "-y", "-qq", "wrk"], stdout=subprocess.DEVNULL)
    for tool in ("pgbench", "psql"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: install Debian's postgresql package")
    log("building the release binary")
    run(["cargo", "build", "--release", "-q"], cwd=ROOT)


def server_url():
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kulturplan")
    return url.split("?")[0].rsplit("/", 1)[0]


def psql(db_url, sql, *args):
    out = run(["psql", db_url, "-v", "ON_ERROR_STOP=1", "-Atq", *args, "-c", sql], capture_output=True)
    return out.stdout.strip()


def fresh_database(name):
    """Creates the bench database, migrates it and loads bench/generate.sql."""
    maintenance = server_url() + "/postgres"
    psql(maintenance, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(maintenance, f"CREATE DATABASE {name}")
    db_url = f"{server_url()}/{name}"
    env = dict(os.environ, DATABASE_URL=db_url)
    run([BIN, "migrate"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log("generating the data set")
    started = time.time()
    run(["psql", db_url, "-v", "ON_ERROR_STOP=1", "-q", "-f", os.path.join(ROOT, "bench", "generate.sql")],
        stdout=subprocess.DEVNULL)
    log(f"generated in {time.time() - started:.1f} s")
    return db_url


def drop_database(name):
    psql(server_url() + "/postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class Server:
    """The release build on a loopback port."""

    def __init__(self, db_url, port, pool_size):
        self.base = f"http://127.0.0.1:{port}"
        env = dict(os.environ, DATABASE_URL=db_url, BIND_ADDR=f"127.0.0.1:{port}", RUST_LOG="warn",
                   DB_POOL_SIZE=str(pool_size))
        self.proc = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                with urllib.request.urlopen(self.base + "/health/ready", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            self.stop()
            sys.exit("the service did not become ready")
        self.token = run([BIN, "token", "--scope", "admin", "--ttl", "2h", "--subject", "bench"],
                         env=env, capture_output=True).stdout.strip()

    def get(self, path, headers=None):
        req = urllib.request.Request(self.base + path, headers={"Authorization": f"Bearer {self.token}", **(headers or {})})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()

    def peak_rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def wrk(server, path, connections, seconds, headers=None):
    """Requests/s, p50 and p99 in ms, and non-2xx/3xx count, from wrk --latency."""
    cmd = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency",
           "-H", f"Authorization: Bearer {server.token}"]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    out = run(cmd + [server.base + path], capture_output=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": rps, "p50": pct(50), "p99": pct(99), "errors": int(bad.group(1)) if bad else 0}


def pgbench(db_url, script, connections, seconds):
    """Transactions/s, p50 and p99 in ms of a custom script, from pgbench's per-transaction log."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "script.sql")
        with open(path, "w") as f:
            f.write(script)
        prefix = os.path.join(tmp, "log")
        out = run(["pgbench", "-n", "-M", "prepared", f"-c{connections}", f"-j{min(2, connections)}",
                   f"-T{seconds}", "-f", path, "-l", f"--log-prefix={prefix}", db_url],
                  capture_output=True).stdout
        tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
        latencies = []
        for name in os.listdir(tmp):
            if name.startswith("log"):
                with open(os.path.join(tmp, name)) as f:
                    latencies += [int(line.split()[2]) / 1000 for line in f if line.strip()]
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    return {"rps": tps, "p50": q[49], "p99": q[98]}
