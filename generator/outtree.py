"""A build's output folder, replaced whole or not at all.

`gen build` writes into a fresh private folder beside the target (mkdtemp: 0700, a name no one else can take)
and renames it into place only when every file is written; a failed or interrupted build removes it, so the
target holds either the previous build or the new one, never a mix. An existing target is swapped with the new
folder in one step (renameat2 RENAME_EXCHANGE, Linux 3.15+) and the old one removed after; where the file
system cannot exchange, it is moved aside first, which leaves a moment without the target.

An existing target is replaced only when it is empty or holds a previous build (its manifest.json): `-o ~`
must not remove a home folder.
"""

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

from generator.errors import UsageError
from generator.parallel import ENDING_SIGNALS
from generator.private import RENAME_EXCHANGE, directory_problem, rename2

MANIFEST = "manifest.json"


def check_target(out_dir: Path) -> None:
    """Refuse a target that is not ours to replace, before anything is made."""
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        what = "a symbolic link" if out_dir.is_symlink() else "not a folder"
        raise UsageError(f"{out_dir}: nothing written: {what}; give a new or empty folder, or a previous build's")
    if out_dir.exists():
        unsafe = directory_problem(out_dir)
        if unsafe:
            raise UsageError(f"{out_dir}: nothing written: {unsafe}")
        if any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file():
            raise UsageError(f"{out_dir}: nothing written: it holds files but no {MANIFEST}, so it is not the output "
                             "of an earlier gen build and would be replaced whole; give a new or empty folder")


@contextlib.contextmanager
def new_tree(out_dir: Path) -> Iterator[Path]:
    """A fresh folder to write the build into; it becomes out_dir when the block ends without an error."""
    check_target(out_dir)
    parent = out_dir.absolute().parent
    made: list[Path] = []  # the folders made here, newest last: a build that fails leaves none of them
    staging = None
    try:
        for folder in reversed([f for f in (parent, *parent.parents) if not f.exists()]):
            try:
                folder.mkdir(mode=0o755)  # 0755 whatever the umask's group bits: the check below refuses 0775
            except FileExistsError:
                continue
            except OSError as exc:
                raise UsageError(f"{out_dir}: nothing written: cannot make {folder}: {exc.strerror}") from None
            made.append(folder)
        # the new folder is renamed inside parent: others who could rearrange parent could swap it
        unsafe = directory_problem(parent)
        if unsafe:
            raise UsageError(f"{out_dir}: nothing written: {unsafe}")
        try:
            staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out_dir.name}.building-"))
        except OSError as exc:
            raise UsageError(f"{out_dir}: nothing written: cannot make a folder in {parent}: {exc.strerror}") from None
        yield staging
        # Ctrl-C or SIGTERM now would leave the old tree aside or half removed: they wait until it is done
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, ENDING_SIGNALS)
        try:
            _put_in_place(staging, out_dir.absolute())
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        for folder in reversed(made):
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _put_in_place(staging: Path, target: Path) -> None:
    if not target.exists():
        os.rename(staging, target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging)  # the previous build, now at the staging name
        return
    aside = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
    os.rename(target, aside / "old")
    try:
        os.rename(staging, target)
    except OSError:
        os.rename(aside / "old", target)  # the previous build back where it was
        aside.rmdir()
        raise
    shutil.rmtree(aside)

def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically; False where the C library or the file system cannot."""
    return rename2(a, b, RENAME_EXCHANGE)
