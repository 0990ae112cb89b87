"""Budgets through the real Envoy (two workers sharing the ledgers) and the real service:
50 parallel streams against a small hard budget stay within the stated overshoot bound and
the rest get a 402 in the client's format; what another Envoy spent reaches this one by the
poll; a soft threshold alerts a webhook exactly once, across a service restart."""

import json
import math
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from conftest import PRICE_OVERRIDES, free_port, sha256_hex, serving, wait_until
from test_usage_shipping import INGEST_HEADER, UsageStack

# Prices of the model behind `gpt`, in nano-dollars per token (USD per million × 1000).
PRICE = PRICE_OVERRIDES["mock-gpt-upstream"]
INPUT_NANO, OUTPUT_NANO = PRICE["input"] * 1000, PRICE["output"] * 1000
DEFAULT_MAX_OUTPUT = 4

# Budget test keys: id -> team (then: id -> (plaintext, team)).
KEYS = {
    "bg-hard": "budget-hard",
    "bg-nomax": "budget-nomax",
    "bg-poll": "budget-poll",
    "bg-soft": "budget-soft",
}
KEYS = {id: ("tg-e2e-" + id + "-" + secrets.token_hex(8), team) for id, team in KEYS.items()}
LIMITS_USD = {"hard": 0.0004, "nomax": 0.0001, "poll": 0.001, "soft": 0.0001}


class Webhook:
    """A webhook receiver on loopback that keeps every body it gets."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                received.append((self.path, json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


class BudgetStack(UsageStack):
    def __init__(self, workdir, webhook):
        super().__init__(workdir, "{flush_interval: 100ms, timeout: 1s, backoff: {base: 100ms, max: 500ms}}")
        self.webhook = webhook

    def config_yaml(self) -> str:
        keys = "".join(
            f"  - {{id: {id}, sha256: {sha256_hex(plain)}, models: [gpt], team: {team}}}\n"
            for id, (plain, team) in KEYS.items()
        )
        return super().config_yaml().replace("control_plane:", keys + "control_plane:", 1) + f"""
budgets:
  poll_interval: 200ms
  default_max_output_tokens: {DEFAULT_MAX_OUTPUT}
  alert_webhook: {self.webhook.url}
  limits:
    - {{id: hard, key: bg-hard, limit_usd: {LIMITS_USD['hard']}, period: daily}}
    - {{id: nomax, team: budget-nomax, limit_usd: {LIMITS_USD['nomax']}, period: monthly}}
    - {{id: poll, key: bg-poll, limit_usd: {LIMITS_USD['poll']}}}
    - {{id: soft, team: budget-soft, limit_usd: {LIMITS_USD['soft']}, period: weekly, alert_at_percent: [50, 100]}}
"""


@pytest.fixture(scope="module")
def budgets(tmp_path_factory):
    webhook = Webhook()
    try:
        for stack in serving(BudgetStack(tmp_path_factory.mktemp("budgets"), webhook)):
            stack.start_service()
            yield stack
    finally:
        webhook.stop()


def body_bytes(i, max_tokens=None) -> bytes:
    body = {"model": "gpt", "stream": True, "messages": [{"role": "user", "content": f"budget request {i:03d}"}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return json.dumps(body).encode()


def estimate_nano(body: bytes, max_output: int) -> int:
    """The gateway's estimate (README, Budgets): bytes/4 input tokens, max output tokens."""
    return math.ceil(math.ceil(len(body) / 4) * INPUT_NANO + max_output * OUTPUT_NANO)


def stream(stack, key_id, body: bytes):
    """One streamed chat; returns (status, the error body or None)."""
    headers = {"authorization": f"Bearer {KEYS[key_id][0]}", "content-type": "application/json",
               "x-mock-chunk-delay-ms": "100"}
    with httpx.stream("POST", f"{stack.base_url}/v1/chat/completions", content=body, headers=headers,
                      timeout=30) as r:
        r.read()
        return r.status_code, (r.json() if r.status_code != 200 else None)


def spent_records(stack, key_id, count):
    wait_until(lambda: len([r for r in stack.usage_records() if r["key_id"] == key_id]) >= count,
               f"{count} usage records of {key_id}")
    return [r for r in stack.usage_records() if r["key_id"] == key_id]


def check_burst(stack, key_id, budget, max_tokens):
    """50 streams at once against `budget`: the refused get a 402, and the admitted spend
    at most the limit plus the stated bound. Returns (spent, limit, bound)."""
    bodies = [body_bytes(i, max_tokens) for i in range(50)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda b: stream(stack, key_id, b), bodies))
    admitted = [s for s, _ in results if s == 200]
    refused = [(s, e) for s, e in results if s != 200]
    assert admitted and refused, results
    for status, error in refused:
        assert status == 402, (status, error)
        assert error["error"]["type"] == "insufficient_quota", error
        assert error["error"]["code"] == "budget_exceeded", error
        assert f"Budget '{budget}' is exhausted" in error["error"]["message"], error
    records = spent_records(stack, key_id, len(admitted))
    assert len(records) == len(admitted)
    limit = round(LIMITS_USD[budget] * 1e9)
    # Every body has the same length, so every request has the same estimate.
    estimate = estimate_nano(bodies[0], max_tokens or DEFAULT_MAX_OUTPUT)
    spent = sum(r["cost_nano_usd"] for r in records)
    # The bound (README, Budgets): limit + Σ over admitted requests of max(0, actual − estimate).
    bound = sum(max(0, r["cost_nano_usd"] - estimate) for r in records)
    print(f"\n[{budget}] admitted {len(admitted)}/50, limit {limit} n$, spent {spent} n$, "
          f"overshoot {max(0, spent - limit)} n$, bound {bound} n$")
    assert spent <= limit + bound
    return spent, limit, bound


def test_fifty_streams_with_max_tokens_stay_within_the_budget(budgets):
    # max_tokens above what the mock generates: every answer costs at most its estimate.
    spent, limit, bound = check_burst(budgets, "bg-hard", "hard", max_tokens=64)
    assert bound == 0 and spent <= limit


def test_fifty_streams_without_max_tokens_overshoot_at_most_the_stated_bound(budgets):
    # No max_tokens: 4 output tokens reserved, the mock generates more, so answers may cost
    # more than reserved; the overshoot stays within the sum of those excesses.
    _, _, bound = check_burst(budgets, "bg-nomax", "nomax", max_tokens=None)
    assert bound > 0, "the mock's answers cost more than a 4-token reservation"


def test_what_another_envoy_spent_reaches_this_one_by_the_poll(budgets):
    assert stream(budgets, "bg-poll", body_bytes(0, 16))[0] == 200
    # Another Envoy process (another instance id) ships a record that spends the budget.
    other = {"id": f"other-{secrets.token_hex(4)}.1", "time_unix_ms": int(time.time() * 1000),
             "key_id": "bg-poll", "team": "budget-poll", "cost_nano_usd": round(LIMITS_USD["poll"] * 1e9),
             "envoy_instance": "another-envoy"}
    r = httpx.post(f"{budgets.service_url}/v1/usage/records", content=json.dumps(other),
                   headers={INGEST_HEADER: budgets.ingest_key})
    assert r.status_code == 200, r.text
    wait_until(lambda: stream(budgets, "bg-poll", body_bytes(1, 16))[0] == 402,
               "a refusal once the poll has brought the other Envoy's spending", timeout=10)

    def poll_spent():
        state = httpx.get(f"{budgets.service_url}/v1/budgets/state",
                          headers={INGEST_HEADER: budgets.ingest_key}).json()
        return next(b for b in state["budgets"] if b["id"] == "poll")["spent_nano_usd"]

    # This Envoy's own record may still be on its way (the refusal needs only the other's).
    wait_until(lambda: poll_spent() > round(LIMITS_USD["poll"] * 1e9), "this Envoy's record in the state")


def test_a_soft_threshold_alerts_the_webhook_once_across_a_restart(budgets):
    def alerts(threshold):
        return [b for _, b in budgets.webhook.received
                if b["budget_id"] == "soft" and b["threshold_percent"] == threshold]

    for i in range(12):
        stream(budgets, "bg-soft", body_bytes(i))
        if alerts(50):
            break
    wait_until(lambda: alerts(50), "the 50% alert at the webhook", timeout=10)
    # More spending, more checks and a restarted service: still one alert per threshold.
    for i in range(3):
        stream(budgets, "bg-soft", body_bytes(100 + i))
    first_log = budgets.service.log()
    budgets.stop_service()
    budgets.start_service()
    time.sleep(1.5)
    assert len(alerts(50)) == 1, budgets.webhook.received
    alert = alerts(50)[0]
    assert alert["type"] == "budget.threshold_reached"
    assert alert["spent_nano_usd"] * 2 >= alert["limit_nano_usd"] == round(LIMITS_USD["soft"] * 1e9)
    assert first_log.count("budget soft reached 50%") == 1, first_log
    assert "budget soft reached 50%" not in budgets.service.log()
