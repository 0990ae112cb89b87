"""Webhook, moderation and schema guardrails on MCP tool calls through the real Envoy, with
the official `mcp` SDK as the client against real SDK servers (mcp_server.py): a webhook
refuses arguments before the call reaches the tool and withholds results (Streamable HTTP
and legacy HTTP+SSE), only the result's event waits for it, moderation flags are recorded,
and arguments breaking the tool's listed `inputSchema` are refused.

Each guardrail is scoped to a key of its own. The webhook (test_guardrails.WebhookServer)
denies any text with `hook-deny`; the mock's moderation endpoint flags `moderate:<category>`.
"""

import json
import secrets

import pytest
from mcp.client.client import Client
from mcp.client.sse import sse_client

from conftest import Stack, serving, sha256_hex, wait_until
from test_guardrails import guardrail_log, webhook  # noqa: F401 (`webhook` is a fixture, shared)
from test_mcp import GUARDRAIL_DENIED, McpServer, refused_call, run, session, slow_call_arrivals, text_of, url

KEY_HOOK = "tg-e2e-mcp-hook-" + secrets.token_hex(8)
KEY_MOD = "tg-e2e-mcp-mod-" + secrets.token_hex(8)
KEY_SCHEMA = "tg-e2e-mcp-schema-" + secrets.token_hex(8)


class McpGuardStack(Stack):
    def __init__(self, workdir, webhook_url):
        super().__init__(workdir)
        self.webhook_url = webhook_url
        self.tools = McpServer(workdir, "tools", env=self.env)
        self.legacy = McpServer(workdir, "legacy", transport="sse", env=self.env)
        self.processes += [self.tools.process, self.legacy.process]

    def config_yaml(self) -> str:
        moderation = f"url: http://127.0.0.1:{self.mock_port}/v1/moderations, " \
                     "credential: {env: MOCK_PROVIDER_KEY}, model: omni-moderation-latest, timeout: 2s"
        keys = "".join(
            f"  - id: e2e-mcp-{name}\n    sha256: {sha256_hex(key)}\n"
            "    mcp: {tools: {allow: [\"*\"]}, legacy: {allow: [\"*\"]}}\n"
            for name, key in (("hook", KEY_HOOK), ("mod", KEY_MOD), ("schema", KEY_SCHEMA))
        )
        return super().config_yaml() + keys + f"""mcp_servers:
  - name: tools
    url: {self.tools.url}
  - name: legacy
    url: {self.legacy.url}
    transport: sse
guardrails:
  checks:
    - name: mcp-hook
      scope: {{keys: [e2e-mcp-hook]}}
      webhook: {{url: "{self.webhook_url}", timeout: 1s, failure: closed}}
    - name: mcp-mod
      action: flag
      scope: {{keys: [e2e-mcp-mod]}}
      moderation: {{{moderation}}}
    - name: mcp-schema
      action: deny
      scope: {{keys: [e2e-mcp-schema]}}
      schema: {{targets: [tool_arguments, structured_output]}}
"""

    def start(self):
        super().start()
        self.tools.wait()
        self.legacy.wait()

    def mcp_entries(self) -> list:
        return [json.loads(e["mcp"]) for e in self.access_log_entries() if e.get("mcp") not in (None, "-")]


@pytest.fixture(scope="module")
def gw(tmp_path_factory, webhook):
    yield from serving(McpGuardStack(tmp_path_factory.mktemp("mcp-guard"), webhook.url))


def hook_calls(webhook, stage):
    return [c for c in webhook.calls if c["stage"] == stage and c["guardrail"] == "mcp-hook"]


# === webhooks ===


def test_the_webhook_reads_arguments_and_results_of_allowed_calls(gw, webhook):
    webhook.calls.clear()

    async def scenario():
        async with session(gw, key=KEY_HOOK) as client:
            return text_of(await client.call_tool("echo", {"text": "hello webhook"}))

    assert run(scenario()) == "hello webhook"
    inputs, outputs = hook_calls(webhook, "input"), hook_calls(webhook, "output")
    assert [json.loads(c["texts"][0]) for c in inputs] == [{"text": "hello webhook"}], webhook.calls
    assert inputs[0]["keyId"] == "e2e-mcp-hook"
    assert outputs and outputs[0]["texts"][0] == "hello webhook", webhook.calls


def test_a_webhook_denial_on_arguments_never_reaches_the_tool(gw, webhook):
    async def scenario():
        async with session(gw, key=KEY_HOOK) as client:
            return await refused_call(client, "echo", {"text": "please hook-deny this"})

    refused = run(scenario())
    assert refused.code == GUARDRAIL_DENIED
    assert "mcp-hook" in refused.message and "off_topic" in refused.message
    assert not any("hook-deny" in json.dumps(c) for c in gw.tools.calls()), gw.tools.calls()


def test_an_unreachable_fail_closed_webhook_refuses_the_call(gw):
    async def scenario():
        async with session(gw, key=KEY_HOOK) as client:
            return await refused_call(client, "echo", {"text": "hook-fail now"})

    refused = run(scenario())
    assert refused.code == GUARDRAIL_DENIED
    assert "mcp-hook" in refused.message and "unavailable" in refused.message, refused.message
    assert not any("hook-fail" in json.dumps(c) for c in gw.tools.calls())
    guardrail_log(gw, lambda log: log.get("webhook_failures") == ["mcp-hook"])


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_a_webhook_denial_on_a_result_withholds_it(gw, mode):
    async def scenario():
        async with session(gw, mode=mode, key=KEY_HOOK) as client:
            refused = await refused_call(client, "fetch", {"doc": "hooked"})
            plain = text_of(await client.call_tool("fetch", {"doc": "plain"}))
            return refused, plain

    refused, plain = run(scenario())
    assert refused.code == GUARDRAIL_DENIED and "mcp-hook" in refused.message
    assert "hook-deny" not in refused.message
    assert plain == "The build is green."
    assert {"tool": "fetch", "arguments": {"doc": "hooked"}} in gw.tools.calls(), "the tool ran"


def test_only_the_result_event_waits_for_the_webhook(gw, webhook):
    """The progress event still reaches the client while the tool runs; the result follows
    once the webhook allowed it."""
    webhook.calls.clear()
    arrivals = slow_call_arrivals(gw, KEY_HOOK)
    kinds = [message.get("method", "result") for _, message in arrivals]
    assert kinds == ["notifications/progress", "result"], arrivals
    assert arrivals[1][1]["result"]["content"][0]["text"] == "done"
    assert arrivals[1][0] - arrivals[0][0] > 1.0
    assert [c["texts"][0] for c in hook_calls(webhook, "output")] == ["done"]


def test_a_legacy_sse_server_holds_for_the_webhook_too(gw):
    async def scenario():
        transport = sse_client(url(gw, "legacy"), headers={"authorization": f"Bearer {KEY_HOOK}"})
        async with Client(transport, mode="legacy", cache=None) as client:
            echoed = text_of(await client.call_tool("echo", {"text": "old school"}))
            denied = await refused_call(client, "echo", {"text": "hook-deny in the arguments"})
            withheld = await refused_call(client, "fetch", {"doc": "hooked"})
            return echoed, denied, withheld

    echoed, denied, withheld = run(scenario())
    assert echoed == "old school"
    assert denied.code == GUARDRAIL_DENIED and withheld.code == GUARDRAIL_DENIED
    calls = gw.legacy.calls()
    assert not any("hook-deny" in json.dumps(c) for c in calls), calls
    assert {"tool": "fetch", "arguments": {"doc": "hooked"}} in calls


# === moderation ===


def test_moderation_flags_are_recorded_and_the_call_goes_on(gw):
    async def scenario():
        async with session(gw, key=KEY_MOD) as client:
            return text_of(await client.call_tool("echo", {"text": "moderate:harassment please"}))

    assert run(scenario()) == "moderate:harassment please"
    log = guardrail_log(gw, lambda log: any(v["guardrail"] == "mcp-mod" for v in log["verdicts"]))
    flags = {(v["stage"], v["category"], v["action"]) for v in log["verdicts"]}
    assert ("input", "harassment", "flag") in flags, log
    assert ("output", "harassment", "flag") in flags, log


# === schemas ===


def test_arguments_breaking_the_listed_input_schema_are_refused(gw):
    async def scenario():
        async with session(gw, key=KEY_SCHEMA) as client:
            await client.list_tools()
            refused = await refused_call(client, "echo", {"text": 42})
            missing = await refused_call(client, "echo", {})
            fine = text_of(await client.call_tool("echo", {"text": "schema ok"}))
            return refused, missing, fine

    refused, missing, fine = run(scenario())
    assert refused.code == GUARDRAIL_DENIED
    assert "mcp-schema" in refused.message and "/text" in refused.message, refused.message
    assert missing.code == GUARDRAIL_DENIED and "required" in missing.message, missing.message
    assert fine == "schema ok"
    texts = [c["arguments"].get("text") for c in gw.tools.calls() if c["tool"] == "echo"]
    assert 42 not in texts and "schema ok" in texts
    wait_until(lambda: any(e.get("decision") == "guardrail_denied" for e in gw.mcp_entries()), "refusal logged")
