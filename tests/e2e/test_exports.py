"""Exports of usage records, end to end: real Envoy ships records to `tollgate serve`,
which writes them to a JSON Lines file, POSTs them to a webhook, and sends them as OTLP
spans to a receiver on loopback. The receiver parses every request with the official
OTLP protobuf definitions (the `opentelemetry-proto` package), as a collector would."""

import json
import threading
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from conftest import KEY_ALL, serving, wait_until
from test_usage_shipping import INGEST_HEADER, UsageStack


class Receiver:
    """An OTLP/HTTP traces endpoint and a webhook, on one loopback port."""

    def __init__(self):
        self.spans = []  # (resource attributes, span)
        self.webhook_records = []
        self.content_types = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.content_types.add((self.path, self.headers["content-type"]))
                if self.path == "/v1/traces":
                    request = ExportTraceServiceRequest.FromString(body)
                    for resource_spans in request.resource_spans:
                        resource = attributes(resource_spans.resource.attributes)
                        for scope_spans in resource_spans.scope_spans:
                            receiver.spans += [(resource, s) for s in scope_spans.spans]
                    reply, content_type = ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf"
                elif self.path == "/hook":
                    receiver.webhook_records += json.loads(body)["records"]
                    reply, content_type = b"{}", "application/json"
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def span(self, record_id):
        found = [s for _, s in self.spans if attributes(s.attributes).get("tollgate.record_id") == record_id]
        assert len(found) <= 1, record_id
        return found[0] if found else None


def attributes(key_values):
    out = {}
    for kv in key_values:
        kind = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, kind) if kind else None
    return out


class ExportStack(UsageStack):
    def __init__(self, workdir, receiver):
        super().__init__(workdir, "{flush_interval: 100ms, batch_records: 20}")
        self.receiver = receiver
        self.jsonl = workdir / "exports" / "usage.jsonl"

    def config_yaml(self) -> str:
        url = f"http://127.0.0.1:{self.receiver.port}"
        return super().config_yaml() + f"""  exports:
    - jsonl: {{path: {self.jsonl}}}
      flush_interval: 100ms
    - webhook: {{url: '{url}/hook'}}
      flush_interval: 100ms
    - otlp: {{endpoint: '{url}'}}
      flush_interval: 100ms
"""

    def exports(self):
        return httpx.get(f"{self.service_url}/v1/exports", headers={INGEST_HEADER: self.ingest_key}).json()["exports"]


@pytest.fixture(scope="module")
def export_stack(tmp_path_factory):
    receiver = Receiver()
    try:
        with contextmanager(serving)(ExportStack(tmp_path_factory.mktemp("exports"), receiver)) as stack:
            stack.start_service()
            yield stack
    finally:
        receiver.server.shutdown()


def chat(stack, alias, headers):
    request_id = str(uuid.uuid4())
    response = httpx.post(
        f"{stack.base_url}/v1/chat/completions",
        json={"model": alias, "messages": [{"role": "user", "content": "step"}]},
        headers={"authorization": f"Bearer {KEY_ALL}", "x-request-id": request_id, **headers},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return request_id, response


def test_a_run_reaches_the_file_the_webhook_and_the_collector_as_linked_spans(export_stack):
    stack, receiver = export_stack, export_stack.receiver
    run = "run-" + uuid.uuid4().hex[:8]
    attribution = {"x-tollgate-run-id": run, "x-tollgate-agent-id": "planner"}
    # Three steps of one trace, as an agent propagating W3C trace context sends them: each
    # step's parent span is the span the previous answer's `traceparent` named.
    trace = uuid.uuid4().hex
    root_span = parent_span = uuid.uuid4().hex[:16]
    ids = []
    for _ in range(3):
        headers = {**attribution, "traceparent": f"00-{trace}-{parent_span}-01"}
        if ids:
            headers["x-tollgate-parent-step-id"] = ids[-1]
        request_id, response = chat(stack, "gpt", headers)
        ids.append(request_id + ".1")
        parent_span = response.headers["traceparent"].split("-")[2]
    # A request whose first attempt fails over: two records, no run id.
    failover, _ = chat(stack, "fb-same", {"x-mock-status": "503@1"})
    all_ids = ids + [f"{failover}.1", f"{failover}.2"]

    wait_until(lambda: all(receiver.span(i) for i in all_ids), "the spans at the OTLP receiver", timeout=30)
    spans = [receiver.span(i) for i in ids]
    assert {s.trace_id for s in spans} == {bytes.fromhex(trace)}, "one run, one trace"
    assert spans[0].parent_span_id == bytes.fromhex(root_span)
    assert spans[1].parent_span_id == spans[0].span_id
    assert spans[2].parent_span_id == spans[1].span_id
    assert len({s.span_id for s in spans}) == 3

    def exported_lines():
        text = stack.jsonl.read_text() if stack.jsonl.exists() else ""
        return {r["id"]: r for r in map(json.loads, text.splitlines())}

    wait_until(lambda: set(all_ids) <= set(exported_lines()), "the JSON Lines file")
    stored = exported_lines()
    for span, record_id in zip(spans, ids):
        record = stored[record_id]
        attrs = attributes(span.attributes)
        assert span.name == "chat gpt"
        assert span.kind == Span.SPAN_KIND_CLIENT
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.provider.name"] == attrs["gen_ai.system"] == "openai"
        assert attrs["gen_ai.request.model"] == "gpt"
        assert attrs["gen_ai.response.model"] == "mock-gpt-upstream"
        usage = record["usage"]
        assert attrs["gen_ai.usage.input_tokens"] == usage["input_tokens"] + (usage["cache_read_tokens"] or 0) > 0
        assert attrs["gen_ai.usage.output_tokens"] == usage["output_tokens"] > 0
        assert attrs["tollgate.cost_nano_usd"] == record["cost_nano_usd"] > 0
        assert (attrs["tollgate.key_id"], attrs["tollgate.run_id"], attrs["tollgate.agent_id"]) == ("e2e-all", run, "planner")
        assert attrs["http.response.status_code"] == 200 and "error.type" not in attrs
        assert span.end_time_unix_nano == record["time_unix_ms"] * 1_000_000
        assert span.end_time_unix_nano - span.start_time_unix_nano == record["duration_ms"] * 1_000_000
    resource = next(r for r, s in receiver.spans if s.span_id == spans[0].span_id)
    assert resource["service.name"] == "tollgate"

    failed, served = receiver.span(f"{failover}.1"), receiver.span(f"{failover}.2")
    assert failed.trace_id == served.trace_id != spans[0].trace_id, "the attempts of a request share a trace"
    # The record's error class (what an operator groups failures by), not the raw status.
    assert attributes(failed.attributes)["error.type"] == exported_lines()[f"{failover}.1"]["error_class"] == "server"
    assert failed.status.code == failed.status.STATUS_CODE_ERROR
    assert attributes(served.attributes)["tollgate.fallback_step"] == "1"

    wait_until(lambda: set(all_ids) <= {r["id"] for r in receiver.webhook_records}, "the webhook's records")
    assert {r["id"]: r for r in receiver.webhook_records}[ids[0]] == stored[ids[0]]
    assert ("/v1/traces", "application/x-protobuf") in receiver.content_types
    assert ("/hook", "application/json") in receiver.content_types

    counters = {e["export"]: e for e in stack.exports()}
    assert set(counters) == {"0:jsonl", "1:webhook", "2:otlp"}
    for export in counters.values():
        assert export["exported"] >= len(all_ids)
        assert (export["dropped"], export["failed"]) == (0, 0)
