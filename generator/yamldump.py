"""YAML dumping through libyaml where it writes the very bytes of PyYAML's pure-Python emitter.

libyaml's emitter (yaml.CSafeDumper) takes a small fraction of the pure-Python time, and a large build dumps
a cloud-config, a network-config and kubeadm configs for every node. Its text differs in a few corners only:
it escapes characters beyond U+FFFF, writes `...` after a keep-chomped block (`|+`, text ending in two line
breaks), folds long double-quoted lines at other places, and writes keys with odd characters as `? key`.
`dump` takes it only for data whose every string keeps away from those corners (tests/unit/test_yamldump.py
compares both emitters on such data), and the pure-Python emitter otherwise or when PyYAML lacks libyaml.
"""

import re
from collections.abc import Callable

import yaml

from generator.memo import Recent

# text that both emitters write alike when lines are never folded (width far beyond any line): tabs, line
# feeds and printable characters of the Basic Multilingual Plane, without the byte order mark
UNFOLDED_TEXT = re.compile(r"[\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd]*\Z")
# text that both write alike at the default width of 80: printable ASCII without spaces can never be folded
WORD = re.compile(r"[\x21-\x7e]*\Z")


def _strings(data):
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(data, (list, tuple)):
        for value in data:
            yield from _strings(value)


def _keep_chomped(text: str) -> bool:
    """Whether a literal block of this text needs `|+` (it ends in more than one line break)."""
    return text.endswith("\n\n") or text == "\n"


def libyaml_safe(data, text: re.Pattern) -> bool:
    """Whether libyaml writes `data` as the pure-Python emitter does: every string matches `text`."""
    return all(text.match(s) and not _keep_chomped(s) for s in _strings(data))


def libyaml_twin(dumper: type[yaml.SafeDumper]) -> type | None:
    """A libyaml dumper with `dumper`'s representers, or None when PyYAML was built without libyaml."""
    base = getattr(yaml, "CSafeDumper", None)
    if base is None:
        return None
    return type(f"C{dumper.__name__}", (base,), {"yaml_representers": dict(dumper.yaml_representers),
                                                 "yaml_multi_representers": dict(dumper.yaml_multi_representers)})


def dump(data, dumper: type[yaml.SafeDumper], twin: type | None, text: re.Pattern, **options) -> str:
    """yaml.dump(data, Dumper=dumper, **options), written by libyaml (`twin`) when that gives the same text."""
    fast = twin is not None and libyaml_safe(data, text)
    return yaml.dump(data, Dumper=twin if fast else dumper, **options)


def _frozen(data, containers: set[int]):
    """A hashable stand-in for `data`, equal only for data of the same types, values and key order; the ids of
    the mappings and lists met are added to `containers` (an object met twice raises ValueError)."""
    if isinstance(data, (dict, list)):
        if id(data) in containers:
            raise ValueError("shared")  # PyYAML writes an anchor and an alias for it: dump the whole
        containers.add(id(data))
    if isinstance(data, dict):
        return dict, tuple((_frozen(k, containers), _frozen(v, containers)) for k, v in data.items())
    if isinstance(data, (list, tuple)):
        return type(data), tuple(_frozen(v, containers) for v in data)
    return type(data), data


class Remembered:
    """`dump` for the last `size` distinct values it was given: the nodes of a fleet dump mostly equal data
    (the same write_files entries, the same ClusterConfiguration), and equal data gives equal text.

    mapping() writes a block mapping key by key (and the items of the lists named in `by_item` one by one), each
    part remembered: a block mapping's text is its keys' texts in order, and a block sequence's, not indented
    under its key in PyYAML's style, its items' (tests/unit/test_yamldump.py compares with one dump of the whole).
    Data holding one mapping or list twice is dumped whole: PyYAML ties the two with an anchor."""

    def __init__(self, dump: Callable[[object], str], size: int = 64):
        self.dump = dump
        self.recent = Recent(size)

    def __call__(self, data) -> str:
        try:
            key = _frozen(data, set())
        except ValueError:
            return self.dump(data)
        return self.recent.get(key, lambda: self.dump(data))

    def mapping(self, data: dict, by_item: tuple[str, ...] = ()) -> str:
        containers: set[int] = set()
        try:
            keys = [_frozen(value, containers) for value in data.values()]
        except ValueError:
            return self.dump(data)
        if not data:
            return self.dump(data)
        parts = []
        for (name, value), key in zip(data.items(), keys):
            if name in by_item and isinstance(value, list) and value:
                parts.append(self.recent.get((dict, name, list), lambda: self.dump({name: []}).removesuffix(" []\n") + "\n"))
                parts += [self.recent.get((list, item), lambda: self.dump([value[i]]))
                          for i, item in enumerate(key[1])]
            else:
                parts.append(self.recent.get((dict, (((type(name), name), key),)), lambda: self.dump({name: value})))
        # a part ending in a keep-chomped block (`|+`) ends its document with `...`; only the last part ends one
        return "".join(part[:-4] if part.endswith("\n...\n") else part for part in parts[:-1]) + parts[-1]
