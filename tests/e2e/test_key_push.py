"""Keys managed through the admin API reach every Envoy over xDS: two Envoys on one
`tollgate serve --wasm`, a key created, revoked and rotated through the REST API or
`tollgate keys`, and the audit log those changes wrote checked by `tollgate audit verify`,
before and after an entry is edited in the SQLite file.

The push is measured (printed here, and by scripts/bench_xds.py in `make bench`), not
asserted: the 5 s bounds below are only timeouts.
"""

import json
import secrets
import sqlite3
import subprocess
import threading
import time

import httpx
import pytest

from conftest import BIN, serving
from test_xds import PUSH_TIMEOUT, SmallXdsStack, chat


class KeyPushStack(SmallXdsStack):
    """The small xDS stack with an admin credential, so keys can be managed at runtime."""

    def __init__(self, workdir):
        super().__init__(workdir)
        self.admin_key = "ak-" + secrets.token_hex(12)
        self.env["TOLLGATE_ADMIN_KEY"] = self.admin_key
        self.database = workdir / "tollgate.db"

    def admin(self, method: str, path: str, body: dict | None = None) -> dict:
        """The admin REST API: answers 2xx or the test fails."""
        answer = httpx.request(method, f"{self.xds_url}/v1/admin/keys{path}", json=body, timeout=10,
                               headers={"authorization": f"Bearer {self.admin_key}"})
        assert answer.is_success, answer.text
        return answer.json()

    def keys(self, *args) -> dict:
        """`tollgate keys …` against this control plane."""
        out = subprocess.run([BIN / "tollgate", "keys", *args, "--server", self.xds_url],
                             env=self.env, capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    def audit(self, *args) -> subprocess.CompletedProcess:
        return subprocess.run([BIN / "tollgate", "audit", *args, "--database", self.database],
                              env=self.env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from serving(KeyPushStack(tmp_path_factory.mktemp("keypush")))


def effect_latency(stack, start: float, check, timeout: float = PUSH_TIMEOUT) -> list:
    """Seconds from `start` (time.monotonic) until `check(url)` holds, per Envoy, polled
    concurrently every 5 ms; None where it never did within `timeout`."""
    results = [None] * len(stack.nodes)

    def poll(i, url):
        while time.monotonic() - start < timeout:
            if check(url):
                results[i] = time.monotonic() - start
                return
            time.sleep(0.005)

    threads = [threading.Thread(target=poll, args=(i, stack.node_url(n))) for i, n in enumerate(stack.nodes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def works(key: str):
    return lambda url: chat(url, key).status_code == 200


def refused(key: str, code: str):
    return lambda url: refusal(url, key) == (401, code)


def refusal(url: str, key: str) -> tuple:
    answer = chat(url, key)
    return answer.status_code, answer.json().get("error", {}).get("code")


def anthropic_refusal(url: str, key: str) -> tuple:
    answer = httpx.post(f"{url}/v1/messages", timeout=10,
                        headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
                        json={"model": "claude", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]})
    body = answer.json()
    return answer.status_code, body.get("type"), body.get("error", {}).get("type")


def on_every_envoy(stack, what: str, start: float, check) -> list:
    """Waits for `check` on every Envoy, reports the latency per Envoy and returns it."""
    latency = effect_latency(stack, start, check)
    assert None not in latency, f"{what}: not on every Envoy within {PUSH_TIMEOUT}s: {latency}"
    print(f"push-to-effect, {what}: " + ", ".join(f"{n['id']} {s * 1000:.0f} ms" for n, s in zip(stack.nodes, latency)))
    return latency


def test_a_key_created_through_the_api_works_on_both_envoys_and_a_revoked_one_is_refused(stack):
    secret_before = "tg-not-issued-" + secrets.token_hex(8)
    for node in stack.nodes:
        assert refusal(stack.node_url(node), secret_before) == (401, "invalid_api_key")

    start = time.monotonic()
    created = stack.admin("POST", "", {"id": "pushed", "models": ["*"]})
    assert created["key"]["id"] == "pushed"
    on_every_envoy(stack, "API create", start, works(created["secret"]))

    start = time.monotonic()
    stack.keys("revoke", "pushed")
    on_every_envoy(stack, "CLI revoke", start, refused(created["secret"], "invalid_api_key"))
    for node in stack.nodes:
        # The same refusal in the Anthropic client's format.
        assert anthropic_refusal(stack.node_url(node), created["secret"]) == (401, "error", "authentication_error")


def test_a_rotated_key_new_secret_works_and_the_old_one_stops_after_its_grace(stack):
    start = time.monotonic()
    old = stack.keys("create", "--id", "rotating")["secret"]
    on_every_envoy(stack, "CLI create", start, works(old))

    grace = 3
    start = time.monotonic()
    new = stack.keys("rotate", "rotating", "--grace", f"{grace}s")["secret"]
    assert new != old
    # Before and after the push alike, the old secret is in its grace.
    for node in stack.nodes:
        assert chat(stack.node_url(node), old).status_code == 200
    on_every_envoy(stack, "rotate (new secret)", start, works(new))
    # The filter refuses the old secret at the end of its grace, without another push.
    latency = effect_latency(stack, start, refused(old, "expired_api_key"), timeout=grace + PUSH_TIMEOUT)
    assert None not in latency, latency
    assert min(latency) >= grace - 0.5, f"the old secret was refused before its grace ended: {latency}"
    for node in stack.nodes:
        assert chat(stack.node_url(node), new).status_code == 200


def test_the_audit_log_of_these_changes_verifies_and_an_edited_entry_is_detected(stack):
    created = stack.admin("POST", "", {"id": "audited", "models": ["gpt"]})
    stack.admin("POST", "/audited/rotate", {"grace_seconds": 0})
    stack.admin("POST", "/audited/revoke")
    assert created["secret"] not in stack.database.read_bytes().decode("latin-1")

    verified = stack.audit("verify")
    assert verified.returncode == 0, verified.stderr
    assert "audit log OK" in verified.stdout
    exported = stack.audit("export")
    assert exported.returncode == 0, exported.stderr
    entries = [json.loads(line) for line in exported.stdout.splitlines()]
    audited = [(e["actor"], e["action"]) for e in entries if e["target"] == "key/audited"]
    assert audited == [("admin", "key.create"), ("admin", "key.rotate"), ("admin", "key.revoke")], entries
    assert created["secret"] not in exported.stdout

    # Someone with write access to the file turns the revocation into an update.
    seq = next(e["seq"] for e in entries if (e["target"], e["action"]) == ("key/audited", "key.revoke"))
    with sqlite3.connect(stack.database) as db:
        changed = db.execute("UPDATE audit_log SET action = 'key.update' WHERE seq = ?", (seq,)).rowcount
    assert changed == 1
    tampered = stack.audit("verify")
    assert tampered.returncode == 1, (tampered.stdout, tampered.stderr)
    assert f"entry {seq} was modified" in tampered.stderr
