"""`make bench`, MCP part: the latency Tollgate adds to one MCP tool call.

Starts the e2e MCP stack (tests/e2e/test_mcp.py: real SDK servers on loopback, Envoy with
two workers, the MCP filter with scopes, pins and the e2e guardrail set), then calls the
`echo` tool with the official SDK client in the stateless 2026-07-28 revision (one POST per
call), alternately directly on a server and through the gateway, a bounded number of times,
and prints p50/p90/p99 of both and the difference. Not a test: nothing here asserts.
"""

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

import httpx2  # noqa: E402
from mcp.client.client import Client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

import test_mcp  # noqa: E402

CALLS = int(os.environ.get("BENCH_MCP_CALLS", "400"))
WARMUP = 50


def client(url, headers):
    http = httpx2.AsyncClient(headers=headers, timeout=30)
    return Client(streamable_http_client(url, http_client=http), mode="2026-07-28", cache=None)


async def measure(stack):
    direct = client(stack.replicas[0].url, {})
    gateway = client(test_mcp.url(stack, "tools"), {"authorization": f"Bearer {test_mcp.KEY_MCP}"})
    times = {"direct": [], "gateway": []}
    async with direct as d, gateway as g:
        for i in range(WARMUP + CALLS):
            # Alternating, so drift in the machine's load hits both sides alike.
            for name, c in (("direct", d), ("gateway", g)) if i % 2 else (("gateway", g), ("direct", d)):
                started = time.perf_counter()
                await c.call_tool("echo", {"text": f"call {i}"})
                if i >= WARMUP:
                    times[name].append((time.perf_counter() - started) * 1e6)
    return times


def quantile(values, q):
    return statistics.quantiles(values, n=100)[q - 1]


def main():
    stack = test_mcp.McpStack(Path(tempfile.mkdtemp(prefix="tollgate-bench-mcp-")))
    stack.start()
    try:
        times = asyncio.run(measure(stack))
    finally:
        stack.stop()
    print(f"\nMCP tools/call (echo), SDK client, stateless revision, {CALLS} calls each, sequential")
    print(f"{'':10}{'p50 µs':>10}{'p90 µs':>10}{'p99 µs':>10}")
    for name, values in times.items():
        print(f"{name:10}{quantile(values, 50):>10.0f}{quantile(values, 90):>10.0f}{quantile(values, 99):>10.0f}")
    added = [quantile(times["gateway"], q) - quantile(times["direct"], q) for q in (50, 90, 99)]
    print(f"{'added':10}" + "".join(f"{a:>10.0f}" for a in added))


if __name__ == "__main__":
    main()
