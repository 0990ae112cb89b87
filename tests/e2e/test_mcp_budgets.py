"""MCP calls against budgets and rate limits, through the real Envoy and the real service,
with the official `mcp` SDK as the client against real SDK servers (mcp_server.py): a priced
tool call spends its key's budget until the next call is refused with a JSON-RPC error and
never reaches the server, on Streamable HTTP and on the legacy HTTP+SSE transport; the
service's budget state counts the spending (once: this Envoy's own records are left out of
what the poll brings back); MCP requests count toward the key's and the agent's requests per
minute, refused with a 429 and a JSON-RPC error body."""

import json
import secrets
import sqlite3
import time

import httpx
import pytest
from mcp.client.client import Client
from mcp.client.sse import sse_client
from mcp.shared.exceptions import MCPError

from conftest import serving, sha256_hex, wait_until
from test_guardrails import webhook  # noqa: F401 (`webhook` is a fixture, shared)
from test_mcp import GUARDRAIL_DENIED, RATE_LIMITED, McpServer, refused_call, run, session, text_of, url
from test_usage_shipping import INGEST_HEADER, UsageStack

BUDGET_EXCEEDED = -32007
# Nano-dollars per call: `echo` is dear, every other tool cheap (the server-wide price).
ECHO_NANO, OTHER_NANO = 1_000_000, 100_000
# Room for two echo calls and a half.
BUDGET_NANO = 2_500_000

# Test keys: id -> (plaintext, YAML of the key's other fields).
KEYS = {
    "mb-priced": "mcp: {paid: {allow: ['*']}}",
    "mb-legacy": "mcp: {paid-legacy: {allow: ['*']}}",
    "mb-hooked": "mcp: {paid: {allow: ['*']}}",
    "mb-rpm": "rate_limits: {requests_per_minute: 3}, mcp: {paid: {allow: ['*']}}",
    "mb-agents": "rate_limits: {requests_per_minute: 100, per_agent: {requests_per_minute: 2}}, "
                 "mcp: {paid: {allow: ['*']}}",
    "mb-rpm-sdk": "rate_limits: {requests_per_minute: 4}, mcp: {paid: {allow: ['*']}}",
}
KEYS = {id: ("tg-e2e-" + id + "-" + secrets.token_hex(8), rest) for id, rest in KEYS.items()}


def key(id: str) -> str:
    return KEYS[id][0]


class McpBudgetStack(UsageStack):
    def __init__(self, workdir, webhook_url):
        super().__init__(workdir, "{flush_interval: 100ms, timeout: 1s, backoff: {base: 100ms, max: 500ms}}")
        self.webhook_url = webhook_url
        self.paid = McpServer(workdir, "paid", env=self.env)
        self.legacy = McpServer(workdir, "paid-legacy", transport="sse", env=self.env)
        self.processes += [self.paid.process, self.legacy.process]

    def config_yaml(self) -> str:
        keys = "".join(f"  - {{id: {id}, sha256: {sha256_hex(plain)}, {rest}}}\n"
                       for id, (plain, rest) in KEYS.items())
        servers = f"""mcp_servers:
  - name: paid
    url: {self.paid.url}
    price_per_call_usd: {OTHER_NANO / 1e9}
    tool_prices:
      - {{tool: echo, price_per_call_usd: {ECHO_NANO / 1e9}}}
  - name: paid-legacy
    url: {self.legacy.url}
    transport: sse
    price_per_call_usd: {ECHO_NANO / 1e9}
"""
        return super().config_yaml().replace("control_plane:", keys + servers + "control_plane:", 1) + f"""
budgets:
  poll_interval: 200ms
  limits:
    - {{id: mcp-key, key: mb-priced, limit_usd: {BUDGET_NANO / 1e9}, period: daily}}
    - {{id: mcp-legacy, key: mb-legacy, limit_usd: {ECHO_NANO / 2e9}}}
    - {{id: mcp-hooked, key: mb-hooked, limit_usd: {ECHO_NANO * 1.5 / 1e9}}}
guardrails:
  checks:
    - name: mcp-hook
      scope: {{keys: [mb-hooked]}}
      webhook: {{url: "{self.webhook_url}", timeout: 1s, failure: closed}}
"""

    def start(self):
        super().start()
        self.paid.wait()
        self.legacy.wait()

    def budget_spent(self, budget_id: str) -> int:
        state = httpx.get(f"{self.service_url}/v1/budgets/state", headers={INGEST_HEADER: self.ingest_key})
        assert state.status_code == 200, state.text
        return next(b["spent_nano_usd"] for b in state.json()["budgets"] if b["id"] == budget_id)

    def tool_steps(self, key_id: str) -> list:
        """The stored tool-call step records of `key_id`."""
        if not self.database.exists():
            return []
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as db:
            rows = db.execute("SELECT record FROM usage_records WHERE key_id = ?", (key_id,))
            records = [json.loads(text) for (text,) in rows]
        return [r for r in records if r.get("kind") == "tool"]


@pytest.fixture(scope="module")
def mcp_budgets(tmp_path_factory, webhook):
    for stack in serving(McpBudgetStack(tmp_path_factory.mktemp("mcp-budgets"), webhook.url)):
        stack.start_service()
        yield stack


# === prices against budgets ===


def test_priced_calls_spend_the_budget_until_the_next_is_refused_before_the_server(mcp_budgets):
    async def calls():
        async with session(mcp_budgets, "paid", key=key("mb-priced")) as client:
            echoed = [text_of(await client.call_tool("echo", {"text": f"paid-{i}"})) for i in range(2)]
            refused = await refused_call(client, "echo", {"text": "paid-2"})
            return echoed, refused

    echoed, refused = run(calls())
    assert echoed == ["paid-0", "paid-1"]
    assert refused.code == BUDGET_EXCEEDED, refused
    assert "Budget 'mcp-key' is exhausted" in refused.message
    texts = [c["arguments"]["text"] for c in mcp_budgets.paid.calls() if c["tool"] == "echo"]
    assert texts == ["paid-0", "paid-1"], "the refused call never reached the server"

    # The service counts the two calls that ran: their step records carry the price.
    wait_until(lambda: mcp_budgets.budget_spent("mcp-key") == 2 * ECHO_NANO, "the tool calls' spend")
    wait_until(lambda: len(mcp_budgets.tool_steps("mb-priced")) == 3, "the three tool steps")
    costs = sorted((s["cost_nano_usd"] or 0) for s in mcp_budgets.tool_steps("mb-priced"))
    assert costs == [0, ECHO_NANO, ECHO_NANO]

    # Once the poll has brought the service's count back, this Envoy does not count its own
    # calls twice: a cheap call still fits (2.0 + 0.1 of 2.5 spent), an echo does not.
    time.sleep(1)

    async def after_the_poll():
        async with session(mcp_budgets, "paid", key=key("mb-priced")) as client:
            cheap = text_of(await client.call_tool("read_file", {"path": "cheap"}))
            refused = await refused_call(client, "echo", {"text": "paid-3"})
            return cheap, refused

    cheap, refused = run(after_the_poll())
    assert cheap == "contents of cheap"
    assert refused.code == BUDGET_EXCEEDED
    wait_until(lambda: mcp_budgets.budget_spent("mcp-key") == 2 * ECHO_NANO + OTHER_NANO, "the cheap call's spend")


def test_a_legacy_sse_client_reads_the_budget_refusal_from_its_event_stream(mcp_budgets):
    async def call():
        transport = sse_client(url(mcp_budgets, "paid-legacy"), headers={"authorization": f"Bearer {key('mb-legacy')}"})
        async with Client(transport, mode="legacy", cache=None) as client:
            listed = sorted(t.name for t in (await client.list_tools()).tools)
            return listed, await refused_call(client, "echo", {"text": "too dear"})

    listed, refused = run(call())
    assert "echo" in listed, "lists are free"
    assert refused.code == BUDGET_EXCEEDED, refused
    assert "Budget 'mcp-legacy' is exhausted" in refused.message
    assert mcp_budgets.legacy.calls() == []


def test_a_call_the_webhook_refuses_gives_its_price_back(mcp_budgets):
    """The price is held before the argument callouts run; their refusal must release it,
    or the budget (room for one call and a half) could not pay for the next call."""
    async def calls():
        async with session(mcp_budgets, "paid", key=key("mb-hooked")) as client:
            refused = await refused_call(client, "echo", {"text": "please hook-deny this"})
            return refused, text_of(await client.call_tool("echo", {"text": "allowed"}))

    refused, echoed = run(calls())
    assert refused.code == GUARDRAIL_DENIED, refused
    assert echoed == "allowed"
    wait_until(lambda: mcp_budgets.budget_spent("mcp-hooked") == ECHO_NANO, "only the call that ran is spent")


# === requests per minute ===


def post_ping(stack, key_id: str, agent: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {key(key_id)}", "accept": "application/json, text/event-stream"}
    if agent:
        headers["x-tollgate-agent-id"] = agent
    return httpx.post(url(stack, "paid"), json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=headers)


def test_mcp_posts_count_toward_the_keys_requests_per_minute(mcp_budgets):
    answers = [post_ping(mcp_budgets, "mb-rpm") for _ in range(3)]
    assert all(a.status_code != 429 for a in answers), [(a.status_code, a.text) for a in answers]
    limited = post_ping(mcp_budgets, "mb-rpm")
    assert limited.status_code == 429, limited.text
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["content-type"] == "application/json"
    error = limited.json()
    assert error["jsonrpc"] == "2.0" and error["id"] is None
    assert error["error"]["code"] == RATE_LIMITED
    assert "3 requests per minute for this key" in error["error"]["message"]
    # A GET stream or a DELETE carries no work: not counted, never refused for the rate.
    headers = {"authorization": f"Bearer {key('mb-rpm')}", "accept": "text/event-stream"}
    for method in ("GET", "DELETE"):
        answer = httpx.request(method, url(mcp_budgets, "paid"), headers=headers, timeout=5)
        assert answer.status_code != 429, (method, answer.status_code)


def test_mcp_posts_count_toward_each_agents_requests_per_minute(mcp_budgets):
    assert [post_ping(mcp_budgets, "mb-agents", "planner").status_code != 429 for _ in range(2)] == [True, True]
    limited = post_ping(mcp_budgets, "mb-agents", "planner")
    assert limited.status_code == 429
    assert "2 requests per minute for this agent" in limited.json()["error"]["message"]
    assert post_ping(mcp_budgets, "mb-agents", "coder").status_code != 429, "another agent has its own"


def test_an_sdk_client_over_its_keys_rate_gets_the_json_rpc_error(mcp_budgets):
    async def calls():
        # The SDK's own requests (initialize, its notification, a tools/list it may send)
        # count too: call until refused, within the key's four.
        ran = []
        async with session(mcp_budgets, "paid", key=key("mb-rpm-sdk")) as client:
            for i in range(4):
                try:
                    ran.append(text_of(await client.call_tool("read_file", {"path": f"rpm-{i}"})))
                except MCPError as refused:
                    return ran, refused
        return ran, None

    ran, refused = run(calls())
    assert ran and refused is not None, ran
    assert refused.code == RATE_LIMITED, refused
    assert "4 requests per minute for this key" in refused.message
    paths = [c["arguments"]["path"] for c in mcp_budgets.paid.calls() if c["tool"] == "read_file"]
    assert f"rpm-{len(ran)}" not in paths and f"rpm-{len(ran) - 1}" in paths
