"""Conditional routing through the real Envoy: requests that differ in one thing only (a
header, the key, its team, the request metadata, the requested model) land on the upstream
their rule names, the default catches the rest, and a branch is a whole route (it fails
over). The `cond` alias and its rules are in conftest.py.
"""

import json

import httpx
import pytest

from conftest import KEY_ALL, KEY_OPS, KEY_ROUTE


def chat(gateway, headers=None, key=KEY_ALL, model="cond"):
    return httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "ping"}]},
        headers={"authorization": f"Bearer {key}", **(headers or {})},
        timeout=20,
    )


def served(gateway, response):
    """The provider that answered, and the (path, model) of each upstream request."""
    assert response.status_code == 200, response.text
    journal = [(r["path"], (r["body"] or {}).get("model")) for r in gateway.mock_requests()]
    return response.headers["x-tollgate-provider"], journal


DEFAULT = ("mock-openai", [("/v1/chat/completions", "cond-default")])


@pytest.mark.parametrize(
    "case, request_args, expected",
    [
        ("default", {}, DEFAULT),
        ("header", {"headers": {"x-route": "b"}}, ("mock-openai-b", [("/v1/chat/completions", "cond-b")])),
        ("header-other-value", {"headers": {"x-route": "c"}}, DEFAULT),
        (
            "metadata",
            {"headers": {"x-tollgate-metadata": json.dumps({"project": "alpha-7"})}},
            ("mock-anthropic", [("/v1/messages", "cond-anthropic")]),
        ),
        ("metadata-no-match", {"headers": {"x-tollgate-metadata": json.dumps({"project": "beta"})}}, DEFAULT),
        ("key", {"key": KEY_ROUTE}, ("mock-cohere", [("/v2/chat", "cond-cohere")])),
        ("team", {"key": KEY_OPS}, ("mock-gemini", [("/v1beta/models/cond-gemini:generateContent", None)])),
        ("team-but-not", {"key": KEY_OPS, "headers": {"x-route": "default"}}, DEFAULT),
        ("model", {"model": "cond-shared"}, ("mock-openai-b", [("/v1/chat/completions", "cond-b")])),
    ],
)
def test_each_rule_routes_its_requests(gateway, case, request_args, expected):
    response = chat(gateway, **request_args)
    assert served(gateway, response) == expected
    assert response.headers["x-tollgate-rule"] == RULES[case]


# The rule each case of the test above matches (x-tollgate-rule).
RULES = {"default": "default", "header": "0", "header-other-value": "default", "metadata": "1",
         "metadata-no-match": "default", "key": "2", "team": "3", "team-but-not": "default", "model": "4"}


def test_first_matching_rule_wins(gateway):
    # Both the header rule (first) and the key rule match.
    response = chat(gateway, {"x-route": "b"}, key=KEY_ROUTE)
    assert served(gateway, response)[0] == "mock-openai-b"
    assert response.headers["x-tollgate-rule"] == "0"


def test_a_branch_is_a_whole_route_that_fails_over(gateway):
    response = chat(gateway, {"x-route": "b", "x-mock-status": "503@1"})
    provider, journal = served(gateway, response)
    assert provider == "mock-anthropic"
    assert journal == [("/v1/chat/completions", "cond-b"), ("/v1/messages", "cond-anthropic")]
    assert response.headers["x-tollgate-fallback-step"] == "1"


def test_the_branch_header_is_internal(gateway):
    # A client cannot pick a branch, and the upstream never sees the header.
    provider, _ = served(gateway, chat(gateway, {"x-tollgate-branch": "0"}))
    assert provider == "mock-openai"
    sent = gateway.mock_requests()[0]["headers"]
    assert not [h for h in sent if h.startswith(("x-tollgate-", "x-envoy-"))], sent


def test_malformed_metadata_is_a_400_in_the_clients_format(gateway):
    response = chat(gateway, {"x-tollgate-metadata": "{not json"})
    assert response.status_code == 400
    assert "x-tollgate-metadata" in response.json()["error"]["message"]
    assert gateway.mock_requests() == []
