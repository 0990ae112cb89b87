"""Gemini as a provider, end to end: the official OpenAI SDK through the real Envoy and
tollgate.wasm to the mock's Gemini API (AI Studio, and Vertex AI for the credential and path).

The `gemini` alias is served by `gemini-3-flash-preview`, for which the mock, like Gemini 3,
refuses a follow-up whose function call lost its `thoughtSignature`: the tool-call test only
passes when the signature makes the trip through the client's tool-call id and back.
"""

import json
import time
import uuid

import openai
import pytest

from conftest import KEY_ALL

AI_STUDIO_MODEL = "gemini-3-flash-preview"
AI_STUDIO_PATH = f"/v1beta/models/{AI_STUDIO_MODEL}"
VERTEX_PATH = "/v1/projects/e2e/locations/us-central1/publishers/google/models/gemini-2.5-pro"
SEPARATOR = "__thought__"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "units": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}


def client(gateway, **headers):
    return openai.OpenAI(
        base_url=f"{gateway.base_url}/v1", api_key=KEY_ALL, max_retries=0, default_headers=headers
    )


def lower_headers(entry):
    return {k.lower(): v for k, v in entry["headers"].items()}


def only_upstream_request(gateway):
    seen = gateway.mock_requests()
    assert len(seen) == 1, [r["path"] for r in seen]
    return seen[0]


def assert_gemini_credentials(gateway, entry):
    headers = lower_headers(entry)
    assert headers["x-goog-api-key"] == gateway.provider_key
    assert "authorization" not in headers, "AI Studio gets the key in x-goog-api-key only"
    assert KEY_ALL not in json.dumps(headers)
    assert not [k for k in headers if k.startswith("x-tollgate")], headers


def test_non_streaming(gateway):
    completion = client(gateway).chat.completions.create(
        model="gemini",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}],
        max_tokens=100,
        temperature=2.5,
    )
    assert completion.object == "chat.completion"
    assert "Hello from the Tollgate mock (gemini)" in completion.choices[0].message.content
    assert "Say hello" in completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0

    entry = only_upstream_request(gateway)
    assert (entry["path"], entry["query"]) == (f"{AI_STUDIO_PATH}:generateContent", None)
    assert_gemini_credentials(gateway, entry)
    body = entry["body"]
    assert "model" not in body and "messages" not in body, "the model is in the path"
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Say hello"}]}]
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert body["generationConfig"] == {"maxOutputTokens": 100, "temperature": 2.0}


def test_streaming(gateway):
    stream = client(gateway).chat.completions.create(
        model="gemini",
        messages=[{"role": "user", "content": "Stream to me"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Hello from the Tollgate mock (gemini). You said: Stream to me" == text
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]
    usage = [c.usage for c in chunks if c.usage is not None]
    assert len(usage) == 1 and usage[0].prompt_tokens > 0 and usage[0].completion_tokens > 0

    entry = only_upstream_request(gateway)
    assert entry["path"] == f"{AI_STUDIO_PATH}:streamGenerateContent"
    assert entry["query"] == "alt=sse"
    assert_gemini_credentials(gateway, entry)
    assert "stream" not in entry["body"] and "stream_options" not in entry["body"]


def test_tool_call_and_its_signature_round_trip(gateway):
    api = client(gateway)
    question = {"role": "user", "content": "What is the weather in Lisbon? Please use a tool."}
    first = api.chat.completions.create(
        model="gemini", messages=[question], tools=[WEATHER_TOOL], tool_choice="required"
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "mock", "units": "c"}
    assert SEPARATOR in call.id, "the thought signature rides in the tool-call id"

    sent = gateway.mock_requests()[0]["body"]
    declaration = sent["tools"][0]["functionDeclarations"][0]
    assert declaration["parametersJsonSchema"] == WEATHER_TOOL["function"]["parameters"]
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}

    # The next turn, built the way agent code usually builds it: id, name and arguments only.
    gateway.clear_mock_requests()
    follow_up = [
        question,
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call.id, "type": "function",
             "function": {"name": call.function.name, "arguments": call.function.arguments}}]},
        {"role": "tool", "tool_call_id": call.id, "content": "21C and sunny"},
    ]
    second = api.chat.completions.create(model="gemini", messages=follow_up, tools=[WEATHER_TOOL])
    assert second.choices[0].finish_reason == "stop", "the mock refuses calls without their signature"
    assert second.choices[0].message.content

    contents = only_upstream_request(gateway)["body"]["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    (model_part,) = contents[1]["parts"]
    packed = call.id.split(SEPARATOR, 1)[1]
    signature = packed.replace("-", "+").replace("_", "/")
    signature += "=" * (-len(signature) % 4)
    assert model_part == {
        "functionCall": {"name": "get_weather", "args": {"city": "mock", "units": "c"}},
        "thoughtSignature": signature,
    }
    assert "+" in signature and "/" in signature, "the standard base64 alphabet is restored"
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"output": "21C and sunny"}}}
    ]


def test_streamed_tool_call(gateway):
    stream = client(gateway, **{"x-mock-tool": "get_weather"}).chat.completions.create(
        model="gemini", messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER_TOOL], stream=True
    )
    chunks = [c for c in stream if c.choices]
    calls = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].id and SEPARATOR in calls[0].id and calls[0].function.name == "get_weather"
    arguments = "".join(tc.function.arguments or "" for tc in calls)
    assert json.loads(arguments) == {"city": "mock", "units": "c"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["tool_calls"]


def test_provider_errors_become_openai_errors(gateway):
    with pytest.raises(openai.RateLimitError) as err:
        client(gateway, **{"x-mock-status": "429"}).chat.completions.create(
            model="gemini", messages=[{"role": "user", "content": "hi"}]
        )
    assert err.value.status_code == 429
    assert err.value.body["code"] == "RESOURCE_EXHAUSTED"

    stream = client(gateway, **{"x-mock-stream-error": "after:2"}).chat.completions.create(
        model="gemini", messages=[{"role": "user", "content": "one two three four five"}], stream=True
    )
    with pytest.raises(openai.APIError) as err:
        for _ in stream:
            pass
    assert "overloaded" in str(err.value).lower()


def test_vertex_gets_a_bearer_token_and_its_own_path(gateway):
    completion = client(gateway).chat.completions.create(
        model="vertex-gemini", messages=[{"role": "user", "content": "Hi Vertex"}]
    )
    assert "Hello from the Tollgate mock (vertex)" in completion.choices[0].message.content
    entry = only_upstream_request(gateway)
    assert entry["path"] == f"{VERTEX_PATH}:generateContent"
    headers = lower_headers(entry)
    assert headers["authorization"] == f"Bearer {gateway.provider_key}"
    assert "x-goog-api-key" not in headers


def test_vertex_tool_history_carries_no_call_ids(gateway):
    # Vertex refuses `id` on function calls and responses; the mock does too.
    messages = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_abc", "content": "19C"},
    ]
    completion = client(gateway).chat.completions.create(
        model="vertex-gemini", messages=messages, tools=[WEATHER_TOOL]
    )
    assert completion.choices[0].finish_reason == "stop"
    contents = only_upstream_request(gateway)["body"]["contents"]
    assert "id" not in contents[1]["parts"][0]["functionCall"]
    assert "id" not in contents[2]["parts"][0]["functionResponse"]


@pytest.mark.parametrize("stream", [False, True])
def test_usage_is_recorded(gateway, stream):
    request_id = str(uuid.uuid4())
    api = client(gateway, **{"x-mock-cached-tokens": "3", "x-mock-reasoning-tokens": "5", "x-request-id": request_id})
    response = api.chat.completions.create(
        model="gemini", messages=[{"role": "user", "content": "hello there"}], stream=stream
    )
    if stream:
        list(response)

    def entries():
        return [e for e in gateway.access_log_entries() if e["request_id"] == request_id]

    deadline = time.monotonic() + 5
    while not entries() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(entries()) == 1
    record = json.loads(entries()[0]["usage"])
    assert record["provider"] == "mock-gemini"
    assert (record["alias"], record["upstream_model"], record["stream"]) == ("gemini", AI_STUDIO_MODEL, stream)
    usage = record["usage"]
    # The mock's promptTokenCount includes the 3 cached tokens; thoughts are outside its
    # candidate count: normalised, input excludes the cache and output includes reasoning.
    assert usage["cache_read_tokens"] == 3
    assert usage["cache_write_tokens"] is None
    assert usage["reasoning_tokens"] == 5
    assert usage["output_tokens"] > 5
    assert usage["input_tokens"] > 0


def test_embeddings_go_to_batch_embed_contents_and_come_back_in_order(gateway):
    texts = ["first text", "the second, longer text"]
    result = client(gateway).embeddings.create(model="gemini-embed", input=texts, dimensions=4)
    # The SDK asks for base64 by default; the gateway encodes Gemini's floats that way.
    assert [d.index for d in result.data] == [0, 1]
    # The mock's first component is the length of the text it received.
    assert [d.embedding[0] for d in result.data] == [len(t) for t in texts]
    assert all(len(d.embedding) == 4 for d in result.data)
    assert result.model == "gemini-embedding-001"
    entry = only_upstream_request(gateway)
    assert entry["path"] == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert_gemini_credentials(gateway, entry)
    requests = entry["body"]["requests"]
    assert [r["content"]["parts"][0]["text"] for r in requests] == texts
    assert {r["model"] for r in requests} == {"models/gemini-embedding-001"}
    assert {r["outputDimensionality"] for r in requests} == {4}
