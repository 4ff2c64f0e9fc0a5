"""Writing artifacts: atomic, and private (0600) because every artifact carries a token or keys."""

import os
import stat
import sys
from pathlib import Path

from generator.errors import UsageError
from generator.private import directory_problem, write_atomically


def _warn_if_stdout_is_readable() -> None:
    """`gen ks P > file` makes the file with the shell's umask, usually 0644: say so (-o writes 0600)."""
    try:
        info = os.fstat(sys.stdout.fileno())
    except (OSError, ValueError):
        return
    if stat.S_ISREG(info.st_mode) and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        print(f"gen: warning: stdout is a file others can read (mode {stat.S_IMODE(info.st_mode):04o}) and this "
              "artifact carries cluster secrets; write it with -o FILE (0600) instead", file=sys.stderr)


def write_artifact(path: Path | None, data: str | bytes, private: bool = True) -> None:
    """Write to a file atomically (0600 when private), or to stdout when path is None."""
    payload = data.encode() if isinstance(data, str) else data
    if path is None:
        if private:
            _warn_if_stdout_is_readable()
        sys.stdout.buffer.write(payload)
        sys.stdout.flush()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    problem = directory_problem(path.parent)
    if problem:
        raise UsageError(f"{path}: not written: {problem}")
    write_atomically(path, payload, 0o600 if private else 0o644)
