"""`gen build`: every node profile under the given paths, as one folder ready to serve (README.md, "gen build:
a tree ready to serve"). <name> is a node profile's file name, or a listed node's host name, under the subfolder
its profile came from:

    manifest.json                every file below: node, role, sha256, size and what it is for
    http/ks/<name>.ks            Kickstart, served for inst.ks=<pxe.http_url>/ks/<name>.ks
    cloud/<name>.user-data       cloud-init user-data (--gzip and --base64 apply to it)
    cloud/<name>.network-config  network-config v2 matching network.mac (nodes with a MAC)
    media/<name>-cidata.iso      with --media: NoCloud seed (user-data, meta-data, network-config)
    media/<name>-oemdrv.iso      with --media: volume OEMDRV holding ks.cfg
    tftp/ dnsmasq/ README.txt    the PXE tree (generator/pxe.py) for nodes with a MAC and pxe: settings

Each node is made from its file, checked, resolved, rendered and written in one go, one node at a time, shared
among processes forked from this one when there are many (parallel.py; the bytes do not depend on how many).
What stays is its manifest record, which goes straight into manifest.json, and what the checks across the
fleet compare (fleet.FleetNode, serve.PxeFacts: names, addresses, MACs); a problem that must point into a
node's profile makes the profile again. So memory grows with the few names and addresses per node, not with
the files. Everything is written into a folder beside the target that is renamed into place only when every
check has passed (outtree.py): a build that fails leaves nothing, and the previous build untouched.
"""

import bisect
import contextlib
import hashlib
import io
import itertools
import json
import os
import posixpath
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from json.encoder import encode_basestring_ascii as _json_text
from pathlib import Path

from generator import bootmedia, parallel, secrets, userdata
from generator.cloudinit import instance_files, render_user_data
from generator.errors import Problem, ProfileError, UsageError
from generator.fleet import FleetNode, fleet_problems, where
from generator.inventory import BuildEntries, build_entries
from generator.kickstart import render_kickstart
from generator.model import Node
from generator.netconfig import render_network_config
from generator.outtree import MANIFEST, check_target, new_tree
from generator.private import open_new, write_new
from generator.progress import Progress
from generator.render import node_files
from generator.resolve import makes_secrets, resolve
from generator.pxe import BootEntry, machine_files
from generator.serve import PxeFacts, kickstart_path, plan_pxe, pxe_facts

MANIFEST_FORMAT = 1
# below this many nodes a build stays in one process: forking and gathering would cost more than it saves
PARALLEL_FROM = 100


def find_profiles(paths: list[Path]) -> list[tuple[Path, Path]]:
    """(profile, its path relative to the folder given) for every YAML file, sorted."""
    found = []
    for root in paths:
        if root.is_dir():
            found += [(p, p.relative_to(root)) for p in sorted(root.rglob("*.yaml"))]
        elif root.is_file():
            found.append((root, Path(root.name)))
        else:
            raise UsageError(f"{root}: no such file or folder")
    return found


@dataclass(frozen=True, slots=True)
class _Checked:
    """One node that passed its own checks: what the checks across the fleet need of it."""
    member: FleetNode
    name: str           # of its artifacts, without suffix (a path with /, relative to the build's folders)
    pxe: PxeFacts | None  # None: a PXE value of its was refused (the build fails)


def _artifacts(name: str, mac: bool, media: bool) -> dict[str, str]:
    """Where a node's files go in the tree, by kind: the one place the layout of http/, cloud/ and media/ is
    spelled (serve.kickstart_path also gives the Kickstart's URL). mac: the node has network.mac."""
    paths = {"kickstart": kickstart_path(name), "user-data": f"cloud/{name}.user-data"}
    if mac:
        paths["network-config"] = f"cloud/{name}.network-config"
    if media:
        paths["cidata"] = f"media/{name}-cidata.iso"
        paths["oemdrv"] = f"media/{name}-oemdrv.iso"
    return paths


def _same_targets(checked: list[_Checked], media: bool) -> list[Problem]:
    """Two nodes whose artifacts would have one name - the same host name in one folder from different clusters,
    a node profile named like a host of a cluster file beside it - or one node's artifact where another's
    folder is (a profile `site.yaml` beside a folder `site.ks/`). Within one cluster, the same host name twice
    is reported by fleet_problems."""
    paths = [list(_artifacts(item.name, bool(item.member.mac), media).values()) for item in checked]
    folders: dict[str, FleetNode] = {}  # every folder an artifact is in -> the first node with one there
    for item, own in zip(checked, paths):
        for path in own:
            parts = path.split("/")
            for depth in range(1, len(parts)):
                folders.setdefault("/".join(parts[:depth]), item.member)
    seen: dict[str, FleetNode] = {}
    problems = []
    for item, own in zip(checked, paths):
        member, name = item.member, item.name
        other = seen.setdefault(name, member)
        if other is not member and (other.cluster != member.cluster or other.hostname != member.hostname):
            fix = ("build the clusters into separate folders" if other.cluster != member.cluster
                   else "rename the profile or build it into another folder")
            problems.append(member.doc.problem(("hostname",), f"its artifacts would be {name}.* like those of "
                                                              f"{_located(other)} of cluster {other.cluster}; {fix}"))
        owner = next((folders[path] for path in own if path in folders), None)
        if owner:
            problems.append(member.doc.problem(("hostname",), f"its artifacts ({name}.ks, ...) would take the name "
                                                              f"of a folder that holds those of {_located(owner)}; "
                                                              f"rename one of them"))
    return problems


def _located(member: FleetNode) -> str:
    return f"{member.hostname} ({where(member.doc, 'hostname')})"


@dataclass
class BuildReport:
    out_dir: Path
    problems: list[Problem] = field(default_factory=list)  # warnings and notes
    summary: str = ""

    @property
    def files(self) -> list[str]:
        """Every file written, relative to out_dir: the manifest's, and the manifest itself."""
        manifest = json.loads((self.out_dir / MANIFEST).read_text(encoding="utf-8"))
        return ([f["path"] for node in manifest["nodes"] for f in node["files"]]
                + [f["path"] for f in manifest["shared"]] + [MANIFEST])

    @property
    def written(self) -> list[Path]:
        return [self.out_dir / name for name in self.files]


class _Tree:
    """Writes files into the staging folder (outtree.new_tree: ours alone until it is renamed into place)."""

    def __init__(self, root: Path):
        self.root = root
        self.folders: set[str] = {""}  # relative to root, made already
        # made when a node fails: the build will be refused, so the processes stop rendering the rest and
        # only check them (a file, so that forked processes see it too; it goes with the staging folder)
        self.failed_mark = os.path.join(root, ".failed")

    def mark_failed(self) -> None:
        with open(self.failed_mark, "a"):
            pass

    def has_failed(self) -> bool:
        return os.path.exists(self.failed_mark)

    def write(self, path: str, payload: bytes, secret: bool) -> None:
        folder = posixpath.dirname(path)  # (text, not Path: thousands of files a build)
        if folder not in self.folders:
            (self.root / folder).mkdir(parents=True, exist_ok=True)
            self.folders.add(folder)
        write_new(os.path.join(self.root, path), payload, 0o600 if secret else 0o644)

    def put(self, entries: list[dict], path: str, data: str | bytes, purpose: str, secret: bool) -> None:
        """Writes the file and adds its manifest entry to `entries`."""
        payload = data.encode("utf-8") if isinstance(data, str) else data
        self.write(path, payload, secret)
        entries.append({"path": path, "purpose": purpose, "size": len(payload),
                        "sha256": hashlib.sha256(payload).hexdigest(), "secret": secret})


class _Manifest:
    """manifest.json, written record by record as the nodes are done: a large fleet's is never in memory whole.
    The bytes are those json.dump(..., indent=1) gives for the whole document."""

    def __init__(self, root: Path):
        self._raw = open_new(root / MANIFEST, 0o644)
        self._text = io.TextIOWrapper(self._raw, encoding="utf-8")
        self._text.write(f'{{\n "format": {MANIFEST_FORMAT},\n "generator": "k8s-firstboot gen build",\n "nodes": [')
        self._nodes = 0

    def add_node(self, record: dict) -> None:
        self._text.write(("," if self._nodes else "") + "\n  " + _indented(record, 2))
        self._nodes += 1

    def close(self, shared: list[dict]) -> None:
        self._text.write(("\n ]" if self._nodes else "]") + f',\n "shared": {_indented(shared, 1)}\n}}\n')
        self._text.close()


def _indented(value, depth: int) -> str:
    """json.dumps(value, indent=1) of plain data (text keys) nested `depth` levels deep. (json encodes in pure
    Python whenever it indents; here its C string encoder writes each key and text.)"""
    if type(value) is str:
        return _json_text(value)
    pad, end = "\n" + " " * (depth + 1), "\n" + " " * depth
    if isinstance(value, dict) and value:
        return "{" + ",".join(f"{pad}{_json_text(key)}: {_indented(item, depth + 1)}"
                              for key, item in value.items()) + end + "}"
    if isinstance(value, list) and value:
        return "[" + ",".join(pad + _indented(item, depth + 1) for item in value) + end + "]"
    return json.dumps(value)


@dataclass
class _NodeOutput:
    """What one node gives the build: its problems (then it is not written) and, unless it failed its own checks,
    what the checks across the fleet need of it; if written, its manifest record and what it found."""
    problems: list[Problem]
    checked: _Checked | None = None
    record: dict = field(default_factory=dict)
    warnings: tuple[Problem, ...] = ()
    oversize: list[tuple[userdata.Limit, int]] = field(default_factory=list)  # limits its user-data exceeds
    oemdrv: list[tuple[int, str]] = field(default_factory=list)  # (line, message): its Kickstart's OEMDRV warnings
    clash: str = ""      # a file of its that could not be written: another node's file or folder had the name


@dataclass
class _Findings:
    """What the build tells the user, gathered across nodes so an inventory says each thing once."""
    warnings: dict[Problem, None] = field(default_factory=dict)   # the nodes' own, in order, once each
    oversize: dict[userdata.Limit, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))
    oemdrv: dict[str, list[tuple[str, int]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, output: _NodeOutput) -> None:
        self.warnings.update(dict.fromkeys(output.warnings))  # nodes that extend one file share its warnings
        name = output.record["name"]
        for limit, size in output.oversize:
            self.oversize[limit].append((size, name))
        for line, message in output.oemdrv:
            if not self.oemdrv[message] or self.oemdrv[message][-1][0] != name:
                self.oemdrv[message].append((name, line))

    def problems(self, out_dir: Path, gzip_it: bool) -> list[Problem]:
        found = list(self.warnings)
        for limit, sizes in self.oversize.items():
            size, name = max(sizes)
            in_all = f" ({len(sizes)} nodes' user-data are; this is the largest)" if len(sizes) > 1 else ""
            found.append(Problem(str(out_dir / _artifacts(name, False, False)["user-data"]), 0, "user-data",
                                 f"{size} bytes, above the {limit.limit}-byte {limit.cloud} {limit.what} limit{in_all}",
                                 severity="warning", hint="" if gzip_it else "build with --gzip (cloud-init reads it)"))
        for message, where in self.oemdrv.items():
            name, line = where[0]
            others = f" (also in {len(where) - 1} other node(s)' Kickstarts)" if len(where) > 1 else ""
            found.append(Problem(str(out_dir / _artifacts(name, False, False)["kickstart"]), line, "OEMDRV image",
                                 message + others, severity="warning"))
        return found


@dataclass(frozen=True)
class _Options:
    media: bool
    timestamp: int
    gzip_it: bool
    base64_it: bool
    secrets_dir: Path | None
    main_pid: int       # the process that makes missing cluster secrets


def build(paths: list[Path], out_dir: Path, secrets_dir: Path | None = None, *, media: bool = False,
          gzip_it: bool = False, base64_it: bool = False, jobs: int | None = None) -> BuildReport:
    """jobs: processes that check, render and write the nodes (default: one per CPU) once there are
    PARALLEL_FROM."""
    check_target(out_dir)  # before any work: a folder we would not replace is refused at once
    options = _Options(media, _media_timestamp() if media else 0, gzip_it, base64_it, secrets_dir, os.getpid())
    refs = _Refs(_files(paths))
    with secrets.one_reading(), new_tree(out_dir) as staging:  # a build that fails leaves nothing behind
        tree, manifest = _Tree(staging), _Manifest(staging)
        written = _write_nodes(tree, manifest, refs, options, jobs)
        problems = _problems(refs, written, media)
        pxe, pxe_problems = plan_pxe([(item.member, item.name, item.pxe) for item in written.checked])
        problems += pxe_problems
        if not problems and written.clashes:  # each is one of the mistakes above; should one slip through:
            problems = [member.doc.problem(("hostname",), f"its {path} could not be written: another node's file or "
                                                          f"folder has that name; give the nodes distinct names")
                        for member, path in written.clashes]
        if problems:
            raise ProfileError(problems)
        shared: list[dict] = []
        for path, text in sorted(pxe.shared_files().items()):
            tree.put(shared, path, text, _pxe_purpose(path), secret=False)
        manifest.close(shared)
    notes = [Problem(str(out_dir), 0, "pxe", pxe.note, severity="note")] if pxe.note else []
    return BuildReport(out_dir, written.findings.problems(out_dir, gzip_it) + notes,
                       _summary(out_dir, [item.member for item in written.checked], media, len(pxe.owners)))


def _files(paths: list[Path]) -> list[BuildEntries]:
    """Per profile file: its nodes (made one at a time later), or the problems that made it fail as a whole."""
    found = []
    for profile, relative in find_profiles(paths):
        try:
            found.append(build_entries(profile, relative))
        except ProfileError as exc:
            found.append(BuildEntries(relative, exc.problems))
    return found


@dataclass
class _Written:
    """What writing the nodes left for the checks across the fleet and for the user."""
    checked: list[_Checked] = field(default_factory=list)     # every node that passed its own checks
    failed: dict[int, list[Problem]] = field(default_factory=dict)  # the problems of the others, by position
    refused: list[Problem] = field(default_factory=list)      # of nodes in the fleet checks, not written (PXE)
    clashes: list[tuple[FleetNode, str]] = field(default_factory=list)  # a node and a file another had written
    findings: _Findings = field(default_factory=_Findings)


def _write_nodes(tree: _Tree, manifest: _Manifest, refs: "_Refs", options: _Options, jobs: int | None) -> _Written:
    """Every node checked, resolved and written (_node), in several processes when there are many; the
    manifest gets each record in the nodes' order."""
    written = _Written()
    pool: dict = {}  # the checks' equal values, held once: each came through a pipe as a copy of its own
    node = partial(_node, tree, options)
    progress = Progress(len(refs), "nodes")
    outputs = parallel.ordered_imap(node, refs, _jobs_for(len(refs), jobs), progress.update)
    if any(held.problems for held in refs.found):  # a file or row that makes no node: the build is refused
        tree.mark_failed()
    with contextlib.closing(outputs), contextlib.closing(progress):  # (the children go with the first)
        for position, output in enumerate(outputs):
            if output == LEFT_TO_MAIN:  # its cluster's secrets are made here, in the main process, once
                output = node(refs[position])
            if output.problems and not tree.has_failed():
                tree.mark_failed()
            if output.checked is None:
                written.failed[position] = output.problems
                continue
            written.checked.append(_shared(output.checked, refs[position], pool))
            if output.problems:
                written.refused += output.problems
            elif output.clash:
                written.clashes.append((written.checked[-1].member, output.clash))
            elif output.record:
                manifest.add_node(output.record)
                written.findings.add(output)
            # (else: checked, not written, as the build will be refused)
    return written


def _problems(refs: "_Refs", written: _Written, media: bool) -> list[Problem]:
    """The problems of files and nodes in the order of the files, entries and rows; then those across them."""
    problems = []
    for held, start, end in zip(refs.found, refs.starts, refs.starts[1:]):
        problems += held.problems
        problems += [p for position in range(start, end) for p in written.failed.get(position, ())]
    # across the sound nodes too, so every problem shows at once; what needs them all waits for them all
    problems += fleet_problems([item.member for item in written.checked], complete=not problems)
    return problems + _same_targets(written.checked, media) + written.refused


class _Refs(Sequence):
    """(file, index) of every node of the build, in order, without a tuple held for each."""

    def __init__(self, found: list[BuildEntries]):
        self.found = found
        self.starts = list(itertools.accumulate((len(held) for held in found), initial=0))

    def __len__(self) -> int:
        return self.starts[-1]

    def __getitem__(self, position):
        if isinstance(position, slice):
            return [self[i] for i in range(*position.indices(len(self)))]
        if not 0 <= position < len(self):
            raise IndexError(position)
        file = bisect.bisect_right(self.starts, position) - 1
        return self.found[file], position - self.starts[file]


def _shared(item: _Checked, ref: tuple, pool: dict) -> _Checked:
    """The node's facts with values equal to an earlier node's held once, and its document made again from ref
    when a problem must point into it."""
    member = item.member
    values = {key: pool.setdefault(value, value) for key, value in (
        ("role", member.role), ("cluster", member.cluster), ("endpoint_host", member.endpoint_host),
        ("hosts", member.hosts))}
    return _Checked(replace(member, source=_DocumentOf(*ref), **values), item.name,
                    pool.setdefault(item.pxe, item.pxe))


# what a forked process answers for a node whose cluster has no secrets yet: the main process makes them (only
# there: they are made once, and other processes find the file whole or not at all), then does the node
LEFT_TO_MAIN = "left to the main process"


def _node(tree: _Tree, options: _Options, ref: tuple) -> _NodeOutput | str:
    """One node checked, resolved and written into the staging folder - or its problems (or LEFT_TO_MAIN)."""
    held, index = ref
    entry, problems = held.checked(index)
    if problems:
        return _NodeOutput(problems)
    if os.getpid() != options.main_pid and makes_secrets(entry.doc, options.secrets_dir):
        return LEFT_TO_MAIN
    try:
        node = resolve(entry.doc, options.secrets_dir)
    except ProfileError as exc:  # e.g. a secrets file it refuses: reported with the other problems
        return _NodeOutput(exc.problems)
    pxe, boot, problems = pxe_facts(entry.doc, node, entry.name)
    checked = _Checked(FleetNode.of(entry.doc, node, source=_no_document), entry.name, None if problems else pxe)
    if problems or tree.has_failed():  # it still takes part in the checks across the fleet
        return _NodeOutput(problems, checked)
    del entry  # (the profile is let go before rendering)
    try:
        return _write_node(tree, node, checked, boot, options)
    except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:  # another node's file or folder:
        return _NodeOutput([], checked, clash=os.path.relpath(exc.filename, tree.root))  # _same_targets says whose


def _no_document():
    raise AssertionError("the build gives each FleetNode its source in the main process")


class _DocumentOf:
    """A node's profile, made again from its file when a problem must point into it."""
    __slots__ = ("held", "index")

    def __init__(self, held: BuildEntries, index: int):
        self.held, self.index = held, index

    def __call__(self):
        return self.held.entry(self.index)[0].doc


def _jobs_for(nodes: int, requested: int | None) -> int:
    return parallel.usable_jobs(requested) if nodes >= PARALLEL_FROM else 1


def _media_timestamp() -> int:
    try:
        return bootmedia.timestamp_from_environment(os.environ)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _write_node(tree: _Tree, node: Node, checked: _Checked, boot: BootEntry | None, options: _Options) -> _NodeOutput:
    """The node's files written; boot: its checked PXE entry, if it gets PXE files."""
    name = checked.name
    paths = _artifacts(name, bool(node.network.mac), options.media)
    files: list[dict] = []
    record = {"name": name, "hostname": node.hostname, "cluster": node.cluster, "role": node.role}
    if node.network.mac:
        record["mac"] = node.network.mac
    record["files"] = files
    output = _NodeOutput([], checked, record, node.warnings)
    gzip_it, base64_it = options.gzip_it, options.base64_it

    rendered = node_files(node)  # once for both carriers
    kickstart = render_kickstart(node, rendered)
    tree.put(files, paths["kickstart"], kickstart, "Kickstart: served for inst.ks=, or ks.cfg of the OEMDRV image",
             secret=True)
    user_data = render_user_data(node, instance_files(node, rendered))  # the files the Kickstart embeds
    delivered = userdata.encode(user_data, gzip_it=gzip_it)  # what the instance receives
    output.oversize += [(limit, len(delivered)) for limit in userdata.exceeded(len(delivered))]
    encodings = ", gzip" * gzip_it + ", base64" * base64_it
    # base64 last, as `gen cloud-init --gzip --base64` does: it is only the API's transport
    payload = userdata.encode(user_data, gzip_it=gzip_it, base64_it=True) if base64_it else delivered
    tree.put(files, paths["user-data"], payload, f"cloud-init user-data for a cloud (#cloud-config{encodings})",
             secret=True)
    network_config = render_network_config(node)  # (None without a MAC)
    if network_config is not None:
        tree.put(files, paths["network-config"], network_config, "cloud-init network-config v2, matching the MAC",
                 secret=False)
    if options.media:
        timestamp = options.timestamp
        meta = bootmedia.meta_data(node.hostname, f"iid-k8s-firstboot-{node.hostname}")
        seed = bootmedia.cidata_iso(user_data.encode(), meta.encode(),
                                    network_config.encode() if network_config is not None else None,
                                    timestamp=timestamp)
        tree.put(files, paths["cidata"], seed,
                 "NoCloud seed ISO (volume cidata): user-data, meta-data, network-config", secret=True)
        tree.put(files, paths["oemdrv"], bootmedia.oemdrv_iso(kickstart.encode(), timestamp=timestamp),
                 "Anaconda OEMDRV ISO with ks.cfg, read when the installer has no inst.ks=", secret=True)
        output.oemdrv += bootmedia.oemdrv_disk_warnings(kickstart)
    if boot is not None:  # its PXE files, named by its MAC
        for path, text in sorted(machine_files(boot).items()):
            tree.put(files, path, text, _pxe_purpose(path), secret=False)
    return output


PXE_PURPOSES = {
    "tftp/pxelinux.cfg/": "PXE, BIOS: pxelinux configuration for this MAC",
    "tftp/grub.cfg-01-": "PXE, UEFI: GRUB configuration for this MAC",
    "tftp/ipxe/": "iPXE script for this MAC",
    "tftp/grub.cfg": "PXE, UEFI: GRUB fallback, loads grub.cfg-01-<mac> by net_default_mac",
    "tftp/boot.ipxe": "iPXE: chains ipxe/<mac>.ipxe",
    "dnsmasq/": "dnsmasq proxy-DHCP and TFTP snippet for the fleet's MACs",
    "README.txt": "how to serve this tree and which files to copy in",
}


def _pxe_purpose(path: str) -> str:
    return next(text for prefix, text in PXE_PURPOSES.items() if path.startswith(prefix))


def _summary(out_dir: Path, members: list[FleetNode], media: bool, served: int) -> str:
    roles = defaultdict(int)
    for member in members:
        roles[member.role] += 1
    counts = ", ".join(f"{count} {role}" for role, count in sorted(roles.items()))
    parts = ["Kickstarts in http/ks/", "user-data in cloud/"]
    if media:
        parts.append("cidata and OEMDRV images in media/")
    if served:
        parts.append(f"a PXE tree for {served} MAC(s) (README.txt)")
    return f"{out_dir}: {len(members)} node(s) ({counts}): {', '.join(parts)}; {MANIFEST}"
