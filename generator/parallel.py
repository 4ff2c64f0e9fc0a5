"""An ordered map over processes forked from this one, for the nodes of a large build.

Rendering a node is pure Python (templates, YAML, gzip) and holds the interpreter lock, so threads would not
help; forked children start with everything the parent loaded and checked, so nothing is sent to them. Each
child takes every jobs-th item, runs `function` on it and sends the results back pickled through a pipe; the
parent takes its own share meanwhile. Results are returned in the items' order, so what a build writes does
not depend on how many processes made it.

A child that fails sends its traceback and the parent raises ChildFailed with it; when the parent fails
(or is interrupted), it stops the children before the error goes on. Children leave with os._exit: no atexit
handler, no flush of the parent's buffered output, nothing of the parent's runs twice.
"""

import os
import pickle
import signal
import traceback
from collections.abc import Callable, Sequence


class ChildFailed(RuntimeError):
    """A forked child raised: its traceback is the message."""


def usable_jobs(requested: int | None) -> int:
    """The processes to use: `requested`, or one per CPU this process may run on (at most 8)."""
    if requested is not None:
        return max(1, requested)
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def ordered_map(function: Callable, items: Sequence, jobs: int, on_done: Callable[[int], None] | None = None) -> list:
    """[function(item) for item in items], shared among `jobs` processes (this one and jobs - 1 children).

    on_done(n) is called in this process as its own share advances, with an estimate of the items done overall.
    """
    jobs = max(1, min(jobs, len(items)))
    if jobs == 1 or not hasattr(os, "fork"):
        results = []
        for item in items:
            results.append(function(item))
            if on_done:
                on_done(len(results))
        return results
    children = []  # (pid, read end of its pipe, its share index)
    try:
        for share in range(1, jobs):
            read_end, write_end = os.pipe()
            try:
                pid = os.fork()
            except OSError:
                os.close(read_end)
                os.close(write_end)
                raise
            if pid == 0:  # the child: never returns
                os.close(read_end)
                _run_child(function, items[share::jobs], write_end)
            os.close(write_end)
            children.append((pid, read_end, share))
        own = []
        for item in items[0::jobs]:
            own.append(function(item))
            if on_done:
                on_done(min(len(items), len(own) * jobs))
        shares = {0: own}
        while children:
            pid, read_end, share = children[0]
            payload, status = _receive(pid, read_end)
            children.pop(0)  # reaped: its pid is no longer ours to signal
            os.close(read_end)
            shares[share] = _result(payload, status)
    except BaseException:
        for pid, read_end, _ in children:  # not reaped yet: their pids are still theirs
            _stop(pid)
            _close(read_end)
        raise
    results = [None] * len(items)
    for share, values in shares.items():
        results[share::jobs] = values
    return results


def _run_child(function: Callable, share: Sequence, write_end: int) -> None:
    status = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # the parent reports an interruption, once
        payload = pickle.dumps(("ok", [function(item) for item in share]), pickle.HIGHEST_PROTOCOL)
    except BaseException:  # noqa: BLE001 - every failure goes back to the parent
        status = 1
        payload = pickle.dumps(("failed", traceback.format_exc()), pickle.HIGHEST_PROTOCOL)
    try:
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)
    except BaseException:  # noqa: BLE001 - the parent is gone or stopped us: nothing to tell
        status = 1
    os._exit(status)


def _receive(pid: int, read_end: int) -> tuple[bytes, int]:
    """Everything the child sent, and its exit status (the child is reaped)."""
    chunks = []
    while chunk := os.read(read_end, 1 << 20):
        chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    return b"".join(chunks), os.waitstatus_to_exitcode(status)


def _result(payload: bytes, status: int) -> list:
    if not payload:
        raise ChildFailed(f"a build process ended without a result (exit status {status})")
    outcome, value = pickle.loads(payload)  # our own child's bytes, through our own pipe
    if outcome != "ok":
        raise ChildFailed(f"a build process failed:\n{value}")
    return value


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
