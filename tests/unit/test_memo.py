"""What a build keeps by value (generator/memo.py): a bounded cache, emptied on request, and equal parts of
the nodes held once."""

import dataclasses

from generator import memo


def test_recent_keeps_the_newest_entries_and_forgets_on_request():
    made = []
    cache = memo.Recent(2)

    def make(key):
        made.append(key)
        return key.upper()

    for key in ["a", "b", "a", "c", "b", "a"]:
        assert cache.get(key, lambda: make(key)) == key.upper()
    assert made == ["a", "b", "c", "b", "a"]  # a stayed (used again), b was pushed out by c, then a by b
    memo.forget_all()
    assert not cache.entries


@dataclasses.dataclass(frozen=True)
class _Part:
    name: str
    items: tuple = ()


@dataclasses.dataclass(frozen=True)
class _Whole:
    host: str
    part: _Part
    notes: list


def test_equal_fields_are_held_once_and_the_object_stays_equal():
    pool = memo.Recent(8)
    first = memo.share_equal_fields(_Whole("a", _Part("x", (1, 2)), []), pool)
    second_own = _Whole("b", _Part("x", (1, 2)), [])
    second = memo.share_equal_fields(second_own, pool)
    assert second == second_own and second.part is first.part   # equal value, one object
    assert second.host == "b" and second.notes is second_own.notes  # what differs, and what cannot be hashed, stays
    third = memo.share_equal_fields(_Whole("c", _Part("y"), []), pool)
    assert third.part == _Part("y") and third.part is not first.part



@dataclasses.dataclass(frozen=True)
class _Timeout:
    seconds: object


def test_equal_values_of_other_types_are_not_shared():
    """1800 == 1800.0, but a template writes each as it is: the pool keeps them apart by type."""
    pool = memo.Recent(8)
    whole = memo.share_equal_fields(_Timeout(1800), pool)
    decimal = memo.share_equal_fields(_Timeout(1800.0), pool)
    assert type(whole.seconds) is int and type(decimal.seconds) is float
