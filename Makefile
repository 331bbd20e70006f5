# Switchyard: every target creates what it needs (.venv, node_modules) on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BUF := node_modules/.bin/buf
PROTO_SERVICES := registry router verifier controlplane

.PHONY: run test lint lint-proto api-baseline proto demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

$(BUF): package.json
	npm install --no-audit --no-fund --silent
	touch $(BUF)

venv: $(STAMP)

# TLS=1: TLS on every gRPC service and channel, certificates under var/certs (written
# when missing); MTLS=1: mutual TLS as well (docs/security.md). `make demo` takes the same.
on = $(filter 1 yes true,$(1))
RUN_TLS := $(if $(call on,$(MTLS)),--mtls,$(if $(call on,$(TLS)),--tls))
DEMO_TLS := $(if $(RUN_TLS),--tls-ca var/certs/ca.pem) \
	$(if $(call on,$(MTLS)),--tls-cert var/certs/client.pem --tls-key var/certs/client-key.pem)

run: $(STAMP)
	$(PY) -m switchyard.cli.main run $(RUN_TLS)

demo: $(STAMP)
	$(PY) -m switchyard.cli.main demo $(DEMO_TLS)

# promtool first (the rule tests run it); where it cannot be installed (no root) those
# tests skip, saying why, except in CI (SWITCHYARD_REQUIRE_CLIENTS=1), where they fail.
test: $(STAMP)
	@$(MAKE) -s prometheus-tool || echo "make test: cannot install Debian's prometheus" \
		"(needs root and apt-get); the promtool tests will skip" >&2
	$(PY) -m pytest -q

lint: $(STAMP) lint-proto
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# Generated code and docs/api.md are committed; tests/test_proto_drift.py and
# tests/test_api_docs.py fail when they differ from this output.
proto: $(STAMP)
	$(PY) -m switchyard.tools.genproto
	$(PY) -m switchyard.tools.apidoc

# Load tests (docs/bench.md). h2load comes from Debian's nghttp2-client, matplotlib draws the
# chart; the peer gateways install themselves under bench/.peers/ (BENCH_PEERS=skip: none).
bench: $(STAMP)
	@command -v h2load >/dev/null || (apt-get update -qq && apt-get install -y -qq nghttp2-client)
	@$(PY) -c 'import matplotlib' 2>/dev/null || $(PY) -m pip install -q -e '.[bench]'
	$(PY) -m bench.registry_bench
	$(PY) -m bench.verifier_bench --seconds 6
	$(PY) -m bench.run

# Overload (docs/bench.md): a free-tier flood beside enterprise callers, the router's adaptive
# concurrency limit off and then on; about a minute.
.PHONY: bench-overload
bench-overload: $(STAMP)
	$(PY) -m bench.overload

# Held-out routing quality on ../shared/data (docs/evaluation.md): one table, a JSON and a
# PNG under bench/results/; matplotlib (the bench extra) draws the chart. A team's own data:
# make bench-quality DATASET=var/mine.jsonl FLEET=my-fleet.yaml [QUALITY_ARGS="--map a=b"]
.PHONY: bench-quality
bench-quality: $(STAMP)
	@$(PY) -c 'import matplotlib' 2>/dev/null || $(PY) -m pip install -q -e '.[bench]'
	$(PY) -m bench.quality $(if $(DATASET),--dataset $(DATASET)) $(if $(FLEET),--fleet $(FLEET)) $(QUALITY_ARGS)
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

# promtool and the Prometheus server from Debian's `prometheus` package (needs root, as CI
# and the dev container are): the rule tests run promtool, `make observe` the server.
.PHONY: prometheus-tool observe
prometheus-tool:
	@if command -v promtool >/dev/null && command -v prometheus >/dev/null; then :; else \
		echo "prometheus-tool: installing Debian's prometheus package"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus; \
	fi

# A real Prometheus on http://127.0.0.1:9090 scraping the suite `make run` started (run that
# first, in another terminal), with the rules of deploy/prometheus (docs/observability.md).
observe: $(STAMP) prometheus-tool
	$(PY) -m switchyard.tools.observe

# The API's lint and breaking-change check (docs/api-evolution.md). PROTOS points at another
# copy of the protos (tests/test_api_breaking.py uses one); the baseline image is the
# last released API, committed beside them.
PROTOS ?= protos
API_BASELINE ?= $(PROTOS)/baseline.binpb
lint-proto: $(BUF)
	$(BUF) lint $(PROTOS)
	$(BUF) breaking $(PROTOS) --against $(API_BASELINE)

# Run at a release: the current protos become the baseline that later changes must keep.
api-baseline: $(BUF)
	$(BUF) build $(PROTOS) --exclude-source-info -o $(API_BASELINE)

# Generated clients (clients/README.md). Each is built from protos/ into a gitignored
# folder and rebuilt only when its inputs change; tests/clients/ runs these targets.
PROTO_FILES := $(shell find protos -name '*.proto')
TS_DIR := clients/typescript
TS_BUILT := $(TS_DIR)/dist/.built

$(TS_DIR)/node_modules/.installed: $(TS_DIR)/package.json $(TS_DIR)/package-lock.json
	cd $(TS_DIR) && npm ci --no-audit --no-fund --silent
	touch $@

$(TS_BUILT): $(TS_DIR)/node_modules/.installed $(PROTO_FILES) $(wildcard $(TS_DIR)/src/*.ts) \
		$(TS_DIR)/buf.gen.yaml $(TS_DIR)/tsconfig.json $(wildcard clients/third_party/googleapis/google/rpc/*.proto)
	cd $(TS_DIR) && npm run --silent build
	touch $@

.PHONY: client-ts
client-ts: $(TS_BUILT)

# The C++ client is built with Debian's gRPC (clients/cpp/README.md): cpp-toolchain installs
# it when something is missing (needs root: CI and the dev container are), client-cpp
# configures once and lets CMake rebuild only what changed under clients/cpp/build/.
CPP_DIR := clients/cpp
CPP_BUILD := $(CPP_DIR)/build
CPP_PACKAGES := protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev \
	pkg-config cmake g++

.PHONY: cpp-toolchain client-cpp
cpp-toolchain:
	@if command -v protoc >/dev/null && command -v grpc_cpp_plugin >/dev/null \
		&& command -v cmake >/dev/null && command -v g++ >/dev/null \
		&& command -v pkg-config >/dev/null && pkg-config --exists grpc++ protobuf; then :; \
	else \
		echo "cpp-toolchain: installing $(CPP_PACKAGES)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(CPP_PACKAGES); \
	fi

client-cpp: cpp-toolchain
	@test -f $(CPP_BUILD)/CMakeCache.txt || cmake -S $(CPP_DIR) -B $(CPP_BUILD) >/dev/null
	cmake --build $(CPP_BUILD) --target switchyard_route_example -j2

# Chaos under load (docs/chaos.md): the real suite at a steady 100 req/s through model
# faults (a 10-minute soak), kill -9 of each service, a model-server outage, bad policy
# pushes and client cancellations; ~14 min. CHAOS_ARGS="--soak-s 120" for a shorter soak.
.PHONY: chaos
chaos: $(STAMP)
	$(PY) -m bench.chaos $(CHAOS_ARGS)
