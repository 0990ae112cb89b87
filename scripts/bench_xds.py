"""`make bench` (xDS part): push-to-effect latency of config file edits.

Starts the e2e xDS stack (tests/e2e: `tollgate serve --wasm` as control plane, two Envoys
from `tollgate bootstrap`, the mock provider, all on 127.0.0.1) and times, per Envoy,
from the moment the edited config file is renamed into place until a request sees the
change (polled every 5 ms):
  key       a new virtual key (an ECDS-only push of the gateway filter)
  model     an alias's upstream model at the same provider (ECDS-only, provider filter)
  move      an alias moved to another provider (bridged filter configs, routes, final)
The control plane polls the file every 100 ms, so about half of that is waiting to notice.
Not a test: nothing here asserts.
"""

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from conftest import KEY_ALL, serving, sha256_hex  # noqa: E402
from test_xds import SmallXdsStack, add_key, chat  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_XDS_ROUNDS", "10"))
POLL = 0.005
GIVE_UP = 10.0


def time_until(stack, check) -> list:
    """Seconds until `check(url)` holds, per Envoy, polled concurrently."""
    start = time.monotonic()
    results = [None] * len(stack.nodes)

    def poll(i, url):
        while time.monotonic() - start < GIVE_UP:
            if check(url):
                results[i] = time.monotonic() - start
                return
            time.sleep(POLL)

    threads = [threading.Thread(target=poll, args=(i, stack.node_url(n))) for i, n in enumerate(stack.nodes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def measure(stack, edit, check) -> list:
    original = stack.config_path.read_text()
    samples = []
    for i in range(ROUNDS):
        stack.edit_config(edit(original, i))
        samples += time_until(stack, lambda url: check(url, i))
        stack.edit_config(original)
        time.sleep(0.3)  # let the revert settle
    return samples


def report(name: str, samples: list):
    got = sorted(s for s in samples if s is not None)
    missed = len(samples) - len(got)
    if not got:
        print(f"{name:6} no change seen within {GIVE_UP}s")
        return
    p95 = got[min(len(got) - 1, int(len(got) * 0.95))]
    print(f"{name:6} n={len(got):3}  median {statistics.median(got) * 1000:6.0f} ms  "
          f"p95 {p95 * 1000:6.0f} ms  max {got[-1] * 1000:6.0f} ms" + (f"  missed {missed}" if missed else ""))


def main():
    with tempfile.TemporaryDirectory(prefix="tollgate-bench-xds-") as workdir:
        stack = SmallXdsStack(Path(workdir))
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


if __name__ == "__main__":
    main()
