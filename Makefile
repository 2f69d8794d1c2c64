.PHONY: setup dev test lint format bench

setup:  ## install what is missing: Python deps, Temporal CLI, PostgreSQL, poppler
	bash scripts/bootstrap.sh

dev: setup  ## the whole system on embedded defaults (Ctrl-C stops it; data stays in var/)
	bash scripts/dev.sh

test: setup  ## the whole test suite against real servers
	.venv/bin/python -m pytest

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy .

format: setup
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

bench: setup  ## the benchmark harness: figures beside their budgets (bench/README.md)
	.venv/bin/python -m bench
