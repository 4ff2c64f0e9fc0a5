"""What every test module may need: the repository's root, its example profiles, `gen` as users run it, and
the rule for a real consumer that is missing (skip visibly here, fail in CI)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
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


def run_gen(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "generator", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})})


def have(tool: str) -> bool:
    return shutil.which(tool) is not None
