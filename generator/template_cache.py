"""Compiled templates kept between runs, in the user's cache folder.

Compiling the templates costs a cold `gen ks` about as much as all its other work (bench/cold_start.py). Jinja's
FileSystemBytecodeCache stores each template's code with the SHA-1 of the template's text and compiles again
when the text changes. The rest of what the code depends on names the folder: the module that configures the
environments (render.py), and the Jinja and Python versions; a change to any of them starts a new folder.

Loading cached code runs it, so the folder is used only if it is the user's own (0700) under folders no one
else can rearrange; otherwise, or if a file cannot be read or written, templates are compiled as before.
"""

import hashlib
import os
import sys
from pathlib import Path

import jinja2

from generator.private import directory_problem


class _Cache(jinja2.FileSystemBytecodeCache):
    """Never fails a render: an entry it cannot read or write is compiled instead."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # noqa: BLE001 - a truncated or damaged entry: compile the template
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _private_folder(folder: Path) -> bool:
    """Make `folder` (0700) if missing; True if only we can change it or any folder above it."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        real = folder.resolve()
        if os.stat(real).st_mode & 0o077:
            return False
        return not any(directory_problem(f) for f in (real, *real.parents))
    except OSError:
        return False


def bytecode_cache(configuration: Path, kind: str) -> jinja2.BytecodeCache | None:
    """A cache for the environment that `configuration` (a module's source file) sets up; `kind` keeps
    environments apart (one template compiles differently in each). None when no private folder is at hand."""
    try:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        depends_on = b"\0".join([configuration.read_bytes(), jinja2.__version__.encode(), sys.version.encode()])
    except (OSError, RuntimeError):  # no home folder, or the module's source is not a file
        return None
    folder = root / "k8s-firstboot" / f"templates-{hashlib.sha256(depends_on).hexdigest()[:16]}"
    return _Cache(str(folder), f"{kind}-%s.cache") if _private_folder(folder) else None
