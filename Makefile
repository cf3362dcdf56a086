# The two commands of the contract: `make run` and `make test`. Both create .venv and install
# everything first, so they work on a clean checkout.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Real servers the integration tests start on loopback, from Debian packages.
# postgresql: its initdb/pg_ctl live in /usr/lib/postgresql/<major>/bin, off the PATH.
# qemu-user: emulates an AVX2-only CPU, to check that int8 answers do not depend on the CPU kind.
SYSTEM_PACKAGES := redis-server nginx-light chromium wrk postgresql qemu-user
SYSTEM_BINARIES := redis-server nginx chromium wrk initdb qemu-x86_64

.PHONY: setup system-deps run test lint bench clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: the local CPU build, never a multi-GB CUDA one.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[serve,plots,train,dev,batch,lifecycle]'
	touch $(STAMP)

setup: $(STAMP)

# Under CI (CI set, and not empty, 0, false or no: the rule tests/servers.py applies) the tests that
# need these packages fail rather than skip, so a failed install stops `make test` here with its reason.
system-deps:
	@missing=""; for b in $(SYSTEM_BINARIES); do command -v $$b >/dev/null || [ -x /usr/sbin/$$b ] || ls /usr/lib/postgresql/*/bin/$$b >/dev/null 2>&1 || missing=1; done; \
	case "$$(printf '%s' "$${CI:-}" | tr -d '[:space:]' | tr '[:upper:]' '[:lower:]')" in ""|0|false|no) ci="";; *) ci=1;; esac; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES)) >/dev/null \
				|| if [ -n "$$ci" ]; then echo "could not install $(SYSTEM_PACKAGES); CI runs every test that needs them" >&2; exit 1; \
				else echo "could not install $(SYSTEM_PACKAGES); the tests that need them will say so and skip"; fi; \
		elif [ -n "$$ci" ]; then echo "install $(SYSTEM_PACKAGES) (Debian packages): CI runs every test that needs them, and only root can install them here" >&2; exit 1; \
		else echo "install $(SYSTEM_PACKAGES) (Debian packages) for the integration tests"; fi; \
	fi

run: setup
	@echo "moodline: serving the bundled model on http://127.0.0.1:8000 (docs at /docs; Ctrl-C stops it)"
	$(BIN)/moodline serve --host 127.0.0.1 --port 8000

# Lint first: the layers contract and the types are part of what a green run promises.
test: setup system-deps lint
	$(BIN)/python -m pytest

# ruff (style, imports), mypy (strict on src/), lint-imports (the layers contract in pyproject.toml).
lint: setup
	$(BIN)/ruff check src tests benchmarks loadtests scripts
	$(BIN)/ruff format --check src tests benchmarks loadtests scripts
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: setup
	$(BIN)/python benchmarks/engine.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
