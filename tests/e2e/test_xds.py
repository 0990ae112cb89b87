"""The xDS control plane with real Envoys: two Envoys on one `tollgate serve`, config file
edits pushed to both (keys as ECDS-only pushes, a route change under load), and a config
one Envoy rejects (its listener port is taken on its host) NACKed while it keeps serving.

Push-to-effect latency is measured by scripts/bench_xds.py (`make bench`), not asserted
here: the 5 s bounds below are only timeouts.
"""

import re
import signal
import socket
import threading
import time

import httpx
import pytest

from conftest import BIN, ENVOY, KEY_ALL, WASM, Process, XdsStack, free_port, serving, sha256_hex, wait_until

LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener"
ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
EXTENSION = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"
PUSH_TIMEOUT = 5.0


class SmallXdsStack(XdsStack):
    """Two providers and three aliases: quick to load on every Envoy."""

    def config_yaml(self) -> str:
        return f"""
version: 1
listen: {{address: 127.0.0.1, port: {self.port}}}
admin: {{address: 127.0.0.1, port: {self.admin_port}}}
access_log: {self.access_log}
providers:
  - name: mock-openai
    kind: openai
    base_url: http://127.0.0.1:{self.mock_port}/v1
    credential: {{env: MOCK_PROVIDER_KEY}}
  - name: mock-anthropic
    kind: anthropic
    base_url: http://127.0.0.1:{self.mock_port}/v1
    credential: {{env: MOCK_PROVIDER_KEY}}
models:
  - {{alias: gpt, provider: mock-openai, model: before-change}}
  - {{alias: claude, provider: mock-anthropic, model: mock-claude-upstream}}
keys:
  - {{id: e2e-all, sha256: {sha256_hex(KEY_ALL)}, models: ["*"], team: e2e}}
""" + self.control_plane_yaml()


@pytest.fixture(scope="module")
def xds(tmp_path_factory):
    yield from serving(SmallXdsStack(tmp_path_factory.mktemp("xds")))


def chat(url: str, key: str, model: str = "gpt", headers: dict | None = None) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}", **(headers or {})},
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )


def node_status(stack, node_id: str) -> dict:
    return next(e for e in stack.xds_status()["envoys"] if e["node"] == node_id)


def add_key(text: str, key_id: str, plaintext: str) -> str:
    added = text.replace("keys:\n", f'keys:\n  - {{id: {key_id}, sha256: {sha256_hex(plaintext)}, models: ["*"]}}\n', 1)
    assert added != text
    return added


def wait_for_push(what: str, check):
    wait_until(check, what, timeout=PUSH_TIMEOUT)


def test_two_envoys_on_one_control_plane_both_serve(xds):
    status = xds.xds_status()
    assert sorted(e["node"] for e in status["envoys"]) == ["edge-0", "edge-1"]
    for envoy in status["envoys"]:
        for type_url in (LISTENER, ROUTE, CLUSTER, EXTENSION):
            assert envoy["types"][type_url]["acked"] == str(status["version"]), (envoy, type_url)
    for node in xds.nodes:
        answer = chat(xds.node_url(node), KEY_ALL)
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"] == "before-change"


def test_a_key_added_to_the_config_file_works_on_every_envoy(xds):
    original = xds.config_path.read_text()
    key = "tg-e2e-xds-added-key"
    for node in xds.nodes:
        assert chat(xds.node_url(node), key).status_code == 401
    before = {n["id"]: node_status(xds, n["id"])["types"] for n in xds.nodes}
    try:
        xds.edit_config(add_key(original, "added", key))
        for node in xds.nodes:
            wait_for_push(f"the new key on {node['id']}",
                          lambda: chat(xds.node_url(node), key).status_code == 200)
        # An ECDS-only push: listeners, routes and clusters were not sent again.
        for node in xds.nodes:
            after = node_status(xds, node["id"])["types"]
            for type_url in (LISTENER, ROUTE, CLUSTER):
                assert after[type_url]["sent"] == before[node["id"]][type_url]["sent"], type_url
            assert after[EXTENSION]["sent"] != before[node["id"]][EXTENSION]["sent"]
    finally:
        xds.edit_config(original)
    for node in xds.nodes:
        wait_for_push(f"the key removed on {node['id']}",
                      lambda: chat(xds.node_url(node), key).status_code == 401)


def test_a_route_change_under_load_fails_no_request(xds):
    original = xds.config_path.read_text()
    changed = original.replace(
        "{alias: gpt, provider: mock-openai, model: before-change}",
        "{alias: gpt, provider: mock-anthropic, model: after-change}",
    )
    assert changed != original
    outcomes, lock = [], threading.Lock()

    def load(url: str, count: int):
        with httpx.Client(timeout=10) as client:
            for _ in range(count):
                try:
                    answer = client.post(
                        f"{url}/v1/chat/completions",
                        # Each request is in flight for a while, so some span the push.
                        headers={"authorization": f"Bearer {KEY_ALL}", "x-mock-delay-ms": "30"},
                        json={"model": "gpt", "messages": [{"role": "user", "content": "hi"}]},
                    )
                    body = answer.json()
                    # A failure says why (its error object) in the assertion below.
                    outcome = (answer.status_code, body.get("model") or body.get("error"))
                except httpx.HTTPError as e:
                    outcome = (type(e).__name__, None)
                with lock:
                    outcomes.append(outcome)

    # 200 requests: 2 clients per Envoy, 50 each, on 127.0.0.1.
    threads = [threading.Thread(target=load, args=(xds.node_url(n), 50)) for n in xds.nodes for _ in range(2)]
    try:
        for t in threads:
            t.start()
        wait_until(lambda: len(outcomes) >= 40, "the load to get going", timeout=30)
        xds.edit_config(changed)
        for t in threads:
            t.join(timeout=120)
    finally:
        xds.edit_config(original)
    failures = [o for o in outcomes if o[0] != 200]
    assert len(outcomes) == 200
    assert failures == [], failures
    models = {model for _, model in outcomes}
    # Served before and after the push, both within the load.
    assert models == {"before-change", "after-change"}, models
    for node in xds.nodes:
        wait_for_push(f"the route restored on {node['id']}",
                      lambda: chat(xds.node_url(node), KEY_ALL).json()["model"] == "before-change")


def test_a_listener_envoy_cannot_bind_is_nacked_and_the_old_one_keeps_serving(xds):
    original = xds.config_path.read_text()
    rejecting = xds.nodes[-1]  # the Envoy that listens on the config's port
    other = xds.nodes[0]       # has a listener address of its own: unaffected
    nacks_before = xds.xds_status()["nacks_total"]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        moved = re.sub(r"^listen: \{address: 127.0.0.1, port: \d+\}$",
                       f"listen: {{address: 127.0.0.1, port: {port}}}", original, count=1, flags=re.M)
        assert moved != original
        try:
            xds.edit_config(moved)
            wait_for_push("the NACK", lambda: node_status(xds, rejecting["id"])["types"][LISTENER]["nacked"])
            status = xds.xds_status()
            nack = node_status(xds, rejecting["id"])["types"][LISTENER]["nacked"]
            assert nack["version"] == str(status["version"])
            assert "Address already in use" in nack["message"], nack
            assert status["nacks_total"] == nacks_before + 1
            assert node_status(xds, rejecting["id"])["types"][LISTENER]["acked"] != nack["version"]
            assert node_status(xds, other["id"])["types"][LISTENER]["nacked"] is None
            assert "rejected Listener" in xds.control_plane.log()
            # Both keep serving on their old listeners.
            for node in (rejecting, other):
                assert chat(xds.node_url(node), KEY_ALL).status_code == 200
        finally:
            xds.edit_config(original)
    # The original config again: accepted, and the rejection is cleared.
    wait_for_push("the restored listener", lambda: node_status(xds, rejecting["id"])["types"][LISTENER]["nacked"] is None)
    assert chat(xds.node_url(rejecting), KEY_ALL).status_code == 200


def test_an_invalid_edit_keeps_the_last_good_config(xds):
    original = xds.config_path.read_text()
    version = xds.xds_status()["version"]
    kept = "the last good configuration stays in place"
    rejected_before = xds.control_plane.log().count(kept)
    try:
        xds.edit_config(original.replace("kind: anthropic", "kind: no-such-kind"))
        wait_until(lambda: xds.control_plane.log().count(kept) == rejected_before + 1,
                   "the rejected edit", timeout=PUSH_TIMEOUT)
        assert xds.xds_status()["version"] == version
        for node in xds.nodes:
            assert chat(xds.node_url(node), KEY_ALL, model="claude").status_code == 200
    finally:
        xds.edit_config(original)


def test_tollgate_run_configures_its_envoy_over_xds_and_applies_edits(xds, tmp_path):
    """`tollgate run` (what `make run` starts): one Envoy, xDS from the same process on a
    loopback port of its own (this config has no `control_plane:`), edits pushed."""
    port, admin_port = free_port(), free_port()
    text = xds.config_yaml().split("\ncontrol_plane:")[0]
    text = re.sub(r"^listen: .*$", f"listen: {{address: 127.0.0.1, port: {port}}}", text, count=1, flags=re.M)
    text = re.sub(r"^admin: .*$", f"admin: {{address: 127.0.0.1, port: {admin_port}}}", text, count=1, flags=re.M)
    config = tmp_path / "run.yaml"
    config.write_text(text)
    run = Process("tollgate-run", [BIN / "tollgate", "run", "--config", config, "--wasm", WASM, "--envoy", ENVOY,
                                   "--workdir", tmp_path / "run"], tmp_path, xds.env)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: "Tollgate is ready" in run.log(), f"tollgate run (log: {run.log_path})", timeout=60)
        assert "xDS from this process" in run.log()
        assert chat(url, KEY_ALL).status_code == 200
        key = "tg-e2e-xds-run-key"
        assert chat(url, key).status_code == 401
        config.with_suffix(".new").write_text(add_key(text, "run-added", key))
        config.with_suffix(".new").replace(config)
        wait_for_push("the new key", lambda: chat(url, key).status_code == 200)
        assert "pushed as version 2" in run.log()
    finally:
        run.stop()
    assert run.proc.returncode == 128 + signal.SIGTERM or run.proc.returncode == 0, run.log()
