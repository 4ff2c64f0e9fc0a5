"""What every test module may need: the repository's root, its example profiles, `gen` as users run it, and
the rule for a real consumer that is missing (skip visibly here, fail in CI)."""

import io
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
    """`gen ARGS` as a user runs it: its own interpreter, environment and working folder."""
    return subprocess.run([sys.executable, "-m", "generator", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})})


def gen_in_process(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    """`gen ARGS` through the CLI's main() in this interpreter: the same argv, environment, working folder and
    standard streams a run has, the exit status from SystemExit; without the ~0.3 s a fresh interpreter costs."""
    from generator.cli import main

    saved = sys.argv, sys.stdout, sys.stderr, os.getcwd(), dict(os.environ)
    out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    sys.argv, sys.stdout, sys.stderr = ["gen", *args], out, err
    os.environ.update(env or {})
    os.chdir(cwd)
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv, sys.stdout, sys.stderr = saved[:3]
        os.chdir(saved[3])
        os.environ.clear()
        os.environ.update(saved[4])
        out.flush()
        err.flush()
    stdout, stderr = (stream.buffer.getvalue().decode("utf-8", "replace") for stream in (out, err))
    return subprocess.CompletedProcess(["gen", *args], code, stdout, stderr)


def have(tool: str) -> bool:
    return shutil.which(tool) is not None
