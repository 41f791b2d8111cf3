#!/usr/bin/env python3
"""Consumes the committed contract, openapi/openapi.json, as an outside team would.

1. Lints it with Redocly's CLI: no errors, and no warning beyond the ones README.md explains.
2. Generates a Python client (openapi-python-client) and TypeScript types (openapi-typescript),
   and fails when either drops an operation README.md does not name with its reason.
3. Type-checks the TypeScript types with tsc, against a file that names every operation.
4. Starts the service on a fresh database with the seed data and runs the three consumer
   programs of tools/consumers/ on the generated Python client: the portal, a municipal system and
   an integration script.

Every tool is a pinned version (tools/contract/), installed under target/ on first use.

Usage: python3 tools/contract_clients.py
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzz_api  # noqa: E402  (the service start-up is shared with the fuzzing)

ROOT = fuzz_api.ROOT
SPEC = fuzz_api.SPEC
TOOLS = os.path.join(ROOT, "tools", "contract")
CONSUMERS = os.path.join(ROOT, "tools", "consumers")
NODE = os.path.join(ROOT, "target", "contract-tools")
VENV = os.path.join(ROOT, "target", "contract-python")
OUT = os.path.join(ROOT, "target", "contract")

# What the tools may say about the document, and why (README.md, "Generated clients").
LINT_WARNINGS = {
    # The probes and the metrics take no input and need no token: no 4xx is theirs to give.
    ("operation-4xx-response", "/health/live"),
    ("operation-4xx-response", "/health/ready"),
    ("operation-4xx-response", "/metrics"),
}
# openapi-python-client does not generate a `text/csv` request body.
PYTHON_DROPPED = {("POST", "/api/v1/follow-ups/import")}


def log(msg):
    print(f"contract: {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, **kw)


def installed(stamp_dir, wanted):
    stamp = os.path.join(stamp_dir, ".installed")
    if os.path.exists(stamp):
        with open(stamp) as f:
            return f.read() == wanted
    return False


def mark_installed(stamp_dir, wanted):
    with open(os.path.join(stamp_dir, ".installed"), "w") as f:
        f.write(wanted)


def node_tools():
    """@redocly/cli, openapi-typescript and typescript at the versions of tools/contract's lock."""
    with open(os.path.join(TOOLS, "package-lock.json")) as f:
        wanted = f.read()
    if not installed(NODE, wanted):
        if shutil.which("npm") is None:
            sudo = [] if os.geteuid() == 0 else ["sudo"]
            log("installing Debian's nodejs and npm")
            run(sudo + ["apt-get", "update", "-qq"], stdout=subprocess.DEVNULL)
            run(sudo + ["apt-get", "install", "-y", "-qq", "nodejs", "npm"], stdout=subprocess.DEVNULL,
                env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        log("installing the pinned npm tools")
        shutil.rmtree(NODE, ignore_errors=True)
        os.makedirs(NODE)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(TOOLS, name), NODE)
        run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE,
            stdout=subprocess.DEVNULL)
        mark_installed(NODE, wanted)
    return os.path.join(NODE, "node_modules", ".bin")


def python_tools():
    """openapi-python-client (and what the generated client needs) in a virtual environment."""
    requirements = os.path.join(TOOLS, "python-requirements.txt")
    with open(requirements) as f:
        wanted = f.read()
    if not installed(VENV, wanted):
        log("installing the pinned openapi-python-client")
        shutil.rmtree(VENV, ignore_errors=True)
        fuzz_api.make_venv(VENV)
        run([os.path.join(VENV, "bin", "pip"), "install", "-q", "--disable-pip-version-check",
             "-r", requirements])
        mark_installed(VENV, wanted)
    return os.path.join(VENV, "bin")


def operations(doc):
    return {(method.upper(), path): op["operationId"]
            for path, item in doc["paths"].items()
            for method, op in item.items()}


def lint(node_bin):
    result = subprocess.run([os.path.join(node_bin, "redocly"), "lint", SPEC, "--format=json"],
                            capture_output=True, text=True, cwd=ROOT)
    report = json.loads(result.stdout[result.stdout.index("{"):])
    problems = report.get("problems", [])
    unexplained = []
    for problem in problems:
        pointer = problem["location"][0]["pointer"]
        path = pointer.split("/")[2].replace("~1", "/") if pointer.startswith("#/paths/") else pointer
        if problem["severity"] == "error" or (problem["ruleId"], path) not in LINT_WARNINGS:
            unexplained.append(f"{problem['severity']} {problem['ruleId']} at {pointer}: {problem['message']}")
    for line in unexplained:
        log(f"lint: {line}")
    if unexplained:
        sys.exit("contract: the document has lint problems README.md does not explain")
    log(f"lint: no errors, {len(problems)} explained warnings")


def generate_python(venv_bin, doc):
    target = os.path.join(OUT, "python")
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(OUT, exist_ok=True)
    started = time.monotonic()
    # ruff (a dependency of the generator) formats the code it writes; it must be on PATH.
    env = dict(os.environ, PATH=venv_bin + os.pathsep + os.environ["PATH"])
    result = run([os.path.join(venv_bin, "openapi-python-client"), "generate", "--path", SPEC,
                  "--meta", "none", "--output-path", os.path.join(target, "kulturplan_client")],
                 capture_output=True, env=env)
    dropped = set(re.findall(r"WARNING parsing (\w+) (\S+) ", result.stdout + result.stderr))
    if dropped != PYTHON_DROPPED:
        sys.exit(f"contract: the Python client dropped {sorted(dropped)}; README.md explains "
                 f"{sorted(PYTHON_DROPPED)}")
    # Every other operation is a module of the generated client.
    api = os.path.join(target, "kulturplan_client", "api")
    modules = {name[:-3] for _, _, files in os.walk(api) for name in files if name.endswith(".py")}
    missing = [op for key, op in operations(doc).items() if key not in dropped and op not in modules]
    if missing:
        sys.exit(f"contract: the Python client lacks {missing}")
    log(f"python client: {len(operations(doc)) - len(dropped)} operations in "
        f"{time.monotonic() - started:.1f} s (dropped, as README.md says: {sorted(dropped)})")
    return target


def generate_typescript(node_bin, doc):
    target = os.path.join(OUT, "typescript")
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    started = time.monotonic()
    run([os.path.join(node_bin, "openapi-typescript"), SPEC, "--output",
         os.path.join(target, "kulturplan.d.ts")], cwd=ROOT, capture_output=True)
    # tsc checks the hand-written uses in tools/contract/uses.ts, and that `operations` holds
    # exactly the document's operation ids: none dropped, none invented.
    ids = sorted(operations(doc).values())
    with open(os.path.join(target, "operations.ts"), "w") as f:
        f.write('import type { operations } from "./kulturplan";\n\n')
        f.write("export const everyOperation: Record<keyof operations, true> = {\n")
        for op in ids:
            f.write(f"  {op}: true,\n")
        f.write("};\n")
    shutil.copy(os.path.join(TOOLS, "uses.ts"), target)
    shutil.copy(os.path.join(TOOLS, "tsconfig.json"), target)
    run([os.path.join(node_bin, "tsc"), "--project", os.path.join(target, "tsconfig.json")], cwd=target)
    log(f"typescript types: {len(ids)} operations, type-checked, in {time.monotonic() - started:.1f} s")


def serve():
    """The debug build on a fresh database with the seed data; returns (process, base, env, cleanup)."""
    if not os.path.exists(fuzz_api.BIN):
        run(["cargo", "build", "-q"], cwd=ROOT)
    name = f"kulturplan_contract_{uuid.uuid4().hex[:12]}"
    maintenance = fuzz_api.server_url() + "/postgres"
    port = fuzz_api.free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, DATABASE_URL=f"{fuzz_api.server_url()}/{name}", BIND_ADDR=f"127.0.0.1:{port}",
               RUST_LOG="warn", SEEDS_DIR=os.path.join(ROOT, "seeds"))
    fuzz_api.psql(maintenance, f"CREATE DATABASE {name}")

    def cleanup(server):
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        fuzz_api.psql(maintenance, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    run([fuzz_api.BIN, "migrate"], env=env, stdout=subprocess.DEVNULL)
    run([fuzz_api.BIN, "seed"], env=env, stdout=subprocess.DEVNULL)
    server = subprocess.Popen([fuzz_api.BIN, "serve"], env=env)
    try:
        fuzz_api.wait_ready(base, server)
    except SystemExit:
        cleanup(server)
        raise
    return server, base, env, cleanup


def token(env, *scopes):
    args = [fuzz_api.BIN, "token", "--ttl", "1h", "--subject", "contract"]
    for scope in scopes:
        args += ["--scope", scope]
    return run(args, env=env, capture_output=True).stdout.strip()


def consumers(venv_bin, client_dir):
    server, base, env, cleanup = serve()
    try:
        program_env = dict(os.environ, PYTHONPATH=client_dir, KULTURPLAN_URL=base,
                           KULTURPLAN_TOKEN=token(env, "read"),
                           KULTURPLAN_ADMIN_TOKEN=token(env, "admin"))
        for program in ("portal.py", "municipality.py", "integration.py"):
            started = time.monotonic()
            log(f"running {program}")
            run([os.path.join(venv_bin, "python"), os.path.join(CONSUMERS, program)], env=program_env)
            log(f"{program} passed in {time.monotonic() - started:.1f} s")
        if server.poll() is not None:
            sys.exit("contract: the service died during the consumer programs")
    finally:
        cleanup(server)


def main():
    started = time.monotonic()
    with open(SPEC) as f:
        doc = json.load(f)
    node_bin = node_tools()
    venv_bin = python_tools()
    log(f"tools ready in {time.monotonic() - started:.1f} s")
    lint(node_bin)
    client_dir = generate_python(venv_bin, doc)
    generate_typescript(node_bin, doc)
    consumers(venv_bin, client_dir)
    log(f"the generated clients do all three jobs ({time.monotonic() - started:.1f} s in all)")


if __name__ == "__main__":
    main()
