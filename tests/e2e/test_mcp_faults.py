"""The MCP gateway when things go wrong, through the real Envoy with the official `mcp` SDK:
an MCP server nobody listens for answers in JSON-RPC (not in the OpenAI error shape), a
legacy HTTP+SSE server's tool step records the result that came down the event stream,
a call the client walks away from still leaves exactly one step in its run, and an answer
too large to check is withheld while the session goes on."""

import asyncio
import secrets
import socket
import threading

import httpx
import httpx2
import pytest
from mcp.client.client import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from conftest import free_port, sha256_hex, wait_until
from test_mcp import McpServer, text_of
from test_tracing import TracingStack, serving_with_service

KEY_FAULTS = "tg-e2e-faults-" + secrets.token_hex(8)

# JSON-RPC error code the gateway answers with when the MCP server cannot be reached
# (tollgate_core::mcp::jsonrpc::UPSTREAM_UNAVAILABLE).
UPSTREAM_UNAVAILABLE = -32010
ANSWER_TOO_LARGE = -32012
ACCEPT = "application/json, text/event-stream"


class Hangup:
    """A server that reads each request, then closes the connection without an answer."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/mcp"
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:  # closed at teardown
                return
            with connection:
                connection.settimeout(5)
                received = b""
                while b"}" not in received:  # the JSON body's end
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    received += chunk


class FaultStack(TracingStack):
    """The tracing stack (its service stores runs) plus a legacy HTTP+SSE server, an MCP
    server configured at a port nobody listens on, and one that hangs up on every request."""

    def __init__(self, workdir, usage: str):
        super().__init__(workdir, usage)
        self.legacy = McpServer(workdir, "legacy", transport="sse", env=self.env)
        self.processes.append(self.legacy.process)
        self.dead_url = f"http://127.0.0.1:{free_port()}/mcp"
        self.hangup = Hangup()

    def stop(self):
        super().stop()
        self.hangup.socket.close()

    def start(self):
        super().start()
        self.legacy.wait()

    def config_yaml(self) -> str:
        key = (f"  - {{id: e2e-faults, sha256: {sha256_hex(KEY_FAULTS)}, models: ['*'], "
               "mcp: {tools: {allow: ['*']}, legacy: {allow: ['*']}, dead: {allow: ['*']}, "
               "hangup: {allow: ['*']}}}\n")
        servers = (f"  - {{name: legacy, url: {self.legacy.url}, transport: sse}}\n"
                   f"  - {{name: dead, url: {self.dead_url}}}\n"
                   f"  - {{name: hangup, url: {self.hangup.url}}}\n")
        return super().config_yaml().replace("mcp_servers:\n", key + "mcp_servers:\n" + servers, 1)


@pytest.fixture(scope="module")
def faults(tmp_path_factory):
    usage = "{flush_interval: 100ms, timeout: 1s, batch_records: 20, backoff: {base: 100ms, max: 500ms}}"
    yield from serving_with_service(FaultStack(tmp_path_factory.mktemp("mcp-faults"), usage))


def headers(run_id: str) -> dict:
    return {"authorization": f"Bearer {KEY_FAULTS}", "x-tollgate-run-id": run_id}


def tool_steps(stack, run_id: str, count: int) -> list:
    run = stack.stored_run(run_id, count)
    steps = [s for s in run["roots"] if s["kind"] == "tool"]
    assert run["steps"] == count == len(steps), run
    return steps


# === Envoy's own errors ===


def post_raw(stack, server: str, message: dict) -> httpx.Response:
    return httpx.post(f"{stack.base_url}/mcp/{server}", json=message, timeout=30,
                      headers={**headers("raw"), "accept": ACCEPT})


INITIALIZE = {"jsonrpc": "2.0", "id": 7, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "raw", "version": "1"}}}


@pytest.mark.parametrize("server, ids", [("dead", (None, 7)), ("hangup", (7,))])
def test_envoys_own_failures_answer_a_json_rpc_error(faults, server, ids):
    # Envoy may fail a request to a closed port before its body is read (no id known yet,
    # so null); a server that hangs up read the body, which the MCP filter read first.
    response = post_raw(faults, server, INITIALIZE)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    # JSON-RPC, answering the request's id when known; nothing of the OpenAI error shape.
    assert body.keys() == {"jsonrpc", "id", "error"}, body
    assert body["id"] in ids
    assert body["error"]["code"] == UPSTREAM_UNAVAILABLE
    assert "MCP server" in body["error"]["message"]


def test_the_sdk_reads_the_error_of_an_unreachable_server(faults):
    async def connect():
        http = httpx2.AsyncClient(headers=headers("dead"), timeout=30)
        async with Client(streamable_http_client(f"{faults.base_url}/mcp/dead", http_client=http),
                          mode="legacy", cache=None):
            pass

    # The SDK raises the error from its task group.
    with pytest.raises(BaseExceptionGroup) as failed:
        asyncio.run(connect())
    [error] = leaves(failed.value.split(MCPError)[0])
    assert error.code == UPSTREAM_UNAVAILABLE, error


def leaves(group) -> list:
    if not isinstance(group, BaseExceptionGroup):
        return [group]
    return [leaf for inner in group.exceptions for leaf in leaves(inner)]


def test_a_call_the_server_hangs_up_on_is_one_step_answered_by_the_gateway(faults):
    run_id = "hangup-" + secrets.token_hex(6)
    call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "echo", "arguments": {}}}
    response = httpx.post(f"{faults.base_url}/mcp/hangup", json=call, timeout=30,
                          headers={**headers(run_id), "accept": ACCEPT})
    assert response.status_code == 503 and response.json()["id"] == 3
    [step] = tool_steps(faults, run_id, 1)
    assert step["mcp"]["tool"] == "echo" and step["status"] == 503
    assert step["error_class"] == "upstream_unavailable", step


# === legacy HTTP+SSE: the result comes down the event stream ===


def test_a_legacy_servers_tool_step_records_the_result_from_the_event_stream(faults):
    run_id = "legacy-" + secrets.token_hex(6)

    async def scenario():
        transport = sse_client(f"{faults.base_url}/mcp/legacy", headers=headers(run_id))
        async with Client(transport, mode="legacy", cache=None) as client:
            failed = await client.call_tool("fetch", {"doc": "no-such-doc"})
            slow = await client.call_tool("slow", {})
            return failed, slow

    failed, slow = asyncio.run(scenario())
    assert failed.is_error and text_of(slow) == "done"
    by_tool = {s["mcp"]["tool"]: s for s in tool_steps(faults, run_id, 2)}
    assert by_tool["fetch"]["mcp"]["is_error"] is True
    assert by_tool["fetch"]["status"] == 200  # the stream's, not the POST's 202
    assert by_tool["slow"]["mcp"]["is_error"] is False
    # The step lasted until the result came (the tool sleeps 1.5 s), not until the 202.
    assert by_tool["slow"]["duration_ms"] >= 1400, by_tool["slow"]


def test_a_legacy_call_whose_stream_closes_first_is_a_step_cut_off(faults):
    run_id = "legacy-cut-" + secrets.token_hex(6)

    async def scenario():
        transport = sse_client(f"{faults.base_url}/mcp/legacy", headers=headers(run_id))
        async with Client(transport, mode="legacy", cache=None) as client:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.5):
                    await client.call_tool("slow", {})

    asyncio.run(scenario())
    [step] = tool_steps(faults, run_id, 1)
    assert step["mcp"]["tool"] == "slow"
    assert step["error_class"] == "cut_off", step


# === answers too large to check ===


def test_an_answer_too_large_to_check_is_withheld_and_the_session_goes_on(faults):
    async def scenario():
        http = httpx2.AsyncClient(headers=headers("huge"), timeout=60)
        transport = streamable_http_client(f"{faults.base_url}/mcp/tools", http_client=http)
        async with Client(transport, mode="legacy", cache=None) as client:
            with pytest.raises(MCPError) as withheld:
                await client.call_tool("fetch", {"doc": "huge"})
            after = await client.call_tool("echo", {"text": "still checked"})
            return withheld.value, text_of(after)

    withheld, after = asyncio.run(scenario())
    assert withheld.code == ANSWER_TOO_LARGE, withheld
    assert after == "still checked"


# === calls cut off before their answer ===


def test_a_call_the_client_leaves_before_its_answer_is_one_step_cut_off(faults):
    run_id = "cut-" + secrets.token_hex(6)
    url = f"{faults.base_url}/mcp/tools"
    base = {**headers(run_id), "accept": ACCEPT}
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "raw", "version": "1"}}}
    with httpx.Client(timeout=30) as http:
        started = http.post(url, json=init, headers=base)
        assert started.status_code == 200, started.text
        session = {**base, "mcp-session-id": started.headers["mcp-session-id"],
                   "mcp-protocol-version": "2025-06-18"}
        http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session)
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "slow", "arguments": {}, "_meta": {"progressToken": 2}}}
        with http.stream("POST", url, json=call, headers=session) as answer:
            assert answer.status_code == 200
            # The progress event arrives, then the client leaves before the result.
            first = next(answer.iter_text())
            assert "progress" in first, first
    [step] = tool_steps(faults, run_id, 1)
    assert step["mcp"]["tool"] == "slow"
    assert step["error_class"] == "cut_off", step
    assert len(step["attempts"]) == 1
