"""`make bench`, MCP guardrails part: what webhook and schema guardrails add to one MCP
tool call.

Starts the stack of tests/e2e/test_mcp_guardrails.py (a real SDK server on loopback, the
webhook server of the guardrail e2e tests in this process) and calls `echo` with the
official SDK client in the stateless revision, in turn directly on the server, through the
gateway with a key whose webhook reads arguments and result (two callouts per call), and
with a key whose schema guardrail checks the arguments against the listed `inputSchema`.
Prints p50/p90/p99 of each and what the gateway adds. Not a test: nothing here asserts.
"""

import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "tests" / "e2e"))
sys.path.insert(0, str(ROOT))

import test_guardrails  # noqa: E402
import test_mcp  # noqa: E402
import test_mcp_guardrails as guarded  # noqa: E402
from bench_mcp import CALLS, WARMUP, client, quantile  # noqa: E402


async def measure(stack):
    gateway = test_mcp.url(stack, "tools")
    clients = {
        "direct": client(stack.tools.url, {}),
        "webhook": client(gateway, {"authorization": f"Bearer {guarded.KEY_HOOK}"}),
        "schema": client(gateway, {"authorization": f"Bearer {guarded.KEY_SCHEMA}"}),
    }
    times = {name: [] for name in clients}
    async with clients["direct"] as d, clients["webhook"] as w, clients["schema"] as s:
        await s.list_tools()  # the gateway learns the tools' schemas from a listing
        order = [("direct", d), ("webhook", w), ("schema", s)]
        for i in range(WARMUP + CALLS):
            # Rotating, so drift in the machine's load hits every side alike.
            for name, c in order[i % 3:] + order[:i % 3]:
                started = time.perf_counter()
                await c.call_tool("echo", {"text": f"call {i}"})
                if i >= WARMUP:
                    times[name].append((time.perf_counter() - started) * 1e6)
    return times


def main():
    webhook = test_guardrails.WebhookServer()
    stack = guarded.McpGuardStack(Path(tempfile.mkdtemp(prefix="tollgate-bench-mcp-guard-")), webhook.url)
    stack.start()
    try:
        times = asyncio.run(measure(stack))
    finally:
        stack.stop()
        webhook.stop()
    print(f"\nMCP tools/call (echo) with guardrails, SDK client, stateless revision, {CALLS} calls each")
    print(f"{'':10}{'p50 µs':>10}{'p90 µs':>10}{'p99 µs':>10}")
    for name, values in times.items():
        print(f"{name:10}{quantile(values, 50):>10.0f}{quantile(values, 90):>10.0f}{quantile(values, 99):>10.0f}")
    for name in ("webhook", "schema"):
        added = [quantile(times[name], q) - quantile(times["direct"], q) for q in (50, 90, 99)]
        print(f"{'+' + name:10}" + "".join(f"{a:>10.0f}" for a in added))


if __name__ == "__main__":
    main()
