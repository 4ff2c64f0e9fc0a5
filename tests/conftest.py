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


@pytest.fixture(autouse=True, scope="session")
def standin_checksums(tmp_path_factory):
    """The stand-in curl serves other bytes than the real mirrors: pin every pinned URL to the stand-in's digest,
    so rehearsals run the node's checksum check (and pass it) exactly where the real table pins a file."""
    import hashlib

    import yaml
    from standin import DOWNLOAD

    from generator import DATA_DIR
    real = yaml.safe_load((DATA_DIR / "checksums.yaml").read_text())
    digest = hashlib.sha256(DOWNLOAD.encode()).hexdigest()
    path = tmp_path_factory.mktemp("checksums") / "standin-checksums.yaml"
    path.write_text(yaml.safe_dump({url: {"sha256": digest, "source": "tests/standin.py DOWNLOAD"} for url in real}))
    os.environ["K8S_FIRSTBOOT_CHECKSUMS"] = str(path)
    yield path
    os.environ.pop("K8S_FIRSTBOOT_CHECKSUMS", None)


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
