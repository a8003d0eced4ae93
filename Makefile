# Parley: two commands matter on a fresh machine, `make run` and `make test`. See README.md.
SHELL := /bin/bash
.PHONY: help setup run test check lint typecheck unit infra-up infra-down infra-status infra-reset constraints clean bench bench-quick faults
PYTHON_BASE ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# pip shows setuptools' notice on every editable install ("Editable installation ... be careful with folders
# ... with the same name as your package") as a warning block. That one notice is filtered out; pip's other
# warnings and its errors still show.
PIP_EDITABLE := PYTHONWARNINGS='ignore:Editable installation' $(PY) -m pip install -q


help:
	@echo "make run          set up, start Kafka + FerretDB (on PostgreSQL) + every service, print the dashboard URL"
	@echo "make test         set up, start the infrastructure, run ruff, mypy and the whole test suite"
	@echo "make bench        the load ladder + bare-library baseline (bench-quick: under three minutes)"
	@echo "make faults       crash every service, restart the broker and the databases under load; check nothing is lost"
	@echo "make infra-up|infra-down|infra-status|infra-reset   the local Kafka broker, FerretDB and its PostgreSQL"

$(VENV)/.installed: pyproject.toml constraints.txt
	@echo "[parley] Installing Python dependencies into $(VENV) ..."
	@test -x $(PY) || $(PYTHON_BASE) -m venv $(VENV) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PIP_EDITABLE) -c constraints.txt -e '.[dev]'
	@touch $@

setup: $(VENV)/.installed
	@deploy/local/install.sh
	@deploy/local/install-browser.sh

run: setup
	@deploy/local/with-infra.sh --stop-on-interrupt deploy/local/run-services.sh

test: setup
	@deploy/local/with-infra.sh $(MAKE) --no-print-directory check

check: lint typecheck
	$(PY) -m pytest

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck:
	$(VENV)/bin/mypy shared services tests bench

unit: setup
	$(PY) -m pytest tests/unit

# The benchmark and the fault tests drive a stack of their own (isolated topics and database).
$(VENV)/.bench-installed: $(VENV)/.installed
	@$(PIP_EDITABLE) -c constraints.txt -e '.[bench]'
	@touch $@

bench: setup $(VENV)/.bench-installed
	@deploy/local/with-infra.sh $(PY) -m bench

bench-quick: setup $(VENV)/.bench-installed
	@deploy/local/with-infra.sh $(PY) -m bench --quick

faults: setup
	@deploy/local/with-infra.sh $(PY) -m bench.faults

infra-up: setup
	@deploy/local/infra.sh up
infra-down:
	@deploy/local/infra.sh down
infra-status:
	@deploy/local/infra.sh status
infra-reset:
	@deploy/local/infra.sh reset

# Refresh the pinned versions after changing pyproject.toml.
constraints:
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) .local .pytest_cache .mypy_cache .ruff_cache
