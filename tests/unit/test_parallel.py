"""A large build shares its nodes among forked processes (generator/parallel.py): results in order, failures
reported with the child's traceback, no child left behind, and the same bytes as one process writes."""

import dataclasses
import os
import time

import pytest

from generator import build as build_module
from generator import parallel
from tests.support.common import ROOT


def files_on_disk(out) -> set[str]:
    return {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}


@pytest.mark.parametrize("jobs", [1, 2, 3, 4])
def test_results_come_back_in_the_order_of_the_items(jobs):
    items = list(range(11))
    results = parallel.ordered_map(lambda i: (i * i, os.getpid()), items, jobs)
    assert [square for square, _ in results] == [i * i for i in items]
    assert len({pid for _, pid in results}) == min(jobs, len(items))  # each share in its own process
    assert all(pid == os.getpid() for _, pid in results[0::jobs])     # the parent takes the first share


def test_a_failing_child_is_reported_with_its_traceback():
    def square(i):
        if i == 5:
            raise ValueError("no fives here")
        return i * i

    with pytest.raises(parallel.ChildFailed, match="(?s)ValueError: no fives here"):
        parallel.ordered_map(square, list(range(8)), 2)  # 5 is in the child's share (odd items)


def test_when_the_parent_fails_its_children_are_stopped(tmp_path):
    def work(i):
        if i % 2:  # the child's share: say who we are, then take long
            (tmp_path / f"pid-{i}").write_text(str(os.getpid()))
            time.sleep(30)
        elif i == 2:
            while not any(tmp_path.iterdir()):
                time.sleep(0.01)
            raise KeyError("parent failed")
        return i

    with pytest.raises(KeyError):
        parallel.ordered_map(work, list(range(6)), 2)
    pid = int(next(tmp_path.iterdir()).read_text())
    with pytest.raises(ProcessLookupError):  # stopped and reaped, not left running or as a zombie
        os.kill(pid, 0)


def test_the_jobs_given_or_one_per_cpu():
    assert parallel.usable_jobs(3) == 3
    assert 1 <= parallel.usable_jobs(None) <= 8


def test_a_build_in_many_processes_writes_the_bytes_of_one(tmp_path, monkeypatch):
    monkeypatch.setattr(build_module, "PARALLEL_FROM", 0)
    reports = {}
    for jobs in (1, 3):
        reports[jobs] = build_module.build([ROOT / "profiles"], tmp_path / f"out-{jobs}", tmp_path / "state",
                                           media=True, jobs=jobs)
    one, many = (tmp_path / "out-1"), (tmp_path / "out-3")
    assert files_on_disk(one) == files_on_disk(many) and len(files_on_disk(one)) > 50
    for name in files_on_disk(one):
        assert (one / name).read_bytes() == (many / name).read_bytes(), name
        assert (one / name).stat().st_mode == (many / name).stat().st_mode, name
    said = {jobs: [dataclasses.replace(p, file=p.file.replace(str(tmp_path / f"out-{jobs}"), "OUT"))
                   for p in report.problems] for jobs, report in reports.items()}
    assert said[1] == said[3] and said[1]  # the warnings, once each, in the same order
