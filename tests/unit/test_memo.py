"""What a build keeps by value (generator/memo.py): a bounded cache, emptied on request."""

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
