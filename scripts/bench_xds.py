"""`make bench` (xDS part): push-to-effect latency of config file edits.

Starts the e2e xDS stack (tests/e2e: `tollgate serve --wasm` as control plane, two Envoys
from `tollgate bootstrap`, the mock provider, all on 127.0.0.1) and times, per Envoy,
from the moment the edited config file is renamed into place until a request sees the
change (polled every 5 ms):
  key       a new virtual key (an ECDS-only push of the gateway filter)
  model     an alias's upstream model at the same provider (ECDS-only, provider filter)
  move      an alias moved to another provider (bridged filter configs, routes, final)
The control plane polls the file every 100 ms, so about half of that is waiting to notice.
Then, for keys managed through the admin REST API (no file involved), from the moment the
request is sent until a request with the key sees the change:
  api-create  a key created (`POST /v1/admin/keys`) is accepted
  api-revoke  that key revoked (`POST /v1/admin/keys/ID/revoke`) is refused (401)
Not a test: nothing here asserts.
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from conftest import KEY_ALL, serving, sha256_hex  # noqa: E402
from test_key_push import KeyPushStack, effect_latency, refused, works  # noqa: E402
from test_xds import add_key, chat  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_XDS_ROUNDS", "10"))
GIVE_UP = 10.0


def measure(stack, edit, check) -> list:
    original = stack.config_path.read_text()
    samples = []
    for i in range(ROUNDS):
        stack.edit_config(edit(original, i))
        samples += effect_latency(stack, time.monotonic(), lambda url: check(url, i), GIVE_UP)
        stack.edit_config(original)
        time.sleep(0.3)  # let the revert settle
    return samples


def measure_api(stack) -> tuple:
    """Create and revoke timings of ROUNDS keys managed through the admin API."""
    created, revoked = [], []
    for i in range(ROUNDS):
        start = time.monotonic()
        secret = stack.admin("POST", "", {"id": f"api{i}", "models": ["*"]})["secret"]
        created += effect_latency(stack, start, works(secret), GIVE_UP)
        start = time.monotonic()
        stack.admin("POST", f"/api{i}/revoke")
        revoked += effect_latency(stack, start, refused(secret, "invalid_api_key"), GIVE_UP)
    return created, revoked


def report(name: str, samples: list):
    got = sorted(s for s in samples if s is not None)
    missed = len(samples) - len(got)
    if not got:
        print(f"{name:10} no change seen within {GIVE_UP}s")
        return
    p95 = got[min(len(got) - 1, int(len(got) * 0.95))]
    print(f"{name:10} n={len(got):3}  median {statistics.median(got) * 1000:6.0f} ms  "
          f"p95 {p95 * 1000:6.0f} ms  max {got[-1] * 1000:6.0f} ms" + (f"  missed {missed}" if missed else ""))


def main():
    with tempfile.TemporaryDirectory(prefix="tollgate-bench-xds-") as workdir:
        stack = KeyPushStack(Path(workdir))
        for stack in serving(stack):
            print(f"xDS push-to-effect, {len(stack.nodes)} Envoys, {ROUNDS} rounds each (per Envoy samples)")
            report("key", measure(
                stack,
                lambda text, i: add_key(text, f"bench{i}", f"tg-bench-{i}"),
                lambda url, i: chat(url, f"tg-bench-{i}").status_code == 200,
            ))
            report("model", measure(
                stack,
                lambda text, i: text.replace("model: before-change}", f"model: bench-{i}}}"),
                lambda url, i: chat(url, KEY_ALL).json().get("model") == f"bench-{i}",
            ))
            report("move", measure(
                stack,
                lambda text, i: text.replace("{alias: gpt, provider: mock-openai, model: before-change}",
                                             f"{{alias: gpt, provider: mock-anthropic, model: moved-{i}}}"),
                lambda url, i: chat(url, KEY_ALL).json().get("model") == f"moved-{i}",
            ))

            created, revoked = measure_api(stack)
            report("api-create", created)
            report("api-revoke", revoked)


if __name__ == "__main__":
    main()
