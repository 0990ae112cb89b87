"""Every Envoy configuration the project ships or renders passes `envoy --mode validate`."""

import subprocess
from pathlib import Path

import pytest

from conftest import BIN, ENVOY, WASM

ROOT = Path(__file__).resolve().parents[2]
# Credentials referenced by the shipped configs; validation only needs them to exist.
DUMMY_ENV = {
    "OPENAI_API_KEY": "x", "ANTHROPIC_API_KEY": "x", "TOLLGATE_DEMO_PROVIDER_KEY": "x", "MOCK_PROVIDER_KEY": "x",
    "COHERE_API_KEY": "x", "AZURE_OPENAI_API_KEY": "x", "GROQ_API_KEY": "x", "MOCK_COHERE_KEY": "x",
    "MOCK_AZURE_KEY": "x", "MOCK_BEDROCK_API_KEY": "x",
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


def test_xds_bootstrap_validates(tmp_path):
    """The minimal bootstrap of an Envoy configured over xDS (`tollgate bootstrap`)."""
    out = tmp_path / "bootstrap.json"
    subprocess.run(
        [str(a) for a in [BIN / "tollgate", "bootstrap", "--node-id", "edge-1", "--listen", "127.0.0.1:8081",
                          "--out", out]],
        check=True, env=DUMMY_ENV | {"PATH": "/usr/bin:/bin"},
    )
    validate(out)


def test_stack_config_validates(stack):
    validate(stack.envoy_config)


def test_validation_catches_a_broken_config(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"static_resources": {"clusters": [{"name": "x", "type": "NOT_A_TYPE"}]}}')
    result = subprocess.run([ENVOY, "--mode", "validate", "-c", str(broken)], capture_output=True, text=True)
    assert result.returncode != 0


def test_docker_compose_file(tmp_path):
    """No Docker engine here: check the compose file's structure and that the Tollgate
    config it uses renders into an Envoy configuration Envoy accepts."""
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= {"demo-provider", "control-plane", "wasm", "envoy"}
    makefile = (ROOT / "Makefile").read_text()
    envoy_version = next(l.split(":=")[1].strip() for l in makefile.splitlines() if l.startswith("ENVOY_VERSION"))
    assert services["envoy"]["image"] == f"envoyproxy/envoy:v{envoy_version}"
    for name, service in services.items():
        for dep in service.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in compose["volumes"], volume
    render_args = services["control-plane"]["command"]
    config = next(a.split("=", 1)[1] for a in render_args if a.startswith("--config="))
    local_config = ROOT / "envoy" / Path(config).name
    assert local_config.exists(), f"compose renders {config}, which the image copies from envoy/"
    validate(render(tmp_path, local_config))
