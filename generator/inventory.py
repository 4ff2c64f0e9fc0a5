"""A cluster file that lists its nodes: each `nodes:` entry, and each row of the CSV file `nodes_csv:` names,
becomes a node profile that inherits the cluster file's settings as `extends:` would.

An entry holds hostname, role (default worker), mac and address (shortcuts for network.mac and
network.address; an address makes the node static) and any profile key it overrides. Every value keeps the
file and line it came from, so the schema, the rules and the fleet checks point into the cluster file or the
CSV row.
"""

import csv
import difflib
import io
from dataclasses import dataclass
from pathlib import Path

from generator.errors import Problem, ProfileError, UsageError
from generator.load import Document, KeyPath, _merge, load_profile, read_utf8
from generator.pipeline import profile_problems

INVENTORY_KEYS = ("nodes", "nodes_csv")
# entry/column shortcut -> the profile key it sets
SHORTCUTS = {"mac": ("network", "mac"), "address": ("network", "address")}
CSV_COLUMNS = {
    "hostname": ("hostname",), "role": ("role",), "mac": ("network", "mac"), "address": ("network", "address"),
    "device": ("network", "device"), "gateway": ("network", "gateway"), "disk": ("os", "disk"),
}
DEFAULT_ROLE = "worker"


@dataclass(frozen=True)
class NodeDocument:
    """One node of a build: its merged profile and the name its artifacts get (without suffix; a relative path
    with /, kept as text: a build of thousands of nodes makes no Path for each)."""

    doc: Document
    name: str


def is_inventory(doc: Document) -> bool:
    return "role" not in doc.data and any(key in doc.data for key in INVENTORY_KEYS)


def _set(data: dict, origins: dict, path: KeyPath, value, where: tuple[str, int]) -> None:
    """data[path] = value, creating mappings on the way, each located at `where` unless already located."""
    for depth in range(1, len(path)):
        data = data.setdefault(path[depth - 1], {})
        origins.setdefault(path[:depth], where)
    data[path[-1]] = value
    origins[path] = where


def _node_document(base: Document, entry: dict, origins: dict, display: str, where: tuple[str, int],
                   problems: list[Problem], label: str = "", texts: dict | None = None) -> Document:
    """The cluster file's settings with one node's entry merged over them, as `extends:` merges."""
    entry, origins = dict(entry), dict(origins)
    for shortcut, target in SHORTCUTS.items():
        if shortcut not in entry:
            continue
        value = entry.pop(shortcut)
        shortcut_where = origins.pop((shortcut,))
        if isinstance(entry.get(target[0]), dict) and target[1] in entry[target[0]]:
            problems.append(Problem(*shortcut_where, label + shortcut, f"also set as {'.'.join(target)} in this entry; keep one"))
            continue
        _set(entry, origins, target, value.lower() if shortcut == "mac" and isinstance(value, str) else value,
             shortcut_where)
        if shortcut == "address" and "bootproto" not in entry["network"]:
            _set(entry, origins, ("network", "bootproto"), "static", shortcut_where)
    entry.setdefault("role", DEFAULT_ROLE)
    origins.setdefault(("role",), where)
    data, merged_origins = _merge(base.data, base.origins, entry, origins, where)
    # texts: the files' lines a problem shows (one dict shared by the nodes of one file)
    return Document(data, merged_origins, [display] + [f for f in base.files if f != display],
                    base.texts if texts is None else texts)


def _csv_path(doc: Document, ref: str) -> tuple[Path, str]:
    """The CSV file `nodes_csv:` names, relative to the file that set it, inside that file's folder."""
    file, line = doc.locate(("nodes_csv",))
    folder = Path(file).parent
    candidate = folder / ref
    if not candidate.resolve().is_relative_to(folder.resolve()):
        raise ProfileError([Problem(file, line, "nodes_csv", f"must stay inside {folder}/ (no `..` or links out of it)")])
    if not candidate.exists():
        raise ProfileError([Problem(file, line, "nodes_csv", f"file {ref!r} not found (looked in {folder}/)")])
    if not candidate.is_file():
        raise ProfileError([Problem(file, line, "nodes_csv", f"{ref!r} is not a regular file")])
    return candidate, str(candidate)


def _csv_rows(path: Path, display: str, problems: list[Problem]) -> tuple[list[str], list[tuple[int, tuple]], str]:
    """The header's columns, (line, cells) of every data row and the file's text; blank lines and lines starting
    with # are skipped. (Cells as a tuple: a list of thousands of rows holds no dict for each.)"""
    text = read_utf8(path, display, "nodes_csv")
    reader = csv.reader(io.StringIO(text, newline=""))
    header, rows = None, []
    try:
        for record in reader:
            line = reader.line_num
            if not record or not "".join(record).strip() or record[0].lstrip().startswith("#"):
                continue
            cells = [cell.strip() for cell in record]
            if header is None:
                header = [cell.lower() for cell in cells]
                unknown = [c for c in header if c not in CSV_COLUMNS]
                for column in unknown:
                    problems.append(Problem(display, line, "header", f"unknown column {column!r}; the columns are "
                                                                     f"{', '.join(CSV_COLUMNS)}"))
                if "hostname" not in header:
                    problems.append(Problem(display, line, "header", "no hostname column; the first row names the "
                                                                     "columns, such as hostname,role,mac,address"))
                repeated = sorted({c for c in header if header.count(c) > 1})
                for column in repeated:
                    problems.append(Problem(display, line, "header", f"column {column!r} appears twice"))
                if unknown or repeated or "hostname" not in header:
                    return [], [], text
                continue
            if len(cells) != len(header):
                problems.append(Problem(display, line, "row", f"{len(cells)} fields, but the header has {len(header)} "
                                                              f"({','.join(header)})"))
                continue
            rows.append((line, tuple(cells)))
    except csv.Error as exc:
        problems.append(Problem(display, reader.line_num, "row", f"not valid CSV: {exc}"))
    if header is None:
        problems.append(Problem(display, 1, "header", "empty: the first row names the columns, such as "
                                                      "hostname,role,mac,address"))
    return header or [], rows, text


def _csv_entry(header: list[str], cells: tuple, where: tuple[str, int]) -> tuple[dict, dict]:
    row = {column: value for column, value in zip(header, cells) if value != ""}
    entry: dict = {}
    origins: dict = {}
    for column, value in row.items():
        if column == "mac":
            value = value.lower()
        _set(entry, origins, CSV_COLUMNS[column], value, where)
    if "address" in row and "bootproto" not in entry.get("network", {}):
        _set(entry, origins, ("network", "bootproto"), "static", where)
    return entry, origins


class NodeList:
    """The nodes a cluster file lists - its `nodes:` entries, then the rows of its CSV file - each merged with
    the file's settings only when asked for (document(i)): a long list is held as its entries and rows, never
    as documents all at once. problems: those of entries and rows that make no node, found while listing."""

    def __init__(self, cluster: Document):
        self.base = Document({k: v for k, v in cluster.data.items() if k not in INVENTORY_KEYS},
                             {p: o for p, o in cluster.origins.items() if not p or p[0] not in INVENTORY_KEYS},
                             cluster.files, cluster.texts)
        self.problems: list[Problem] = []
        self._entries: list[tuple] = []  # (entry, its origins, where, label) of each sound `nodes:` entry
        entries = cluster.data.get("nodes") or []
        own_origins: list[dict] = [{} for _ in entries]  # each entry's origins, relative to it, in one pass
        for path, origin in cluster.origins.items():
            if len(path) > 2 and path[0] == "nodes":
                own_origins[path[1]][path[2:]] = origin
        for i, entry in enumerate(entries):
            prefix = ("nodes", i)
            misplaced = [key for key in ("extends",) + INVENTORY_KEYS if key in entry]
            for key in misplaced:
                self.problems.append(cluster.problem(prefix + (key,), f"a node entry inherits this file's settings "
                                                                      f"and lists no nodes; {key} belongs at the top "
                                                                      f"of the file"))
            if not misplaced:
                self._entries.append((entry, own_origins[i], cluster.locate(prefix), f"nodes[{i}]."))
        self._csv, self._header, self._rows, self._texts = "", [], [], cluster.texts
        if cluster.data.get("nodes_csv"):
            path, self._csv = _csv_path(cluster, cluster.data["nodes_csv"])
            self._header, self._rows, text = _csv_rows(path, self._csv, self.problems)
            self._texts = {self._csv: text, **cluster.texts}  # one dict for every row's document

    def __len__(self) -> int:
        return len(self._entries) + len(self._rows)

    def document(self, index: int) -> tuple[Document, list[Problem]]:
        """Node `index`'s profile, and the problems of its entry found while merging it."""
        problems: list[Problem] = []
        if index < len(self._entries):
            entry, origins, where, label = self._entries[index]
            return _node_document(self.base, entry, origins, where[0], where, problems, label), problems
        line, cells = self._rows[index - len(self._entries)]
        where = (self._csv, line)
        entry, origins = _csv_entry(self._header, cells, where)
        return _node_document(self.base, entry, origins, self._csv, where, problems, texts=self._texts), problems


def node_documents(cluster: Document) -> tuple[list[Document], list[Problem]]:
    """Every node the cluster file lists, unchecked, and the problems of entries and rows that make none."""
    listed = NodeList(cluster)
    nodes, problems = [], list(listed.problems)
    for index in range(len(listed)):
        doc, found = listed.document(index)
        nodes.append(doc)
        problems += found
    return nodes, problems


def listed_node(doc: Document, hostname: str | None) -> Document:
    """`gen ks|cloud-init|plan --node HOST`: the node HOST of a cluster file's list, checked. A profile that
    lists no nodes is handed back as it is when no node is asked for (a node profile, or shared settings)."""
    if not is_inventory(doc):
        if hostname is None:
            return doc
        raise UsageError(f"{doc.files[0]}: --node picks one node of a cluster file that lists them (nodes: or "
                         f"nodes_csv:); this file lists none: leave --node out")
    key = ("nodes",) if "nodes" in doc.data else ("nodes_csv",)
    if hostname is None:
        raise ProfileError([doc.problem(key, "this cluster file lists its nodes: name one with --node HOST, or "
                                             "render them all with gen build")])
    nodes, problems = node_documents(doc)
    chosen = [node for node in nodes if node.data.get("hostname") == hostname]
    if not chosen:
        names = [node.data["hostname"] for node in nodes if isinstance(node.data.get("hostname"), str)]
        close = difflib.get_close_matches(hostname, names, 1)
        listed = f"did you mean {close[0]}?" if close else f"it lists {', '.join(names[:6])}" + (", ..." if len(names) > 6 else "")
        raise ProfileError(problems + [doc.problem(key, f"no node {hostname} in this list; {listed}")])
    found = profile_problems(chosen[0], checked=doc.data)
    if found:
        raise ProfileError(found)
    return chosen[0]


class BuildEntries:
    """The node profiles one file of a build holds, not yet checked when they are listed nodes; each is made
    when asked for (checked(i), entry(i)), so a build holds no list of documents and can make one again when
    a problem must point into it.

    checked_with: the cluster file's data that listed nodes are checked against (profile_problems(doc,
    checked=...)), or None when the entries passed their checks already (a node profile)."""

    def __init__(self, relative: Path, problems: list[Problem], *, profile: Document | None = None,
                 listed: NodeList | None = None, checked_with: dict | None = None):
        self.relative = relative
        self._folder = "" if relative.parent == Path(".") else relative.parent.as_posix() + "/"  # of listed nodes
        self.problems = problems         # of list entries and CSV rows that make no node
        self.checked_with = checked_with
        self._profile, self._listed = profile, listed

    def __len__(self) -> int:
        return len(self._listed) if self._listed is not None else int(self._profile is not None)

    def entry(self, index: int) -> tuple[NodeDocument, list[Problem]]:
        """Entry `index` and the problems found while making it (checked() adds the rest)."""
        if self._listed is None:
            return NodeDocument(self._profile, self.relative.with_suffix("").as_posix()), []
        doc, problems = self._listed.document(index)
        hostname = doc.data.get("hostname")  # (a listed node without one fails its checks)
        return NodeDocument(doc, self._folder + (hostname if isinstance(hostname, str) else "-")), problems

    def checked(self, index: int) -> tuple[NodeDocument, list[Problem]]:
        """Entry `index` and all its problems: those of its entry, then of the schema and the rules (none left
        for a node profile, checked as it was loaded)."""
        entry, problems = self.entry(index)
        if self.checked_with is not None:  # inherited values passed with the file
            problems += profile_problems(entry.doc, checked=self.checked_with)
        return entry, problems


def build_entries(path: Path, relative: Path) -> BuildEntries:
    """The node profiles one file of a build holds - itself if it has a role, its list if it is an inventory,
    none if it holds shared settings only. A problem with the file itself raises ProfileError; its listed nodes
    are left to check (a large build checks them in several processes)."""
    doc = load_profile(path)
    problems = profile_problems(doc)
    if problems:
        raise ProfileError(problems)
    if "role" in doc.data:
        own = [key for key in INVENTORY_KEYS if key in doc.data and doc.locate((key,))[0] == doc.files[0]]
        if own:  # inherited from the cluster file it extends is fine; listed here, they would be ignored
            raise ProfileError([doc.problem((key,), "a node profile (it has a role) lists no nodes; list them in "
                                                    "a cluster file without role and hostname") for key in own])
        return BuildEntries(relative, [], profile=doc)
    if not is_inventory(doc):
        return BuildEntries(relative, [])
    listed = NodeList(doc)
    return BuildEntries(relative, listed.problems, listed=listed, checked_with=doc.data)


def build_documents(path: Path, relative: Path) -> tuple[list[NodeDocument], list[Problem]]:
    """build_entries, checked: the node profiles that passed and the problems of those that did not."""
    found = build_entries(path, relative)
    checked, problems = [], list(found.problems)
    for index in range(len(found)):
        entry, failed = found.checked(index)
        problems += failed
        if not failed:
            checked.append(entry)
    return checked, problems
