"""Fixtures for every test. Helpers live in tests/support/; tests under tests/rehearsal/ carry the `rehearsal`
marker (they run the node's script in a bubblewrap sandbox), so `pytest -m "not rehearsal"` leaves them out."""

import os
import shutil
from pathlib import Path

import pytest

from tests.support.common import ROOT

REHEARSAL_DIR = Path(__file__).resolve().parent / "rehearsal"


def pytest_collection_modifyitems(items):
    for item in items:
        if REHEARSAL_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.rehearsal)


@pytest.fixture(autouse=True)
def secrets_dir(tmp_path_factory, monkeypatch):
    """Every test gets its own cluster secrets folder; nothing is written outside temp dirs."""
    path = tmp_path_factory.mktemp("secrets")
    monkeypatch.setenv("K8S_FIRSTBOOT_SECRETS_DIR", str(path))
    return path


@pytest.fixture(autouse=True, scope="session")
def cache_home(tmp_path_factory):
    """gen caches compiled templates under $XDG_CACHE_HOME: the tests' go to a temp folder, not the user's."""
    path = tmp_path_factory.mktemp("cache")
    path.chmod(0o700)
    os.environ["XDG_CACHE_HOME"] = str(path)
    yield path
    os.environ.pop("XDG_CACHE_HOME", None)


@pytest.fixture(autouse=True, scope="session")
def standin_checksums(tmp_path_factory):
    """The stand-in curl serves other bytes than the real mirrors: pin every pinned URL to the stand-in's digest,
    so rehearsals run the node's checksum check (and pass it) exactly where the real table pins a file."""
    import hashlib

    import yaml
    from tests.support.standin import DOWNLOAD

    from generator import DATA_DIR
    real = yaml.safe_load((DATA_DIR / "checksums.yaml").read_text())
    digest = hashlib.sha256(DOWNLOAD.encode()).hexdigest()
    path = tmp_path_factory.mktemp("checksums") / "standin-checksums.yaml"
    path.write_text(yaml.safe_dump({url: {"sha256": digest, "source": "tests/support/standin.py DOWNLOAD"} for url in real}))
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
