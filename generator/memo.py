"""Results kept for the last few distinct inputs, by value.

The nodes of a fleet differ in a few values (host name, address, MAC), so most of what a build renders or dumps
for one node it rendered or dumped for the node before: a template's output for the same values it reads, the
YAML of the same data. Each cache holds a few entries (the shapes of a fleet, not one entry per host), and
forget_all() empties them all, for tests that change how things are rendered.
"""

import dataclasses
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable

_ALL: "weakref.WeakSet[Recent]" = weakref.WeakSet()


class Recent:
    """make() for the last `size` distinct keys, the newest kept longest."""

    def __init__(self, size: int):
        self.size = size
        self.entries: OrderedDict = OrderedDict()
        _ALL.add(self)

    def get(self, key: Hashable, make: Callable[[], object]):
        value = self.entries.get(key)
        if value is None:
            value = self.entries[key] = make()
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)
        else:
            self.entries.move_to_end(key)
        return value


def forget_all() -> None:
    for cache in list(_ALL):
        cache.entries.clear()


def share_equal_fields(obj, pool: Recent):
    """`obj` (a frozen dataclass) with each field equal to one a recent object had in `pool` replaced by that
    one. The nodes of a fleet resolve to mostly equal parts (OS, Kubernetes, repositories, keys), and the
    render caches (node_reads.NodeTemplate) know a part by its identity: shared, a part rendered for the node
    before is found again without comparing it whole."""
    changes = {}
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        try:
            # with its type: 1800 == 1800.0 == True, but each is written differently
            kept = pool.get((field.name, type(value), value), lambda: value)
        except TypeError:  # unhashable: this field stays the object's own
            continue
        if kept is not value:
            changes[field.name] = kept
    return dataclasses.replace(obj, **changes) if changes else obj
