"""`make bench`: what Tollgate costs on the data path.

Runs the same 1.9 KB OpenAI chat request, side by side in one run on loopback, against:
  direct          the mock provider itself
  envoy           bare Envoy proxying to it (no filters but the router)
  tollgate        Envoy + tollgate.wasm: auth, routing, usage (OpenAI passthrough)
  tollgate-xlate  Envoy + tollgate.wasm translating to an Anthropic-format provider
  tollgate-guard  passthrough with a realistic guardrail set on input and output
  tollgate-fallbk every request fails its first attempt (503) and the fallback answers
  tollgate-acct   passthrough with the accounting stage on: usage records shipped to the
                  Tollgate service, rate limits (key and agent) and a budget on the key
                  (a second Envoy, same filter; limits far above the load, so nothing is refused)
each non-streaming and streaming. Envoy runs with one worker pinned to CPU 0; the load
generator (wrk) and the mock share CPU 1, so the proxy's figures are its own.

Then the cost of the filter's Prometheus metrics: the passthrough against a second Envoy
whose config turns them off (`metrics: {enabled: false}`), in alternating rounds
(METRICS_ROUNDS, default 4 of each), medians compared: measured one after the other,
drift in the machine's load swamps a difference this small.

Prints requests/s, p50/p99 latency, Envoy CPU per request (from /proc, user+system), and
the filter's added CPU and latency over bare Envoy. Not a test: nothing here asserts.
"""

import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENVOY = os.environ["TOLLGATE_ENVOY"]
WASM = os.environ["TOLLGATE_WASM"]
RELEASE = ROOT / "target" / "release"
DURATION = int(os.environ.get("BENCH_SECONDS", "10"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
# A comma-separated subset of the variants to run (e.g. "envoy,tollgate,tollgate-acct").
ONLY = [v for v in os.environ.get("BENCH_VARIANTS", "").split(",") if v]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.05)
    raise TimeoutError(url)


def start(args, log, cpu=None, env=None):
    if cpu is not None:
        args = ["taskset", "-c", str(cpu)] + args
    return subprocess.Popen([str(a) for a in args], stdout=log, stderr=subprocess.STDOUT,
                            env=env or os.environ, start_new_session=True)


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def chat_body(stream):
    filler = "Tollgate benchmark context. " * 60
    body = {
        "model": "bench",
        "messages": [
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": filler.strip()},
            {"role": "assistant", "content": "Understood."},
            {"role": "user", "content": "Summarise the context in one sentence."},
        ],
        "temperature": 0.2,
        "max_tokens": 64,
        "stream": stream,
    }
    return json.dumps(body)


def wrk(url, body, headers, cpu):
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    script.write("\n".join(lines) + "\n")
    script.close()

    def run(seconds):
        out = subprocess.run(
            ["taskset", "-c", str(cpu), "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency",
             "-s", script.name, url],
            capture_output=True, text=True, check=True,
        ).stdout
        return out

    run(WARMUP)
    return run, script.name


def parse_wrk(out):
    def latency_ms(label):
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests": requests, "rps": rps, "p50": latency_ms("50"), "p99": latency_ms("99"),
            "non2xx": int(errors.group(1)) if errors else 0}


def bare_envoy_config(port, admin, mock_port):
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
        "static_resources": {
            "listeners": [{
                "name": "bare",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                        "stat_prefix": "bare",
                        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
                            {"match": {"prefix": "/"}, "route": {"cluster": "mock", "timeout": "60s"}}]}]},
                        "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
                    },
                }]}],
            }],
            "clusters": [{
                "name": "mock", "type": "STATIC", "connect_timeout": "5s",
                "load_assignment": {"cluster_name": "mock", "endpoints": [{"lb_endpoints": [{"endpoint": {
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": mock_port}}}}]}]},
            }],
        },
    }


def tollgate_config(port, admin, mock_port, key_hash, accounting=None, metrics=True):
    """The bench gateway's config; `accounting` = (service port, database path) turns on
    usage shipping, rate limits and a budget for the key; `metrics=False` turns the
    filter's Prometheus metrics off."""
    key_limits = ""
    sections = ""
    if accounting:
        service_port, database = accounting
        key_limits = (", rate_limits: {requests_per_minute: 1000000000, tokens_per_minute: 1000000000000, "
                      "per_agent: {requests_per_minute: 1000000000}}")
        sections = f"""control_plane:
  listen: {{address: 127.0.0.1, port: {service_port}}}
  database: {database}
budgets:
  limits:
    - {{id: bench, key: bench, limit_usd: 1000000, period: daily, alert_at_percent: [90]}}
"""
    switch = "" if metrics else "metrics: {enabled: false}\n"
    return switch + f"""
version: 1
listen: {{address: 127.0.0.1, port: {port}}}
admin: {{address: 127.0.0.1, port: {admin}}}
access_log: /dev/null
providers:
  - {{name: mock-openai, kind: openai, base_url: "http://127.0.0.1:{mock_port}/v1", credential: {{env: BENCH_PROVIDER_KEY}}}}
  - {{name: mock-anthropic, kind: anthropic, base_url: "http://127.0.0.1:{mock_port}/v1", credential: {{env: BENCH_PROVIDER_KEY}}}}
  - {{name: mock-openai-b, kind: openai, base_url: "http://127.0.0.1:{mock_port}/v1", credential: {{env: BENCH_PROVIDER_KEY}}}}
models:
  - {{alias: bench, provider: mock-openai, model: mock-gpt}}
  - {{alias: bench-xlate, provider: mock-anthropic, model: mock-claude}}
  - {{alias: bench-guard, provider: mock-openai, model: mock-gpt}}
  # Every request fails its first attempt (the mock is told per request) and is answered
  # by the fallback: the cost of one retry plus one fallback step.
  - alias: bench-fallback
    route: {{fallback: [{{provider: mock-openai, model: mock-gpt}}, {{provider: mock-openai-b, model: mock-gpt}}]}}
    retry: {{backoff: {{base: 1ms, max: 2ms}}}}
# A realistic rule set on bench-guard only: PII redaction, secrets and a keyword list denied.
guardrails:
  checks:
    - name: pii
      action: redact
      scope: {{models: [bench-guard]}}
      rules:
        - {{type: pii, entities: [email, phone, credit_card, us_ssn, iban, ipv4, ipv6]}}
    - name: secrets
      action: deny
      scope: {{models: [bench-guard]}}
      rules:
        - {{type: pii, entities: [secret]}}
        - {{type: keywords, name: codenames, words: [project nightingale, operation bluebird], whole_word: true}}
keys:
  - {{id: bench, sha256: {key_hash}, models: ["*"]{key_limits}}}
{sections}"""


def main():
    if not shutil.which("wrk"):
        sys.exit("wrk not found: install it (Debian: apt-get install wrk)")
    work = Path(tempfile.mkdtemp(prefix="tollgate-bench-"))
    provider_key = "sk-bench-" + secrets.token_hex(8)
    virtual_key = "tg-bench-" + secrets.token_hex(8)
    env = dict(os.environ, BENCH_PROVIDER_KEY=provider_key, TOLLGATE_INGEST_KEY="ik-" + secrets.token_hex(8))
    mock_port, bare_port, bare_admin, tg_port, tg_admin = (free_port() for _ in range(5))
    acct_port, acct_admin, service_port, nm_port, nm_admin = (free_port() for _ in range(5))
    log = open(work / "processes.log", "wb")
    procs = []
    try:
        mock = start([RELEASE / "mock-provider", "--listen", f"127.0.0.1:{mock_port}",
                      "--openai-key", provider_key, "--anthropic-key", provider_key], log, cpu=1, env=env)
        procs.append(mock)
        (work / "bare.json").write_text(json.dumps(bare_envoy_config(bare_port, bare_admin, mock_port)))
        (work / "tollgate.yaml").write_text(
            tollgate_config(tg_port, tg_admin, mock_port, hashlib.sha256(virtual_key.encode()).hexdigest()))
        (work / "acct.yaml").write_text(tollgate_config(
            acct_port, acct_admin, mock_port, hashlib.sha256(virtual_key.encode()).hexdigest(),
            accounting=(service_port, work / "usage.db")))
        (work / "nometrics.yaml").write_text(
            tollgate_config(nm_port, nm_admin, mock_port, hashlib.sha256(virtual_key.encode()).hexdigest(),
                            metrics=False))
        for name in ("tollgate", "acct", "nometrics"):
            subprocess.run([RELEASE / "tollgate", "render", "--config", work / f"{name}.yaml", "--wasm", WASM,
                            "--out", work / f"{name}.json"], check=True, env=env)
        # The service shares CPU 1 with the load generator and the mock: its cost is not Envoy's.
        procs.append(start([RELEASE / "tollgate", "serve", "--config", work / "acct.yaml"], log, cpu=1, env=env))
        envoy_args = ["--disable-hot-restart", "--concurrency", "1", "--log-level", "error"]
        bare = start([ENVOY, "-c", work / "bare.json", "--base-id", "11"] + envoy_args, log, cpu=0, env=env)
        tg = start([ENVOY, "-c", work / "tollgate.json", "--base-id", "12"] + envoy_args, log, cpu=0, env=env)
        acct = start([ENVOY, "-c", work / "acct.json", "--base-id", "13"] + envoy_args, log, cpu=0, env=env)
        nm = start([ENVOY, "-c", work / "nometrics.json", "--base-id", "14"] + envoy_args, log, cpu=0, env=env)
        procs += [bare, tg, acct, nm]
        wait_http(f"http://127.0.0.1:{mock_port}/__mock/health")
        for admin in (bare_admin, tg_admin, acct_admin, nm_admin):
            wait_http(f"http://127.0.0.1:{admin}/ready")

        direct_headers = {"content-type": "application/json", "authorization": f"Bearer {provider_key}"}
        tg_headers = {"content-type": "application/json", "authorization": f"Bearer {virtual_key}"}
        variants = [
            ("direct", f"http://127.0.0.1:{mock_port}/v1/chat/completions", direct_headers, None, "bench"),
            ("envoy", f"http://127.0.0.1:{bare_port}/v1/chat/completions", direct_headers, bare, "bench"),
            ("tollgate", f"http://127.0.0.1:{tg_port}/v1/chat/completions", tg_headers, tg, "bench"),
            ("tollgate-xlate", f"http://127.0.0.1:{tg_port}/v1/chat/completions", tg_headers, tg, "bench-xlate"),
            ("tollgate-guard", f"http://127.0.0.1:{tg_port}/v1/chat/completions", tg_headers, tg, "bench-guard"),
            ("tollgate-fallbk", f"http://127.0.0.1:{tg_port}/v1/chat/completions",
             dict(tg_headers, **{"x-mock-status": "503@1"}), tg, "bench-fallback"),
            ("tollgate-acct", f"http://127.0.0.1:{acct_port}/v1/chat/completions",
             dict(tg_headers, **{"x-tollgate-agent-id": "bench-agent"}), acct, "bench"),
        ]
        variants = [v for v in variants if not ONLY or v[0] in ONLY]
        results = []
        for stream in (False, True):
            for name, url, headers, proxy, model in variants:
                body = chat_body(stream).replace('"model": "bench"', f'"model": "{model}"')
                stats = measure(url, body, headers, proxy)
                stats.update(name=name, stream=stream)
                results.append(stats)
        report(results, len(chat_body(False)))
        on = (f"http://127.0.0.1:{tg_port}/v1/chat/completions", tg)
        off = (f"http://127.0.0.1:{nm_port}/v1/chat/completions", nm)
        report_metrics(metrics_rounds(on, off, tg_headers))
    finally:
        for p in reversed(procs):
            stop(p)
        log.close()


def measure(url, body, headers, proxy):
    """wrk for DURATION seconds after a warm-up; the proxy's CPU per request."""
    run, _ = wrk(url, body, headers, cpu=1)
    cpu_before = cpu_seconds(proxy.pid) if proxy else 0.0
    stats = parse_wrk(run(DURATION))
    cpu_used = (cpu_seconds(proxy.pid) - cpu_before) if proxy else 0.0
    stats["cpu_us"] = (cpu_used / stats["requests"] * 1e6) if proxy else None
    return stats


def metrics_rounds(on, off, headers):
    """{(stream, "on"|"off"): [CPU us/req per round]}, rounds alternating which goes first."""
    rounds = int(os.environ.get("METRICS_ROUNDS", "4"))
    cpu = {}
    for stream in (False, True):
        body = chat_body(stream)
        for i in range(rounds):
            order = [("on", on), ("off", off)] if i % 2 == 0 else [("off", off), ("on", on)]
            for name, (url, proxy) in order:
                cpu.setdefault((stream, name), []).append(measure(url, body, headers, proxy)["cpu_us"])
    return cpu


def report_metrics(cpu):
    print("\nThe filter's Prometheus metrics: passthrough CPU/req with them on and off, "
          "median of alternating rounds:")
    for stream in (False, True):
        on, off = (statistics.median(cpu[(stream, name)]) for name in ("on", "off"))
        rounds = " ".join(f"{a:.0f}/{b:.0f}" for a, b in zip(cpu[(stream, "on")], cpu[(stream, "off")]))
        print(f"  {'stream' if stream else 'json':<8} on {on:.1f} us, off {off:.1f} us: {on - off:+.1f} us/req "
              f"(rounds on/off: {rounds})")


def report(results, body_bytes):
    print(f"\nTollgate benchmark: POST {body_bytes} B OpenAI chat request, wrk -t1 -c{CONNECTIONS}, "
          f"{DURATION}s per variant, Envoy --concurrency 1 on CPU 0\n")
    print(f"{'variant':<16}{'mode':<8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'proxy CPU/req':>15}{'non-2xx':>9}")
    for r in results:
        cpu = f"{r['cpu_us']:.1f} us" if r["cpu_us"] is not None else "-"
        mode = "stream" if r["stream"] else "json"
        print(f"{r['name']:<16}{mode:<8}{r['rps']:>10.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}{cpu:>15}{r['non2xx']:>9}")

    def found(name, stream):
        return next((x for x in results if x["name"] == name and x["stream"] == stream), None)

    print("\nAdded by tollgate.wasm over bare Envoy:")
    for stream in (False, True):
        base = found("envoy", stream)
        for name in ("tollgate", "tollgate-xlate", "tollgate-guard", "tollgate-fallbk", "tollgate-acct"):
            r = found(name, stream)
            if not (base and r):
                continue
            print(f"  {name:<16}{'stream' if stream else 'json':<8} CPU +{r['cpu_us'] - base['cpu_us']:.1f} us/req, "
                  f"p50 +{r['p50'] - base['p50']:.2f} ms, p99 +{r['p99'] - base['p99']:.2f} ms")
    print("\nAdded over tollgate passthrough (guardrail stage; one failed attempt + fallback; "
          "accounting stage: shipping + rate limits + budgets):")
    for stream in (False, True):
        base = found("tollgate", stream)
        for name in ("tollgate-guard", "tollgate-fallbk", "tollgate-acct"):
            r = found(name, stream)
            if not (base and r):
                continue
            print(f"  {name:<16}{'stream' if stream else 'json':<8} CPU +{r['cpu_us'] - base['cpu_us']:.1f} us/req, "
                  f"p50 +{r['p50'] - base['p50']:.2f} ms, p99 +{r['p99'] - base['p99']:.2f} ms")


if __name__ == "__main__":
    main()
