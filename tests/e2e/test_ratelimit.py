"""Rate limits through the real Envoy (two workers sharing the buckets): requests and tokens
per minute, per key and per agent, refused with a 429 and an honest `retry-after` in the
client's own error format."""

import json
import math
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from conftest import RATE_LIMITED_KEYS

CHAT = [{"role": "user", "content": "hello there"}]


def key(id):
    return RATE_LIMITED_KEYS[id][0]


def chat(gateway, key_id, headers=None, **body):
    h = {"authorization": f"Bearer {key(key_id)}", **(headers or {})}
    body = {"model": "gpt", "messages": CHAT, **body}
    return httpx.post(f"{gateway.base_url}/v1/chat/completions", json=body, headers=h, timeout=30)


def messages(gateway, key_id, headers=None, **body):
    h = {"x-api-key": key(key_id), "anthropic-version": "2023-06-01", **(headers or {})}
    body = {"model": "claude", "max_tokens": 64, "messages": CHAT, **body}
    return httpx.post(f"{gateway.base_url}/v1/messages", json=body, headers=h, timeout=30)


def retry_after(response) -> int:
    assert response.status_code == 429, response.text
    return int(response.headers["retry-after"])


def assert_openai_429(response, limit_words):
    seconds = retry_after(response)
    error = response.json()["error"]
    assert error["type"] == "rate_limit_error", error
    assert error["code"] == "rate_limit_exceeded", error
    assert limit_words in error["message"], error
    assert f"Retry after {seconds} s" in error["message"], error
    return seconds


def test_a_key_gets_its_requests_per_minute_then_429_in_each_clients_format(gateway):
    for _ in range(3):
        assert chat(gateway, "rl-rpm").status_code == 200
    refused = chat(gateway, "rl-rpm")
    # 3 a minute: the next request is back within 20 s, never sooner than it will be.
    assert 1 <= assert_openai_429(refused, "3 requests per minute for this key") <= 20
    anthropic = messages(gateway, "rl-rpm")
    assert 1 <= retry_after(anthropic) <= 20
    body = anthropic.json()
    assert body["type"] == "error", body
    assert body["error"]["type"] == "rate_limit_error", body
    # Nothing refused reached the provider.
    assert len(gateway.mock_requests()) == 3


def test_agents_of_one_key_are_limited_apart(gateway):
    planner = {"x-tollgate-agent-id": "planner"}
    coder = {"x-tollgate-agent-id": "coder"}
    for _ in range(2):
        assert chat(gateway, "rl-agents", planner).status_code == 200
    assert_openai_429(chat(gateway, "rl-agents", planner), "2 requests per minute for this agent")
    for _ in range(2):
        assert chat(gateway, "rl-agents", coder).status_code == 200
    assert chat(gateway, "rl-agents", coder).status_code == 429
    # Requests that name no agent count against the key only.
    assert chat(gateway, "rl-agents").status_code == 200
    # The agent id reaches no provider.
    assert all("x-tollgate-agent-id" not in r["headers"] for r in gateway.mock_requests())


def test_an_answers_tokens_exhaust_the_budget_until_refilled(gateway):
    # 600 tokens a minute refill 10 a second. The answer spends 600 reasoning tokens plus
    # its prompt and text, a little more than the bucket holds.
    first = chat(gateway, "rl-tpm", {"x-mock-reasoning-tokens": "600"})
    assert first.status_code == 200, first.text
    spent = first.json()["usage"]["total_tokens"]
    owed = spent - 600
    assert owed > 0
    refused = chat(gateway, "rl-tpm")
    seconds = assert_openai_429(refused, "600 tokens per minute for this key")
    # Owed tokens at 10 a second (rounded up); less if some refilled meanwhile.
    assert 1 <= seconds <= math.ceil(owed / 10 + 0.001)
    # Honest: after waiting that long the key is admitted again.
    time.sleep(seconds)
    assert chat(gateway, "rl-tpm").status_code == 200


def test_a_streamed_answers_tokens_are_debited(gateway):
    with httpx.stream(
        "POST",
        f"{gateway.base_url}/v1/messages",
        json={"model": "claude", "max_tokens": 64, "messages": CHAT, "stream": True},
        headers={"x-api-key": key("rl-tpm-stream"), "anthropic-version": "2023-06-01",
                 "x-mock-reasoning-tokens": "700"},
        timeout=30,
    ) as stream:
        assert stream.status_code == 200
        events = [line for line in stream.iter_lines() if line.startswith("data:")]
    deltas = [json.loads(e[5:]) for e in events]
    output = [d["usage"]["output_tokens"] for d in deltas if d.get("type") == "message_delta"][-1]
    assert output >= 700
    refused = messages(gateway, "rl-tpm-stream")
    # At least 100 tokens owed at 10 a second.
    assert retry_after(refused) >= 10
    assert refused.json()["error"]["type"] == "rate_limit_error"


def test_parallel_requests_admit_at_most_the_limit(gateway):
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda _: chat(gateway, "rl-burst").status_code, range(20)))
    elapsed = time.monotonic() - started
    admitted = statuses.count(200)
    assert statuses.count(429) == 20 - admitted, statuses
    # 5 a minute, one more refilled every 12 s, plus the stated creation race: one more
    # admission per other worker (one here), once per bucket.
    bound = 5 + int(elapsed // 12) + 1
    assert 5 <= admitted <= bound, (admitted, statuses)


def test_concurrent_answers_overshoot_by_their_tokens_and_the_debt_is_repaid(gateway):
    # Admission needs a positive bucket and the answers are debited when they end, so every
    # request in flight gets in: the overshoot is the in-flight answers' tokens, and the
    # bucket then stays refused until that debt has refilled.
    slow = {"x-mock-delay-ms": "500", "x-mock-reasoning-tokens": "100"}
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: chat(gateway, "rl-tpm-burst", slow), range(6)))
    admitted = [a for a in answers if a.status_code == 200]
    assert all(a.status_code in (200, 429) for a in answers)
    spent = sum(a.json()["usage"]["total_tokens"] for a in admitted)
    # The first answer leaves the bucket positive, so at least two get in: an overshoot.
    assert len(admitted) >= 2 and spent > 200, spent
    # 200 a minute refill 10 tokens every 3 s: the whole debt is owed.
    seconds = retry_after(chat(gateway, "rl-tpm-burst"))
    owed = spent - 200
    assert owed * 0.3 - 2 <= seconds <= owed * 0.3 + 1, (spent, seconds)
