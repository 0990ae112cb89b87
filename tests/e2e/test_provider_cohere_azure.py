"""Cohere v2 and Azure OpenAI behind the gateway, with the official OpenAI SDK.

`cohere` is served by a Cohere-format provider (requests and answers translated both ways),
`azure` by Azure OpenAI's classic deployment API and `azure-v1` by its v1 API (both the
OpenAI format, passed through). The mock journal shows what each provider really received:
its own credential in its own header, the translated body, the Azure paths.
"""

import json
import time
import uuid

import httpx
import openai
import pytest

from conftest import AZURE_API_VERSION, KEY_ALL

ALIASES = ["cohere", "azure", "azure-v1"]
UPSTREAM = {"cohere": "mock-command-upstream", "azure": "mock-gpt-deployment", "azure-v1": "mock-gpt-deployment"}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def client(gateway):
    return openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=KEY_ALL, max_retries=0)


def last_upstream(gateway):
    requests = gateway.mock_requests()
    assert requests, "the request reached no provider"
    request = requests[-1]
    request["headers"] = {k.lower(): v for k, v in request["headers"].items()}
    return request


def assert_credentials(gateway, alias, upstream):
    headers = upstream["headers"]
    if alias == "cohere":
        assert headers["authorization"] == f"Bearer {gateway.cohere_key}"
    else:
        assert headers["api-key"] == gateway.azure_key
        assert "authorization" not in headers, "Azure gets its key in api-key only"
    assert KEY_ALL not in json.dumps(headers), "the virtual key never leaves the gateway"
    assert not [k for k in headers if k.startswith("x-tollgate")], headers


def assert_addressed(alias, upstream):
    if alias == "cohere":
        assert (upstream["path"], upstream["query"]) == ("/v2/chat", None)
    elif alias == "azure":
        assert upstream["path"] == f"/openai/deployments/{UPSTREAM[alias]}/chat/completions"
        assert upstream["query"] == f"api-version={AZURE_API_VERSION}"
    else:
        assert (upstream["path"], upstream["query"]) == ("/openai/v1/chat/completions", None)
    assert upstream["body"]["model"] == UPSTREAM[alias]


@pytest.mark.parametrize("alias", ALIASES)
def test_non_streaming(gateway, alias):
    completion = client(gateway).chat.completions.create(
        model=alias,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}],
    )
    assert completion.object == "chat.completion"
    assert "Say hello" in completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == UPSTREAM[alias], "Cohere names no model; the gateway does"
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0

    upstream = last_upstream(gateway)
    assert_credentials(gateway, alias, upstream)
    assert_addressed(alias, upstream)
    if alias == "cohere":
        # Translated: Cohere keeps the system prompt as a message, no OpenAI-only fields.
        assert upstream["body"]["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say hello"},
        ]
        assert upstream["body"]["stream"] is False
    else:
        assert upstream["body"]["messages"][0] == {"role": "system", "content": "Be brief."}


@pytest.mark.parametrize("alias", ALIASES)
def test_streaming(gateway, alias):
    stream = client(gateway).chat.completions.create(
        model=alias, messages=[{"role": "user", "content": "Stream to me"}], stream=True
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks[1:])
    content = [c for c in chunks if c.choices]
    assert len(content) > 2, "the reply arrives in several chunks"
    text = "".join(c.choices[0].delta.content or "" for c in content)
    assert "Stream to me" in text, text
    assert [c.choices[0].finish_reason for c in content if c.choices[0].finish_reason] == ["stop"]
    assert all(c.usage is None for c in chunks), "no usage chunk the client did not ask for"
    if alias.startswith("azure"):
        # Passed through as Azure sends it: the prompt-filter chunk with empty choices first.
        assert chunks[0].choices == [] and chunks[0].id == ""
        assert chunks[0].model_extra["prompt_filter_results"][0]["prompt_index"] == 0
    else:
        assert all(c.choices for c in chunks)
    upstream = last_upstream(gateway)
    assert_credentials(gateway, alias, upstream)
    assert_addressed(alias, upstream)
    if alias == "cohere":
        assert upstream["body"]["stream"] is True and "stream_options" not in upstream["body"]
    else:
        assert upstream["body"]["stream_options"] == {"include_usage": True}, "the gateway asks for usage"


@pytest.mark.parametrize("alias", ALIASES)
def test_streaming_with_usage(gateway, alias):
    chunks = list(client(gateway).chat.completions.create(
        model=alias, messages=[{"role": "user", "content": "Count my tokens"}], stream=True,
        stream_options={"include_usage": True},
    ))
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1 and usage_chunks[0].choices == []
    assert usage_chunks[0].usage.prompt_tokens > 0 and usage_chunks[0].usage.completion_tokens > 0


@pytest.mark.parametrize("alias", ALIASES)
@pytest.mark.parametrize("stream", [False, True])
def test_tool_call_round_trip(gateway, alias, stream):
    messages = [{"role": "user", "content": "Please use a tool for Lisbon"}]
    response = client(gateway).chat.completions.create(
        model=alias, messages=messages, tools=[WEATHER_TOOL], stream=stream
    )
    if stream:
        calls, text, finish = {}, "", None
        for chunk in response:
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            text += delta.content or ""
            for call in delta.tool_calls or []:
                slot = calls.setdefault(call.index, {"id": None, "name": None, "arguments": ""})
                slot["id"] = call.id or slot["id"]
                slot["name"] = (call.function.name if call.function else None) or slot["name"]
                slot["arguments"] += (call.function.arguments if call.function else None) or ""
            finish = chunk.choices[0].finish_reason or finish
        calls = [calls[i] for i in sorted(calls)]
    else:
        message = response.choices[0].message
        text, finish = message.content or "", response.choices[0].finish_reason
        calls = [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments} for c in message.tool_calls]
    assert finish == "tool_calls"
    assert len(calls) == 1 and calls[0]["name"] == "get_weather" and calls[0]["id"]
    assert json.loads(calls[0]["arguments"]) == {"city": "mock"}
    if alias == "cohere":
        assert "get_weather" in text, "Cohere's tool plan reaches the client as content"
    upstream = last_upstream(gateway)
    assert_credentials(gateway, alias, upstream)
    tool = upstream["body"]["tools"][0]
    assert tool["type"] == "function" and tool["function"]["name"] == "get_weather"

    # Next turn: the call and its result go back to the provider with the same id.
    assistant = {"role": "assistant", "content": text or None, "tool_calls": [
        {"id": calls[0]["id"], "type": "function",
         "function": {"name": "get_weather", "arguments": calls[0]["arguments"]}}]}
    follow_up = messages + [
        assistant,
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "21C"},
        {"role": "user", "content": "Thanks"},
    ]
    answer = client(gateway).chat.completions.create(model=alias, messages=follow_up, tools=[WEATHER_TOOL])
    assert answer.choices[0].finish_reason == "stop"
    sent = last_upstream(gateway)["body"]["messages"]
    assert sent[-1] == {"role": "user", "content": "Thanks"}
    assert sent[-2] == {"role": "tool", "tool_call_id": calls[0]["id"], "content": "21C"}
    assert sent[-3]["tool_calls"][0]["id"] == calls[0]["id"]
    if alias == "cohere":
        assert sent[-3].get("tool_plan") == text and "content" not in sent[-3]


def test_azure_filter_annotations_reach_openai_clients(gateway):
    r = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        json={"model": "azure", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {KEY_ALL}"}, timeout=30,
    )
    assert r.status_code == 200
    body = r.json()
    assert body["prompt_filter_results"][0]["content_filter_results"]["jailbreak"]["detected"] is False
    assert body["choices"][0]["content_filter_results"]["hate"]["severity"] == "safe"


def test_azure_rate_limit_headers_reach_the_client(gateway):
    with pytest.raises(openai.RateLimitError) as err:
        client(gateway).chat.completions.create(
            model="azure", messages=[{"role": "user", "content": "hi"}], extra_headers={"x-mock-status": "429"}
        )
    headers = err.value.response.headers
    assert headers["retry-after-ms"] == "1000" and headers["x-ms-retry-after-ms"] == "1000"
    assert headers["retry-after"] == "1"


def test_cohere_errors_are_translated(gateway):
    with pytest.raises(openai.RateLimitError) as err:
        client(gateway).chat.completions.create(
            model="cohere", messages=[{"role": "user", "content": "hi"}], extra_headers={"x-mock-status": "429"}
        )
    error = err.value.body
    assert error["type"] == "rate_limit_error" and "Trial key" in error["message"]

    stream = client(gateway).chat.completions.create(
        model="cohere", messages=[{"role": "user", "content": "one two three four five"}], stream=True,
        extra_headers={"x-mock-stream-error": "after:2"},
    )
    with pytest.raises(openai.APIError) as err:
        for _ in stream:
            pass
    assert "x-mock-stream-error" in str(err.value)


@pytest.mark.parametrize("alias, provider", [("cohere", "mock-cohere"), ("azure", "mock-azure"), ("azure-v1", "mock-azure-v1")])
@pytest.mark.parametrize("stream", [False, True])
def test_usage_in_the_access_log(gateway, alias, provider, stream):
    request_id = str(uuid.uuid4())
    r = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        json={"model": alias, "messages": [{"role": "user", "content": "hello there"}], "stream": stream},
        headers={"authorization": f"Bearer {KEY_ALL}", "x-mock-cached-tokens": "3", "x-request-id": request_id},
        timeout=30,
    )
    assert r.status_code == 200

    def entries():
        return [e for e in gateway.access_log_entries() if e["request_id"] == request_id]

    deadline = time.monotonic() + 5
    while not entries() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(entries()) == 1
    record = json.loads(entries()[0]["usage"])
    assert (record["provider"], record["alias"], record["upstream_model"]) == (provider, alias, UPSTREAM[alias])
    assert record["stream"] is stream
    usage = record["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["cache_read_tokens"] == 3
