"""Prometheus metrics from the provider filter, scraped from the real Envoy's admin
`/stats/prometheus`: the documented series, with the labels the bootstrap's `stats_tags`
cut out of the wasm stat names, and values that match what the requests did. The stack
is shared by the session, so every check compares a scrape before with one after."""

import re
import time
import uuid

import httpx

from conftest import KEY_ALL
from test_guardrails import SECRET, guarded, openai, webhook  # noqa: F401 (fixtures)
from test_usage_accounting import record_of

SERIES = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?P<labels>.*)\})? (?P<value>\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(stack):
    """{(name, frozenset(labels)): value} of every tollgate_ series."""
    text = httpx.get(f"http://127.0.0.1:{stack.admin_port}/stats/prometheus", timeout=10).text
    series = {}
    for line in text.splitlines():
        found = SERIES.match(line)
        if found and found["name"].startswith("tollgate_"):
            labels = frozenset(LABEL.findall(found["labels"] or ""))
            series[(found["name"], labels)] = float(found["value"])
    return series, text


def delta(before, after, name, **labels):
    key = (name, frozenset(labels.items()))
    return after.get(key, 0) - before.get(key, 0)


def chat(stack, alias, headers=None):
    request_id = str(uuid.uuid4())
    response = httpx.post(
        f"{stack.base_url}/v1/chat/completions",
        json={"model": alias, "messages": [{"role": "user", "content": "count me"}]},
        headers={"authorization": f"Bearer {KEY_ALL}", "x-request-id": request_id, **(headers or {})},
        timeout=20,
    )
    return response, request_id


def wait_for(stack, check):
    """Histograms reach the admin output at Envoy's stats flush (5 s by default)."""
    deadline = time.monotonic() + 20
    while True:
        after, text = scrape(stack)
        if check(after) or time.monotonic() > deadline:
            return after, text
        time.sleep(0.5)


def test_scrape_has_the_documented_series_with_config_labels(gateway):
    before, _ = scrape(gateway)
    gpt = dict(provider="mock-openai", model="gpt", upstream_model="mock-gpt-upstream")
    records = []
    for _ in range(3):
        response, request_id = chat(gateway, "gpt")
        assert response.status_code == 200, response.text
        records.append(record_of(gateway, request_id))
    # The first attempt fails with a 503; the fallback step's provider answers.
    response, _ = chat(gateway, "fb-same", {"x-mock-status": "503@1"})
    assert response.status_code == 200, response.text

    after, text = wait_for(
        gateway, lambda s: delta(before, s, "tollgate_upstream_latency_ms_count", **gpt) >= 3
    )
    assert delta(before, after, "tollgate_requests_total", **gpt, status_class="2xx") == 3
    input_tokens = sum(r["usage"]["input_tokens"] + (r["usage"]["cache_read_tokens"] or 0) for r in records)
    assert delta(before, after, "tollgate_input_tokens_total", **gpt) == input_tokens > 0
    output_tokens = sum(r["usage"]["output_tokens"] for r in records)
    assert delta(before, after, "tollgate_output_tokens_total", **gpt) == output_tokens > 0
    cost = sum(r["cost_nano_usd"] for r in records)
    assert delta(before, after, "tollgate_cost_nano_usd_total", **gpt) == cost > 0
    assert delta(before, after, "tollgate_upstream_latency_ms_count", **gpt) == 3
    assert ("tollgate_upstream_latency_ms_bucket", frozenset({**gpt, "le": "+Inf"}.items())) in after

    primary = dict(provider="mock-openai", model="fb-same", upstream_model="fb-primary")
    secondary = dict(provider="mock-openai-b", model="fb-same", upstream_model="fb-secondary")
    assert delta(before, after, "tollgate_requests_total", **primary, status_class="5xx") == 1
    assert delta(before, after, "tollgate_requests_total", **secondary, status_class="2xx") == 1
    assert delta(before, after, "tollgate_retries_total", **secondary) == 1
    assert delta(before, after, "tollgate_fallbacks_total", **secondary) == 1
    assert delta(before, after, "tollgate_fallbacks_total", **primary) == 0

    # Bounded labels: nothing but the documented ones, and never a key or request id.
    documented = {"provider", "model", "upstream_model", "status_class", "guardrail", "stage", "action", "le"}
    for name, labels in after:
        assert {label for label, _ in labels} <= documented, (name, labels)
    assert "e2e-all" not in text and KEY_ALL not in text
    assert not any(r["id"].split(".")[0] in text for r in records)


def test_guardrail_verdicts_by_guardrail_stage_and_action(guarded, webhook):
    before, _ = scrape(guarded)
    assert openai(guarded, f"please store {SECRET} for me").status_code == 400
    assert openai(guarded, "share the quarterly numbers").status_code == 200
    assert openai(guarded, "mail ann@example.com and bob@example.com").status_code == 200
    after, text = scrape(guarded)
    verdicts = "tollgate_guardrail_verdicts_total"
    on = dict(provider="mock-openai", stage="input")
    assert delta(before, after, verdicts, **on, guardrail="no-secrets", action="deny") == 1
    assert delta(before, after, verdicts, **on, guardrail="watch", action="flag") == 1
    assert delta(before, after, verdicts, **on, guardrail="pii", action="redact") == 2, "one per match"
    assert SECRET not in text and "example.com" not in text
