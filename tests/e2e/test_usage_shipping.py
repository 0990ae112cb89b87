"""Usage records leave Envoy for the Tollgate service: delivered exactly once across a
service outage, never counted twice when a batch is replayed, and counted when a full
buffer drops them. Real Envoy (two workers plus the main thread, each with its own root
context), real tollgate.wasm, `tollgate serve` started and stopped on its own."""

import json
import secrets
import sqlite3
import subprocess
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest

from conftest import BIN, KEY_ALL, Process, Stack, free_port, serving, wait_until

INGEST_HEADER = "x-tollgate-ingest-key"


class UsageStack(Stack):
    """The e2e stack plus a `control_plane:` section and the service it names."""

    def __init__(self, workdir, usage: str):
        super().__init__(workdir)
        self.usage = usage
        self.service_port = free_port()
        self.ingest_key = "ik-" + secrets.token_hex(12)
        self.env["TOLLGATE_INGEST_KEY"] = self.ingest_key
        self.database = workdir / "usage.db"
        self.service = None
        self.service_starts = 0

    @property
    def service_url(self) -> str:
        return f"http://127.0.0.1:{self.service_port}"

    def config_yaml(self) -> str:
        return super().config_yaml() + f"""
control_plane:
  listen: {{address: 127.0.0.1, port: {self.service_port}}}
  database: {self.database}
  usage: {self.usage}
"""

    def start_service(self):
        self.service_starts += 1
        self.service = Process(
            f"service-{self.service_starts}",
            [BIN / "tollgate", "serve", "--config", self.workdir / "tollgate.yaml"],
            self.workdir, self.env,
        )
        self.processes.append(self.service)
        wait_until(lambda: self.report("provider").status_code == 200, f"service (log: {self.service.log_path})")

    def stop_service(self):
        self.service.stop()
        self.processes.remove(self.service)

    def report(self, group_by: str, fmt: str = "json") -> httpx.Response:
        return httpx.get(
            f"{self.service_url}/v1/usage",
            params={"group_by": group_by, "format": fmt},
            headers={INGEST_HEADER: self.ingest_key},
        )

    def stored_ids(self) -> list:
        if not self.database.exists():
            return []
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as db:
            return [row[0] for row in db.execute("SELECT id FROM usage_records")]

    def stat(self, name: str) -> int:
        text = httpx.get(f"http://127.0.0.1:{self.admin_port}/stats", params={"filter": name}).text
        for line in text.splitlines():
            stat, _, value = line.partition(": ")
            if stat.endswith(name):
                return int(value)
        return 0

    def access_log_records(self, count: int) -> list:
        """The usage records in the access log, once there are `count` of them."""
        wait_until(lambda: len(self.usage_records()) >= count, f"{count} usage records in the access log")
        return self.usage_records()


def send(stack, count: int, first: int = 0) -> list:
    """`count` chat requests, every third streamed, alternating two providers."""

    def one(i):
        body = {"model": "gpt" if i % 2 else "claude", "messages": [{"role": "user", "content": f"request {i}"}]}
        if i % 3 == 0:
            body["stream"] = True
        r = httpx.post(
            f"{stack.base_url}/v1/chat/completions",
            json=body, headers={"authorization": f"Bearer {KEY_ALL}"}, timeout=30,
        )
        return r.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(first, first + count)))


@contextmanager
def running(tmp_path_factory, name: str, usage: str):
    """A started UsageStack (without its service), stopped on exit."""
    yield from serving(UsageStack(tmp_path_factory.mktemp(name), usage))


@pytest.fixture(scope="module")
def usage_stack(tmp_path_factory):
    usage = "{flush_interval: 100ms, timeout: 1s, batch_records: 20, backoff: {base: 100ms, max: 500ms}}"
    with running(tmp_path_factory, "usage", usage) as stack:
        stack.start_service()
        yield stack


def test_every_record_arrives_exactly_once_across_a_service_outage(usage_stack):
    stack = usage_stack
    statuses = send(stack, 60)
    stack.stop_service()
    statuses += send(stack, 80, first=60)
    # Batches fail while the service is down; the records wait in Envoy.
    wait_until(lambda: stack.stat("tollgate_usage_failed_sends") > 0, "a failed send while the service is down")
    stack.start_service()
    statuses += send(stack, 60, first=140)
    assert statuses == [200] * 200

    records = stack.access_log_records(200)
    ids = [r["id"] for r in records]
    assert len(ids) == 200 and len(set(ids)) == 200, "one record, with its own id, per attempt"
    for entry in (e for e in stack.access_log_entries() if e.get("usage") not in (None, "-")):
        record = json.loads(entry["usage"])
        assert record["id"] == f"{entry['request_id']}.{entry['attempts']}", "id = Envoy's request id + attempt"

    wait_until(lambda: len(stack.stored_ids()) >= 200, "delivery of every record", timeout=30)
    stored = stack.stored_ids()
    assert sorted(stored) == sorted(ids), "each record stored exactly once"
    assert stack.stat("tollgate_usage_dropped") == 0
    assert stack.stat("tollgate_usage_delivered") >= 200

    by_provider = stack.report("provider").json()["groups"]
    assert sum(g["requests"] for g in by_provider) == 200
    assert {g["group"] for g in by_provider} == {"mock-openai", "mock-anthropic"}
    assert all(g["input_tokens"] > 0 and g["output_tokens"] > 0 for g in by_provider)


def test_a_replayed_batch_is_not_counted_twice(usage_stack):
    stack = usage_stack
    logged = len(stack.usage_records())
    assert send(stack, 4, first=1000) == [200] * 4
    records = stack.access_log_records(logged + 4)
    wait_until(lambda: len(stack.stored_ids()) == len(records), "delivery")
    before = stack.report("alias").json()
    batch = "\n".join(json.dumps(r) for r in records[-10:])
    url = f"{stack.service_url}/v1/usage/records"
    replay = httpx.post(url, content=batch, headers={INGEST_HEADER: stack.ingest_key})
    assert replay.status_code == 200, replay.text
    assert replay.json() == {"received": 10, "stored": 0, "duplicates": 10, "rejected": 0, "audited": 0, "pinned": 0}
    assert stack.report("alias").json() == before
    assert httpx.post(url, content=batch).status_code == 401, "no key, no ingest"
    assert httpx.post(url, content=batch, headers={INGEST_HEADER: "guess"}).status_code == 401


def test_cli_reports_from_the_database(usage_stack):
    stack = usage_stack
    wait_until(lambda: len(stack.stored_ids()) == len(stack.usage_records()), "delivery")
    out = subprocess.run(
        [BIN / "tollgate", "usage", "--database", stack.database, "--group-by", "alias", "--format", "csv",
         "--from", "2020-01-01"],
        check=True, capture_output=True, text=True,
    ).stdout
    rows = [line.split(",") for line in out.splitlines()]
    assert rows[0][:3] == ["alias", "requests", "input_tokens"]
    counts = {row[0]: int(row[1]) for row in rows[1:]}
    assert set(counts) == {"gpt", "claude"}
    assert sum(counts.values()) == len(stack.stored_ids())


def test_a_full_buffer_drops_the_oldest_and_counts_them(tmp_path_factory):
    # Three records per root context at most; the service is down while 20 are made.
    usage = "{flush_interval: 100ms, timeout: 1s, batch_records: 1, buffer_records: 3, backoff: {base: 100ms, max: 300ms}}"
    with running(tmp_path_factory, "usage-drop", usage) as stack:
        assert send(stack, 20) == [200] * 20
        stack.access_log_records(20)
        wait_until(lambda: stack.stat("tollgate_usage_dropped") >= 20 - 3 * 3, "drops counted")
        stack.start_service()
        settled = lambda: stack.stat("tollgate_usage_delivered") + stack.stat("tollgate_usage_dropped") == 20
        wait_until(settled, "every record delivered or counted as dropped", timeout=30)
        delivered = stack.stat("tollgate_usage_delivered")
        assert len(stack.stored_ids()) == delivered <= 3 * 3
