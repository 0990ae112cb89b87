"""Bedrock Converse behind the gateway, with the official OpenAI SDK.

The `bedrock` alias is served by a Bedrock-format provider whose requests Envoy signs with
SigV4 (its `aws_request_signing` filter, after the tollgate provider filter), using dummy AWS
credentials from Envoy's environment. The mock verifies every signature with the same
credentials over what it received, and answers 403 like Bedrock when it does not match: a
200 here means the signature covered the translated body, path and host. `bedrock-key` uses
a Bedrock API key as a bearer token instead.
"""

import json
import time
import uuid

import openai
import pytest

from conftest import AWS_ACCESS_KEY_ID, BEDROCK_MODEL, KEY_ALL

CONVERSE = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"


def client(gateway):
    return openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=KEY_ALL, max_retries=0)


def last_upstream(gateway):
    seen = gateway.mock_requests()
    assert seen, "the request reached the mock"
    return seen[-1]


def assert_signed_translated_request(upstream, path):
    headers = {k.lower(): v for k, v in upstream["headers"].items()}
    assert upstream["path"] == path, "model id percent-encoded in the path"
    authorization = headers["authorization"]
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={AWS_ACCESS_KEY_ID}/")
    assert "/us-east-1/bedrock/aws4_request" in authorization
    # The signed payload hash is the hash of the bytes the mock received: the translated
    # Converse body, not the client's Chat Completions body.
    assert headers["x-amz-content-sha256"] == upstream["body_sha256"]
    body = upstream["body"]
    assert "model" not in body and "stream" not in body, body
    assert body["messages"][0]["role"] == "user"
    assert all("text" in block or "image" in block for block in body["messages"][0]["content"])
    # Never the virtual key, never the gateway's internal headers.
    assert KEY_ALL not in json.dumps(upstream)
    assert not [k for k in headers if k.startswith("x-tollgate")], headers


def test_non_streaming(gateway):
    completion = client(gateway).chat.completions.create(
        model="bedrock",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}],
        temperature=1.7,
    )
    assert completion.object == "chat.completion"
    assert "Say hello" in completion.choices[0].message.content
    assert "(bedrock)" in completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == BEDROCK_MODEL, "Bedrock names no model: the upstream one is reported"
    assert completion.id, "Bedrock names no response: Envoy's request id stands in"
    usage = completion.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens

    upstream = last_upstream(gateway)
    assert_signed_translated_request(upstream, CONVERSE)
    body = upstream["body"]
    assert body["system"] == [{"text": "Be brief."}]
    assert body["inferenceConfig"]["temperature"] == 1.0, "clamped to Bedrock's 0-1"


def test_streaming(gateway):
    stream = client(gateway).chat.completions.create(
        model="bedrock",
        messages=[{"role": "user", "content": "Stream to me"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert len(chunks) > 3, "the reply arrives in several chunks"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Stream to me" in text, text
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]
    usage = [c.usage for c in chunks if c.usage is not None]
    assert len(usage) == 1 and usage[0].prompt_tokens > 0 and usage[0].completion_tokens > 0
    assert_signed_translated_request(last_upstream(gateway), CONVERSE + "-stream")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_tool_call_with_an_mcp_style_name(gateway, stream):
    """`weather/get_current` is not a valid Bedrock tool name: Bedrock sees a rewritten one,
    the client gets its own back."""
    tools = [{
        "type": "function",
        "function": {
            "name": "weather/get_current",
            "description": "Current weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }]
    messages = [{"role": "user", "content": "Please use a tool for Paris"}]
    response = client(gateway).chat.completions.create(model="bedrock", messages=messages, tools=tools, stream=stream)
    if stream:
        chunks = list(response)
        calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
        name = calls[0].function.name
        arguments = "".join(tc.function.arguments or "" for tc in calls)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    else:
        call = response.choices[0].message.tool_calls[0]
        name, arguments = call.function.name, call.function.arguments
        finish = [response.choices[0].finish_reason]
    assert name == "weather/get_current"
    assert json.loads(arguments) == {"city": "mock"}
    assert finish == ["tool_calls"]
    sent = last_upstream(gateway)["body"]["toolConfig"]["tools"][0]["toolSpec"]["name"]
    assert sent != "weather/get_current" and sent.startswith("weather_get_current")


def test_tool_history_reaches_bedrock_with_a_tool_config_when_tools_are_off(gateway):
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "21C"},
        {"role": "user", "content": "Thanks, summarise"},
    ]
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    completion = client(gateway).chat.completions.create(
        model="bedrock", messages=messages, tools=tools, tool_choice="none"
    )
    assert completion.choices[0].finish_reason == "stop"
    body = last_upstream(gateway)["body"]
    assert [t["toolSpec"]["name"] for t in body["toolConfig"]["tools"]] == ["tollgate_no_tools"]


def test_http_error_keeps_the_bedrock_type_and_message(gateway):
    with pytest.raises(openai.RateLimitError) as err:
        client(gateway).chat.completions.create(
            model="bedrock", messages=[{"role": "user", "content": "hi"}], extra_headers={"x-mock-status": "429"}
        )
    assert err.value.status_code == 429
    assert "x-mock-status: 429" in err.value.body["message"]


def test_exception_frame_after_200_becomes_an_openai_error(gateway):
    stream = client(gateway).chat.completions.create(
        model="bedrock",
        messages=[{"role": "user", "content": "one two three four"}],
        stream=True,
        extra_headers={"x-mock-stream-error": "after:2"},
    )
    received = []
    with pytest.raises(openai.APIError) as err:
        for chunk in stream:
            received.append(chunk)
    assert "Too many tokens" in str(err.value)
    text = "".join(c.choices[0].delta.content or "" for c in received if c.choices)
    assert text == "Hello from", "the content before the exception was forwarded"


def test_api_key_mode_sends_a_bearer_token_and_no_signature(gateway):
    completion = client(gateway).chat.completions.create(
        model="bedrock-key", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.choices[0].finish_reason == "stop"
    headers = {k.lower(): v for k, v in last_upstream(gateway)["headers"].items()}
    assert headers["authorization"] == f"Bearer {gateway.bedrock_api_key}"
    assert "x-amz-date" not in headers


def test_usage_is_in_the_access_log(gateway):
    request_id = str(uuid.uuid4())
    client(gateway).chat.completions.create(
        model="bedrock",
        messages=[{"role": "user", "content": "count"}],
        extra_headers={"x-mock-cached-tokens": "5", "x-request-id": request_id},
    )

    def entries():
        return [e for e in gateway.access_log_entries() if e["request_id"] == request_id]

    deadline = time.monotonic() + 5
    while not entries() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(entries()) == 1
    entry = entries()[0]
    record = json.loads(entry["usage"])
    assert record["provider"] == "mock-bedrock" and record["alias"] == "bedrock"
    assert record["upstream_model"] == BEDROCK_MODEL
    usage = record["usage"]
    assert usage["cache_read_tokens"] == 5
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["reasoning_tokens"] is None, "Bedrock does not report reasoning separately"
