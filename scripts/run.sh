#!/usr/bin/env bash
# `make run`: the demo gateway on loopback.
# Starts the built-in demo provider (the project's mock provider, which speaks the real
# OpenAI and Anthropic wire formats) and the control plane, which serves the embedded
# default config (or $TOLLGATE_CONFIG, whose edits it pushes live) to Envoy over xDS and
# runs Envoy with tollgate.wasm, plus the usage service. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${TOLLGATE_BIN:?run through make}" "${TOLLGATE_WASM:?}" "${TOLLGATE_ENVOY:?}"
DEMO_PORT=9010

# The demo provider's credential: Envoy injects it upstream, clients never see it.
export TOLLGATE_DEMO_PROVIDER_KEY="demo-provider-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
# The key Envoy ships usage records to the control plane with (default config).
export TOLLGATE_INGEST_KEY="${TOLLGATE_INGEST_KEY:-ingest-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}"

"$TOLLGATE_BIN/mock-provider" --listen "127.0.0.1:$DEMO_PORT" &
demo_pid=$!
trap 'kill "$demo_pid" 2>/dev/null || true' EXIT

"$TOLLGATE_BIN/tollgate" run \
  ${TOLLGATE_CONFIG:+--config "$TOLLGATE_CONFIG"} \
  --wasm "$TOLLGATE_WASM" --envoy "$TOLLGATE_ENVOY" --workdir .run
