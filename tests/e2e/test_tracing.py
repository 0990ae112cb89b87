"""Agent run tracing through the real Envoy and tollgate.wasm: W3C trace context in and out,
a scripted five-step agent run stored as one run of linked steps with correct totals, an
MCP tool call through the gateway as a step linked to the LLM step that asked for it, and
zero data retention (no payload text in the usage database or Envoy's access log)."""

import asyncio
import json
import re
import secrets
import subprocess

import httpx
import httpx2
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

from conftest import BIN, KEY_ALL, PRICE_OVERRIDES, serving, sha256_hex, wait_until
from test_mcp import McpServer, text_of
from test_usage_shipping import INGEST_HEADER, UsageStack

KEY_FULL = "tg-e2e-full-" + secrets.token_hex(8)
KEY_ZDR = "tg-e2e-zdr-" + secrets.token_hex(8)
KEY_AGENT = "tg-e2e-agent-" + secrets.token_hex(8)
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
SEARCH_TOOL = {"type": "function", "function": {
    "name": "search", "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}}


class TracingStack(UsageStack):
    """The usage stack plus a key per capture mode, an alias with zero retention, and an
    MCP server an agent key may call `echo` on."""

    def __init__(self, workdir, usage: str):
        super().__init__(workdir, usage)
        self.tools = McpServer(workdir, "tools", env=self.env)
        self.processes.append(self.tools.process)

    def start(self):
        super().start()
        self.tools.wait()

    def config_yaml(self) -> str:
        head, control_plane = super().config_yaml().split("\ncontrol_plane:", 1)
        head = head.replace(
            "\nmodels:\n",
            "\nmodels:\n  - {alias: gpt-zdr, provider: mock-openai, model: mock-gpt-upstream, payload_capture: none}\n",
            1,
        )
        keys = (
            f"  - {{id: e2e-full, sha256: {sha256_hex(KEY_FULL)}, models: ['*'], payload_capture: full}}\n"
            f"  - {{id: e2e-zdr, sha256: {sha256_hex(KEY_ZDR)}, models: ['*'], payload_capture: none}}\n"
            f"  - {{id: e2e-agent, sha256: {sha256_hex(KEY_AGENT)}, models: ['*'], mcp: {{tools: {{allow: [echo]}}}}}}\n"
        )
        servers = f"mcp_servers:\n  - {{name: tools, url: {self.tools.url}}}\n"
        return head.rstrip("\n") + "\n" + keys + servers + "control_plane:" + control_plane

    def run(self, run_id: str) -> httpx.Response:
        return httpx.get(f"{self.service_url}/v1/runs/{run_id}", headers={INGEST_HEADER: self.ingest_key})

    def logged_record(self, run_id: str) -> dict:
        """The one usage record of a run in Envoy's access log, once it is there."""
        found = lambda: [r for r in self.usage_records() if r.get("run_id") == run_id]
        wait_until(found, f"the record of run {run_id} in the access log")
        [record] = found()
        return record

    def stored_run(self, run_id: str, steps: int) -> dict:
        wait_until(lambda: self.run(run_id).status_code == 200 and self.run(run_id).json()["steps"] >= steps,
                   f"{steps} steps of run {run_id} stored")
        return self.run(run_id).json()


@pytest.fixture(scope="module")
def tracing(tmp_path_factory):
    usage = "{flush_interval: 100ms, timeout: 1s, batch_records: 20, backoff: {base: 100ms, max: 500ms}}"
    yield from serving_with_service(TracingStack(tmp_path_factory.mktemp("tracing"), usage))


def serving_with_service(stack):
    for started in serving(stack):
        stack.start_service()
        yield started


def chat(stack, body: dict, key: str = KEY_ALL, **headers) -> httpx.Response:
    return httpx.post(
        f"{stack.base_url}/v1/chat/completions", json=body,
        headers={"authorization": f"Bearer {key}", **headers}, timeout=30,
    )


def streamed_usage(text: str) -> dict:
    """The usage chunk of an OpenAI stream (asked for with include_usage)."""
    chunks = [json.loads(line[5:]) for line in text.splitlines()
              if line.startswith("data:") and line[5:].strip() != "[DONE]"]
    return next(c["usage"] for c in chunks if c.get("usage"))


# === trace context ===

def test_a_clients_traceparent_continues_upstream_as_a_child(tracing):
    tracing.clear_mock_requests()
    trace_id, client_span = secrets.token_hex(16), secrets.token_hex(8)
    response = chat(tracing, {"model": "gpt", "messages": [{"role": "user", "content": "hi"}]},
                    traceparent=f"00-{trace_id}-{client_span}-01", tracestate="vendor=abc")
    assert response.status_code == 200, response.text
    assert response.headers["x-tollgate-trace-id"] == trace_id
    answered = TRACEPARENT.match(response.headers["traceparent"])
    assert answered and answered.group(1) == trace_id

    [upstream] = tracing.mock_requests()
    sent = TRACEPARENT.match(upstream["headers"]["traceparent"])
    assert sent, upstream["headers"]
    assert sent.group(1) == trace_id
    assert sent.group(2) != client_span  # a span of its own, the client's span its parent
    assert sent.group(2) == answered.group(2)
    assert upstream["headers"]["tracestate"] == "vendor=abc"

    # Without a run id, the trace is the run; the record names the spans.
    run = tracing.stored_run(trace_id, 1)
    record = tracing.logged_record(trace_id)
    assert record["span_id"] == sent.group(2)
    assert record["parent_span_id"] == client_span
    assert record["run_id"] == trace_id
    assert record["step_id"] == response.headers["x-tollgate-step-id"]
    assert run["roots"][0]["step_id"] == record["step_id"]


def test_an_invalid_traceparent_starts_a_new_trace_instead_of_failing(tracing):
    tracing.clear_mock_requests()
    bad = "00-" + "0" * 32 + "-" + secrets.token_hex(8) + "-01"
    response = chat(tracing, {"model": "gpt", "messages": [{"role": "user", "content": "hi"}]},
                    traceparent=bad, tracestate="vendor=abc")
    assert response.status_code == 200, response.text
    trace_id = response.headers["x-tollgate-trace-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id) and trace_id != "0" * 32
    [upstream] = tracing.mock_requests()
    assert TRACEPARENT.match(upstream["headers"]["traceparent"]).group(1) == trace_id
    assert "tracestate" not in upstream["headers"]  # it belonged to the refused parent


def test_each_request_without_a_traceparent_starts_its_own_trace(tracing):
    ids = {chat(tracing, {"model": "gpt", "messages": [{"role": "user", "content": "hi"}]})
           .headers["x-tollgate-trace-id"] for _ in range(3)}
    assert len(ids) == 3


# === a five-step agent run ===

def test_a_five_step_agent_run_is_one_run_of_linked_steps(tracing):
    run_id = "run-" + secrets.token_hex(6)
    agent = {"x-tollgate-run-id": run_id, "x-tollgate-agent-id": "planner"}
    messages = [{"role": "user", "content": "Weather in Paris, then search for umbrellas."}]
    tools = [WEATHER_TOOL, SEARCH_TOOL]
    usages, step_ids, call_ids = [], [], []

    def step(tool=None, stream=False):
        headers = dict(agent)
        if step_ids:
            headers["x-tollgate-parent-step-id"] = step_ids[-1]
        if tool:
            headers["x-mock-tool"] = tool
        body = {"model": "gpt", "messages": messages, "tools": tools}
        if stream:
            body.update(stream=True, stream_options={"include_usage": True})
        response = chat(tracing, body, **headers)
        assert response.status_code == 200, response.text
        step_ids.append(response.headers["x-tollgate-step-id"])
        if stream:
            usages.append(streamed_usage(response.text))
            return None
        answer = response.json()
        usages.append(answer["usage"])
        return answer["choices"][0]["message"]

    def call_tool(message, result):
        [call] = message["tool_calls"]
        call_ids.append(call["id"])
        messages.append(message)
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})

    call_tool(step(tool="get_weather"), "rain, 12 C")          # 1: LLM asks for a tool
    call_tool(step(tool="search"), "3 umbrellas found")        # 2: LLM with the result asks again
    messages.append(step())                                     # 3: LLM with that result answers
    messages.append({"role": "user", "content": "Which one is cheapest?"})
    messages.append(step())                                     # 4: LLM
    messages.append({"role": "user", "content": "Thanks, summarise."})
    step(stream=True)                                           # 5: final, streamed

    run = tracing.stored_run(run_id, 5)
    assert run["steps"] == 5 and run["agents"] == ["planner"]
    inputs = sum(u["prompt_tokens"] for u in usages)
    outputs = sum(u["completion_tokens"] for u in usages)
    assert (run["input_tokens"], run["output_tokens"]) == (inputs, outputs)
    price = PRICE_OVERRIDES["mock-gpt-upstream"]  # USD per million = nano-USD per token × 1000
    expected_cost = round(inputs * price["input"] * 1000 + outputs * price["output"] * 1000)
    assert abs(run["cost_nano_usd"] - expected_cost) <= 5, (run["cost_nano_usd"], expected_cost)

    # Each step under the one before it (x-tollgate-parent-step-id), in order.
    chain, level = [], run["roots"]
    while level:
        [only] = level
        chain.append(only)
        level = only["children"]
    assert [s["step_id"] for s in chain] == step_ids
    # LLM → tool → LLM: each call links to the step that brought its result back.
    assert run["tool_links"] == 2
    assert chain[0]["tool_calls"][0] | {"arguments_sha256": None} == {
        "id": call_ids[0], "name": "get_weather", "arguments_sha256": None, "result_step": step_ids[1]}
    assert chain[1]["tool_results"] == [{"tool_call_id": call_ids[0], "call_step": step_ids[0]}]
    assert chain[1]["tool_calls"][0]["result_step"] == step_ids[2]
    assert chain[2]["tool_results"][0]["call_step"] == step_ids[1]
    assert len(chain[0]["tool_calls"][0]["arguments_sha256"]) == 64

    shown = subprocess.run(
        [BIN / "tollgate", "runs", "show", run_id, "--database", tracing.database],
        check=True, capture_output=True, text=True,
    ).stdout
    assert f"run {run_id}  (5 steps" in shown
    assert "→ tool call get_weather" in shown and f"(result in {step_ids[1]})" in shown
    for depth, step_id in enumerate(step_ids, start=1):
        assert re.search(rf"^{'  ' * depth}\+ *\d+ ms .*{step_id}", shown, re.M), shown

    listed = subprocess.run(
        [BIN / "tollgate", "runs", "list", "--agent", "planner", "--database", tracing.database,
         "--format", "json"],
        check=True, capture_output=True, text=True,
    ).stdout
    runs = json.loads(listed)
    assert [r["run_id"] for r in runs["runs"]] == [run_id]
    assert runs["agents"][0]["step_latency_ms"]["p99"] >= runs["agents"][0]["step_latency_ms"]["p50"]


ECHO_TOOL = {"type": "function", "function": {
    "name": "echo", "parameters": {"type": "object", "properties": {"text": {"type": "string"}}}}}


def test_an_mcp_tool_call_is_a_step_linked_to_the_llm_step_that_asked_for_it(tracing):
    run_id = "run-" + secrets.token_hex(6)
    agent = {"x-tollgate-run-id": run_id, "x-tollgate-agent-id": "mcp-agent"}
    body = {"model": "gpt", "messages": [{"role": "user", "content": "Echo something."}], "tools": [ECHO_TOOL]}
    response = chat(tracing, body, key=KEY_AGENT, **agent, **{"x-mock-tool": "echo"})
    assert response.status_code == 200, response.text
    llm_step = response.headers["x-tollgate-step-id"]
    [call] = response.json()["choices"][0]["message"]["tool_calls"]
    arguments = json.loads(call["function"]["arguments"])

    async def call_the_tool():
        headers = {"authorization": f"Bearer {KEY_AGENT}", **agent, "x-tollgate-parent-step-id": llm_step}
        http = httpx2.AsyncClient(headers=headers, timeout=30)
        transport = streamable_http_client(f"{tracing.base_url}/mcp/tools", http_client=http)
        async with Client(transport, mode="legacy", cache=None) as client:
            return await client.call_tool("echo", arguments)

    assert text_of(asyncio.run(call_the_tool())) == arguments["text"]

    # initialize, initialized and the session's end are no steps: only the call is.
    run = tracing.stored_run(run_id, 2)
    assert run["steps"] == 2 and run["tool_links"] == 1
    [asker] = run["roots"]
    assert asker["step_id"] == llm_step and asker["kind"] == "llm"
    [tool_step] = asker["children"]
    assert tool_step["kind"] == "tool" and tool_step["status"] == 200
    assert tool_step["mcp"] | {"arguments_sha256": None} == {
        "server": "tools", "tool": "echo", "arguments_sha256": None, "is_error": False,
        "called_by_step": llm_step, "tool_call_id": call["id"]}
    assert tool_step["mcp"]["arguments_sha256"] == asker["tool_calls"][0]["arguments_sha256"]
    assert asker["tool_calls"][0]["mcp_step"] == tool_step["step_id"]
    shown = subprocess.run(
        [BIN / "tollgate", "runs", "show", run_id, "--database", tracing.database],
        check=True, capture_output=True, text=True,
    ).stdout
    assert "mcp tools/echo  200" in shown, shown
    assert f"ran as MCP step {tool_step['step_id']}" in shown, shown
    assert f"← asked for by {llm_step} (tool call {call['id']})" in shown, shown


# === payload capture ===

def send_marked(stack, key: str, marker: str, model: str = "gpt") -> dict:
    """A tool round trip whose prompt, tool arguments context and tool result carry `marker`."""
    messages = [
        {"role": "user", "content": f"Look up {marker} please."},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_m", "type": "function",
         "function": {"name": "search", "arguments": json.dumps({"query": marker})}}]},
        {"role": "tool", "tool_call_id": "call_m", "content": f"found {marker}"},
    ]
    run_id = "zdr-" + secrets.token_hex(6)
    response = chat(stack, {"model": model, "messages": messages, "tools": [SEARCH_TOOL]}, key=key,
                    **{"x-tollgate-run-id": run_id, "x-mock-tool": "search"})
    assert response.status_code == 200, response.text
    return stack.stored_run(run_id, 1)


def stored_bytes(stack) -> bytes:
    """The usage database as on disk, with its write-ahead log."""
    files = [stack.database, stack.database.with_name(stack.database.name + "-wal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def test_full_capture_keeps_bounded_payload_text(tracing):
    marker = "FULLMARK" + secrets.token_hex(6)
    run = send_marked(tracing, KEY_FULL, marker)
    record = tracing.logged_record(run["run_id"])
    assert record["payload_capture"] == "full"
    assert marker in record["payload"]["request"]["text"]
    assert record["payload"]["response"]["text"]
    assert record["payload"]["request"]["truncated"] is False
    assert marker.encode() in stored_bytes(tracing)  # the search below can find a marker


@pytest.mark.parametrize("key, model", [(KEY_ZDR, "gpt"), (KEY_FULL, "gpt-zdr")], ids=["key", "route"])
def test_zero_retention_stores_no_payload_text(tracing, key, model):
    marker = "ZDRMARK" + secrets.token_hex(6)
    run = send_marked(tracing, key, marker, model)
    step = run["roots"][0]
    assert step["tool_results"] == [{"tool_call_id": "call_m", "call_step": None}]
    assert step["tool_calls"][0]["name"] == "search"
    assert step["tool_calls"][0]["arguments_sha256"] is None
    record = tracing.logged_record(run["run_id"])
    assert record["payload_capture"] == "none" and "payload" not in record
    assert marker.encode() not in stored_bytes(tracing)
    assert marker not in tracing.access_log.read_text()


# === tool calls in streams, across formats ===

def test_a_streamed_tool_call_is_recorded_as_the_client_saw_it(tracing):
    """An Anthropic client streaming from an OpenAI-format provider: the record names the call
    by the id and name the client received, and hashes the arguments it received."""
    run_id = "stream-" + secrets.token_hex(6)
    body = {"model": "gpt", "max_tokens": 100, "stream": True,
            "messages": [{"role": "user", "content": "Weather in Paris?"}],
            "tools": [{"name": "get_weather", "input_schema": WEATHER_TOOL["function"]["parameters"]}]}
    response = httpx.post(
        f"{tracing.base_url}/v1/messages", json=body, timeout=30,
        headers={"x-api-key": KEY_ALL, "anthropic-version": "2023-06-01",
                 "x-tollgate-run-id": run_id, "x-mock-tool": "get_weather"},
    )
    assert response.status_code == 200, response.text
    events = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
    [start] = [e["content_block"] for e in events
               if e["type"] == "content_block_start" and e["content_block"]["type"] == "tool_use"]
    arguments = "".join(e["delta"]["partial_json"] for e in events
                        if e["type"] == "content_block_delta" and e["delta"]["type"] == "input_json_delta")
    record = tracing.logged_record(run_id)
    assert record["stream"] is True
    assert record["tool_calls"] == [{"id": start["id"], "name": "get_weather",
                                     "arguments_sha256": sha256_hex(arguments)}]
