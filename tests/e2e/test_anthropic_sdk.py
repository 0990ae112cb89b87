"""The official Anthropic Python SDK against /v1/messages, with only base_url and api_key
changed, to an Anthropic-format provider (passthrough) and to every other provider format
(translated both ways)."""

import json

import anthropic
import pytest

from conftest import KEY_ALL

ALIASES = ["claude", "gemini", "vertex-gemini", "gpt", "bedrock", "cohere", "azure"]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def client(gateway, key=KEY_ALL):
    return anthropic.Anthropic(base_url=gateway.base_url, api_key=key, max_retries=0)


@pytest.mark.parametrize("alias", ALIASES)
def test_messages(gateway, alias):
    message = client(gateway).messages.create(
        model=alias, max_tokens=128, system="Be brief.", messages=[{"role": "user", "content": "Say hello"}]
    )
    assert message.type == "message" and message.role == "assistant"
    assert "Say hello" in message.content[0].text
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


@pytest.mark.parametrize("alias", ALIASES)
def test_streaming(gateway, alias):
    with client(gateway).messages.stream(
        model=alias, max_tokens=128, messages=[{"role": "user", "content": "Stream to me"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert "Stream to me" in text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


@pytest.mark.parametrize("alias", ALIASES)
def test_tool_use_round_trip(gateway, alias):
    c = client(gateway)
    first = c.messages.create(
        model=alias, max_tokens=128, tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "What is the weather in Paris? use a tool"}],
    )
    assert first.stop_reason == "tool_use"
    call = next(b for b in first.content if b.type == "tool_use")
    assert call.name == "get_weather" and isinstance(call.input, dict)
    second = c.messages.create(
        model=alias, max_tokens=128, tools=[WEATHER_TOOL],
        messages=[
            {"role": "user", "content": "What is the weather in Paris? use a tool"},
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "Sunny, 21C"}]},
        ],
    )
    assert second.stop_reason == "end_turn"
    # The tool result reached the provider in its own format, tied to the same call.
    call_id, text = upstream_tool_result(alias, gateway.mock_requests()[-1]["body"])
    assert "Sunny, 21C" in text
    if "gemini" not in alias:
        # Gemini pairs results with calls by name; the mock (a Gemini 3 model) also refused
        # the turn had the call's thought signature not come back through the tool_use id.
        assert call_id == call.id


def upstream_tool_result(alias, body):
    """(call id, result text) of the tool result a provider received, in its own format."""
    if alias in ("gpt", "azure", "cohere"):
        message = next(m for m in body["messages"] if m["role"] == "tool")
        return message["tool_call_id"], json.dumps(message["content"])
    if "gemini" in alias:
        response = body["contents"][-1]["parts"][0]["functionResponse"]
        return None, json.dumps(response["response"])
    if alias == "bedrock":
        result = body["messages"][-1]["content"][0]["toolResult"]
        return result["toolUseId"], json.dumps(result["content"])
    result = body["messages"][-1]["content"][0]
    assert result["type"] == "tool_result"
    return result["tool_use_id"], json.dumps(result["content"])


def test_bad_key_is_anthropic_401(gateway):
    with pytest.raises(anthropic.AuthenticationError) as err:
        client(gateway, key="tg-wrong").messages.create(
            model="claude", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    body = err.value.body
    assert body["type"] == "error" and body["error"]["type"] == "authentication_error"


def test_unknown_model_is_anthropic_404(gateway):
    with pytest.raises(anthropic.NotFoundError) as err:
        client(gateway).messages.create(model="nope", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert err.value.body["error"]["type"] == "not_found_error"


def test_anthropic_headers_do_not_reach_an_openai_provider(gateway):
    client(gateway).messages.create(model="gpt", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    headers = {k.lower() for k in gateway.mock_requests()[-1]["headers"]}
    assert not {"anthropic-version", "anthropic-beta", "x-api-key"} & headers
