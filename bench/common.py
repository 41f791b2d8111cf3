"""Shared pieces of the benchmark scripts: tools, the bench database, the release server, load runs."""
import json
import os
import pwd
import re
import shutil
import signal
import socket
import statistics
import struct
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
    build_release()


def build_release():
    log("building the release binary")
    run(["cargo", "build", "--release", "-q"], cwd=ROOT)


def server_url():
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kulturplan")
    return url.split("?")[0].rsplit("/", 1)[0]


def psql(db_url, sql, *args):
    out = run(["psql", db_url, "-v", "ON_ERROR_STOP=1", "-Atq", *args, "-c", sql], capture_output=True)
    return out.stdout.strip()


def fresh_database(name, server=None):
    """Creates the bench database on `server` (default: the one of DATABASE_URL), migrates it and
    loads bench/generate.sql."""
    server = server or server_url()
    maintenance = server + "/postgres"
    psql(maintenance, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(maintenance, f"CREATE DATABASE {name}")
    db_url = f"{server}/{name}"
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

    def __init__(self, db_url, port, pool_size, env=None, log_path=None):
        self.base = f"http://127.0.0.1:{port}"
        self.port = port
        env = dict(os.environ, DATABASE_URL=db_url, BIND_ADDR=f"127.0.0.1:{port}", RUST_LOG="warn",
                   DB_POOL_SIZE=str(pool_size), **(env or {}))
        # The service's log, when kept, is what explains an unexpected answer afterwards.
        self.log_file = open(log_path, "w") if log_path else None
        self.proc = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=self.log_file or subprocess.DEVNULL)
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
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log_file:
            self.log_file.close()


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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_accepting(port, timeout=0.5):
    """Whether PostgreSQL on 127.0.0.1:port completes a startup as `postgres` (trust auth).

    A bare TCP connect is not enough: while starting up or shutting down the postmaster listens
    but refuses sessions. This speaks just the startup of the wire protocol, so it can be polled
    every few milliseconds without starting a process."""
    params = b"user\0postgres\0database\0postgres\0\0"
    startup = struct.pack("!ii", 8 + len(params), 196608) + params
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(startup)
            buffer = b""
            while True:
                while len(buffer) < 5:
                    chunk = s.recv(4096)
                    if not chunk:
                        return False
                    buffer += chunk
                kind, length = buffer[:1], struct.unpack("!i", buffer[1:5])[0]
                while len(buffer) < 1 + length:
                    chunk = s.recv(4096)
                    if not chunk:
                        return False
                    buffer += chunk
                buffer = buffer[1 + length:]
                if kind == b"E":
                    return False
                if kind == b"Z":
                    s.sendall(b"X" + struct.pack("!i", 4))
                    return True
    except OSError:
        return False


class PrivateCluster:
    """A throwaway PostgreSQL cluster of this machine's Debian binaries, on a free loopback port
    and in a temporary directory, with trust authentication for `postgres`: a benchmark may stop
    and start it without touching the PostgreSQL other people use. `destroy` removes it."""

    def __init__(self):
        self.bin = self._bin_dir()
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="kp-bench-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "postgresql.log")
        # initdb refuses to run as root; the cluster then belongs to the postgres user.
        self.as_owner = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        os.chmod(self.dir, 0o700)
        try:
            self._owner_run([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "postgres", "-A", "trust",
                             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], stdout=subprocess.DEVNULL)
            with open(os.path.join(self.data, "postgresql.conf"), "a") as conf:
                conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                           f"unix_socket_directories = '{self.dir}'\nmax_connections = 100\n")
            self.start()
        except BaseException:
            self.destroy()
            raise

    @staticmethod
    def _bin_dir():
        root = "/usr/lib/postgresql"
        versions = sorted((v for v in os.listdir(root) if v.isdigit()
                           and os.path.exists(os.path.join(root, v, "bin", "initdb"))), key=int) \
            if os.path.isdir(root) else []
        if not versions:
            sys.exit("no PostgreSQL server binaries under /usr/lib/postgresql: install Debian's postgresql package")
        return os.path.join(root, versions[-1], "bin")

    def _owner_run(self, cmd, **kw):
        # The postgres user may not enter the caller's working directory.
        return run(self.as_owner + cmd, cwd=self.dir, **kw)

    def _pg_ctl(self, *args, **kw):
        return self._owner_run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, *args],
                               stdout=subprocess.DEVNULL, **kw)

    @property
    def server_url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}"

    @property
    def version(self):
        return os.path.basename(os.path.dirname(self.bin))

    def start(self, wait=True):
        self._pg_ctl("-l", self.log_path, "-w" if wait else "-W", "-t", "60", "start")

    def stop(self, mode="fast"):
        self._pg_ctl("-m", mode, "-w", "-t", "60", "stop")

    def destroy(self):
        # Whatever state an interrupted run left: a postmaster.pid means a server may be up.
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            try:
                self._pg_ctl("-m", "immediate", "-w", "-t", "30", "stop", stderr=subprocess.DEVNULL)
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
