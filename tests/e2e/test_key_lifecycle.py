"""Keys managed through `tollgate keys` reach the real Envoy (static mode: the bootstrap is
rendered from the config plus the key database) and their time limits hold without any
push: an expired key and a rotated-out secret past its grace are refused by the filter
itself, with the client's error format."""

import json
import secrets
import subprocess
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from conftest import BIN, Process, Stack, free_port, serving, wait_until

# Envoy must be ready before the short-lived secrets expire; it takes 15-20 s on a loaded
# 2-core machine (see conftest), so they live this long from their creation.
LIFETIME = timedelta(seconds=50)


class KeyStack(Stack):
    """The e2e stack plus a `control_plane:` section, its service and stored keys."""

    def __init__(self, workdir):
        super().__init__(workdir)
        self.service_port = free_port()
        self.admin_key = "ak-" + secrets.token_hex(12)
        self.env["TOLLGATE_INGEST_KEY"] = "ik-" + secrets.token_hex(12)
        self.env["TOLLGATE_ADMIN_KEY"] = self.admin_key
        self.database = workdir / "tollgate.db"
        self.secrets = {}

    @property
    def service_url(self) -> str:
        return f"http://127.0.0.1:{self.service_port}"

    def config_yaml(self) -> str:
        return super().config_yaml() + f"""
control_plane:
  listen: {{address: 127.0.0.1, port: {self.service_port}}}
  database: {self.database}
"""

    def keys(self, *args) -> dict:
        out = subprocess.run(
            [BIN / "tollgate", "keys", *args, "--server", self.service_url],
            env=self.env, capture_output=True, text=True, check=True,
        )
        return json.loads(out.stdout)

    def start(self):
        (self.workdir / "tollgate.yaml").write_text(self.config_yaml())
        service = Process("service", [BIN / "tollgate", "serve", "--config", self.workdir / "tollgate.yaml"],
                          self.workdir, self.env)
        self.processes.append(service)
        wait_until(lambda: httpx.get(f"{self.service_url}/openapi.json").status_code == 200,
                   f"service (log: {service.log_path})")
        self.expiry = datetime.now(timezone.utc) + LIFETIME
        expires_at = self.expiry.isoformat()
        self.secrets["scoped"] = self.keys("create", "--id", "scoped", "--models", "gpt,claude",
                                           "--providers", "mock-openai")["secret"]
        self.secrets["expiring"] = self.keys("create", "--id", "expiring", "--expires-at", expires_at)["secret"]
        self.secrets["revoked"] = self.keys("create", "--id", "revoked")["secret"]
        self.keys("revoke", "revoked")
        self.secrets["rotated-old"] = self.keys("create", "--id", "rotated")["secret"]
        self.secrets["rotated-new"] = self.keys(
            "rotate", "rotated", "--grace", f"{int(LIFETIME.total_seconds())}s")["secret"]
        super().start()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from serving(KeyStack(tmp_path_factory.mktemp("keys")))


def chat(stack, key: str) -> httpx.Response:
    return httpx.post(
        f"{stack.base_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "gpt", "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )


def messages(stack, key: str) -> httpx.Response:
    return httpx.post(
        f"{stack.base_url}/v1/messages",
        headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
        json={"model": "claude", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )


def test_stored_keys_work_in_scope_and_revoked_ones_do_not(stack):
    assert chat(stack, stack.secrets["scoped"]).status_code == 200
    # The provider scope leaves only aliases served by mock-openai.
    models = httpx.get(f"{stack.base_url}/v1/models",
                       headers={"authorization": f"Bearer {stack.secrets['scoped']}"}).json()
    assert [m["id"] for m in models["data"]] == ["gpt"]
    refused = messages(stack, stack.secrets["scoped"])
    assert refused.status_code == 403, refused.text
    revoked = chat(stack, stack.secrets["revoked"])
    assert revoked.status_code == 401
    assert revoked.json()["error"]["code"] == "invalid_api_key"


def test_expiry_and_rotation_grace_hold_without_a_push(stack):
    left = (stack.expiry - datetime.now(timezone.utc)).total_seconds()
    assert left > 2, f"Envoy became ready {-left:.0f} s too late for this test's key lifetime"
    for name in ("expiring", "rotated-old", "rotated-new"):
        assert chat(stack, stack.secrets[name]).status_code == 200, name
    time.sleep(left + 0.5)
    openai = chat(stack, stack.secrets["expiring"])
    assert openai.status_code == 401
    assert openai.json()["error"]["code"] == "expired_api_key"
    anthropic = messages(stack, stack.secrets["expiring"])
    assert anthropic.status_code == 401
    body = anthropic.json()
    assert body["type"] == "error" and body["error"]["type"] == "authentication_error", body
    assert "expired" in body["error"]["message"]
    old = chat(stack, stack.secrets["rotated-old"])
    assert (old.status_code, old.json()["error"]["code"]) == (401, "expired_api_key")
    assert chat(stack, stack.secrets["rotated-new"]).status_code == 200
