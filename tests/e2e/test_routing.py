"""Routing and reliability through the real Envoy: the fault matrix, retries, and the
weighted and canary splits.

The mock fails only the attempt a fault is scoped to (`503@1`: Envoy's attempt 1), so each
case shows what the client got and, from the mock's journal, which upstreams were tried in
which order. Aliases (conftest.py): `fb-same` falls back from mock-openai to mock-openai-b
(both OpenAI format), `fb-cross` from mock-openai to mock-anthropic (another wire format);
both have a 1 s attempt timeout and 10-50 ms back-off.
"""

import json
import time

import httpx
import pytest

from conftest import KEY_ALL

PRIMARY = ("/v1/chat/completions", "fb-primary")
FALLBACK = {"fb-same": ("/v1/chat/completions", "fb-secondary"), "fb-cross": ("/v1/messages", "fb-secondary")}

# fault name -> mock headers that make attempt 1 fail that way
FAULTS = {
    "5xx": {"x-mock-status": "503@1"},
    "429-retry-after": {"x-mock-status": "429@1", "x-mock-retry-after": "1@1"},
    "timeout": {"x-mock-delay-ms": "3000@1"},
    "reset": {"x-mock-reset": "true@1"},
}


def chat(gateway, alias, stream, headers, path="/v1/chat/completions"):
    if path == "/v1/messages":
        body = {"model": alias, "max_tokens": 64, "messages": [{"role": "user", "content": "ping"}], "stream": stream}
    else:
        body = {"model": alias, "messages": [{"role": "user", "content": "ping"}], "stream": stream}
    return httpx.post(
        f"{gateway.base_url}{path}",
        json=body,
        headers={"authorization": f"Bearer {KEY_ALL}", **headers},
        timeout=20,
    )


def upstreams(gateway):
    """(path, model) of each chat request the mock received, in arrival order."""
    return [(r["path"], (r["body"] or {}).get("model")) for r in gateway.mock_requests()]


def stream_events(response):
    return [line[len("data: "):] for line in response.text.splitlines() if line.startswith("data: ")]


@pytest.mark.parametrize("alias", ["fb-same", "fb-cross"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("fault", FAULTS)
def test_failed_attempt_falls_back(gateway, fault, stream, alias):
    response = chat(gateway, alias, stream, FAULTS[fault])
    assert response.status_code == 200, response.text
    assert upstreams(gateway) == [PRIMARY, FALLBACK[alias]]
    expected_provider = "mock-openai-b" if alias == "fb-same" else "mock-anthropic"
    assert response.headers["x-tollgate-provider"] == expected_provider
    assert response.headers["x-tollgate-attempt"] == "2"
    assert response.headers["x-tollgate-fallback-step"] == "1"
    if stream:
        events = stream_events(response)
        assert events[-1] == "[DONE]"
        text = "".join(
            (json.loads(e)["choices"][0]["delta"].get("content") or "")
            for e in events[:-1]
            if json.loads(e).get("choices")
        )
        assert text
    else:
        assert response.json()["object"] == "chat.completion"


@pytest.mark.parametrize("alias", ["fb-same", "fb-cross"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_every_target_failing_gives_one_clean_error(gateway, stream, alias):
    response = chat(gateway, alias, stream, {"x-mock-status": "503"})
    assert response.status_code == 503
    assert response.json()["error"]["message"]
    assert upstreams(gateway) == [PRIMARY, FALLBACK[alias]]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_timeout_of_every_attempt_is_a_504_in_the_clients_format(gateway, stream):
    openai = chat(gateway, "fb-cross", stream, {"x-mock-delay-ms": "3000"})
    assert openai.status_code == 504
    assert openai.headers["content-type"] == "application/json"
    assert openai.json()["error"]["code"] == "upstream_timeout"
    anthropic = chat(gateway, "fb-cross", stream, {"x-mock-delay-ms": "3000"}, path="/v1/messages")
    assert anthropic.status_code == 504
    assert anthropic.json()["type"] == "error"
    assert anthropic.json()["error"]["type"] == "timeout_error"


@pytest.mark.parametrize("alias", ["fb-same", "fb-cross"])
def test_error_event_before_content_falls_back(gateway, alias):
    # 200 and a stream, but its first event is an error: held, judged, failed over.
    response = chat(gateway, alias, True, {"x-mock-stream-error": "after:0@1"})
    assert response.status_code == 200, response.text
    assert upstreams(gateway) == [PRIMARY, FALLBACK[alias]]
    assert response.headers["x-tollgate-fallback-step"] == "1"
    assert stream_events(response)[-1] == "[DONE]"


@pytest.mark.parametrize("alias", ["fb-same", "fb-cross"])
def test_error_event_before_content_everywhere_is_one_clean_error(gateway, alias):
    response = chat(gateway, alias, True, {"x-mock-stream-error": "after:0"})
    assert response.status_code >= 500
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["message"]
    assert upstreams(gateway) == [PRIMARY, FALLBACK[alias]]


@pytest.mark.parametrize("alias", ["fb-same", "fb-cross"])
def test_error_after_content_is_an_error_event_not_done(gateway, alias):
    response = chat(gateway, alias, True, {"x-mock-stream-error": "after:2@1"})
    assert response.status_code == 200
    events = stream_events(response)
    assert "[DONE]" not in events
    assert "error" in json.loads(events[-1])
    # Content already reached the client: no fallback may start a second answer.
    assert upstreams(gateway) == [PRIMARY]


def test_client_errors_are_not_retried(gateway):
    response = chat(gateway, "fb-cross", False, {"x-mock-status": "400"})
    assert response.status_code == 400
    assert upstreams(gateway) == [PRIMARY]


def test_retries_stay_on_a_single_target_up_to_its_attempts(gateway):
    ok = chat(gateway, "retry3", False, {"x-mock-status": "500@1,502@2"})
    assert ok.status_code == 200, ok.text
    assert ok.headers["x-tollgate-attempt"] == "3"
    assert ok.headers["x-tollgate-fallback-step"] == "0"
    assert upstreams(gateway) == [("/v1/chat/completions", "retry-upstream")] * 3
    gateway.clear_mock_requests()
    failed = chat(gateway, "retry3", False, {"x-mock-status": "500"})
    assert failed.status_code == 500
    assert len(upstreams(gateway)) == 3


def test_attempts_and_step_reach_the_access_log(gateway):
    chat(gateway, "fb-cross", False, {"x-mock-status": "503@1", "x-request-id": "routing-log-1"})

    def entry():
        found = [e for e in gateway.access_log_entries() if e.get("request_id") == "routing-log-1"]
        return found[0] if found else None

    deadline = time.monotonic() + 5
    while entry() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    logged = entry()
    assert logged is not None
    assert logged["attempts"] == 2
    assert logged["fallback_step"] == "1"
    usage = json.loads(logged["usage"])
    assert usage["provider"] == "mock-anthropic"
    assert usage["attempt"] == 2
    assert usage["fallback_step"] == "1"


# Statistical splits: N requests, each share within 4 standard deviations of its
# expectation (binomial), so a correct split fails about once in 15,000 runs.
N = 200


def share_within_tolerance(hits, p):
    sigma = (N * p * (1 - p)) ** 0.5
    return abs(hits - N * p) <= 4 * sigma


def served_models(gateway, alias):
    """The upstream model of each of N requests, from the response headers (the mock's
    journal keeps only the last 100 requests)."""
    models = []
    for _ in range(N):
        response = chat(gateway, alias, False, {})
        assert response.status_code == 200, response.text
        models.append(response.headers["x-tollgate-upstream-model"])
    return models


def test_weighted_pool_splits_by_weight(gateway):
    models = served_models(gateway, "pool")
    assert set(models) == {"pool-a", "pool-b"}
    assert share_within_tolerance(models.count("pool-b"), 0.25), models.count("pool-b")


def test_canary_takes_its_percentage(gateway):
    models = served_models(gateway, "canary")
    # The stable arm is the fb-same chain, served by its primary while nothing fails.
    assert set(models) == {"canary-new", "fb-primary"}
    assert share_within_tolerance(models.count("canary-new"), 0.20), models.count("canary-new")


def test_upstreams_never_see_envoy_or_internal_headers(gateway):
    response = chat(gateway, "fb-cross", True, {"x-mock-status": "503@1", "x-envoy-client-probe": "1"})
    assert response.status_code == 200, response.text
    sent = [r["headers"] for r in gateway.mock_requests()]
    assert len(sent) == 2
    for headers in sent:
        assert not [h for h in headers if h.startswith(("x-envoy-", "x-tollgate-"))], headers


# `fb-same` has a 1 s attempt timeout (and so a 1 s idle timeout) and an 8 s total.
ATTEMPT_TIMEOUT_MS = 1000


def test_a_slow_stream_outlasts_the_attempt_timeout(gateway):
    delay_ms = 600
    response = chat(gateway, "fb-same", True, {"x-mock-chunk-delay-ms": str(delay_ms)})
    assert response.status_code == 200, response.text
    events = stream_events(response)
    assert events[-1] == "[DONE]"
    # The mock pauses before every event but its first: the stream lasted longer than one
    # attempt may take to start, and still was served by its first attempt.
    assert (len(events) - 1) * delay_ms > 2 * ATTEMPT_TIMEOUT_MS
    assert upstreams(gateway) == [PRIMARY]
    assert response.headers["x-tollgate-attempt"] == "1"


def test_a_stream_whose_content_does_not_start_in_time_falls_back(gateway):
    response = chat(gateway, "fb-same", True, {"x-mock-chunk-delay-ms": "3000@1"})
    assert response.status_code == 200, response.text
    assert upstreams(gateway) == [PRIMARY, FALLBACK["fb-same"]]
    assert stream_events(response)[-1] == "[DONE]"


# `fb-status` fails over on 503 and connection failures only: its timeouts and resets are final.
@pytest.mark.parametrize(
    "fault, status",
    [("timeout", 504), ("reset", 503)],
)
def test_triggers_are_distinct(gateway, fault, status):
    final = chat(gateway, "fb-status", False, FAULTS[fault])
    assert final.status_code == status, final.text
    assert final.json()["error"]["message"]
    assert upstreams(gateway) == [PRIMARY]
    gateway.clear_mock_requests()
    failed_over = chat(gateway, "fb-status", False, FAULTS["5xx"])
    assert failed_over.status_code == 200, failed_over.text
    assert upstreams(gateway) == [PRIMARY, FALLBACK["fb-same"]]


def test_a_fallback_that_cannot_take_the_request_answers_400_naming_it(gateway):
    # fb-cross falls back to an Anthropic provider, which has no embeddings API (`tollgate
    # validate` warns about it): the fallback attempt refuses cleanly instead of guessing.
    response = httpx.post(
        f"{gateway.base_url}/v1/embeddings",
        json={"model": "fb-cross", "input": "hello"},
        headers={"authorization": f"Bearer {KEY_ALL}", "x-mock-status": "503@1"},
        timeout=20,
    )
    assert response.status_code == 400, response.text
    assert "embeddings" in response.json()["error"]["message"]
    assert [r["path"] for r in gateway.mock_requests()] == ["/v1/embeddings"]
