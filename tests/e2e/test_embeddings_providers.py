"""POST /v1/embeddings with the official OpenAI SDK, translated for Cohere v2, Bedrock
InvokeModel (Titan Text Embeddings V2, Cohere Embed) and Vertex AI :predict."""

import base64
import json
import struct
import time
import uuid

import httpx
import openai
import pytest

from conftest import AWS_ACCESS_KEY_ID, KEY_ALL

TEXTS = ["first text", "the second, longer text"]


def client(gateway):
    return openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=KEY_ALL, max_retries=0)


def only_upstream_request(gateway) -> dict:
    requests = gateway.mock_requests()
    assert len(requests) == 1, requests
    return requests[0]


def usage_record(gateway, alias: str, body: dict) -> dict:
    """Sends `body` with a fresh request id and returns the usage record Envoy logged for it."""
    request_id = str(uuid.uuid4())
    r = httpx.post(f"{gateway.base_url}/v1/embeddings", json={"model": alias, **body},
                   headers={"authorization": f"Bearer {KEY_ALL}", "x-request-id": request_id})
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 5  # the access log is flushed about once a second
    entries = []
    while not entries and time.monotonic() < deadline:
        entries = [e for e in gateway.access_log_entries() if e["request_id"] == request_id]
        time.sleep(0.05)
    assert len(entries) == 1
    return json.loads(entries[0]["usage"])


def assert_signed_for_bedrock(entry):
    # The mock verified the signature over the translated body, or it would have said 403.
    assert entry["headers"]["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={AWS_ACCESS_KEY_ID}/")
    assert entry["headers"]["x-amz-content-sha256"] == entry["body_sha256"]


def test_cohere_embeds_documents_in_order(gateway):
    # The SDK asks for base64 by default: the gateway encodes Cohere's floats that way.
    result = client(gateway).embeddings.create(model="cohere-embed", input=TEXTS, dimensions=256)
    assert [d.index for d in result.data] == [0, 1]
    # The mock's first component is the length of the text it received.
    assert [d.embedding[0] for d in result.data] == [len(t) for t in TEXTS]
    assert all(len(d.embedding) == 256 for d in result.data)
    assert result.model == "embed-v4.0"
    assert result.usage.prompt_tokens > 0
    entry = only_upstream_request(gateway)
    assert entry["path"] == "/v2/embed"
    assert entry["headers"]["authorization"] == f"Bearer {gateway.cohere_key}"
    assert entry["body"] == {"model": "embed-v4.0", "texts": TEXTS, "input_type": "search_document",
                             "embedding_types": ["float"], "output_dimension": 256}


def test_cohere_float_vectors_and_recorded_usage(gateway):
    r = httpx.post(f"{gateway.base_url}/v1/embeddings",
                   json={"model": "cohere-embed", "input": "abcd", "encoding_format": "float"},
                   headers={"authorization": f"Bearer {KEY_ALL}"})
    assert r.status_code == 200
    assert r.json()["data"][0]["embedding"][0] == 4.0
    record = usage_record(gateway, "cohere-embed", {"input": "abcdefgh"})
    assert record["alias"] == "cohere-embed" and record["usage"]["input_tokens"] == 2


def test_unsupported_dimensions_are_an_openai_400_before_the_provider(gateway):
    for alias, dimensions in [("cohere-embed", 300), ("titan-embed", 100)]:
        with pytest.raises(openai.BadRequestError) as err:
            client(gateway).embeddings.create(model=alias, input="x", dimensions=dimensions)
        assert err.value.body["param"] == "dimensions"
    assert gateway.mock_requests() == []


def test_titan_is_invoked_signed_with_one_text(gateway):
    result = client(gateway).embeddings.create(model="titan-embed", input="hello titan", dimensions=256)
    assert len(result.data) == 1 and len(result.data[0].embedding) == 256
    assert result.data[0].embedding[0] == len("hello titan")
    assert result.model == "amazon.titan-embed-text-v2:0"
    entry = only_upstream_request(gateway)
    assert entry["path"] == "/model/amazon.titan-embed-text-v2%3A0/invoke"
    assert entry["body"] == {"inputText": "hello titan", "normalize": True, "dimensions": 256}
    assert_signed_for_bedrock(entry)
    record = usage_record(gateway, "titan-embed", {"input": "abcdefgh"})
    assert record["usage"]["input_tokens"] == 2


def test_titan_refuses_several_inputs_instead_of_dropping_some(gateway):
    with pytest.raises(openai.BadRequestError) as err:
        client(gateway).embeddings.create(model="titan-embed", input=TEXTS)
    assert err.value.body["param"] == "input"
    assert "single text" in err.value.body["message"]
    assert gateway.mock_requests() == []


def test_cohere_on_bedrock_takes_its_usage_from_the_header(gateway):
    r = httpx.post(f"{gateway.base_url}/v1/embeddings",
                   json={"model": "bedrock-cohere-embed", "input": TEXTS, "encoding_format": "base64"},
                   headers={"authorization": f"Bearer {KEY_ALL}"})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    first = struct.unpack(f"<{8}f", base64.b64decode(data[0]["embedding"]))
    assert first[0] == len(TEXTS[0])
    entry = only_upstream_request(gateway)
    assert entry["path"] == "/model/cohere.embed-english-v3/invoke"
    assert entry["body"] == {"texts": TEXTS, "input_type": "search_document", "embedding_types": ["float"]}
    assert_signed_for_bedrock(entry)
    assert r.json()["usage"]["prompt_tokens"] > 0
    record = usage_record(gateway, "bedrock-cohere-embed", {"input": "abcdefgh"})
    assert record["usage"]["input_tokens"] == 2


def test_bedrock_errors_come_back_in_openai_format(gateway):
    r = httpx.post(f"{gateway.base_url}/v1/embeddings", json={"model": "titan-embed", "input": "x"},
                   headers={"authorization": f"Bearer {KEY_ALL}", "x-mock-status": "429"})
    assert r.status_code == 429
    assert r.json()["error"]["type"] == "rate_limit_error"


def test_vertex_predicts_and_sums_token_counts(gateway):
    result = client(gateway).embeddings.create(model="vertex-embed", input=TEXTS, dimensions=4)
    assert [d.embedding[0] for d in result.data] == [len(t) for t in TEXTS]
    assert all(len(d.embedding) == 4 for d in result.data)
    entry = only_upstream_request(gateway)
    assert entry["path"] == ("/v1/projects/e2e/locations/us-central1/publishers/google"
                             "/models/text-embedding-005:predict")
    assert entry["headers"]["authorization"] == f"Bearer {gateway.provider_key}"
    assert entry["body"] == {"instances": [{"content": t} for t in TEXTS],
                             "parameters": {"outputDimensionality": 4}}
    # One stand-in token per four bytes of each text: 3 + 6.
    assert result.usage.prompt_tokens == 9
