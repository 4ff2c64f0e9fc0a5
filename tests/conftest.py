import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

NODE_PROFILES = ["profiles/master.yaml", "profiles/worker.yaml",
                 "profiles/classic/master.yaml", "profiles/classic/worker.yaml"]
ALL_PROFILES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "profiles").rglob("*.yaml"))


def need(condition: bool, reason: str) -> None:
    """Skip when a real consumer is missing, visibly; CI (K8S_FIRSTBOOT_REQUIRE_CONSUMERS=1) fails instead."""
    if condition:
        return
    if os.environ.get("K8S_FIRSTBOOT_REQUIRE_CONSUMERS"):
        pytest.fail(f"required consumer missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def secrets_dir(tmp_path_factory, monkeypatch):
    """Every test gets its own cluster secrets folder; nothing is written outside temp dirs."""
    path = tmp_path_factory.mktemp("secrets")
    monkeypatch.setenv("K8S_FIRSTBOOT_SECRETS_DIR", str(path))
    return path


@pytest.fixture
def write_profile(tmp_path):
    """Write YAML files into a temp folder: write_profile('name.yaml', text) -> path.

    The repository's examples are copied beside them as profiles/, so a test profile can extend one
    (`extends: profiles/worker.yaml`): `extends:` never leaves the folder of the profile rendered.
    """
    def write(name: str, text: str | bytes) -> Path:
        if not (tmp_path / "profiles").exists():
            shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path
    return write


def run_gen(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "generator", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})})


def have(tool: str) -> bool:
    return shutil.which(tool) is not None
