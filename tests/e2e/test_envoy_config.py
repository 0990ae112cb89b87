"""Every Envoy configuration the project ships or renders passes `envoy --mode validate`."""

import subprocess
from pathlib import Path

import pytest

from conftest import BIN, ENVOY, WASM

ROOT = Path(__file__).resolve().parents[2]
# Credentials referenced by the shipped configs; validation only needs them to exist.
DUMMY_ENV = {
    "OPENAI_API_KEY": "x", "ANTHROPIC_API_KEY": "x", "TOLLGATE_DEMO_PROVIDER_KEY": "x", "MOCK_PROVIDER_KEY": "x",
}


def render(tmp_path, config=None):
    out = tmp_path / "envoy.json"
    args = [BIN / "tollgate", "render", "--wasm", WASM, "--out", out]
    if config:
        args += ["--config", config]
    subprocess.run([str(a) for a in args], check=True, env=DUMMY_ENV | {"PATH": "/usr/bin:/bin"})
    return out


def validate(path):
    result = subprocess.run(
        [ENVOY, "--mode", "validate", "-c", str(path)], capture_output=True, text=True, env=DUMMY_ENV
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "OK" in result.stdout + result.stderr


@pytest.mark.parametrize("config", [None, ROOT / "envoy" / "tollgate.example.yaml"], ids=["default", "example"])
def test_rendered_config_validates(tmp_path, config):
    validate(render(tmp_path, config))


def test_stack_config_validates(stack):
    validate(stack.envoy_config)


def test_validation_catches_a_broken_config(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"static_resources": {"clusters": [{"name": "x", "type": "NOT_A_TYPE"}]}}')
    result = subprocess.run([ENVOY, "--mode", "validate", "-c", str(broken)], capture_output=True, text=True)
    assert result.returncode != 0
