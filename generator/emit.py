"""Writing artifacts: atomic, and private (0600) because every artifact carries a token or keys."""

import os
import sys
from pathlib import Path


def write_artifact(path: Path | None, data: str | bytes, private: bool = True) -> None:
    """Write to a file atomically (0600 when private), or to stdout when path is None."""
    payload = data.encode() if isinstance(data, str) else data
    if path is None:
        sys.stdout.buffer.write(payload)
        sys.stdout.flush()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.chmod(path, 0o600 if private else 0o644)
