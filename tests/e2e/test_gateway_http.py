"""The gateway's HTTP contract, checked on the wire: errors, headers, credentials, usage."""

import json
import time
import uuid

import httpx
import pytest

from conftest import KEY_ALL, KEY_GPT_ONLY

CHAT = [{"role": "user", "content": "hello there"}]


def post(gateway, body, key=KEY_ALL, headers=None, raw=None):
    h = {"content-type": "application/json", **(headers or {})}
    if key is not None:
        h["authorization"] = f"Bearer {key}"
    content = raw if raw is not None else json.dumps(body)
    return httpx.post(f"{gateway.base_url}/v1/chat/completions", content=content, headers=h, timeout=30)


def assert_openai_error(response, status, code=None):
    assert response.status_code == status, response.text
    err = response.json()["error"]
    assert set(err) >= {"message", "type", "code"}, err
    assert err["message"]
    if code:
        assert err["code"] == code, err


@pytest.mark.parametrize(
    "case, key, body, raw, status, code",
    [
        ("missing key", None, {"model": "gpt", "messages": CHAT}, None, 401, "missing_api_key"),
        ("unknown key", "tg-wrong", {"model": "gpt", "messages": CHAT}, None, 401, "invalid_api_key"),
        ("forbidden model", KEY_GPT_ONLY, {"model": "claude", "messages": CHAT}, None, 403, "model_not_allowed"),
        ("unknown model", KEY_ALL, {"model": "nope", "messages": CHAT}, None, 404, "model_not_found"),
        ("malformed JSON", KEY_ALL, None, '{"model": "gpt", "messages": [', 400, None),
        ("missing messages", KEY_ALL, {"model": "gpt"}, None, 400, None),
        ("missing model", KEY_ALL, {"messages": CHAT}, None, 400, None),
    ],
)
def test_client_errors(gateway, case, key, body, raw, status, code):
    response = post(gateway, body, key=key, raw=raw)
    assert_openai_error(response, status, code)
    if key:
        assert key not in response.text, "errors never echo the presented key"
    assert gateway.mock_requests() == [], f"{case}: refused requests never reach the provider"


def test_x_api_key_is_accepted(gateway):
    response = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        json={"model": "gpt", "messages": CHAT},
        headers={"x-api-key": KEY_ALL},
    )
    assert response.status_code == 200, response.text


def test_unknown_endpoint_and_method(gateway):
    r = httpx.post(f"{gateway.base_url}/v1/nothing-here", headers={"authorization": f"Bearer {KEY_ALL}"})
    assert_openai_error(r, 404)
    r = httpx.get(f"{gateway.base_url}/v1/chat/completions", headers={"authorization": f"Bearer {KEY_ALL}"})
    assert_openai_error(r, 405)


def test_provider_sees_real_credential_never_the_virtual_key(gateway):
    assert post(gateway, {"model": "gpt", "messages": CHAT}).status_code == 200
    assert post(gateway, {"model": "claude", "messages": CHAT}).status_code == 200
    seen = gateway.mock_requests()
    assert [r["path"] for r in seen] == ["/v1/chat/completions", "/v1/messages"]
    openai_req, anthropic_req = seen
    headers = [{k.lower(): v for k, v in r["headers"].items()} for r in seen]
    assert headers[0]["authorization"] == f"Bearer {gateway.provider_key}"
    assert headers[1]["x-api-key"] == gateway.provider_key
    assert "authorization" not in headers[1]
    assert headers[1]["anthropic-version"]
    for h in headers:
        assert KEY_ALL not in json.dumps(h)
        assert not [k for k in h if k.startswith("x-tollgate")], h
    # The alias was rewritten to the upstream model name, per provider.
    assert openai_req["body"]["model"] == "mock-gpt-upstream"
    assert anthropic_req["body"]["model"] == "mock-claude-upstream"
    assert anthropic_req["body"]["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hello there"}]}] \
        or anthropic_req["body"]["messages"] == [{"role": "user", "content": "hello there"}]
    assert anthropic_req["body"]["max_tokens"] > 0


def test_response_names_provider_and_upstream_model(gateway):
    r = post(gateway, {"model": "claude", "messages": CHAT})
    assert r.headers["x-tollgate-provider"] == "mock-anthropic"
    assert r.headers["x-tollgate-upstream-model"] == "mock-claude-upstream"
    assert r.json()["object"] == "chat.completion"


def test_client_spoofed_internal_headers_are_ignored(gateway):
    # A client must not be able to pick a route its key does not allow.
    r = post(gateway, {"model": "gpt", "messages": CHAT}, key=KEY_GPT_ONLY,
             headers={"x-tollgate-alias": "claude", "x-tollgate-key-id": "e2e-all"})
    assert r.status_code == 200
    assert r.headers["x-tollgate-provider"] == "mock-openai"


def test_stream_chunks_are_forwarded_as_they_arrive(gateway):
    delay_ms = 150
    arrivals = []
    with httpx.stream(
        "POST", f"{gateway.base_url}/v1/chat/completions",
        json={"model": "claude", "messages": [{"role": "user", "content": "one two three four"}], "stream": True},
        headers={"authorization": f"Bearer {KEY_ALL}", "x-mock-chunk-delay-ms": str(delay_ms)}, timeout=30,
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: ") and '"content"' in line:
                arrivals.append(time.monotonic())
    assert len(arrivals) >= 4
    # Buffering would deliver everything at once; incremental delivery spreads the content
    # events over roughly the provider's own pacing.
    assert arrivals[-1] - arrivals[0] >= (len(arrivals) - 1) * delay_ms / 1000 * 0.5


@pytest.mark.parametrize("alias, provider", [("gpt", "mock-openai"), ("claude", "mock-anthropic")])
@pytest.mark.parametrize("stream", [False, True])
def test_usage_is_recorded(gateway, alias, provider, stream):
    request_id = str(uuid.uuid4())
    body = {"model": alias, "messages": CHAT, "stream": stream}
    r = post(gateway, body, headers={"x-mock-cached-tokens": "3", "x-request-id": request_id})
    assert r.status_code == 200

    def entries():
        return [e for e in gateway.access_log_entries() if e["request_id"] == request_id]

    deadline = time.monotonic() + 5
    while not entries() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(entries()) == 1, (request_id, [e["request_id"] for e in gateway.access_log_entries()][-5:])
    entry = entries()[0]
    assert entry["path"] == "/v1/chat/completions", "the client's path, not the upstream's"
    assert (entry["key_id"], entry["team"]) == ("e2e-all", "e2e")
    record = json.loads(entry["usage"])
    assert record["provider"] == provider
    assert record["key_id"] == "e2e-all" and record["team"] == "e2e"
    assert record["alias"] == alias and record["stream"] is stream
    usage = record["usage"]
    assert usage["output_tokens"] > 0
    assert usage["cache_read_tokens"] == 3
    # What the provider reported, as the mock journal shows it, is what was recorded.
    upstream = gateway.mock_requests()[-1]
    assert upstream["body"]["model"] == ("mock-gpt-upstream" if alias == "gpt" else "mock-claude-upstream")
