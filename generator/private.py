"""Private files on the machine that renders: which directories to trust, and writes no one else can touch.

A directory is trusted when it belongs to us (or to root) and no one else can write to it, unless it is sticky
(as /tmp is), where others can add names but not rename or remove ours. Files are written through a fresh
mkstemp name (O_EXCL, 0600 from the start) and renamed into place, so no one can plant or hijack the temporary
file, and the mode is set on the descriptor, never again by path.
"""

import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH


def directory_problem(path: Path) -> str | None:
    """Why `path` (an existing directory) is not safe to write private files into, or None."""
    info = os.stat(path)
    if not stat.S_ISDIR(info.st_mode):
        return f"{path} is not a directory"
    # as root, a directory of any other user is theirs to rearrange; as a user, root's are fine
    if info.st_uid not in (os.geteuid(), 0):
        return f"{path} belongs to uid {info.st_uid}, not to you (uid {os.geteuid()})"
    if info.st_mode & OTHERS_WRITE and not info.st_mode & stat.S_ISVTX:
        return (f"{path} is writable by others (mode {stat.S_IMODE(info.st_mode):04o}) without the sticky bit; "
                f"use a directory only you can write to (chmod go-w)")
    return None


def write_atomically(path: Path, payload: bytes, mode: int = 0o600) -> None:
    """Write `payload` to `path` through a fresh temporary file in the same directory, then rename it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def create_exclusively(path: Path, payload: bytes, mode: int = 0o600) -> bool:
    """Write `payload` to `path` unless something is there already (False): through a fresh temporary file
    linked, or renamed without replacing (renameat2 RENAME_NOREPLACE, where there are no hard links), to the
    name, so a reader sees the whole file or none - never one half-written."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        try:
            os.link(tmp, path)  # link(2) fails with EEXIST on any name there, a dangling link too
            return True
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP):  # (link(2)'s "no hard links")
                raise
        if rename2(Path(tmp), path, RENAME_NOREPLACE):
            return True
        raise OSError(errno.EOPNOTSUPP, "neither hard links nor renameat2 here: no way to create it whole", str(path))
    except FileExistsError:
        return False
    finally:
        Path(tmp).unlink(missing_ok=True)


_AT_FDCWD = -100
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2  # renameat2(2) flags


def rename2(source: Path, target: Path, flags: int) -> bool:
    """renameat2(2) with `flags`; False where the C library, the kernel or the file system cannot (then nothing
    happened). RENAME_NOREPLACE onto an existing name raises FileExistsError."""
    import ctypes  # (only here: most commands never rename this way)

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), flags) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # this file system or kernel cannot
        return False
    raise OSError(error, os.strerror(error), str(target))  # (EEXIST: FileExistsError)


def open_new(path: Path | str, mode: int) -> BinaryIO:
    """A file that must not exist yet, opened for writing, in a folder no one else can reach (a build's staging
    folder, 0700, renamed into place whole): O_EXCL and O_NOFOLLOW refuse any name already there, so no temporary
    name and rename are needed, and the mode is set on the descriptor before a byte is written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, mode)  # exactly `mode`, whatever the umask
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def write_new(path: Path | str, payload: bytes, mode: int) -> None:
    """Write `payload` to a new file (open_new)."""
    with open_new(path, mode) as handle:
        handle.write(payload)
