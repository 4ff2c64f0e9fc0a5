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


# the options simple_block writes the same text under (width and allow_unicode do not touch its words and
# literal blocks of ASCII); any other (indent, explicit_start, ...) leaves the dump to PyYAML
_SIMPLE_OPTIONS = {"sort_keys", "default_flow_style", "width", "allow_unicode"}


def dump(data, dumper: type[yaml.SafeDumper], twin: type | None, text: re.Pattern, *, literal: bool = False,
         **options) -> str:
    """yaml.dump(data, Dumper=dumper, **options): written by simple_block (in block style, keys in order) or by
    libyaml (`twin`) where either gives the same text. literal: `dumper` writes multi-line text as `|` blocks."""
    if (options.get("sort_keys") is False and options.get("default_flow_style") is False
            and set(options) <= _SIMPLE_OPTIONS):
        simple = simple_block(data, literal)
        if simple is not None:
            return simple
    fast = twin is not None and libyaml_safe(data, text)
    return yaml.dump(data, Dumper=twin if fast else dumper, **options)


def _frozen(data, containers: set[int]):
    """A hashable stand-in for `data`, equal only for data of the same types, values and key order (a str stands
    for itself: nothing else equals it); the ids of the mappings and lists met are added to `containers` (one
    met twice raises ValueError)."""
    kind = type(data)
    if kind is str:
        return data
    if kind is dict or kind is list:
        if id(data) in containers:
            raise ValueError("shared")  # PyYAML writes an anchor and an alias for it: dump the whole
        containers.add(id(data))
        if kind is dict:
            items = tuple(data.items())
            if all(type(k) is str and type(v) is str for k, v in items):  # text only: each stands for itself
                return dict, items
            return dict, tuple([(_frozen(k, containers), _frozen(v, containers)) for k, v in items])
    if kind is list or kind is tuple:
        return kind, tuple([_frozen(v, containers) for v in data])
    if isinstance(data, (dict, list, tuple)):  # a subclass: its own type in the key, its items as above
        return kind, _frozen(dict(data) if isinstance(data, dict) else list(data), containers)
    if kind is float:
        return kind, repr(data)  # -0.0 == 0.0 and nan != nan, but each is written as its repr
    return kind, data


class Remembered:
    """`dump` of what the nodes of a fleet mostly share (the same write_files entries, the same
    ClusterConfiguration), kept for the last `size` distinct values: equal data gives equal text.

    mapping() writes a block mapping key by key (and the items of the lists named in `by_item` one by one), each
    part remembered: a block mapping's text is its keys' texts in order, and a block sequence's, not indented
    under its key in PyYAML's style, its items' (tests/unit/test_yamldump.py compares with one dump of the whole).
    Data holding one mapping or list twice is dumped whole: PyYAML ties the two with an anchor."""

    def __init__(self, dump: Callable[[object], str], size: int = 64):
        self.dump = dump
        self.recent = Recent(size)

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


# --- block YAML for simple data, without PyYAML's Python representer ----------------------------------------
#
# The per-node parts a fleet's nodes do not share (a host name, a node-name file, a JoinConfiguration's
# nodeRegistration, a network-config) are small mappings of words. PyYAML spends most of a dump on its Python
# representer and serializer; simple_block writes the same bytes for data made of mappings, lists, booleans,
# integers, None and strings of printable ASCII that PyYAML writes plain or single-quoted (words without spaces
# or quotes) or, for the cloud-config, as a literal block (`|`: lines of printable ASCII, one final line break,
# no leading space, no space before a break). Anything else returns None and is dumped by PyYAML
# (tests/unit/test_yamldump.py compares the two on fuzzed data and every example).

_SIMPLE_WORD = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_/.:@+=-]*\Z")   # never an indicator, a space or a quote
_SIMPLE_LINES = re.compile(r"[\x21-\x7e][\x20-\x7e\n]*\Z")  # no tab, control or line-break character anywhere
_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = yaml.resolver.Resolver()


def _word(text: str) -> str | None:
    if not _SIMPLE_WORD.match(text) or text.endswith(":"):
        return None
    if _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == _STR_TAG:
        return text
    return f"'{text}'"  # read as another type when plain (a number, a boolean, a MAC as base-60): quoted


def _literal(text: str, indent: int) -> str | None:
    if not _SIMPLE_LINES.match(text) or not text.endswith("\n") or text.endswith("\n\n") or " \n" in text:
        return None
    pad = " " * indent
    return "|\n" + "".join(pad + line + "\n" if line else "\n" for line in text[:-1].split("\n"))


def _scalar(value, indent: int, literal: bool) -> str | None:
    """The scalar's text after `key: ` or `- ` (literal blocks end in their own line break), or None."""
    if value is None:
        return "null\n"
    if value is True or value is False:
        return "true\n" if value else "false\n"
    if type(value) is int:
        return f"{value}\n"
    if type(value) is not str:
        return None
    if literal and "\n" in value:
        return _literal(value, indent)
    word = _word(value)
    return None if word is None else word + "\n"


def _block(value, column: int, literal: bool, after: str) -> str | None:
    """`value` written after `after` (a `key:` or a `- `) whose own line starts at `column`. Only plain dicts
    and lists: PyYAML's safe dumper refuses their subclasses, so such data is left to it."""
    kind = type(value)
    if kind is dict and value:
        if after.endswith(":"):
            body = _mapping(value, column + 2, literal)
            return None if body is None else after + "\n" + body
        return _mapping(value, column + 2, literal, first=after + " ")
    if kind is list and value:
        if after.endswith(":"):  # a list under a key is not indented (PyYAML's indentless sequence)
            body = _sequence(value, column, literal)
            return None if body is None else after + "\n" + body
        return _sequence(value, column + 2, literal, first=after + " ")
    if kind is dict or kind is list:
        return f"{after} {'{}' if kind is dict else '[]'}\n"
    text = _scalar(value, column + 2, literal)
    return None if text is None else f"{after} {text}"


def _mapping(data: dict, column: int, literal: bool, first: str = "") -> str | None:
    parts = []
    for i, (key, value) in enumerate(data.items()):
        # PyYAML writes a key as `? key` from 128 characters, counting the 5 of its `!!str` tag
        name = _word(key) if type(key) is str and len(key) < 123 else None
        if name is None:
            return None
        lead = first if i == 0 and first else " " * column
        part = _block(value, column, literal, lead + name + ":")
        if part is None:
            return None
        parts.append(part)
    return "".join(parts)


def _sequence(items: list, column: int, literal: bool, first: str = "") -> str | None:
    parts = []
    for i, value in enumerate(items):
        lead = first if i == 0 and first else " " * column
        part = _block(value, column, literal, lead + "-")
        if part is None:
            return None
        parts.append(part)
    return "".join(parts)


def simple_block(data, literal: bool) -> str | None:
    """PyYAML's block-style text of `data` (sort_keys=False, default_flow_style=False) when it is simple data
    as above; `literal`: multi-line strings as `|` blocks (the cloud-config dumper). None otherwise."""
    try:
        _frozen(data, set())
    except ValueError:  # a mapping or list held twice: PyYAML ties them with an anchor
        return None
    if type(data) is dict and data:
        return _mapping(data, 0, literal)
    if type(data) is list and data:
        return _sequence(data, 0, literal)
    return None
