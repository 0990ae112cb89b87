"""The official OpenAI Python SDK against the gateway, with only base_url and api_key changed."""

import json

import openai
import pytest

from conftest import ALIASES as ALL_ALIASES, KEY_ALL

# `gpt` is served by an OpenAI-format provider (passthrough), `claude` by an
# Anthropic-format provider (translated both ways).
ALIASES = ["gpt", "claude"]


def client(gateway, key=KEY_ALL):
    return openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=key, max_retries=0)


@pytest.mark.parametrize("alias", ALIASES)
def test_non_streaming(gateway, alias):
    completion = client(gateway).chat.completions.create(
        model=alias,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}],
    )
    assert completion.object == "chat.completion"
    text = completion.choices[0].message.content
    assert "Say hello" in text, text
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


@pytest.mark.parametrize("alias", ALIASES)
def test_streaming(gateway, alias):
    stream = client(gateway).chat.completions.create(
        model=alias, messages=[{"role": "user", "content": "Stream to me"}], stream=True
    )
    chunks = list(stream)
    assert len(chunks) > 2, "the reply arrives in several chunks"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Stream to me" in text, text
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]
    # The client did not ask for usage, so no usage-only chunk reaches it.
    assert all(c.choices for c in chunks)


@pytest.mark.parametrize("alias", ALIASES)
def test_streaming_with_usage(gateway, alias):
    stream = client(gateway).chat.completions.create(
        model=alias,
        messages=[{"role": "user", "content": "Count my tokens"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1 and usage_chunks[0].choices == []
    usage = usage_chunks[0].usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def collect_tool_calls(response, stream):
    """(finish_reason, [(id, name, arguments)]) of a completion, streamed deltas joined."""
    if not stream:
        choice = response.choices[0]
        calls = [(c.id, c.function.name, c.function.arguments) for c in choice.message.tool_calls or []]
        return choice.finish_reason, calls
    slots, finish = {}, None
    for chunk in filter(lambda c: c.choices, response):
        for call in chunk.choices[0].delta.tool_calls or []:
            slot = slots.setdefault(call.index, ["", "", ""])
            slot[0] += call.id or ""
            slot[1] += (call.function and call.function.name) or ""
            slot[2] += (call.function and call.function.arguments) or ""
        finish = chunk.choices[0].finish_reason or finish
    return finish, [tuple(slots[i]) for i in sorted(slots)]


@pytest.mark.parametrize("alias", ALIASES)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_tool_call_round_trip(gateway, alias, stream):
    ask = [{"role": "user", "content": "Please use a tool for Lisbon"}]
    response = client(gateway).chat.completions.create(model=alias, messages=ask, tools=[WEATHER_TOOL], stream=stream)
    finish, calls = collect_tool_calls(response, stream)
    assert finish == "tool_calls"
    assert len(calls) == 1
    call_id, name, arguments = calls[0]
    assert call_id and name == "get_weather" and isinstance(json.loads(arguments), dict)

    follow_up = ask + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": call_id, "content": "21C"},
    ]
    answer = client(gateway).chat.completions.create(model=alias, messages=follow_up, tools=[WEATHER_TOOL])
    assert answer.choices[0].finish_reason == "stop"
    sent = gateway.mock_requests()[-1]["body"]["messages"]
    if alias == "gpt":
        assert sent[-1] == {"role": "tool", "tool_call_id": call_id, "content": "21C"}
    else:
        result = sent[-1]["content"][0]
        assert result["type"] == "tool_result" and result["tool_use_id"] == call_id
        assert "21C" in json.dumps(result["content"])


def test_bad_key_is_401(gateway):
    with pytest.raises(openai.AuthenticationError) as err:
        client(gateway, key="tg-not-a-real-key").chat.completions.create(
            model="gpt", messages=[{"role": "user", "content": "hi"}]
        )
    assert err.value.status_code == 401
    assert "tg-not-a-real-key" not in str(err.value.body)
    assert gateway.mock_requests() == [], "an unauthenticated request never reaches the provider"


def test_models_list(gateway):
    models = client(gateway).models.list()
    assert sorted(m.id for m in models.data) == ALL_ALIASES
