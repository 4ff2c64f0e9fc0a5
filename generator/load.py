"""Strict YAML loading: duplicate keys, aliases and odd tags are errors; every value keeps its file:line.

`extends: other.yaml` merges a parent profile under this one (mappings merge key by key,
everything else is replaced by the child), so role profiles can share one cluster file.
"""

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from generator.errors import Problem, ProfileError

KeyPath = tuple[str | int, ...]
# a profile is a few levels deep; far deeper input is a mistake or an attack, and would exhaust Python's stack
MAX_DEPTH = 32
# a profile is a few KiB; a cap keeps /dev/zero-like input or a huge file from being read whole
MAX_FILE_BYTES = 1024 * 1024
_OPENERS = (yaml.FlowSequenceStartToken, yaml.FlowMappingStartToken, yaml.BlockSequenceStartToken,
            yaml.BlockMappingStartToken)
_CLOSERS = (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken, yaml.BlockEndToken)
STANDARD_TAGS = {
    "tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
}


def file_label(path: Path | str) -> str:
    """A profile's file name as artifacts may show it: characters other than letters, digits and `._-` become `_`.

    The name is the one value no schema checks; a newline or a YAML escape in it must not reach a comment line
    of the Kickstart, the user-data or the script.
    """
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in Path(path).name) or "_"


def dotted(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass
class Document:
    """A loaded profile: plain data plus where each value came from."""

    data: dict
    origins: Mapping[KeyPath, tuple[str, int]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # each file's text, for the line a problem shows

    def locate(self, path: KeyPath) -> tuple[str, int]:
        """file and line of a key path, or of its nearest ancestor that exists."""
        return self.origins.get(self._nearest(path), (self.files[0] if self.files else "?", 0))

    def _nearest(self, path: KeyPath) -> KeyPath:
        path = tuple(path)
        while path not in self.origins and path:
            path = path[:-1]
        return path

    def problem(self, path: KeyPath, message: str, severity: str = "error", hint: str = "",
                at_key: bool = False) -> Problem:
        """A problem located at the key path's line, with the caret under its value (or its key)."""
        file, line = self.locate(path)
        context = source_line(self.texts.get(file, ""), line)
        nearest = self._nearest(path)
        key = nearest[-1] if nearest and isinstance(nearest[-1], str) else None
        column = value_column(context, None if at_key else key)
        return Problem(file, line, dotted(path), message, severity, column, hint, context)

    def warning(self, path: KeyPath, message: str, hint: str = "") -> Problem:
        return self.problem(path, message, "warning", hint)


# a line that may hold a secret is never shown: stderr ends up in CI logs (URL credentials, a bootstrap token,
# a password hash)
_SECRET_LINE = re.compile(r"://[^/\s]*@|\b[a-z0-9]{6}\.[a-z0-9]{16}\b|password|token|secret|activation_key", re.I)


def source_line(text: str, line: int) -> str:
    """Line `line` (1-based) of text without its end, or "" (shown only when it is printable text and no secret)."""
    lines = _lines(text)
    shown = lines[line - 1].rstrip() if 0 < line <= len(lines) else ""
    return shown if shown.isprintable() and not _SECRET_LINE.search(shown) else ""


@lru_cache(maxsize=4)  # a few files at a time (a str keeps its hash; a hit compares it by identity first)
def _lines(text: str) -> list[str]:
    """text.splitlines(), split once for the many problems one file may have (a CSV of thousands of rows)."""
    return text.splitlines()


def value_column(line: str, key: str | None) -> int:
    """1-based column of the value after `key:` on this line (block or flow style), else of the line's first
    character; 0 for an empty line."""
    if not line.strip():
        return 0
    if key is not None:
        for quote in ("", '"', "'"):
            at = line.find(f"{quote}{key}{quote}:")
            if at >= 0 and (at == 0 or not (line[at - 1].isalnum() or line[at - 1] in "_-")):
                rest = at + len(key) + 2 * len(quote) + 1
                after = len(line) - len(line[rest:].lstrip())
                return (after if after < len(line) else at) + 1
    return len(line) - len(line.lstrip(" -")) + 1


class _Builder:
    def __init__(self, file: str, text: str = ""):
        self.file = file
        self.text = text
        self.origins: dict[KeyPath, tuple[str, int]] = {}
        self.problems: list[Problem] = []
        self._scalars = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: KeyPath, line: int | None = None):
        # a mapping value is located at its key's line, which is where a reader looks
        self.origins[path] = (self.file, line or node.start_mark.line + 1)
        if len(path) > MAX_DEPTH:
            self._fail(node, path[:MAX_DEPTH], f"nested more than {MAX_DEPTH} levels deep; a profile needs a few")
            return None
        if node.tag not in STANDARD_TAGS:
            self._fail(node, path, f"YAML tag {node.tag!r} is not allowed; write plain values")
            return None
        if isinstance(node, yaml.MappingNode):
            result: dict = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    self._fail(key_node, path, "keys must be plain strings")
                    continue
                key = key_node.value
                if key == "<<":
                    self._fail(key_node, path, "YAML merge keys (<<) are not allowed; use `extends:`")
                    continue
                if key in result:
                    self._fail(key_node, path + (key,), f"duplicate key {key!r} (already set above)")
                    continue
                result[key] = self.build(value_node, path + (key,), key_node.start_mark.line + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        try:
            return self._scalars.construct_object(node)
        except (ValueError, OverflowError) as exc:  # 5000-digit integers, dates such as 2024-13-45
            self._fail(node, path, f"not a valid value ({exc}); quote it if it is meant as text")
            return None

    def _fail(self, node: yaml.Node, path: KeyPath, message: str) -> None:
        line = node.start_mark.line + 1
        context = source_line(self.text, line)
        self.problems.append(Problem(self.file, line, dotted(path), message, column=node.start_mark.column + 1
                                     if context else 0, context=context))


def read_utf8(path: Path, display: str, key: str = "") -> str:
    """A regular file's text; anything else (a FIFO, a device, too big, not UTF-8) is a located problem."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ProfileError([Problem(display, 0, key, "file not found")]) from None
    except OSError as exc:
        raise ProfileError([Problem(display, 0, key, f"cannot read: {exc.strerror}")]) from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ProfileError([Problem(display, 0, key, "not a regular file")])
        raw = handle.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ProfileError([Problem(display, 0, key, f"larger than {MAX_FILE_BYTES // 1024} KiB; a profile is a few KiB")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ProfileError([Problem(display, line, key, "not UTF-8 text (save the file as UTF-8)")]) from None


def _check_depth(text: str, display: str) -> None:
    """Refuse deep nesting while scanning, before PyYAML's parser spends minutes on it (or exhausts the stack)."""
    depth = 0
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        if isinstance(token, _OPENERS):
            depth += 1
            if depth > MAX_DEPTH + 1:  # the top-level mapping is one level more than the key paths count
                raise ProfileError([_at(display, text, token.start_mark.line + 1,
                                        f"nested more than {MAX_DEPTH} levels deep; a profile needs a few")])
        elif isinstance(token, _CLOSERS):
            depth -= 1


def _at(display: str, text: str, line: int, message: str, column: int = 0) -> Problem:
    """A problem of the whole file (no key path) at a line, showing that line."""
    context = source_line(text, line)
    return Problem(display, line, "", message, column=column if context else 0, context=context)


def _spaces(count: int) -> str:
    return f"{count} space" if count == 1 else f"{count} spaces"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _syntax_problem(text: str, display: str, exc: yaml.MarkedYAMLError) -> Problem:
    """A YAML syntax error in words a newcomer can act on, at the line that needs the fix."""
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    lines = text.splitlines()
    problem = exc.problem or str(exc)
    if "could not find expected ':'" in problem and exc.context_mark:
        # a key without its colon: PyYAML notices only on a later line
        line, column = exc.context_mark.line + 1, exc.context_mark.column + 1
        word = source_line(text, line).strip().split(" ")[0]
        return _at(display, text, line, f"a key needs a colon and a space after it: write `{word}:` "
                                        f"(or `{word}: value`)", column)
    if "mapping values are not allowed here" in problem:
        scalar = _last_scalar(text)
        if scalar is not None and scalar.start_mark.line + 1 < line:
            # `key: value` and then a more indented `other: ...`: the value swallowed the next line
            start = scalar.start_mark.line + 1
            return _at(display, text, start, f"the value on this line is followed by a more indented key on line "
                                             f"{line}; a key takes either a value or indented keys below it: remove "
                                             f"this value, or indent line {line} like the keys above it",
                       scalar.start_mark.column + 1)
        return _at(display, text, line, "a second `key:` on one line; put each key on its own line, or quote a "
                                        "value that contains `: `", column)
    if "expected <block end>" in problem or "expected <block mapping start>" in problem:
        above = next((n for n in range(line - 1, 0, -1) if lines[n - 1].strip()
                      and not lines[n - 1].lstrip().startswith("#")), 0)
        here = _indent(lines[line - 1]) if 0 < line <= len(lines) else 0
        want = f"; line {above} is indented by {_spaces(_indent(lines[above - 1]))}" if above else ""
        return _at(display, text, line, f"this line is indented by {_spaces(here)}, which matches no key above it"
                                        f"{want}: indent keys of one block by the same number of spaces", column)
    if "found character '\\t'" in problem:
        return _at(display, text, line, "a tab: YAML indents with spaces only; replace the tab with spaces", column)
    if "expected ',' or ']'" in problem or "expected ',' or '}'" in problem:
        start = exc.context_mark.line + 1 if exc.context_mark else line
        closing = "]" if "']'" in problem else "}"
        return _at(display, text, start, f"a list or mapping opened here is not closed: add `{closing}`, or "
                                         f"put a comma between its items", exc.context_mark.column + 1
                   if exc.context_mark else column)
    return _at(display, text, line, f"YAML syntax error: {problem}", column)


def _last_scalar(text: str):
    """The last scalar token PyYAML read before its scanner failed, or None."""
    last = None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, yaml.ScalarToken):
                last = token
    except yaml.YAMLError:
        pass
    return last


def load_file(path: Path, display: str | None = None) -> tuple[dict, dict[KeyPath, tuple[str, int]]]:
    """One YAML file as a mapping plus origins, without following `extends`."""
    data, origins, _ = load_text(path, display)
    return data, origins


def load_text(path: Path, display: str | None = None) -> tuple[dict, dict[KeyPath, tuple[str, int]], str]:
    """load_file, plus the file's text (for the lines problems show)."""
    display = display or str(path)
    text = read_utf8(path, display)
    try:
        _check_depth(text, display)
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise ProfileError([_at(display, text, event.start_mark.line + 1,
                                        "YAML anchors and aliases are not allowed; write values out or use `extends:`",
                                        event.start_mark.column + 1)])
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        raise ProfileError([_syntax_problem(text, display, exc)]) from None
    except yaml.YAMLError as exc:
        raise ProfileError([Problem(display, 0, "", f"YAML error: {exc}")]) from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise ProfileError([Problem(display, 0, "", f"nested far too deep (a profile needs a few levels, "
                                                    f"at most {MAX_DEPTH})")]) from None
    if len(nodes) > 1:
        raise ProfileError([_at(display, text, nodes[1].start_mark.line + 1,
                                "one YAML document per profile, found several (remove the `---` line)")])
    if not nodes or (isinstance(nodes[0], yaml.ScalarNode) and nodes[0].tag.endswith(":null")):
        raise ProfileError([Problem(display, 1, "", "the profile is empty; it must be a mapping such as `role: worker`")])
    root = nodes[0]
    if not isinstance(root, yaml.MappingNode):
        kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
        raise ProfileError([_at(display, text, root.start_mark.line + 1,
                                f"the profile must be a mapping of keys (like `role: worker`), not {kind}")])
    builder = _Builder(display, text)
    data = builder.build(root, ())
    if builder.problems:
        raise ProfileError(builder.problems)
    return data, builder.origins, text


class LayeredOrigins(Mapping):
    """The origins of a merged document: the child's own over its base's, less the base's under the subtrees
    the child replaced. The base is shared, not copied: the nodes a cluster file lists hold only their own."""

    def __init__(self, own: dict, base: Mapping, replaced: frozenset):
        self.own, self.base, self.replaced = own, base, replaced

    def _hidden(self, path: KeyPath) -> bool:
        return any(path[:depth] in self.replaced for depth in range(1, len(path) + 1))

    def __getitem__(self, path: KeyPath) -> tuple[str, int]:
        if path in self.own:
            return self.own[path]
        if self._hidden(path):
            raise KeyError(path)
        return self.base[path]

    def __contains__(self, path) -> bool:
        return path in self.own or (path in self.base and not self._hidden(path))

    def __iter__(self):
        yield from self.own
        yield from (path for path in self.base if path not in self.own and not self._hidden(path))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _merge_data(base: dict, child: dict, path: KeyPath, replaced: set) -> dict:
    merged = dict(base)
    for key, value in child.items():
        sub = path + (key,)
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge_data(merged[key], value, sub, replaced)
        else:
            merged[key] = value  # the child replaces this subtree: the parent's origins below it go
            replaced.add(sub)
    return merged


def _merge(base: dict, base_origins: Mapping, child: dict, child_origins: dict,
           root: tuple[str, int]) -> tuple[dict, LayeredOrigins]:
    """The child's data over its base's, mappings merged key by key, and where each value came from (the
    document itself: `root`)."""
    replaced: set = set()
    merged = _merge_data(base, child, (), replaced)
    own = {p: o for p, o in child_origins.items() if p}
    own[()] = root
    return merged, LayeredOrigins(own, base_origins, frozenset(replaced))


def _parent_profile(ref, path: Path, tree: Path, where: tuple[str, int]) -> Path:
    """The file `extends:` names: a relative path that stays inside the profile tree (links resolved).

    Paths outside are refused before they are looked at, so an error never tells whether such a file exists
    nor shows a line of it.
    """
    def refuse(message: str) -> ProfileError:
        return ProfileError([Problem(*where, "extends", message)])

    if not isinstance(ref, str) or not ref:
        raise refuse("must be the path of another profile, such as `cluster.yaml`")
    if Path(ref).is_absolute() or "\0" in ref:
        raise refuse("must be a relative path, such as `cluster.yaml` (absolute paths are not followed)")
    candidate = path.parent / ref
    if not candidate.resolve().is_relative_to(tree):
        raise refuse(f"must stay inside the profile's folder {tree}/ (no `..` or links out of it)")
    if not candidate.is_file():
        raise refuse(f"file {ref!r} not found (looked in {path.parent or '.'}/)")
    return candidate


def load_profile(path: Path | str, _chain: tuple[Path, ...] = (), _tree: Path | None = None) -> Document:
    """Load a profile and everything it extends, as one Document.

    The folder of the profile named on the command line is the tree every `extends:` must stay in.
    """
    path = Path(path)
    display = str(path)
    resolved = path.resolve()
    tree = _tree or resolved.parent
    data, origins, text = load_text(path, display)
    files = [display]
    parent_ref = data.pop("extends", None)
    if parent_ref is None:
        return Document(data, origins, files, {display: text})
    where = origins.get(("extends",), (display, 0))
    parent_path = _parent_profile(parent_ref, path, tree, where)
    chain = _chain + (resolved,)
    if parent_path.resolve() in chain:
        cycle = " -> ".join(p.name for p in chain + (parent_path.resolve(),))
        raise ProfileError([Problem(*where, "extends", f"extends cycle: {cycle}")])
    parent = load_profile(parent_path, chain, tree)
    merged, merged_origins = _merge(parent.data, parent.origins, data, origins, (display, 1))
    return Document(merged, merged_origins, files + parent.files, {display: text, **parent.texts})
