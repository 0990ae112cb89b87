"""POST /v1/embeddings through the gateway with the official OpenAI SDK."""

import json
import time
import uuid

import httpx
import openai
import pytest

from conftest import KEY_ALL, KEY_GPT_ONLY


def client(gateway, key=KEY_ALL):
    return openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=key, max_retries=0)


def test_embeddings_in_input_order(gateway):
    texts = ["first text", "the second, longer text"]
    result = client(gateway).embeddings.create(model="embed", input=texts, dimensions=4)
    assert [d.index for d in result.data] == [0, 1]
    # The mock's first component is the length of the JSON-encoded input it received.
    assert [d.embedding[0] for d in result.data] == [len(json.dumps(t)) for t in texts]
    assert all(len(d.embedding) == 4 for d in result.data)
    assert result.usage.prompt_tokens > 0
    upstream = gateway.mock_requests()[-1]
    assert upstream["path"] == "/v1/embeddings"
    assert upstream["body"]["model"] == "mock-embed-upstream"
    assert upstream["headers"]["authorization"] == f"Bearer {gateway.provider_key}"


def test_embeddings_usage_is_recorded(gateway):
    request_id = str(uuid.uuid4())
    r = httpx.post(f"{gateway.base_url}/v1/embeddings", json={"model": "embed", "input": "hello"},
                   headers={"authorization": f"Bearer {KEY_ALL}", "x-request-id": request_id})
    assert r.status_code == 200
    deadline = time.monotonic() + 5
    entries = []
    while not entries and time.monotonic() < deadline:
        entries = [e for e in gateway.access_log_entries() if e["request_id"] == request_id]
        time.sleep(0.05)
    assert len(entries) == 1
    record = json.loads(entries[0]["usage"])
    assert record["alias"] == "embed" and record["usage"]["input_tokens"] > 0


def test_embeddings_need_input(gateway):
    r = httpx.post(f"{gateway.base_url}/v1/embeddings", json={"model": "embed"},
                   headers={"authorization": f"Bearer {KEY_ALL}"})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "input"


def test_provider_without_embeddings_is_a_clear_400(gateway):
    with pytest.raises(openai.BadRequestError) as err:
        client(gateway).embeddings.create(model="claude", input="x")
    assert err.value.body["param"] == "model"
    assert gateway.mock_requests() == []


def test_key_scope_applies_to_embeddings(gateway):
    with pytest.raises(openai.PermissionDeniedError):
        client(gateway, key=KEY_GPT_ONLY).embeddings.create(model="embed", input="x")
