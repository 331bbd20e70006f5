# Switchyard: every target creates what it needs (.venv, node_modules) on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BUF := node_modules/.bin/buf
PROTO_SERVICES := registry router verifier controlplane

.PHONY: run test lint proto demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

$(BUF): package.json
	npm install --no-audit --no-fund --silent
	touch $(BUF)

venv: $(STAMP)

run: $(STAMP)
	$(PY) -m switchyard.cli.main run

demo: $(STAMP)
	$(PY) -m switchyard.cli.main demo

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP) $(BUF)
	cd protos && ../$(BUF) lint
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# Generated code is committed; tests/test_proto_drift.py fails when it differs from this output.
proto: $(STAMP)
	$(PY) -m switchyard.tools.genproto

# Load tests (docs/bench.md). h2load comes from Debian's nghttp2-client, matplotlib draws the
# chart; the peer gateways install themselves under bench/.peers/ (BENCH_PEERS=skip: none).
bench: $(STAMP)
	@command -v h2load >/dev/null || (apt-get update -qq && apt-get install -y -qq nghttp2-client)
	@$(PY) -c 'import matplotlib' 2>/dev/null || $(PY) -m pip install -q -e '.[bench]'
	$(PY) -m bench.registry_bench
	$(PY) -m bench.verifier_bench --seconds 6
	$(PY) -m bench.run

.PHONY: bench-peers
bench-peers: $(STAMP)
	@command -v h2load >/dev/null || (apt-get update -qq && apt-get install -y -qq nghttp2-client)
	@$(PY) -c 'import matplotlib' 2>/dev/null || $(PY) -m pip install -q -e '.[bench]'
	$(PY) -m bench.run --peers only

clean:
	rm -rf $(VENV) node_modules

# Chaos under load (docs/chaos.md): the real suite at a steady 100 req/s through model
# faults (a 10-minute soak), kill -9 of each service, a model-server outage, bad policy
# pushes and client cancellations; ~14 min. CHAOS_ARGS="--soak-s 120" for a shorter soak.
.PHONY: chaos
chaos: $(STAMP)
	$(PY) -m bench.chaos $(CHAOS_ARGS)
