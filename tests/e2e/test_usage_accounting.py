"""Usage records through the real Envoy: exact tokens, cost, attribution and timing for a
whole and a streamed answer from every provider kind, and an estimated record when the
provider never reports usage (a cut stream, a client that hangs up)."""

import json
import math
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from conftest import KEY_ALL, PRICE_OVERRIDES

PRICE_TABLE = Path(__file__).resolve().parents[2] / "control-plane" / "prices" / "prices.yaml"
PRICES = {**yaml.safe_load(PRICE_TABLE.read_text())["models"], **PRICE_OVERRIDES}

# alias → (provider, upstream model): one per provider kind.
KINDS = {
    "gpt": ("mock-openai", "mock-gpt-upstream"),
    "claude": ("mock-anthropic", "mock-claude-upstream"),
    "cohere": ("mock-cohere", "mock-command-upstream"),
    "gemini": ("mock-gemini", "gemini-3-flash-preview"),
    "vertex-gemini": ("mock-vertex", "gemini-2.5-pro"),
    "bedrock": ("mock-bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    "azure": ("mock-azure", "mock-gpt-deployment"),
}
CHAT = [{"role": "user", "content": "Count my tokens, please"}]
ATTRIBUTION = {
    "x-tollgate-agent-id": "planner",
    "x-tollgate-run-id": "run-42",
    "x-tollgate-parent-step-id": "step-7",
    "x-tollgate-metadata": json.dumps({"env": "e2e", "feature": "accounting"}),
}


def chat(gateway, body, headers=None, path="/v1/chat/completions"):
    return httpx.post(
        f"{gateway.base_url}{path}",
        json=body,
        headers={"authorization": f"Bearer {KEY_ALL}", **(headers or {})},
        timeout=30,
    )


def record_of(gateway, request_id):
    """The one usage record of a request, once Envoy has flushed its access log."""
    def entries():
        return [e for e in gateway.access_log_entries() if e["request_id"] == request_id]

    deadline = time.monotonic() + 10
    while not entries() and time.monotonic() < deadline:
        time.sleep(0.05)
    found = entries()
    assert len(found) == 1, request_id
    assert found[0]["usage"] not in (None, "-"), found[0]
    return json.loads(found[0]["usage"])


def sse_chunks(text):
    return [json.loads(line[5:]) for line in text.splitlines()
            if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]")]


def micros(usd):
    return round(usd * 1_000_000)


def expected_cost(usage, model):
    """The cost in nano-dollars, in integers, as the filter computes it."""
    price = PRICES[model]
    count = lambda key: usage[key] or 0
    pico = (count("input_tokens") * micros(price["input"])
            + count("cache_read_tokens") * micros(price.get("cached_input", price["input"]))
            + count("cache_write_tokens") * micros(price.get("cache_write", price["input"]))
            + count("output_tokens") * micros(price["output"]))
    return (pico + 500) // 1000


def request_chars(body):
    """The estimate's count of request text: every string value but the model."""
    def chars(value):
        if isinstance(value, str):
            return len(value)
        if isinstance(value, list):
            return sum(map(chars, value))
        if isinstance(value, dict):
            return sum(map(chars, value.values()))
        return 0
    return sum(chars(v) for k, v in body.items() if k != "model")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("alias", sorted(KINDS))
def test_record_has_exact_tokens_cost_attribution_and_timing(gateway, alias, stream):
    provider, model = KINDS[alias]
    request_id = str(uuid.uuid4())
    body = {"model": alias, "messages": CHAT, "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    headers = {**ATTRIBUTION, "x-request-id": request_id, "x-mock-cached-tokens": "3"}
    r = chat(gateway, body, headers)
    assert r.status_code == 200, r.text
    client_usage = sse_chunks(r.text)[-1]["usage"] if stream else r.json()["usage"]

    record = record_of(gateway, request_id)
    assert (record["provider"], record["upstream_model"], record["stream"]) == (provider, model, stream)
    usage = record["usage"]
    # What the mock charged: a token per 4 bytes of the body it received, 3 of them cached.
    upstream = gateway.mock_requests()[-1]
    assert usage["input_tokens"] == max(int(upstream["headers"]["content-length"]) // 4, 1)
    assert usage["cache_read_tokens"] == 3
    # And what the client was told, counter for counter.
    assert usage["input_tokens"] + usage["cache_read_tokens"] == client_usage["prompt_tokens"]
    assert usage["output_tokens"] == client_usage["completion_tokens"] > 0
    assert record["estimated"] is False

    if model in PRICES:
        assert record["price_known"] is True
        assert record["cost_nano_usd"] == expected_cost(usage, model) > 0
    else:
        assert record["price_known"] is False and record["cost_nano_usd"] is None

    assert (record["agent_id"], record["run_id"], record["parent_step_id"]) == ("planner", "run-42", "step-7")
    assert record["metadata"] == {"env": "e2e", "feature": "accounting"}
    assert not any(h.startswith("x-tollgate-") for h in upstream["headers"]), "attribution stays in Envoy"

    assert isinstance(record["duration_ms"], int) and record["duration_ms"] >= 0
    if stream:
        assert 0 <= record["time_to_first_token_ms"] <= record["duration_ms"]
    else:
        assert record["time_to_first_token_ms"] is None


@pytest.mark.parametrize("alias", ["gpt", "claude"])
def test_stream_usage_is_asked_for_and_not_shown_unasked(gateway, alias):
    """OpenAI-format upstreams are asked for usage; an OpenAI client that did not ask gets no
    usage chunk, and the record still has the exact figures."""
    request_id = str(uuid.uuid4())
    r = chat(gateway, {"model": alias, "messages": CHAT, "stream": True}, {"x-request-id": request_id})
    assert r.status_code == 200
    assert all(c.get("usage") is None for c in sse_chunks(r.text)), "no usage chunk unasked"
    upstream = gateway.mock_requests()[-1]
    if alias == "gpt":
        assert upstream["body"]["stream_options"] == {"include_usage": True}
    record = record_of(gateway, request_id)
    assert record["estimated"] is False
    assert record["usage"]["input_tokens"] == max(int(upstream["headers"]["content-length"]) // 4, 1)


def test_a_cut_stream_is_estimated(gateway):
    """The provider fails after two content events and never reports usage: the record
    estimates both sides at four characters a token."""
    request_id = str(uuid.uuid4())
    body = {"model": "gpt", "messages": CHAT, "stream": True}
    r = chat(gateway, body, {"x-request-id": request_id, "x-mock-stream-error": "after:2"})
    assert r.status_code == 200
    chunks = sse_chunks(r.text)
    assert "error" in chunks[-1], chunks[-1]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    assert text

    record = record_of(gateway, request_id)
    assert record["estimated"] is True
    assert record["usage"]["input_tokens"] == math.ceil(request_chars(body) / 4)
    assert record["usage"]["output_tokens"] == math.ceil(len(text) / 4)
    assert record["cost_nano_usd"] == expected_cost(record["usage"], "mock-gpt-upstream")


def test_a_cut_stream_keeps_the_reported_input(gateway):
    """Anthropic reports the input at the start of the stream: that part stays exact."""
    request_id = str(uuid.uuid4())
    body = {"model": "claude", "messages": CHAT, "stream": True}
    r = chat(gateway, body, {"x-request-id": request_id, "x-mock-stream-error": "after:2"})
    assert r.status_code == 200
    record = record_of(gateway, request_id)
    assert record["estimated"] is True
    upstream = gateway.mock_requests()[-1]
    assert record["usage"]["input_tokens"] == max(int(upstream["headers"]["content-length"]) // 4, 1)
    assert record["usage"]["output_tokens"] >= 1


def test_a_client_that_hangs_up_leaves_an_estimated_record(gateway):
    request_id = str(uuid.uuid4())
    body = {"model": "gpt", "messages": CHAT, "stream": True}
    headers = {"authorization": f"Bearer {KEY_ALL}", "x-request-id": request_id, "x-mock-chunk-delay-ms": "300"}
    with httpx.stream("POST", f"{gateway.base_url}/v1/chat/completions", json=body, headers=headers,
                      timeout=30) as r:
        assert r.status_code == 200
        next(r.iter_bytes())  # the first chunk, then hang up
    record = record_of(gateway, request_id)
    assert record["estimated"] is True
    assert record["usage"]["input_tokens"] == math.ceil(request_chars(body) / 4)


@pytest.mark.parametrize("path, model", [("/v1/chat/completions", "gpt"), ("/v1/messages", "claude")])
@pytest.mark.parametrize("header, value", [
    ("x-tollgate-metadata", "[1, 2]"),
    ("x-tollgate-metadata", '{"n": 1}'),
    ("x-tollgate-agent-id", "a" * 300),
])
def test_invalid_attribution_is_a_400_in_the_client_format(gateway, path, model, header, value):
    body = {"model": model, "max_tokens": 5, "messages": CHAT}
    r = chat(gateway, body, {header: value}, path=path)
    assert r.status_code == 400
    error = r.json()["error"]
    assert header in error["message"]
    if path == "/v1/messages":
        assert r.json()["type"] == "error" and error["type"] == "invalid_request_error"
    else:
        assert error["param"] == header
    assert gateway.mock_requests() == [], "nothing reached the provider"
