"""Helpers for the fault, crash and hostile-input tests: fast profiles, installed sandboxes to clone, runs.

A "fast" profile is an example profile with bootstrap.step_timeout 30 and retry_delay 1 (the schema's
minimums). The `sleep` stand-in returns at once, so retries cost no wall time; retry's pause budget
(the sum of its pauses never exceeds STEP_TIMEOUT) still stops a command that never succeeds after a
known, small number of attempts: 1+2+4+8 s fit in 30 s, 16 s more do not, so 5 attempts.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.support.common import ROOT
from tests.support.rehearsal import SCRIPT, run_first_boot
from tests.support.sandbox import Sandbox

from generator.kickstart import render_kickstart
from generator.pipeline import node_from_profile
from generator.verify import post_scripts
from generator import node_paths as paths

STATE = paths.STATE_DIR
STATUS = f"{STATE}/status.json"
DONE = f"{STATE}/done"
FAST = {"step_timeout": 30, "retry_delay": 1}
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def fast_profile(profile: str, dest: Path, extra: dict | None = None) -> Path:
    """Copy `profile` and the cluster file it extends into dest, with short bootstrap timings."""
    dest.mkdir(parents=True, exist_ok=True)
    src = ROOT / profile
    shutil.copy(src.parent / "cluster.yaml", dest / "cluster.yaml")
    data = yaml.safe_load(src.read_text())
    data["bootstrap"] = dict(FAST)
    data.update(extra or {})
    path = dest / src.name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def kickstart_for(profile_path: Path, secrets_dir: Path) -> tuple[str, str]:
    node = node_from_profile(profile_path, secrets_dir)
    return render_kickstart(node), node.os.ks_handler


def run_post(box: Sandbox, kickstart: str, handler: str) -> subprocess.CompletedProcess:
    """The Kickstart's %post as Anaconda runs it (see rehearsal.run_kickstart_post), not asserting success."""
    result = None
    for n, post in enumerate(post_scripts(kickstart, handler)):
        (box.record / f"ks-script-{n}").write_text(post.script)
        result = box.run([post.interp, f"/opt/record/ks-script-{n}"])
        if result.returncode != 0:
            return result
    return result


def clone(box: Sandbox, base: Path) -> Sandbox:
    """An exact copy of a sandbox (files, call record, symlinks) at `base`."""
    shutil.copytree(box.base, base, symlinks=True)
    copy = Sandbox.__new__(Sandbox)
    copy.base, copy.root = base, base / "root"
    return copy


def boot(box: Sandbox) -> subprocess.CompletedProcess:
    return run_first_boot(box)


def rerun(box: Sandbox, phase: str) -> subprocess.CompletedProcess:
    return box.run([SCRIPT, phase])


def status(box: Sandbox) -> dict:
    return json.loads(box.file(STATUS).read_text())


def clear_faults(box: Sandbox) -> None:
    (box.record / "faults").unlink(missing_ok=True)


def normalized_snapshot(box: Sandbox) -> dict:
    """snapshot() with the moments of the run taken out (status.json's time, the banner's date)."""
    snap = {}
    for path, (mode, data) in box.snapshot().items():
        if path == STATUS:
            doc = json.loads(data)
            doc.pop("time", None)
            data = json.dumps(doc, sort_keys=True).encode()
        elif path.startswith(("/etc/issue.d/", "/etc/motd.d/")):
            data = STAMP.sub("<time>", data.decode()).encode()
        snap[path] = (mode, data)
    return snap
