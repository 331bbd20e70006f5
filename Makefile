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

# Mutation testing (docs/mutation.md): mutmut over the router's planning, execution, breakers,
# retry and policy parsing and the verifier's checks ([tool.mutmut] in pyproject.toml).
# CPU-heavy (20-40 minutes with one worker); not part of `make test` or CI.
MUTATION_CHILDREN ?= 1
.PHONY: mutation
mutation: $(STAMP)
	@$(PY) -c 'import mutmut' 2>/dev/null || $(PY) -m pip install -q -e '.[mutation]'
	rm -rf mutants
	$(VENV)/bin/mutmut run --max-children $(MUTATION_CHILDREN)
	$(PY) -m switchyard.tools.mutation_report \
		--command 'mutmut run --max-children $(MUTATION_CHILDREN)'

.PHONY: bench-peers
bench-peers: $(STAMP)
	@command -v h2load >/dev/null || (apt-get update -qq && apt-get install -y -qq nghttp2-client)
	@$(PY) -c 'import matplotlib' 2>/dev/null || $(PY) -m pip install -q -e '.[bench]'
	$(PY) -m bench.run --peers only

clean:
	rm -rf $(VENV) node_modules
