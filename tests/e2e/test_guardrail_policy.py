"""Policy guardrails through the real Envoy: allowed / denied models and required metadata
(settled by the gateway filter before routing), moderation through the mock's
`/v1/moderations` (deny, flag, fail-open, fail-closed, on input and on the whole answer),
and webhooks on the answer, whole and streamed (a stream is held whole for them).

Each guardrail is scoped to a key of its own, so one stack serves every case. The mock echoes
the last user message, so a prompt also chooses what the answer says; moderation markers
(`moderate:<category>[@score]`, `moderate:fail`) are described in the mock's `moderations`.
"""

import json
import secrets

import pytest

from conftest import KEY_ALL, Stack, serving, sha256_hex
from test_guardrails import (  # noqa: F401 (`webhook` is a fixture, shared)
    FLAG_HEADER, anthropic, guardrail_log, openai, openai_stream_text, sse_events, verdicts, webhook,
)

KEY_INTERN = "tg-e2e-intern-" + secrets.token_hex(8)
KEY_BILLING = "tg-e2e-billing-" + secrets.token_hex(8)
KEY_MOD = "tg-e2e-mod-" + secrets.token_hex(8)
KEY_MOD_OUT = "tg-e2e-mod-out-" + secrets.token_hex(8)
KEY_MOD_FLAG = "tg-e2e-mod-flag-" + secrets.token_hex(8)
KEY_MOD_OPEN = "tg-e2e-mod-open-" + secrets.token_hex(8)
KEY_OUT_HOOK = "tg-e2e-out-hook-" + secrets.token_hex(8)
KEY_OUT_HOOK_OPEN = "tg-e2e-out-hook-open-" + secrets.token_hex(8)
MODERATIONS = "/v1/moderations"


class PolicyStack(Stack):
    def __init__(self, workdir, webhook_url):
        super().__init__(workdir)
        self.webhook_url = webhook_url

    def config_yaml(self) -> str:
        moderation = f"url: http://127.0.0.1:{self.mock_port}{MODERATIONS}, credential: {{env: MOCK_PROVIDER_KEY}}, " \
                     "model: omni-moderation-latest, timeout: 2s"
        keys = [("intern", KEY_INTERN, ", team: interns"), ("billing", KEY_BILLING, ""), ("mod", KEY_MOD, ""),
                ("mod-out", KEY_MOD_OUT, ""), ("mod-flag", KEY_MOD_FLAG, ""), ("mod-open", KEY_MOD_OPEN, ""),
                ("out-hook", KEY_OUT_HOOK, ""), ("out-hook-open", KEY_OUT_HOOK_OPEN, "")]
        key_lines = "".join(
            f'  - {{id: e2e-{name}, sha256: {sha256_hex(key)}, models: ["*"]{extra}}}\n' for name, key, extra in keys
        )
        return super().config_yaml() + key_lines + f"""guardrails:
  checks:
    - name: intern-models
      scope: {{teams: [interns]}}
      models: {{allow: [gpt, claude, "fb-*"], upstream_deny: ["*-secondary"]}}
    - name: attribution
      scope: {{keys: [e2e-billing]}}
      metadata: {{required: [project]}}
    - name: mod
      stages: [input]
      scope: {{keys: [e2e-mod]}}
      moderation: {{{moderation}, failure: closed}}
    - name: mod-out
      stages: [output]
      scope: {{keys: [e2e-mod-out]}}
      moderation: {{{moderation}}}
    - name: mod-flag
      action: flag
      scope: {{keys: [e2e-mod-flag]}}
      moderation: {{{moderation}, categories: [self-harm/intent], thresholds: {{hate: 0.3}}}}
    - name: mod-open
      stages: [input]
      scope: {{keys: [e2e-mod-open]}}
      moderation: {{{moderation}, failure: open}}
    - name: out-hook
      stages: [output]
      scope: {{keys: [e2e-out-hook]}}
      webhook: {{url: "{self.webhook_url}", timeout: 300ms, failure: closed}}
    - name: out-hook-open
      stages: [output]
      scope: {{keys: [e2e-out-hook-open]}}
      webhook: {{url: "{self.webhook_url}", timeout: 300ms, failure: open}}
"""


@pytest.fixture(scope="module")
def policy_stack(tmp_path_factory, webhook):
    yield from serving(PolicyStack(tmp_path_factory.mktemp("policy"), webhook.url))


@pytest.fixture
def gw(policy_stack, webhook):
    policy_stack.clear_mock_requests()
    webhook.calls.clear()
    return policy_stack


def chat_requests(gw):
    return [r for r in gw.mock_requests() if r["path"] != MODERATIONS]


def moderation_requests(gw):
    return [r for r in gw.mock_requests() if r["path"] == MODERATIONS]


def error_of(response, call):
    """(message, type or code) of a client-format error."""
    body = response.json()
    if call is openai:
        return body["error"]["message"], body["error"]["code"]
    assert body["type"] == "error", body
    return body["error"]["message"], body["error"]["type"]


# === allowed / denied models ===


@pytest.mark.parametrize("call", [openai, anthropic])
def test_a_model_outside_the_allow_list_is_refused_before_routing(gw, call):
    response = call(gw, "hello", alias="cohere", key=KEY_INTERN)
    assert response.status_code == 403, response.text
    message, kind = error_of(response, call)
    assert kind in ("guardrail_denied", "permission_error")
    assert message == "The request was refused by guardrail `intern-models` (category: model): model `cohere` is not allowed."
    assert gw.mock_requests() == []
    log = guardrail_log(gw, lambda log: ("input", "intern-models", "model", "deny") in verdicts(log))
    assert log["verdicts"][0]["count"] == 1


def test_an_alias_that_may_fall_back_to_a_denied_upstream_model_is_refused(gw):
    response = openai(gw, "hello", alias="fb-same", key=KEY_INTERN)
    assert response.status_code == 403, response.text
    message, _ = error_of(response, openai)
    assert "(category: upstream_model)" in message
    assert "fb-secondary" not in response.text, "upstream names stay private"
    assert gw.mock_requests() == []


@pytest.mark.parametrize("key, alias", [(KEY_INTERN, "gpt"), (KEY_INTERN, "claude"), (KEY_ALL, "fb-same")])
def test_allowed_models_and_other_teams_pass(gw, key, alias):
    response = openai(gw, "hello", alias=alias, key=key)
    assert response.status_code == 200, response.text


# === required metadata ===


@pytest.mark.parametrize("call", [openai, anthropic])
def test_missing_metadata_is_a_400_naming_the_key(gw, call):
    response = call(gw, "hello", key=KEY_BILLING)
    assert response.status_code == 400, response.text
    message, kind = error_of(response, call)
    assert kind in ("guardrail_denied", "invalid_request_error")
    assert message.endswith("(category: metadata): the `x-tollgate-metadata` header lacks `project`.")
    assert gw.mock_requests() == []


@pytest.mark.parametrize("call", [openai, anthropic])
def test_requests_with_the_required_metadata_pass(gw, call):
    metadata = json.dumps({"project": "apollo", "team": "blue"})
    response = call(gw, "hello", key=KEY_BILLING, headers={"x-tollgate-metadata": metadata})
    assert response.status_code == 200, response.text


def test_metadata_without_the_required_key_is_refused(gw):
    metadata = json.dumps({"team": "blue"})
    response = openai(gw, "hello", key=KEY_BILLING, headers={"x-tollgate-metadata": metadata})
    assert response.status_code == 400, response.text
    assert "lacks `project`" in response.text and "blue" not in response.text


# === moderation ===


@pytest.mark.parametrize("call", [openai, anthropic])
def test_moderation_denies_input_by_category_without_echoing(gw, call):
    response = call(gw, "tell me moderate:violence now", key=KEY_MOD)
    assert response.status_code == 400, response.text
    message, _ = error_of(response, call)
    assert message == "The request was refused by guardrail `mod` (category: violence)."
    assert "moderate:" not in response.text
    assert chat_requests(gw) == []
    [call_made] = moderation_requests(gw)
    assert call_made["body"] == {"model": "omni-moderation-latest", "input": ["tell me moderate:violence now"]}
    # The credential comes from Envoy's secret, not from the filter or the client.
    assert call_made["headers"]["authorization"] == f"Bearer {gw.provider_key}"


def test_moderation_allows_clean_input(gw):
    response = openai(gw, "a calm question", key=KEY_MOD)
    assert response.status_code == 200, response.text
    assert len(chat_requests(gw)) == 1 and len(moderation_requests(gw)) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_moderation_withholds_a_flagged_answer(gw, stream):
    # Output only: the prompt passes, its echo is moderated.
    response = openai(gw, "repeat moderate:self-harm/intent", key=KEY_MOD_OUT, stream=stream)
    assert response.status_code == 400, response.text
    message, _ = error_of(response, openai)
    assert message == "The answer was withheld by guardrail `mod-out` (category: self-harm/intent)."
    assert "moderate:" not in response.text
    assert len(chat_requests(gw)) == 1


@pytest.mark.parametrize("text, flags", [
    ("a bit moderate:hate@0.35", "mod-flag/hate"),
    ("moderate:self-harm/intent", "mod-flag/self-harm/intent"),
    ("moderate:hate@0.2 and moderate:violence", None),  # under the threshold; violence not counted
])
def test_moderation_flags_by_category_and_threshold(gw, text, flags):
    response = anthropic(gw, text, key=KEY_MOD_FLAG)
    assert response.status_code == 200, response.text
    assert response.headers.get(FLAG_HEADER) == flags
    assert len(moderation_requests(gw)) == 2, "input and the whole answer"
    if flags:
        log = guardrail_log(gw, lambda log: ("output", "mod-flag", flags.split("/", 1)[1], "flag") in verdicts(log))
        assert "moderate" not in json.dumps(log)


def test_moderation_fails_closed(gw):
    response = openai(gw, "now moderate:fail", key=KEY_MOD)
    assert response.status_code == 400, response.text
    assert "`mod` (category: unavailable)" in response.text
    assert chat_requests(gw) == []


def test_moderation_fails_open(gw):
    response = openai(gw, "now moderate:fail", key=KEY_MOD_OPEN, stream=True)
    assert response.status_code == 200, response.text
    assert "moderate:fail" in openai_stream_text(response)
    guardrail_log(gw, lambda log: log.get("webhook_failures") == ["mod-open"])


# === webhooks on the answer ===


@pytest.mark.parametrize("call", [openai, anthropic])
def test_an_output_webhook_sees_the_whole_answer_and_denies_it(gw, webhook, call):
    response = call(gw, "we should hook-deny this", key=KEY_OUT_HOOK)
    assert response.status_code == 400, response.text
    message, _ = error_of(response, call)
    assert message == "The answer was withheld by guardrail `out-hook` (category: off_topic)."
    assert len(chat_requests(gw)) == 1
    [hook_call] = webhook.calls
    assert hook_call["stage"] == "output" and "hook-deny" in " ".join(hook_call["texts"])


def test_a_streamed_answer_is_held_whole_for_an_output_webhook(gw, webhook):
    denied = openai(gw, "we should hook-deny this", key=KEY_OUT_HOOK, stream=True)
    assert denied.status_code == 400, denied.text
    assert denied.headers["content-type"] == "application/json"
    assert "hook-deny" not in denied.text
    allowed = openai(gw, "a fine answer", key=KEY_OUT_HOOK, stream=True)
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["content-type"].startswith("text/event-stream")
    assert "a fine answer" in openai_stream_text(allowed)
    assert sse_events(allowed)[-1][1] == "[DONE]"
    assert [c["stage"] for c in webhook.calls] == ["output", "output"]


@pytest.mark.parametrize("stream", [False, True])
def test_an_output_webhook_flags_in_the_header(gw, stream):
    response = anthropic(gw, "mind the hook-flag tone", key=KEY_OUT_HOOK, stream=stream)
    assert response.status_code == 200, response.text
    assert response.headers[FLAG_HEADER] == "out-hook/tone"
    guardrail_log(gw, lambda log: ("output", "out-hook", "tone", "flag") in verdicts(log))


@pytest.mark.parametrize("trigger, key, status", [
    ("hook-slow", KEY_OUT_HOOK, 400),
    ("hook-fail", KEY_OUT_HOOK, 400),
    ("hook-fail", KEY_OUT_HOOK_OPEN, 200),
])
def test_a_failing_output_webhook_fails_as_configured(gw, trigger, key, status):
    response = openai(gw, f"this is {trigger}", key=key)
    assert response.status_code == status, response.text
    if status == 400:
        assert "(category: unavailable)" in response.text and trigger not in response.text
    else:
        assert trigger in response.json()["choices"][0]["message"]["content"]


def test_a_held_stream_that_fails_before_content_is_still_a_clean_error(gw, webhook):
    response = openai(gw, "hello", key=KEY_OUT_HOOK, stream=True, headers={"x-mock-stream-error": "after:0"})
    assert response.status_code >= 500, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["message"]
    assert webhook.calls == [], "an answer without text is not sent to the webhook"
