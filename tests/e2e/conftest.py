"""End-to-end harness: the real Envoy binary with the real tollgate.wasm, the control
plane's renderer and the mock provider, all on loopback with ephemeral ports.

Paths come from the Makefile (TOLLGATE_ENVOY, TOLLGATE_WASM, TOLLGATE_BIN). Every process
is started in its own session and killed at teardown, also when a test fails.
"""

import json
import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ENVOY = os.environ.get("TOLLGATE_ENVOY", "")
WASM = os.environ.get("TOLLGATE_WASM", "")
BIN = Path(os.environ.get("TOLLGATE_BIN", "target/debug"))

# Dummy AWS credentials: Envoy signs Bedrock requests with them (its default credential
# chain reads the environment) and the mock verifies the signatures with them.
AWS_ACCESS_KEY_ID = "AKIDTOLLGATEE2E"
AWS_SECRET_ACCESS_KEY = "e2e-secret-" + secrets.token_hex(16)
BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"

# Virtual keys used by the tests (plaintext here, only hashes go into the config).
KEY_ALL = "tg-e2e-all-" + secrets.token_hex(8)
KEY_GPT_ONLY = "tg-e2e-gpt-" + secrets.token_hex(8)
# Rate-limited keys (test_ratelimit.py), one per test so no two tests share a bucket:
# id -> (plaintext, the key's `rate_limits`).
RATE_LIMITED_KEYS = {
    "rl-rpm": "{requests_per_minute: 3}",
    "rl-agents": "{requests_per_minute: 100, per_agent: {requests_per_minute: 2}}",
    "rl-tpm": "{tokens_per_minute: 600}",
    "rl-tpm-stream": "{tokens_per_minute: 600}",
    "rl-burst": "{requests_per_minute: 5}",
    "rl-tpm-burst": "{tokens_per_minute: 200}",
}
RATE_LIMITED_KEYS = {id: ("tg-e2e-" + id + "-" + secrets.token_hex(8), limits) for id, limits in RATE_LIMITED_KEYS.items()}

# Conditional routing: one key like KEY_ALL but another id, one of another team.
KEY_ROUTE = "tg-e2e-route-" + secrets.token_hex(8)
KEY_OPS = "tg-e2e-ops-" + secrets.token_hex(8)

# Every alias the stack serves, and the api-version its Azure provider is configured with.
ALIASES = sorted([
    "azure", "azure-v1", "bedrock", "bedrock-cohere-embed", "bedrock-key", "claude", "cohere", "cohere-embed",
    "embed", "gemini", "gemini-embed", "gpt", "titan-embed", "vertex-embed", "vertex-gemini",
] + ["canary", "fb-cross", "fb-same", "pool", "retry3"]  # routing strategies (test_routing.py)
  + ["cond", "cond-shared", "fb-status"])  # test_conditional.py; fb-status: test_routing.py
AZURE_API_VERSION = "2024-10-21"

# Prices (USD per million tokens) for the mock's made-up models, over the shipped table
# (test_usage_accounting.py). The Azure deployment stays unpriced on purpose.
PRICE_OVERRIDES = {
    "mock-gpt-upstream": {"input": 0.15, "cached_input": 0.075, "output": 0.6},
    "mock-claude-upstream": {"input": 3, "cached_input": 0.3, "cache_write": 3.75, "output": 15},
    "mock-command-upstream": {"input": 2.5, "output": 10},
}


# Routing strategies, with short timeouts and back-offs so the fault matrix stays quick.
RELIABILITY = """
    retry: {backoff: {base: 10ms, max: 50ms}, retry_after_max: 2s}
    timeout: {attempt: 1s, total: 8s}"""
ROUTING_MODELS = f"""
  - alias: fb-same
    route: {{fallback: [{{provider: mock-openai, model: fb-primary}}, {{provider: mock-openai-b, model: fb-secondary}}]}}{RELIABILITY}
  - alias: fb-cross
    route: {{fallback: [{{provider: mock-openai, model: fb-primary}}, {{provider: mock-anthropic, model: fb-secondary}}]}}{RELIABILITY}
  - alias: retry3
    provider: mock-openai
    model: retry-upstream
    retry: {{attempts: 3, backoff: {{base: 10ms, max: 50ms}}}}
  - alias: pool
    route:
      weighted:
        - {{provider: mock-openai, model: pool-a, weight: 3}}
        - {{provider: mock-openai-b, model: pool-b, weight: 1}}
  - alias: canary
    route:
      canary:
        percent: 20
        stable: {{alias: fb-same}}
        candidate: {{provider: mock-anthropic, model: canary-new}}
  - alias: fb-status                 # fails over on a 503 or a refused connection only
    route: {{fallback: [{{provider: mock-openai, model: fb-primary}}, {{provider: mock-openai-b, model: fb-secondary}}]}}
    retry: {{on: [503, connect-failure], backoff: {{base: 10ms, max: 50ms}}}}
    timeout: {{attempt: 1s, total: 8s}}
  - alias: cond
    route:
      conditional:
        rules:
          - when: {{header.x-route: b}}
            route: {{fallback: [{{provider: mock-openai-b, model: cond-b}}, {{provider: mock-anthropic, model: cond-anthropic}}]}}
          - when: {{metadata.project: {{matches: "^alpha-"}}}}
            route: {{provider: mock-anthropic, model: cond-anthropic}}
          - when: {{key: e2e-route}}
            route: {{provider: mock-cohere, model: cond-cohere}}
          - when: {{all: [{{team: {{in: [ops, research]}}}}, {{not: {{header.x-route: default}}}}]}}
            route: {{provider: mock-gemini, model: cond-gemini}}
          - when: {{model: cond-shared}}
            route: {{provider: mock-openai-b, model: cond-b}}
        default: {{provider: mock-openai, model: cond-default}}{RELIABILITY}
  - {{alias: cond-shared, route: {{alias: cond}}}}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as e:  # not up yet
            last = e
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not come up within {timeout}s (last error: {last})")


def sha256_hex(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


class Process:
    """A child process in its own session, with its output in a log file."""

    def __init__(self, name: str, args: list, log_dir: Path, env: dict):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(a) for a in args], stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


class Stack:
    """Mock provider + rendered Envoy config + Envoy, for one test module."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.provider_key = "sk-mock-" + secrets.token_hex(12)
        # Cohere and Azure get keys of their own, to show each provider receives its own.
        self.cohere_key = "co-mock-" + secrets.token_hex(12)
        self.azure_key = "az-mock-" + secrets.token_hex(12)
        self.mock_port, self.port, self.admin_port = free_port(), free_port(), free_port()
        self.bedrock_api_key = "bedrock-api-key-" + secrets.token_hex(12)
        self.env = dict(
            os.environ,
            MOCK_PROVIDER_KEY=self.provider_key,
            MOCK_COHERE_KEY=self.cohere_key,
            MOCK_AZURE_KEY=self.azure_key,
            MOCK_BEDROCK_API_KEY=self.bedrock_api_key,
            AWS_ACCESS_KEY_ID=AWS_ACCESS_KEY_ID,
            AWS_SECRET_ACCESS_KEY=AWS_SECRET_ACCESS_KEY,
            # No instance metadata on loopback: keeps Envoy's credential chain from probing it.
            AWS_EC2_METADATA_DISABLED="true",
        )
        for var in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
            self.env.pop(var, None)
        self.processes = []
        self.access_log = workdir / "access.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mock_url(self) -> str:
        return f"http://127.0.0.1:{self.mock_port}"

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
  - name: mock-cohere
    kind: cohere
    base_url: http://127.0.0.1:{self.mock_port}/v2
    credential: {{env: MOCK_COHERE_KEY}}
  - name: mock-azure
    kind: azure
    base_url: http://127.0.0.1:{self.mock_port}
    api_version: {AZURE_API_VERSION}
    credential: {{env: MOCK_AZURE_KEY}}
  - name: mock-azure-v1
    kind: azure
    base_url: http://127.0.0.1:{self.mock_port}
    credential: {{env: MOCK_AZURE_KEY}}
  - name: mock-gemini
    kind: gemini
    base_url: http://127.0.0.1:{self.mock_port}/v1beta
    credential: {{env: MOCK_PROVIDER_KEY}}
  - name: mock-vertex
    kind: vertex
    base_url: http://127.0.0.1:{self.mock_port}/v1/projects/e2e/locations/us-central1/publishers/google
    credential: {{env: MOCK_PROVIDER_KEY}}
  - name: mock-bedrock
    kind: bedrock
    region: us-east-1
    base_url: http://127.0.0.1:{self.mock_port}
  - name: mock-openai-b              # a second key of the same API: fallback and pool target
    kind: openai
    base_url: http://127.0.0.1:{self.mock_port}/v1
    credential: {{env: MOCK_PROVIDER_KEY}}
  - name: mock-bedrock-key
    kind: bedrock
    region: us-east-1
    base_url: http://127.0.0.1:{self.mock_port}
    credential: {{env: MOCK_BEDROCK_API_KEY}}
models:
  - {{alias: gpt, provider: mock-openai, model: mock-gpt-upstream}}
  - {{alias: claude, provider: mock-anthropic, model: mock-claude-upstream}}
  - {{alias: embed, provider: mock-openai, model: mock-embed-upstream}}
  - {{alias: cohere, provider: mock-cohere, model: mock-command-upstream}}
  - {{alias: azure, provider: mock-azure, model: mock-gpt-deployment}}
  - {{alias: azure-v1, provider: mock-azure-v1, model: mock-gpt-deployment}}
  - {{alias: gemini, provider: mock-gemini, model: gemini-3-flash-preview}}
  - {{alias: gemini-embed, provider: mock-gemini, model: gemini-embedding-001}}
  - {{alias: vertex-gemini, provider: mock-vertex, model: gemini-2.5-pro}}
  - {{alias: bedrock, provider: mock-bedrock, model: "{BEDROCK_MODEL}"}}
  - {{alias: bedrock-key, provider: mock-bedrock-key, model: "{BEDROCK_MODEL}"}}
  - {{alias: cohere-embed, provider: mock-cohere, model: embed-v4.0}}
  - {{alias: titan-embed, provider: mock-bedrock, model: "amazon.titan-embed-text-v2:0"}}
  - {{alias: bedrock-cohere-embed, provider: mock-bedrock, model: cohere.embed-english-v3}}
  - {{alias: vertex-embed, provider: mock-vertex, model: text-embedding-005}}
{ROUTING_MODELS}
prices: {json.dumps(PRICE_OVERRIDES)}
keys:
  - {{id: e2e-all, sha256: {sha256_hex(KEY_ALL)}, models: ["*"], team: e2e}}
  - {{id: e2e-gpt, sha256: {sha256_hex(KEY_GPT_ONLY)}, models: [gpt]}}
  - {{id: e2e-route, sha256: {sha256_hex(KEY_ROUTE)}, models: [cond, cond-shared], team: e2e}}
  - {{id: e2e-ops, sha256: {sha256_hex(KEY_OPS)}, models: [cond, cond-shared], team: ops}}
""" + "".join(
            f"  - {{id: {id}, sha256: {sha256_hex(plain)}, models: ['*'], rate_limits: {limits}}}\n"
            for id, (plain, limits) in RATE_LIMITED_KEYS.items()
        )

    def start(self):
        mock = Process(
            "mock-provider",
            [BIN / "mock-provider", "--listen", f"127.0.0.1:{self.mock_port}", "--openai-key", self.provider_key,
             "--anthropic-key", self.provider_key, "--cohere-key", self.cohere_key, "--azure-key", self.azure_key,
             "--gemini-key", self.provider_key, "--vertex-token", self.provider_key,
             "--aws-access-key-id", AWS_ACCESS_KEY_ID, "--aws-secret-access-key", AWS_SECRET_ACCESS_KEY,
             "--bedrock-api-key", self.bedrock_api_key],
            self.workdir, self.env,
        )
        self.processes.append(mock)
        self.config_path = self.workdir / "tollgate.yaml"
        self.config_path.write_text(self.config_yaml())
        self.start_envoys()
        wait_until(lambda: httpx.get(f"{self.mock_url}/__mock/health").status_code == 200, "mock provider")

    def start_envoys(self):
        """One Envoy on the bootstrap `tollgate render` writes (no control plane)."""
        self.envoy_config = self.workdir / "envoy.json"
        subprocess.run(
            [BIN / "tollgate", "render", "--config", self.config_path, "--wasm", WASM, "--out", self.envoy_config],
            check=True, env=self.env,
        )
        self.envoy = self.start_envoy("envoy", self.envoy_config)
        self.wait_ready(self.envoy, self.admin_port)

    def start_envoy(self, name: str, bootstrap: Path) -> Process:
        envoy = Process(
            name,
            [ENVOY, "-c", bootstrap, "--disable-hot-restart", "--concurrency", "2",
             "--log-level", "warn", "--component-log-level", "wasm:info",
             "--file-flush-interval-msec", "200"],
            self.workdir, self.env,
        )
        self.processes.append(envoy)
        return envoy

    def wait_ready(self, envoy: Process, admin_port: int):
        # Envoy loads the wasm module for every filter instance before it is ready: 15-20 s
        # on a loaded 2-core machine, so the default 20 s is too tight there.
        wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{admin_port}/ready").status_code == 200,
            f"{envoy.name} (log: {envoy.log_path})",
            timeout=60,
        )

    def stop(self):
        for p in reversed(self.processes):
            p.stop()

    # --- helpers for tests ---

    def mock_requests(self) -> list:
        return httpx.get(f"{self.mock_url}/__mock/requests").json()

    def clear_mock_requests(self):
        httpx.delete(f"{self.mock_url}/__mock/requests")

    def access_log_entries(self) -> list:
        """Envoy's JSON access log (flushed about once a second)."""
        if not self.access_log.exists():
            return []
        return [json.loads(line) for line in self.access_log.read_text().splitlines() if line.strip()]

    def usage_records(self) -> list:
        """The usage records the provider filter handed to the access log."""
        return [json.loads(e["usage"]) for e in self.access_log_entries() if e.get("usage") not in (None, "-")]


class XdsStack(Stack):
    """The same stack configured over xDS: `tollgate serve --wasm` is the control plane and
    `nodes` Envoys start from `tollgate bootstrap`. Every node but the last moves the
    listener to a port of its own (node metadata); the last listens on the config's port."""

    def __init__(self, workdir: Path, nodes: int = 2):
        super().__init__(workdir)
        self.xds_port = free_port()
        self.env["TOLLGATE_E2E_INGEST_KEY"] = "ingest-" + secrets.token_hex(12)
        self.nodes = [
            {"id": f"edge-{i}", "port": free_port(), "admin_port": free_port()} for i in range(nodes - 1)
        ] + [{"id": f"edge-{nodes - 1}", "port": self.port, "admin_port": self.admin_port}]

    @property
    def xds_url(self) -> str:
        return f"http://127.0.0.1:{self.xds_port}"

    def node_url(self, node: dict) -> str:
        return f"http://127.0.0.1:{node['port']}"

    def config_yaml(self) -> str:
        return super().config_yaml() + self.control_plane_yaml()

    def control_plane_yaml(self) -> str:
        return f"""
control_plane:
  listen: {{address: 127.0.0.1, port: {self.xds_port}}}
  database: {self.workdir / "tollgate.db"}
  ingest_key_env: TOLLGATE_E2E_INGEST_KEY
"""

    def start_envoys(self):
        self.control_plane = Process(
            "control-plane", [BIN / "tollgate", "serve", "--config", self.config_path, "--wasm", WASM],
            self.workdir, self.env,
        )
        self.processes.append(self.control_plane)
        wait_until(lambda: self.xds_status() is not None, f"control plane (log: {self.control_plane.log_path})")
        envoys = []
        for node in self.nodes:
            bootstrap = self.workdir / f"{node['id']}.json"
            moved = [] if node["port"] == self.port else ["--listen", f"127.0.0.1:{node['port']}"]
            subprocess.run(
                [BIN / "tollgate", "bootstrap", "--config", self.config_path, "--node-id", node["id"],
                 "--admin", f"127.0.0.1:{node['admin_port']}", "--out", bootstrap, *moved],
                check=True, env=self.env,
            )
            envoys.append((self.start_envoy(node["id"], bootstrap), node["admin_port"]))
        for envoy, admin_port in envoys:
            self.wait_ready(envoy, admin_port)

    def xds_status(self):
        return httpx.get(f"{self.xds_url}/v1/xds/status").json()

    def edit_config(self, text: str):
        """Replaces the config file the way editors do: a new file renamed over the old."""
        new = self.config_path.with_suffix(".new")
        new.write_text(text)
        new.replace(self.config_path)


def serving(stack):
    """For a fixture: `yield from serving(s)` starts the stack and stops it afterwards."""
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    if not (ENVOY and Path(ENVOY).exists() and WASM and Path(WASM).exists()):
        pytest.fail("TOLLGATE_ENVOY / TOLLGATE_WASM not set or missing: run through `make test`")
    yield from serving(Stack(tmp_path_factory.mktemp("stack")))


@pytest.fixture
def gateway(stack):
    stack.clear_mock_requests()
    return stack
