"""Results kept for the last few distinct inputs, by value.

The nodes of a fleet differ in a few values (host name, address, MAC), so most of what a build renders or dumps
for one node it rendered or dumped for the node before: a template's output for the same values it reads, the
YAML of the same data. Each cache holds a few entries (the shapes of a fleet, not one entry per host), and
forget_all() empties them all, for tests that change how things are rendered.
"""

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
