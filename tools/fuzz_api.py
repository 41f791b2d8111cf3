#!/usr/bin/env python3
"""Fuzzes the running service against its committed contract, openapi/openapi.json.

Starts the service on a fresh database holding the seed data, gives schemathesis (from PyPI, a
pinned version in a virtual environment under target/) a token with every scope, and fails when
any answer is a 5xx or departs from the documented status codes, media types, headers or schemas.
The examples per operation are bounded and the seed is fixed, so a run takes a few minutes and a
failure can be replayed; FUZZ_EXAMPLES and FUZZ_SEED change them.

Usage: python3 tools/fuzz_api.py [--examples N] [--seed N] [--keep-report]
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "debug", "kulturplan")
VENV = os.path.join(ROOT, "target", "schemathesis")
REQUIREMENTS = os.path.join(ROOT, "tools", "fuzz-requirements.txt")
SPEC = os.path.join(ROOT, "openapi", "openapi.json")
CONFIG = os.path.join(ROOT, "tools", "schemathesis.toml")


def log(msg):
    print(f"fuzz: {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, **kw)


def schemathesis():
    """The pinned schemathesis, installed once into target/schemathesis."""
    st = os.path.join(VENV, "bin", "st")
    stamp = os.path.join(VENV, "requirements.txt")
    with open(REQUIREMENTS) as f:
        wanted = f.read()
    if os.path.exists(st) and os.path.exists(stamp):
        with open(stamp) as f:
            if f.read() == wanted:
                return st
    log("installing schemathesis from PyPI")
    shutil.rmtree(VENV, ignore_errors=True)
    make_venv(VENV)
    run([os.path.join(VENV, "bin", "pip"), "install", "-q", "--disable-pip-version-check", "-r", REQUIREMENTS])
    with open(stamp, "w") as f:
        f.write(wanted)
    return st


def make_venv(path):
    """A virtual environment at `path`, installing Debian's python3-venv when Python lacks venv."""
    if subprocess.run([sys.executable, "-m", "venv", path], stdout=subprocess.DEVNULL).returncode != 0:
        # Debian's own Python carries venv in a package of its own.
        shutil.rmtree(path, ignore_errors=True)
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        log("installing Debian's python3-venv")
        run(sudo + ["apt-get", "update", "-qq"], stdout=subprocess.DEVNULL)
        run(sudo + ["apt-get", "install", "-y", "-qq", "python3-venv"], stdout=subprocess.DEVNULL,
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        run([sys.executable, "-m", "venv", path])


def server_url():
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kulturplan")
    return url.split("?")[0].rsplit("/", 1)[0]


def psql(db_url, sql):
    run(["psql", db_url, "-v", "ON_ERROR_STOP=1", "-Atq", "-c", sql], stdout=subprocess.DEVNULL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(base, proc):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("fuzz: the service exited before it was ready")
        try:
            with urllib.request.urlopen(base + "/health/ready", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    sys.exit("fuzz: the service did not become ready")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=int(os.environ.get("FUZZ_EXAMPLES", "100")))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "20261201")))
    parser.add_argument("--keep-report", action="store_true", help="keep the report directory")
    args = parser.parse_args()

    st = schemathesis()
    if not os.path.exists(BIN):
        run(["cargo", "build", "-q"], cwd=ROOT)

    name = f"kulturplan_fuzz_{uuid.uuid4().hex[:12]}"
    maintenance = server_url() + "/postgres"
    db_url = f"{server_url()}/{name}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, DATABASE_URL=db_url, BIND_ADDR=f"127.0.0.1:{port}", RUST_LOG="warn",
               SEEDS_DIR=os.path.join(ROOT, "seeds"))
    report = tempfile.mkdtemp(prefix="kulturplan-fuzz-")
    server = None
    psql(maintenance, f"CREATE DATABASE {name}")
    try:
        run([BIN, "migrate"], env=env, stdout=subprocess.DEVNULL)
        run([BIN, "seed"], env=env, stdout=subprocess.DEVNULL)
        server_log = open(os.path.join(report, "service.log"), "w")
        server = subprocess.Popen([BIN, "serve"], env=env, stdout=server_log, stderr=subprocess.STDOUT)
        wait_ready(base, server)
        token = run([BIN, "token", "--scope", "admin", "--scope", "read", "--scope", "plans:write",
                     "--scope", "follow_ups:write", "--ttl", "2h", "--subject", "fuzz"],
                    env=env, capture_output=True).stdout.strip()
        log(f"{args.examples} examples per operation, seed {args.seed}, against {base}")
        result = subprocess.run(
            [st, "--config-file", CONFIG, "run", SPEC, "--url", base,
             "--header", f"Authorization: Bearer {token}",
             "--max-examples", str(args.examples), "--seed", str(args.seed),
             # Shrinking can drop the one invalid part of a negative example and then report
             # the valid remainder as accepted invalid data.
             "--no-shrink",
             # Every run starts from the seed alone, not from examples kept by earlier runs.
             "--generation-database", "none",
             "--report", "junit", "--report-dir", report, "--no-color"],
            # In the report directory: schemathesis keeps a cache where it runs.
            env=dict(os.environ, SCHEMATHESIS_HOOKS=""), cwd=report)
        if server.poll() is not None:
            log("the service died during the run")
            result.returncode = result.returncode or 1
        if result.returncode != 0:
            server_log.flush()
            log(f"failed; the report and the service's log are in {report}")
            args.keep_report = True
        return result.returncode
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        psql(maintenance, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if not args.keep_report:
            shutil.rmtree(report, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
