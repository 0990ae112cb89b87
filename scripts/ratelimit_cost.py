"""Envoy CPU per request of the two ways to rate-limit: a bounded micro-run on loopback.

    .tools/venv/bin/python scripts/ratelimit_cost.py [requests-per-run] [rounds] [clients]

Each variant runs its own Envoy (2 workers) with the Tollgate gateway filter in front of a
direct-response upstream (a second listener of the same Envoy), and sends the same chat
request from `clients` threads, each over its own keep-alive connection. The figure is Envoy's CPU time
(user + system, from /proc) divided by the requests, median of the rounds:

- baseline: a key without rate limits;
- shared-data: a key with requests and tokens per minute, for the key and for its agent
  (two scopes: two compare-and-swap admissions in wasm shared data; the token debit at
  the answer's end finds no usage here, a real answer adds one more update per scope);
- local-ratelimit: the unlimited key, plus Envoy's local rate limit filter with two
  descriptors built from headers the gateway filter sets (key, key + alias).

Not a benchmark of the gateway; it only compares the two mechanisms. Needs TOLLGATE_ENVOY
and TOLLGATE_WASM (as `make` exports them).
"""

import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ENVOY = os.environ["TOLLGATE_ENVOY"]
WASM = os.environ["TOLLGATE_WASM"]
FREE, LIMITED = "tg-cost-free", "tg-cost-limited"
HUGE = 1_000_000_000
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gateway_config():
    limits = {"requestsPerMinute": HUGE, "tokensPerMinute": HUGE}
    key = lambda id, plain, **extra: {
        "id": id, "sha256": hashlib.sha256(plain.encode()).hexdigest(), "models": ["*"], **extra}
    return {
        "role": "gateway", "version": 1, "models": [{"alias": "m", "provider": "p"}],
        "keys": [key("free", FREE), key("limited", LIMITED, rateLimits={**limits, "perAgent": limits})],
    }


def local_ratelimit():
    bucket = {"max_tokens": HUGE, "tokens_per_fill": HUGE, "fill_interval": "60s"}
    percent = lambda key: {"runtime_key": key, "default_value": {"numerator": 100, "denominator": "HUNDRED"}}
    context = "openai;chat;free"
    return {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
        "stat_prefix": "rl", "token_bucket": bucket,
        "filter_enabled": percent("rl_enabled"), "filter_enforced": percent("rl_enforced"),
        "descriptors": [
            {"entries": [{"key": "key", "value": context}], "token_bucket": bucket},
            {"entries": [{"key": "key", "value": context}, {"key": "alias", "value": "m"}], "token_bucket": bucket},
        ],
    }


def bootstrap(port, upstream, admin, with_local_ratelimit):
    header = lambda name, key: {"request_headers": {"header_name": name, "descriptor_key": key}}
    route = {"cluster": "up"}
    http_filters = [{
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": "gateway", "allow_on_headers_stop_iteration": True,
                "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                                  "value": json.dumps(gateway_config())},
                "vm_config": {"vm_id": "tollgate", "runtime": "envoy.wasm.runtime.v8",
                              "code": {"local": {"filename": WASM}}},
            },
        },
    }]
    if with_local_ratelimit:
        route["rate_limits"] = [
            {"actions": [header("x-tollgate-context", "key")]},
            {"actions": [header("x-tollgate-context", "key"), header("x-tollgate-alias", "alias")]},
        ]
        http_filters.append({"name": "envoy.filters.http.local_ratelimit",
                             "typed_config": local_ratelimit()})
    http_filters.append({"name": "envoy.filters.http.router", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}})
    hcm = lambda prefix, routes, filters: {
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": prefix, "http_filters": filters,
            "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": routes}]},
        },
    }
    listener = lambda name, p, chain: {
        "name": name, "address": {"socket_address": {"address": "127.0.0.1", "port_value": p}},
        "filter_chains": [{"filters": [chain]}],
    }
    direct = [{"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "{}"}}}]
    router_only = [{"name": "envoy.filters.http.router", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
        "static_resources": {
            "listeners": [
                listener("gateway", port, hcm("gw", [{"match": {"prefix": "/"}, "route": route}], http_filters)),
                listener("upstream", upstream, hcm("up", direct, router_only)),
            ],
            "clusters": [{
                "name": "up", "type": "STATIC", "connect_timeout": "1s",
                "load_assignment": {"cluster_name": "up", "endpoints": [{"lb_endpoints": [{"endpoint": {
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": upstream}}}}]}]},
            }],
        },
    }


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def run(variant, requests, clients, workdir):
    port, upstream, admin = free_port(), free_port(), free_port()
    config = workdir / f"{variant}.json"
    config.write_text(json.dumps(bootstrap(port, upstream, admin, variant == "local-ratelimit")))
    log = open(workdir / f"{variant}.log", "w")
    envoy = subprocess.Popen([ENVOY, "-c", config, "--concurrency", "2", "--disable-hot-restart",
                              "--log-level", "warn"], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{admin}/ready").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"envoy did not start, see {workdir / variant}.log")
            time.sleep(0.05)
        key = LIMITED if variant == "shared-data" else FREE
        headers = {"authorization": f"Bearer {key}", "x-tollgate-agent-id": "planner"}
        body = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}

        def client_run(count):
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
                for _ in range(count):
                    answer = client.post("/v1/chat/completions", json=body)
                    assert answer.status_code == 200, answer.text

        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(client_run, [200 // clients] * clients))  # warm-up
            before = cpu_seconds(envoy.pid)
            list(pool.map(client_run, [requests // clients] * clients))
            used = cpu_seconds(envoy.pid) - before
        if variant == "local-ratelimit":
            # The filter really ran: every request counted as within the limit.
            stats = httpx.get(f"http://127.0.0.1:{admin}/stats?format=json&filter=http_local_rate_limit.ok").json()
            ok = sum(s["value"] for s in stats["stats"] if "value" in s)
            assert ok >= requests, stats
        return used / (requests // clients * clients) * 1e6
    finally:
        envoy.terminate()
        envoy.wait()
        log.close()


def main():
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    clients = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    variants = ["baseline", "shared-data", "local-ratelimit"]
    results = {v: [] for v in variants}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            for v in variants:
                results[v].append(run(v, requests, clients, Path(tmp)))
    base = statistics.median(results["baseline"])
    print(f"Envoy CPU per request, median of {rounds} runs of {requests} requests from {clients} clients:")
    for v in variants:
        m = statistics.median(results[v])
        runs = ", ".join(f"{r:.0f}" for r in results[v])
        print(f"  {v:16} {m:7.1f} µs  ({m - base:+.1f} µs vs baseline; runs: {runs})")


if __name__ == "__main__":
    main()
