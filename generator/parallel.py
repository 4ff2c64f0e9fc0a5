"""An ordered map over processes forked from this one, for the nodes of a large build.

Checking, resolving and rendering a node is pure Python and holds the interpreter lock, so threads would not
help; forked children start with everything the parent loaded and checked, so nothing is sent to them. Each
child takes every jobs-th item, runs `function` on it and sends the results back pickled through a pipe; the
parent takes its own share meanwhile. Results are returned in the items' order, so what a build writes does
not depend on how many processes made it.

Forking is safe only in a process with one thread: a lock another thread holds at the fork stays locked in the
child for ever (CPython's os.fork documentation; Python 3.12 warns). A process with other threads (a program
that calls build() from a thread pool, pytest-xdist's workers) maps in one process instead.

A child that raises sends the exception (and its traceback): the parent raises it, as a map in one process
would; one that cannot be pickled, or a child that dies, becomes ChildFailed. A child leaves only through
os._exit (no atexit handler, no flush of the parent's buffered output: nothing of the parent's runs twice), with
the default SIGINT, SIGTERM and SIGHUP actions and no pipe but its own. When the parent fails or is interrupted
it kills the children (SIGKILL: they only write into the build's staging folder, which goes too) and reaps them.
"""

import os
import pickle
import signal
import threading
import traceback
from collections.abc import Callable, Sequence

_RESET = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class ChildFailed(RuntimeError):
    """A forked child raised or died: its traceback or exit status is the message."""


def usable_jobs(requested: int | None) -> int:
    """The processes to use: `requested`, or one per CPU this process may run on (at most 8)."""
    if requested is not None:
        return max(1, requested)
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def can_fork() -> bool:
    """Whether this process may fork workers: it can, and no other thread runs (Python's or a library's)."""
    if not hasattr(os, "fork") or threading.active_count() != 1:
        return False
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            threads = next((line.split()[1] for line in status if line.startswith("Threads:")), "1")
    except OSError:
        return True  # no /proc: Python's own count above is what we know
    return threads == "1"


def ordered_map(function: Callable, items: Sequence, jobs: int, on_done: Callable[[int], None] | None = None) -> list:
    """[function(item) for item in items], shared among `jobs` processes (this one and jobs - 1 children)
    when this process may fork. on_done(n) is called in this process as its own share advances, with an
    estimate of the items done overall."""
    jobs = max(1, min(jobs, len(items)))
    if jobs == 1 or not can_fork():
        results = []
        for item in items:
            results.append(function(item))
            if on_done:
                on_done(len(results))
        return results
    children: list[tuple[int, int, int]] = []  # (pid, read end of its pipe, its share), not yet reaped
    shares = {}
    try:
        for share in range(1, jobs):
            children.append(_fork_child(function, items[share::jobs], [c[1] for c in children], share))
        own = []
        for item in items[0::jobs]:
            own.append(function(item))
            if on_done:
                on_done(min(len(items), len(own) * jobs))
        shares[0] = own
        while children:
            pid, read_end, share = children.pop(0)
            shares[share] = _result(*_receive(pid, read_end))
    except BaseException:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # a second Ctrl-C: clean up first
        try:
            for pid, read_end, _ in children:
                _kill(pid, read_end)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        raise
    results = [None] * len(items)
    for share, values in shares.items():
        results[share::jobs] = values
    return results


def _fork_child(function: Callable, share: Sequence, other_pipes: list[int], index: int) -> tuple[int, int, int]:
    read_end, write_end = os.pipe()
    # SIGINT blocked from the fork until the child has its default actions: it never runs the parent's handler
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        pid = os.fork()
    except OSError:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        os.close(read_end)
        os.close(write_end)
        raise
    if pid == 0:  # the child: never returns
        try:
            for signum in _RESET:
                signal.signal(signum, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
            for fd in other_pipes + [read_end]:
                os.close(fd)
            _run_child(function, share, write_end)
        finally:
            os._exit(1)
    signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    os.close(write_end)
    return pid, read_end, index


def _run_child(function: Callable, share: Sequence, write_end: int) -> None:
    status = 0
    try:
        payload = pickle.dumps(("ok", [function(item) for item in share]), pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        status = 1
        text = traceback.format_exc()
        try:  # the exception itself where it can travel: the parent raises it as the serial map would
            payload = pickle.dumps(("raised", (exc, text)), pickle.HIGHEST_PROTOCOL) if isinstance(exc, Exception) else b""
        except Exception:  # noqa: BLE001 - not picklable: its traceback as text
            payload = b""
        payload = payload or pickle.dumps(("failed", text), pickle.HIGHEST_PROTOCOL)
    try:
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)
    except BaseException:  # noqa: BLE001 - the parent is gone or stopped reading: nothing to tell
        status = 1
    os._exit(status)


def _receive(pid: int, read_end: int) -> tuple[bytes, int]:
    """Everything the child sent, and its exit status; the child is reaped (killed first if this fails)."""
    chunks = []
    try:
        while chunk := os.read(read_end, 1 << 20):
            chunks.append(chunk)
    except BaseException:
        _kill(pid, read_end)
        raise
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    return b"".join(chunks), os.waitstatus_to_exitcode(status)


def _result(payload: bytes, status: int) -> list:
    if not payload:
        how = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
        raise ChildFailed(f"a build process ended without a result ({how})")
    outcome, value = pickle.loads(payload)  # our own child's bytes, through our own pipe
    if outcome == "raised":
        exc, text = value
        exc.add_note(f"raised in a build process:\n{text}")
        raise exc
    if outcome != "ok":
        raise ChildFailed(f"a build process failed:\n{value}")
    return value


def _kill(pid: int, read_end: int) -> None:
    os.close(read_end)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
