"""A large build shares its nodes among forked processes (generator/parallel.py): results in order, failures
reported with the child's traceback, no child left behind, nothing forked beside other threads, and the same
bytes as one process writes.

Forking needs a process with one thread, which a pytest-xdist worker is not: the cases run in a fresh
interpreter (`_fresh`), as `gen build` does."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from generator import parallel
from tests.support.common import ROOT, run_gen


def _fresh(code: str) -> object:
    """Run `code` (it prints one JSON value last) in a new interpreter with one thread."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=ROOT,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("jobs", [1, 2, 3, 4])
def test_results_come_back_in_the_order_of_the_items(jobs):
    found = _fresh(f"""
        import json, os
        from generator import parallel
        results = list(parallel.ordered_imap(lambda i: (i * i, os.getpid()), list(range(11)), {jobs}))
        print(json.dumps({{"results": results, "me": os.getpid()}}))""")
    results = found["results"]
    assert [square for square, _ in results] == [i * i for i in range(11)]
    assert len({pid for _, pid in results}) == jobs                  # each share in its own process
    assert all(pid == found["me"] for _, pid in results[0::jobs])     # the parent takes the first share


def test_large_results_pass_through_the_pipes():
    """Results beyond a pipe's buffer (64 KiB): the parent reads each child to its end before it waits."""
    sizes = _fresh("""
        import json
        from generator import parallel
        print(json.dumps([len(r) for r in parallel.ordered_imap(lambda i: "x" * (1 << 20), list(range(9)), 3)]))""")
    assert sizes == [1 << 20] * 9


def test_a_failing_or_killed_child_is_reported():
    said = _fresh("""
        import json, os, signal, time
        from generator import parallel
        def square(i):
            if i == 5:
                raise ValueError("no fives here")
            return i * i
        def killed(i):
            if i == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            return i
        def killed_while_sending(i):  # a result larger than the pipe holds, cut off by an alarm
            if i == 0:  # the parent's: it reads nothing meanwhile
                time.sleep(2)
            if i == 1:
                signal.alarm(1)
                return "x" * (64 << 20)
            return i
        class Odd(Exception):  # pickles, but cannot be made again from its pickle
            def __init__(self, code, detail):
                super().__init__(code)
        def odd(i):
            if i == 3:
                raise Odd(3, "extra")
            return i
        messages = []
        for function in (square, killed, killed_while_sending, odd):
            try:
                list(parallel.ordered_imap(function, list(range(8)), 2))  # 5 and 3: the child's share (odd)
            except (ValueError, parallel.ChildFailed) as exc:
                messages.append([type(exc).__name__, str(exc), getattr(exc, "__notes__", [""])[0]])
        print(json.dumps(messages))""")
    name, message, note = said[0]  # raised again here, with the child's traceback as a note
    assert name == "ValueError" and message == "no fives here" and "in square" in note
    assert said[1][0] == "ChildFailed" and "killed by signal 9" in said[1][1]
    assert said[2][0] == "ChildFailed" and "killed by signal 14" in said[2][1]  # SIGALRM, not a pickle error
    assert said[3][0] == "ChildFailed" and "Odd: 3" in said[3][1]  # its traceback, as text


def test_a_childs_exception_is_raised_as_one_process_would_raise_it():
    """A ProfileError in a child's share reaches the user as the problems it holds (exit 2), not as an
    internal error."""
    said = _fresh("""
        import json
        from generator import parallel
        from generator.errors import Problem, ProfileError
        def check(i):
            if i == 5:
                raise ProfileError([Problem("w.yaml", 3, "a.b", "refused")])
            return i
        try:
            list(parallel.ordered_imap(check, list(range(8)), 2))
        except ProfileError as exc:
            print(json.dumps([str(p) for p in exc.problems]))""")
    assert said == ["w.yaml:3: error: a.b: refused"]


def test_when_the_parent_fails_its_children_are_killed_and_reaped(tmp_path):
    pid = _fresh(f"""
        import json, os, time
        from pathlib import Path
        from generator import parallel
        folder = Path({str(tmp_path)!r})
        def work(i):
            if i % 2:  # the child's share: say who we are, then take long
                (folder / "child.tmp").write_text(str(os.getpid()))
                (folder / "child.tmp").rename(folder / "child")
                time.sleep(60)
            else:  # the parent's first item fails once the child is at work
                while not (folder / "child").exists():
                    time.sleep(0.01)
                raise KeyError("parent failed")
            return i
        try:
            list(parallel.ordered_imap(work, list(range(6)), 2))
        except KeyError:
            pass
        pid = int((folder / "child").read_text())
        try:
            os.kill(pid, 0)
            print(json.dumps("still there"))
        except ProcessLookupError:  # killed and reaped, not left running or as a zombie
            print(json.dumps("gone"))""")
    assert pid == "gone"


def test_each_result_is_handed_on_as_soon_as_those_before_it_are_done(tmp_path):
    waited = _fresh(f"""
        import json, time
        from pathlib import Path
        from generator import parallel
        go = Path({str(tmp_path / "go")!r})
        def work(i):
            if i == 5:  # the child's last item waits until the caller has the first result
                deadline = time.monotonic() + 30
                while not go.exists() and time.monotonic() < deadline:
                    time.sleep(0.01)
                return go.exists()
            return i
        results = []
        for result in parallel.ordered_imap(work, list(range(6)), 2):
            results.append(result)
            go.touch()
        print(json.dumps(results))""")
    assert waited == [0, 1, 2, 3, 4, True]


def test_a_process_with_other_threads_maps_in_one_process():
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait)
    helper.start()
    try:
        assert not parallel.can_fork()
        import os
        assert set(parallel.ordered_imap(lambda i: os.getpid(), list(range(6)), 3)) == {os.getpid()}
    finally:
        stop.set()
        helper.join()


def test_the_jobs_given_or_one_per_cpu():
    assert parallel.usable_jobs(3) == 3
    assert 1 <= parallel.usable_jobs(None) <= 8


def _inventory(folder, workers: int) -> None:
    folder.mkdir()
    cluster = (ROOT / "profiles/fleet/cluster.yaml").read_text().replace("nodes_csv: workers.csv", "nodes_csv: big.csv")
    (folder / "cluster.yaml").write_text(cluster)
    rows = [f"k8s-w-{i:04d},worker,52:54:00:aa:00:{i:02x},192.168.124.{160 + i}/24" for i in range(workers)]
    (folder / "big.csv").write_text("hostname,role,mac,address\n" + "\n".join(rows) + "\n")


def test_a_build_in_many_processes_writes_the_bytes_of_one(tmp_path):
    assert "nodes_csv: workers.csv" in (ROOT / "profiles/fleet/cluster.yaml").read_text()
    _inventory(tmp_path / "fleet", 92)  # with the listed nodes above PARALLEL_FROM: several processes
    said = {}
    for jobs in ("3", "1"):  # the first makes the cluster's secrets: once, in the main process, as others run
        result = run_gen("build", str(tmp_path / "fleet"), "-o", str(tmp_path / f"out-{jobs}"), "--media", "-j", jobs,
                         "--secrets-dir", str(tmp_path / "state"))
        assert result.returncode == 0, result.stderr
        assert result.stderr.count("made the secrets") == (jobs == "3"), result.stderr
        said[jobs] = [line.replace(str(tmp_path / f"out-{jobs}"), "OUT") for line in result.stderr.splitlines()
                      if "made the secrets" not in line]
    one, many = tmp_path / "out-1", tmp_path / "out-3"
    names = sorted(str(p.relative_to(one)) for p in one.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(many)) for p in many.rglob("*") if p.is_file()) and len(names) > 500
    for name in names:
        assert (one / name).read_bytes() == (many / name).read_bytes(), name
        assert (one / name).stat().st_mode == (many / name).stat().st_mode, name
    assert said["1"] == said["3"] and said["1"]  # the same warnings, once each, in order


def test_a_terminated_build_leaves_nothing(tmp_path):
    """SIGTERM (a CI timeout, systemd stopping a job) in the middle of a large build: the half-written folder,
    which holds Kickstarts with keys, and the build's processes go, as with Ctrl-C."""
    _inventory(tmp_path / "fleet", 90)  # with the listed nodes: several processes
    build = subprocess.Popen([sys.executable, "-m", "generator", "build", str(tmp_path / "fleet"), "-o",
                              str(tmp_path / "new/out"), "--media", "-j", "2", "--secrets-dir", str(tmp_path / "state")],
                             cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list((tmp_path / "new").glob(".out.building-*/http/ks/*.ks")) and time.monotonic() < deadline:
        time.sleep(0.01)
    build.send_signal(signal.SIGTERM)
    _, stderr = build.communicate(timeout=60)
    assert build.returncode == 128 + signal.SIGTERM and "Traceback" not in stderr, stderr
    assert not (tmp_path / "new").exists()


def test_a_build_started_with_sighup_ignored_ignores_it(tmp_path):
    """nohup gen build ...: the terminal going away does not stop the build, in any of its processes."""
    _inventory(tmp_path / "fleet", 90)
    build = subprocess.Popen([sys.executable, "-m", "generator", "build", str(tmp_path / "fleet"), "-o",
                              str(tmp_path / "out"), "--media", "-j", "2", "--secrets-dir", str(tmp_path / "state")],
                             cwd=ROOT, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN), process_group=0)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.building-*/http/ks/*.ks")) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(build.pid, signal.SIGHUP)  # to the build's children too
    _, stderr = build.communicate(timeout=60)
    assert build.returncode == 0, stderr
    assert len(list((tmp_path / "out/http/ks").glob("*.ks"))) > 90
