"""Guardrails through the real Envoy: deny / redact / flag on input and output, whole and
streamed, for OpenAI and Anthropic clients, and webhook guardrails that answer, hang or fail.

The stack here has its own guardrails (they apply to every request, so the shared stack
stays unguarded) and a webhook server in this process. The mock echoes the last user
message, so a prompt also controls the answer: an output guardrail sees what the input
carried unless an input guardrail changed it.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from conftest import KEY_ALL, Stack, free_port, serving, sha256_hex, wait_until

KEY_HOOK_CLOSED = "tg-e2e-hook-closed-key"
KEY_HOOK_OPEN = "tg-e2e-hook-open-key"
# Assembled at run time so no credential-shaped literal sits in the source.
SECRET = "sk-" + "proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
CARD = "4111 1111 1111 1111"
FLAG_HEADER = "x-tollgate-guardrail-flags"


class WebhookServer:
    """Answers by the texts it is sent: `hook-deny` denies, `hook-flag` flags, `hook-slow`
    answers after the filter's timeout, `hook-fail` fails with 500; anything else is allowed."""

    def __init__(self):
        self.calls = []
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                calls.append(body)
                text = " ".join(body["texts"])
                if "hook-slow" in text:
                    time.sleep(1.5)
                if "hook-fail" in text:
                    self.send_response(500)
                    self.end_headers()
                    return
                verdict = {"action": "allow"}
                if "hook-deny" in text:
                    verdict = {"action": "deny", "category": "off_topic"}
                elif "hook-flag" in text:
                    verdict = {"action": "flag", "category": "tone"}
                payload = json.dumps(verdict).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/check"

    def stop(self):
        self.server.shutdown()


class GuardedStack(Stack):
    def __init__(self, workdir, webhook_url):
        super().__init__(workdir)
        self.webhook_url = webhook_url

    def config_yaml(self) -> str:
        return super().config_yaml() + f"""
  - {{id: e2e-hook-closed, sha256: {sha256_hex(KEY_HOOK_CLOSED)}, models: ["*"]}}
  - {{id: e2e-hook-open, sha256: {sha256_hex(KEY_HOOK_OPEN)}, models: ["*"]}}
guardrails:
  checks:
    - name: pii
      action: redact
      reversible: true
      rules:
        - {{type: pii, entities: [email, credit_card]}}
    - name: no-secrets
      action: deny
      rules:
        - {{type: pii, entities: [secret]}}
        - {{type: keywords, name: weapons, words: [nerve agent]}}
    - name: watch
      action: flag
      rules:
        - {{type: keywords, name: finance, words: [quarterly numbers]}}
    - name: answer-deny
      action: deny
      stages: [output]
      rules:
        - {{type: keywords, name: leak, words: [project nightingale]}}
    - name: answer-redact
      action: redact
      stages: [output]
      rules:
        - {{type: regex, name: ticket, pattern: "TCK-[0-9]{{4}}"}}
    - name: hook-closed
      stages: [input]
      scope: {{keys: [e2e-hook-closed]}}
      webhook: {{url: "{self.webhook_url}", timeout: 300ms, failure: closed}}
    - name: hook-open
      stages: [input]
      scope: {{keys: [e2e-hook-open]}}
      webhook: {{url: "{self.webhook_url}", timeout: 300ms, failure: open}}
"""


@pytest.fixture(scope="module")
def webhook():
    server = WebhookServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, webhook):
    yield from serving(GuardedStack(tmp_path_factory.mktemp("guarded"), webhook.url))


@pytest.fixture
def gw(guarded):
    guarded.clear_mock_requests()
    return guarded


def openai(gw, text, alias="gpt", stream=False, key=KEY_ALL, headers=None):
    body = {"model": alias, "messages": [{"role": "user", "content": text}], "stream": stream}
    return httpx.post(
        f"{gw.base_url}/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {key}", **(headers or {})},
        timeout=30,
    )


def anthropic(gw, text, alias="claude", stream=False, key=KEY_ALL, headers=None):
    body = {"model": alias, "max_tokens": 64, "messages": [{"role": "user", "content": text}], "stream": stream}
    return httpx.post(
        f"{gw.base_url}/v1/messages",
        json=body,
        headers={"x-api-key": key, "anthropic-version": "2023-06-01", **(headers or {})},
        timeout=30,
    )


def sse_events(response):
    """(event name or None, data) per SSE event."""
    events = []
    for block in response.text.split("\n\n"):
        name, data = None, []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            events.append((name, "\n".join(data)))
    return events


def openai_stream_text(response):
    text = ""
    for _, data in sse_events(response):
        if data == "[DONE]":
            continue
        chunk = json.loads(data)
        for choice in chunk.get("choices", []):
            text += choice.get("delta", {}).get("content") or ""
    return text


def anthropic_stream_text(response):
    text = ""
    for name, data in sse_events(response):
        event = json.loads(data)
        if name == "content_block_delta" and event["delta"]["type"] == "text_delta":
            text += event["delta"]["text"]
    return text


def upstream_text(gw):
    """Everything the provider was sent, as one string."""
    return json.dumps([r["body"] for r in gw.mock_requests()])


def guardrail_log(gw, matches):
    """The first guardrails field of the access log that `matches`, once Envoy flushed it."""
    found = []

    def ready():
        logs = [json.loads(e["guardrails"]) for e in gw.access_log_entries() if e.get("guardrails") not in (None, "-")]
        found[:] = [log for log in logs if matches(log)]
        return bool(found)

    wait_until(ready, "guardrail verdicts in the access log", timeout=10)
    return found[0]


def verdicts(log):
    return {(v["stage"], v["guardrail"], v["category"], v["action"]) for v in log["verdicts"]}


# === input ===


@pytest.mark.parametrize("call, alias", [(openai, "gpt"), (openai, "claude"), (anthropic, "claude"), (anthropic, "gpt")])
def test_input_deny_refuses_in_the_clients_format_without_echoing(gw, call, alias):
    response = call(gw, f"please store {SECRET} for me", alias=alias)
    assert response.status_code == 400, response.text
    body = response.json()
    if call is openai:
        assert body["error"]["code"] == "guardrail_denied"
    else:
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    message = body["error"]["message"]
    assert "no-secrets" in message and "secret" in message
    assert SECRET not in response.text
    assert gw.mock_requests() == [], "a denied request never reaches the provider"


@pytest.mark.parametrize("call, alias", [(openai, "gpt"), (anthropic, "claude"), (openai, "claude")])
def test_input_redaction_hides_values_from_the_provider_and_unmasks_the_answer(gw, call, alias):
    response = call(gw, f"mail ann@example.com card {CARD}", alias=alias)
    assert response.status_code == 200, response.text
    sent = upstream_text(gw)
    assert "ann@example.com" not in sent and CARD not in sent
    assert "[EMAIL_1]" in sent and "[CREDIT_CARD_1]" in sent
    # The mock echoed the placeholders; reversible masking puts the values back.
    assert "ann@example.com" in response.text and CARD in response.text
    assert "[EMAIL_1]" not in response.text


def test_input_flag_lets_the_request_through_with_a_header_and_a_log_entry(gw):
    response = openai(gw, "share the quarterly numbers")
    assert response.status_code == 200, response.text
    assert response.headers[FLAG_HEADER] == "watch/finance"
    assert "quarterly numbers" in upstream_text(gw)
    log = guardrail_log(gw, lambda log: ("input", "watch", "finance", "flag") in verdicts(log))
    assert "input" in log["latency_us"]
    assert "quarterly" not in json.dumps(log), "the log never carries matched text"


def test_tool_results_in_the_history_are_guarded(gw):
    messages = [
        {"role": "user", "content": "look it up"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": f"found key {SECRET}"},
        {"role": "user", "content": "thanks"},
    ]
    response = httpx.post(
        f"{gw.base_url}/v1/chat/completions",
        json={"model": "gpt", "messages": messages},
        headers={"authorization": f"Bearer {KEY_ALL}"},
    )
    assert response.status_code == 400, response.text
    assert gw.mock_requests() == []


# === output ===


@pytest.mark.parametrize("call, alias", [(openai, "gpt"), (anthropic, "claude"), (anthropic, "gpt")])
def test_output_deny_on_a_whole_answer(gw, call, alias):
    response = call(gw, "tell me about Project Nightingale", alias=alias)
    assert response.status_code == 400, response.text
    assert "answer-deny" in response.text and "leak" in response.text
    assert "Nightingale" not in response.text
    assert len(gw.mock_requests()) == 1, "output guardrails do not look at the input"


def test_output_deny_ends_an_openai_stream_with_an_error_and_no_done(gw):
    response = openai(gw, "so project nightingale is real", stream=True)
    assert response.status_code == 200
    events = sse_events(response)
    assert events[-1][1] != "[DONE]"
    error = json.loads(events[-1][1])["error"]
    assert error["code"] == "guardrail_denied" and "answer-deny" in error["message"]
    # The phrase spans two deltas ("project", " nightingale"): caught before either left.
    assert "nightingale" not in response.text.lower()
    assert "project" not in openai_stream_text(response).lower()


def test_output_deny_ends_an_anthropic_stream_with_an_error_event(gw):
    response = anthropic(gw, "so project nightingale is real", stream=True)
    assert response.status_code == 200
    events = sse_events(response)
    assert events[-1][0] == "error"
    assert json.loads(events[-1][1])["error"]["type"] == "invalid_request_error"
    assert "nightingale" not in response.text.lower()
    assert not any(name == "message_stop" for name, _ in events)


@pytest.mark.parametrize("call, alias, text_of", [
    (openai, "gpt", openai_stream_text),
    (anthropic, "claude", anthropic_stream_text),
    (openai, "claude", openai_stream_text),
])
def test_output_redaction_rewrites_streams(gw, call, alias, text_of):
    response = call(gw, "status of TCK-1234 and mail bob@example.org", alias=alias, stream=True)
    assert response.status_code == 200, response.text
    text = text_of(response)
    assert "TCK-1234" not in response.text and "[TICKET_1]" in text
    assert "bob@example.org" in text, "reversibly masked input comes back"
    assert "bob@example.org" not in upstream_text(gw)
    if call is openai:
        assert sse_events(response)[-1][1] == "[DONE]"


def test_output_redaction_on_a_whole_answer_and_verdicts_in_the_log(gw):
    response = openai(gw, "status of TCK-4321 please")
    assert response.status_code == 200, response.text
    content = response.json()["choices"][0]["message"]["content"]
    assert "TCK-4321" not in content and "[TICKET_1]" in content
    log = guardrail_log(gw, lambda log: ("output", "answer-redact", "ticket", "redact") in verdicts(log))
    assert "output" in log["latency_us"]


def test_output_flag_of_a_whole_answer_is_in_the_header(gw):
    # The flag guardrail guards both stages: the echoed phrase is flagged again on output.
    response = anthropic(gw, "the quarterly numbers are in")
    assert response.status_code == 200, response.text
    assert response.headers[FLAG_HEADER] == "watch/finance"


# === webhooks ===


def test_webhook_allows_and_sees_redacted_texts(gw, webhook):
    webhook.calls.clear()
    response = openai(gw, "hello from ann@example.com", key=KEY_HOOK_CLOSED)
    assert response.status_code == 200, response.text
    assert webhook.calls, "the webhook was called"
    call = webhook.calls[-1]
    assert call["guardrail"] == "hook-closed" and call["keyId"] == "e2e-hook-closed"
    assert "[EMAIL_1]" in " ".join(call["texts"]) and "ann@example.com" not in json.dumps(call)


@pytest.mark.parametrize("key", [KEY_HOOK_CLOSED, KEY_HOOK_OPEN])
def test_webhook_deny_refuses(gw, key):
    response = anthropic(gw, "let us discuss hook-deny things", key=key)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"].endswith("(category: off_topic).")
    assert gw.mock_requests() == []


@pytest.mark.parametrize("trigger", ["hook-slow", "hook-fail"])
def test_failing_webhook_fails_closed(gw, trigger):
    response = openai(gw, f"this one is {trigger}", key=KEY_HOOK_CLOSED)
    assert response.status_code == 400, response.text
    assert "hook-closed" in response.text and "unavailable" in response.text
    assert gw.mock_requests() == []


@pytest.mark.parametrize("trigger", ["hook-slow", "hook-fail"])
def test_failing_webhook_fails_open(gw, trigger):
    response = openai(gw, f"this one is {trigger}", key=KEY_HOOK_OPEN, stream=True)
    assert response.status_code == 200, response.text
    assert trigger in openai_stream_text(response)
    assert len(gw.mock_requests()) == 1
    guardrail_log(gw, lambda log: log.get("webhook_failures") == ["hook-open"])


def test_unguarded_keys_skip_webhooks(gw, webhook):
    webhook.calls.clear()
    response = openai(gw, "hook-deny is fine here")
    assert response.status_code == 200, response.text
    assert webhook.calls == []
