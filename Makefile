# The two commands of README.md, and the tools around them.
SHELL := /bin/bash
export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/kulturplan
export BIND_ADDR ?= 127.0.0.1:8080

.PHONY: run test contract fuzz db build openapi check-seeds bench bench-batch bench-reports bench-load bench-failover board-document bench-board

## run: ensure PostgreSQL, migrate, seed the real data and serve (prints the docs URL and a token)
run: db build
	./target/debug/kulturplan migrate
	./target/debug/kulturplan seed
	@echo
	@echo "Docs:  http://$(BIND_ADDR)/docs/"
	@echo "Token (all scopes, 12 h):"
	@./target/debug/kulturplan token --scope admin --scope read --scope plans:write --scope follow_ups:write --ttl 12h --subject developer
	@echo
	./target/debug/kulturplan serve

## test: ensure PostgreSQL, then formatting, lints, every test, the generated clients and the contract fuzzing
test: db
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo test --all-targets
	python3 tools/check_seeds.py
	python3 tools/contract_clients.py
	python3 tools/fuzz_api.py

## contract: lint openapi/openapi.json, generate the Python and TypeScript clients, run the consumer programs
contract: db build
	python3 tools/contract_clients.py

## fuzz: schemathesis against the running service and openapi/openapi.json (FUZZ_EXAMPLES, FUZZ_SEED)
fuzz: db build
	python3 tools/fuzz_api.py

db:
	@scripts/ensure-postgres.sh

build:
	cargo build

## openapi: regenerate the committed OpenAPI document
openapi:
	cargo run -q -- openapi > openapi/openapi.json

check-seeds:
	python3 tools/check_seeds.py

## board-document: the seeded plan's board document as HTML, .xlsx, PDF and PNG (headless Chromium)
board-document: db build
	PNG=docs/board-document-2024.png scripts/render-board.sh $(PLAN_ID) $(YEAR)

## bench: the activity-list benchmark (large generated data set, release build, wrk beside pgbench)
bench: db
	python3 bench/activities.py

## bench-batch: time a 10,000-item follow-up batch beside a plain INSERT … ON CONFLICT (BENCHMARKS.md)
bench-batch: db
	bench/follow_ups_batch.sh

## bench-reports: the report benchmark (follow-up summary, collaboration matrix; wrk beside pgbench)
bench-reports: db
	bench/reports.sh

## bench-board: the board's document (HTML and .xlsx) for 6,000 activities, kept and computed
bench-board: db
	python3 bench/board.py

## bench-load: mixed load with a PostgreSQL restart in the middle, on a private cluster (BENCHMARKS.md)
bench-load:
	bench/load.sh

## bench-failover: three replicas behind HAProxy on a primary + synchronous standby; a replica killed, the primary failed over (BENCHMARKS.md)
bench-failover:
	bench/failover.sh
