.PHONY: setup dev test test-prod-temporal lint format docs bench temporal-prod lock openapi

setup:  ## install what is missing: Python deps, Temporal CLI, PostgreSQL, poppler
	bash scripts/bootstrap.sh

dev: setup  ## the whole system on embedded defaults (Ctrl-C stops it; data stays in var/)
	bash scripts/dev.sh

# The suite runs on TEST_WORKERS pytest-xdist workers, each with servers of its own on free
# ports (903 tests in 7 min 49 s on this 2-core machine with 2: tests mostly wait on servers).
# A module marked xdist_group stays on one worker. TEST_WORKERS=1 runs it in one process.
TEST_WORKERS ?= 2
test: setup  ## the whole test suite against real servers
	.venv/bin/python -m pytest $(if $(filter 1,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadgroup)

# The production-shaped Temporal server (devstack/temporal_prod.py): built only by the targets
# that need it, so `make test` never waits for Go.
temporal-prod: setup  ## build the Temporal server (devstack/temporal_prod.py's version) and its SQL schema tool into .tools/bin
	.venv/bin/python -m devstack.temporal_prod build

test-prod-temporal: temporal-prod  ## workflow, booking-flow and privacy tests against it
	.venv/bin/python -m pytest --temporal=prod tests/workflows tests/api/test_booking_flow.py tests/api/test_privacy.py

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy .

format: setup
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

# The lock files every install reads (bootstrap, Dockerfile, CI), from pyproject.toml: pins kept
# where they still fit; `make lock UPGRADE=1` takes the newest versions allowed.
LOCK = .venv/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade)
lock: setup  ## rewrite requirements.lock (the image's) and requirements-dev.lock (setup's)
	$(LOCK) --extra valkey --extra tracing -o requirements.lock pyproject.toml
	$(LOCK) --extra valkey --extra tracing --extra dev -o requirements-dev.lock pyproject.toml

openapi: setup  ## rewrite openapi.json from the app (tests/api/test_openapi.py compares them)
	.venv/bin/python -m scripts.openapi

docs: setup  ## the documentation site from docs/ into site/; a broken link fails the build
	.venv/bin/mkdocs build --strict

# BENCH_SERVERS=dev,prod runs every scenario against the dev server, then against the
# production-shaped server, side by side; BENCH_ARGS passes more options (bench/README.md).
BENCH_SERVERS ?= dev
bench: setup $(if $(findstring prod,$(BENCH_SERVERS)),temporal-prod)  ## the benchmark harness: figures beside their budgets (bench/README.md)
	.venv/bin/python -m bench --servers $(BENCH_SERVERS) $(BENCH_ARGS)
