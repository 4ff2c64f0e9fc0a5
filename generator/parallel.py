"""An ordered map over processes forked from this one, for the nodes of a large build.

Checking, resolving and rendering a node is pure Python and holds the interpreter lock, so threads would not
help; forked children start with everything the parent loaded and checked, so nothing is sent to them. Each
child takes every jobs-th item, runs `function` on it and sends each result back pickled through a pipe as soon
as it is made; the parent takes its own share meanwhile and hands the results on in the items' order, each as
soon as those before it are there. So what a build writes does not depend on how many processes made it, and
no process holds more than a few results at a time.

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
from collections.abc import Callable, Iterator, Sequence

ENDING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # what stops a build


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


def ordered_imap(function: Callable, items: Sequence, jobs: int,
                 on_done: Callable[[int], None] | None = None) -> Iterator:
    """function(item) for each item, in the items' order, shared among `jobs` processes (this one and jobs - 1
    children) when this process may fork. Each result is handed on as soon as it and those before it are done,
    so the caller can write it and let it go: a large build never holds them all. on_done(n) is called with
    the number of results handed on."""
    jobs = max(1, min(jobs, len(items)))
    if jobs == 1 or not can_fork():
        for done, item in enumerate(items, 1):
            yield function(item)
            if on_done:
                on_done(done)
        return
    children: list[_Child] = []  # not yet reaped
    try:
        for share in range(1, jobs):
            # the signals that end a build blocked from the fork until the child is in the list, which the
            # cleanup below goes through, and until the child has its default actions (never the parent's)
            previous = signal.pthread_sigmask(signal.SIG_BLOCK, ENDING_SIGNALS)
            try:
                children.append(_fork_child(function, items[share::jobs], [c.pipe.fileno() for c in children],
                                            previous))
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        for index, item in enumerate(items):
            share = index % jobs
            yield function(item) if share == 0 else children[share - 1].next_result()
            if on_done:
                on_done(index + 1)
        while children:
            children[0].finish()
            children.pop(0)
    except BaseException:  # (GeneratorExit too: the caller stopped early) the children go, then this goes on
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, ENDING_SIGNALS)  # a second Ctrl-C: clean up first
        try:
            for child in children:
                child.kill()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        raise


class _Child:
    """A forked child as the parent sees it: its pid and the read end of its pipe, one pickled message a result."""

    def __init__(self, pid: int, read_end: int):
        self.pid = pid
        self.pipe = os.fdopen(read_end, "rb")
        self.reaped = False

    def next_result(self):
        try:
            outcome, value = pickle.load(self.pipe)  # our own child's bytes, through our own pipe
        except (EOFError, pickle.UnpicklingError):  # it ended before or while sending this result
            status = self._reap()
            how = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
            raise ChildFailed(f"a build process ended without a result ({how})") from None
        if outcome == "ok":
            return value
        self._reap()
        if outcome == "raised":
            exc, text = value
            exc.add_note(f"raised in a build process:\n{text}")
            raise exc
        raise ChildFailed(f"a build process failed:\n{value}")

    def finish(self) -> None:
        """After its last result: the child has nothing more to say and ends well."""
        extra = self.pipe.read()
        status = self._reap()
        if status:
            raise ChildFailed(f"a build process ended with exit status {status} after its results")
        if extra:
            raise ChildFailed(f"a build process sent {len(extra)} bytes more than its results")

    def kill(self) -> None:
        if self.reaped:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._reap()

    def _reap(self) -> int:
        self.pipe.close()
        self.reaped = True
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return 0
        return os.waitstatus_to_exitcode(status)


def _fork_child(function: Callable, share: Sequence, other_pipes: list[int], mask: set) -> _Child:
    """A child running `function` over `share`; called with ENDING_SIGNALS blocked, `mask` the signal mask to restore."""
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        raise
    if pid == 0:  # the child: never returns
        try:
            for signum in ENDING_SIGNALS:  # the default action, unless the signal was ignored (nohup: SIGHUP)
                if signal.getsignal(signum) != signal.SIG_IGN:
                    signal.signal(signum, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            for fd in other_pipes + [read_end]:
                os.close(fd)
            _run_child(function, share, write_end)
        finally:
            os._exit(1)
    os.close(write_end)
    return _Child(pid, read_end)


def _run_child(function: Callable, share: Sequence, write_end: int) -> None:
    """Each result sent as it is made (flushed: the parent waits for it); a failure ends the share."""
    status = 0
    try:
        with os.fdopen(write_end, "wb") as pipe:
            try:
                for item in share:
                    pipe.write(pickle.dumps(("ok", function(item)), pickle.HIGHEST_PROTOCOL))
                    pipe.flush()
            except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
                status = 1
                pipe.write(_failure(exc))
    except BaseException:  # noqa: BLE001 - the parent is gone or stopped reading: nothing to tell
        status = 1
    os._exit(status)


def _failure(exc: BaseException) -> bytes:
    """The exception itself where it can travel both ways (the parent raises it as the serial map would), else
    its traceback as text."""
    text = traceback.format_exc()
    try:
        if isinstance(exc, Exception):
            payload = pickle.dumps(("raised", (exc, text)), pickle.HIGHEST_PROTOCOL)
            pickle.loads(payload)  # some pickle but cannot be made again (a required argument of their own)
            return payload
    except Exception:  # noqa: BLE001 - cannot travel
        pass
    return pickle.dumps(("failed", text), pickle.HIGHEST_PROTOCOL)
