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

A build goes over its nodes twice, one node at a time, shared among processes forked from this one when there
are many (parallel.py; the bytes do not depend on how many). The first pass checks and resolves each node and
keeps only what the checks across the fleet need (fleet.FleetNode, serve.PxeFacts); the second, once every
check has passed, makes each node's profile again from its file, resolves and renders it, and writes its
files and its manifest record, which go straight into manifest.json. So memory does not grow with the files
a fleet gets, only with the few names and addresses per node its checks compare. The folder is built beside
the target and renamed into place (outtree.py), so a failed build leaves the previous one untouched.
"""

import hashlib
import io
import json
import os
from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from generator import bootmedia, parallel, secrets, userdata
from generator.cloudinit import instance_files, render_user_data
from generator.errors import Problem, ProfileError, UsageError
from generator.fleet import FleetNode, fleet_problems
from generator.inventory import BuildEntries, NodeDocument, build_entries
from generator.kickstart import render_kickstart
from generator.memo import Recent, share_equal_fields
from generator.netconfig import render_network_config
from generator.outtree import MANIFEST, check_target, new_tree
from generator.private import open_new, write_new
from generator.progress import Progress
from generator.render import node_files
from generator.resolve import makes_secrets, resolve
from generator.serve import PxeFacts, PxePlan, kickstart_path, plan_pxe, pxe_facts

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
    """One node that passed its own checks: what the checks across the fleet need, and where it comes from."""
    member: FleetNode
    name: Path          # of its artifacts, without suffix
    pxe: PxeFacts
    ref: tuple          # (BuildEntries, index): how to make its profile again


def _same_targets(checked: list[_Checked]) -> list[Problem]:
    """Two nodes whose artifacts would have one name (same host name in one folder, from different clusters)."""
    seen: dict[Path, FleetNode] = {}
    problems = []
    for item in checked:
        member, name = item.member, item.name
        if name in seen and seen[name].cluster != member.cluster:
            other = seen[name]
            file, line = other.doc.locate(("hostname",))
            problems.append(member.doc.problem(("hostname",), f"its artifacts would be {name}.* like those of "
                                                              f"{other.hostname} ({file}:{line}) of cluster "
                                                              f"{other.cluster}; build the clusters into "
                                                              f"separate folders"))
        seen.setdefault(name, member)
    return problems


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
        self.folders: set[Path] = {root}

    def write(self, path: str, payload: bytes, secret: bool) -> None:
        target = self.root / path
        if target.parent not in self.folders:
            target.parent.mkdir(parents=True, exist_ok=True)
            self.folders.add(target.parent)
        write_new(target, payload, 0o600 if secret else 0o644)

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
        self._text.write(("," if self._nodes else "") + "\n  " + json.dumps(record, indent=1).replace("\n", "\n  "))
        self._nodes += 1

    def close(self, shared: list[dict]) -> None:
        shared_text = json.dumps(shared, indent=1).replace("\n", "\n ")
        self._text.write(("\n ]" if self._nodes else "]") + f',\n "shared": {shared_text}\n}}\n')
        self._text.close()


@dataclass
class _NodeOutput:
    """What writing one node gives the build: its manifest record and what it found, in that node's words."""
    record: dict
    warnings: tuple[Problem, ...]
    oversize: list[tuple[userdata.Limit, int]]   # user-data limits it exceeds, with its delivered size
    oemdrv: list[tuple[int, str]]                # (line, message) of its Kickstart's OEMDRV warnings


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
            found.append(Problem(str(out_dir / f"cloud/{name}.user-data"), 0, "user-data",
                                 f"{size} bytes, above the {limit.limit}-byte {limit.cloud} {limit.what} limit{in_all}",
                                 severity="warning", hint="" if gzip_it else "build with --gzip (cloud-init reads it)"))
        for message, where in self.oemdrv.items():
            name, line = where[0]
            others = f" (also in {len(where) - 1} other node(s)' Kickstarts)" if len(where) > 1 else ""
            found.append(Problem(str(out_dir / kickstart_path(Path(name))), line, "OEMDRV image",
                                 message + others, severity="warning"))
        return found


def build(paths: list[Path], out_dir: Path, secrets_dir: Path | None = None, *, media: bool = False,
          gzip_it: bool = False, base64_it: bool = False, jobs: int | None = None) -> BuildReport:
    """jobs: processes that check, render and write the nodes (default: one per CPU) once there are
    PARALLEL_FROM."""
    check_target(out_dir)  # before any work: a folder we would not replace is refused at once
    timestamp = _media_timestamp() if media else 0
    with secrets.one_reading():  # each cluster's keys read once, the same for all its nodes
        return _build(paths, out_dir, secrets_dir, media, timestamp, gzip_it, base64_it, jobs)


def _build(paths: list[Path], out_dir: Path, secrets_dir: Path | None, media: bool, timestamp: int, gzip_it: bool,
           base64_it: bool, jobs: int | None) -> BuildReport:
    checked, problems = _check_nodes(find_profiles(paths), secrets_dir, jobs)
    members = [item.member for item in checked]
    # across the sound nodes too, so every problem shows at once; what needs them all waits for them all
    problems += fleet_problems(members, complete=not problems)
    problems += _same_targets(checked)
    pxe, pxe_problems = plan_pxe([(item.member, item.name, item.pxe) for item in checked])
    problems += pxe_problems
    if problems:  # nothing is written unless every profile is good
        raise ProfileError(problems)
    summary = _summary(out_dir, members, media, len(pxe.owners))
    refs = [item.ref for item in checked]
    del checked, members  # what follows needs each node's profile again, one at a time
    findings = _Findings()
    options = _Options(media, timestamp, gzip_it, base64_it, secrets_dir)
    progress = Progress(len(refs), "nodes")
    with new_tree(out_dir) as staging:
        tree, manifest = _Tree(staging), _Manifest(staging)
        try:
            for output in parallel.ordered_imap(lambda ref: _write_node(tree, ref, pxe, options), refs,
                                                _jobs_for(len(refs), jobs), progress.update):
                manifest.add_node(output.record)  # in the nodes' order, however many processes wrote them
                findings.add(output)
        finally:
            progress.close()
        shared: list[dict] = []
        for path, text in sorted(pxe.shared_files().items()):
            tree.put(shared, path, text, _pxe_purpose(path), secret=False)
        manifest.close(shared)
    notes = [Problem(str(out_dir), 0, "pxe", pxe.note, severity="note")] if pxe.note else []
    return BuildReport(out_dir, findings.problems(out_dir, gzip_it) + notes, summary)


def _check_nodes(profiles: list[tuple[Path, Path]], secrets_dir: Path | None,
                 jobs: int | None) -> tuple[list[_Checked], list[Problem]]:
    """Every node of the build that passed its own checks, and every problem found.

    The listed nodes of a cluster file are checked and resolved in several processes when there are many; a
    node whose cluster secrets do not exist yet is resolved here, once the others are done, so the file is made
    once and no process reads it half-written."""
    found = []  # per file: its entries, or the problems that made it fail as a whole
    for profile, relative in profiles:
        try:
            found.append(build_entries(profile, relative))
        except ProfileError as exc:
            found.append(BuildEntries(relative, exc.problems))
    refs = [(held, index) for held in found for index in range(len(held))]

    def check(ref) -> tuple[list[Problem], _Checked | None]:
        """Its problems, or what the fleet checks need of it; neither: it is resolved here, after the others."""
        held, index = ref
        entry, failed = held.entry(index)
        failed += held.problems_of(entry)
        if failed or makes_secrets(entry.doc, secrets_dir):
            return failed, None
        return _facts(entry, secrets_dir)

    results = iter(parallel.ordered_map(check, refs, _jobs_for(len(refs), jobs)))
    checked, problems = [], []
    pool: dict = {}  # the nodes' equal values, held once: each result came through a pipe as a copy of its own
    for held in found:  # the problems in the order of the files, entries and rows
        problems += held.problems
        for index in range(len(held)):
            failed, item = next(results)
            if not failed and item is None:  # its cluster's secrets are made here, once
                failed, item = _facts(held.entry(index)[0], secrets_dir)
            problems += failed
            if item is not None:
                member = item.member
                shared = {key: pool.setdefault(value, value) for key, value in (
                    ("role", member.role), ("cluster", member.cluster), ("endpoint_host", member.endpoint_host),
                    ("hosts", member.hosts))}
                checked.append(_Checked(replace(member, source=partial(_document, held, index), **shared),
                                        item.name, pool.setdefault(item.pxe, item.pxe), (held, index)))
    return checked, problems


def _facts(entry: NodeDocument, secrets_dir: Path | None) -> tuple[list[Problem], _Checked | None]:
    """A node resolved: what the checks across the fleet need of it, or its problems."""
    try:
        node = resolve(entry.doc, secrets_dir)
    except ProfileError as exc:  # e.g. a secrets file it refuses: reported with the other problems
        return exc.problems, None
    pxe, problems = pxe_facts(entry.doc, node, entry.name)
    if problems:
        return problems, None
    return [], _Checked(FleetNode.of(entry.doc, node, source=_no_document), entry.name, pxe, ())


def _no_document():
    raise AssertionError("a FleetNode made for the build gets its source in the main process")


def _document(held: BuildEntries, index: int):
    return held.entry(index)[0].doc


def _jobs_for(nodes: int, requested: int | None) -> int:
    return parallel.usable_jobs(requested) if nodes >= PARALLEL_FROM else 1


def _media_timestamp() -> int:
    try:
        return bootmedia.timestamp_from_environment(os.environ)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


# the parts of the last nodes written, for share_equal_fields: enough for every part of a node and a few shapes
_RECENT_PARTS = Recent(256)


@dataclass(frozen=True)
class _Options:
    media: bool
    timestamp: int
    gzip_it: bool
    base64_it: bool
    secrets_dir: Path | None


def _write_node(tree: _Tree, ref: tuple, pxe: PxePlan, options: _Options) -> _NodeOutput:
    """Makes the node's profile again, resolves it (it passed every check) and writes its files."""
    held, index = ref
    entry = held.entry(index)[0]
    node, name = share_equal_fields(resolve(entry.doc, options.secrets_dir), _RECENT_PARTS), entry.name
    del entry  # (the profile is let go before rendering)
    files: list[dict] = []
    record = {"name": name.as_posix(), "hostname": node.hostname, "cluster": node.cluster, "role": node.role}
    if node.network.mac:
        record["mac"] = node.network.mac
    record["files"] = files
    output = _NodeOutput(record, node.warnings, [], [])
    gzip_it, base64_it = options.gzip_it, options.base64_it

    rendered = node_files(node)  # once for both carriers
    kickstart = render_kickstart(node, rendered)
    tree.put(files, kickstart_path(name), kickstart, "Kickstart: served for inst.ks=, or ks.cfg of the OEMDRV "
                                                     "image", secret=True)
    user_data = render_user_data(node, instance_files(node, rendered))  # the files the Kickstart embeds
    delivered = userdata.encode(user_data, gzip_it=gzip_it)  # what the instance receives
    output.oversize += [(limit, len(delivered)) for limit in userdata.exceeded(len(delivered))]
    encodings = ", gzip" * gzip_it + ", base64" * base64_it
    # base64 last, as `gen cloud-init --gzip --base64` does: it is only the API's transport
    payload = userdata.encode(user_data, gzip_it=gzip_it, base64_it=True) if base64_it else delivered
    tree.put(files, f"cloud/{name.as_posix()}.user-data", payload,
             f"cloud-init user-data for a cloud (#cloud-config{encodings})", secret=True)
    network_config = render_network_config(node)
    if network_config is not None:
        tree.put(files, f"cloud/{name.as_posix()}.network-config", network_config,
                 "cloud-init network-config v2, matching the MAC", secret=False)
    for path, text in sorted(pxe.machine_files(node, name).items()):
        tree.put(files, path, text, _pxe_purpose(path), secret=False)
    if not options.media:
        return output
    timestamp = options.timestamp
    meta = bootmedia.meta_data(node.hostname, f"iid-k8s-firstboot-{node.hostname}")
    seed = bootmedia.cidata_iso(user_data.encode(), meta.encode(),
                                network_config.encode() if network_config is not None else None, timestamp=timestamp)
    tree.put(files, f"media/{name.as_posix()}-cidata.iso", seed,
             "NoCloud seed ISO (volume cidata): user-data, meta-data, network-config", secret=True)
    tree.put(files, f"media/{name.as_posix()}-oemdrv.iso", bootmedia.oemdrv_iso(kickstart.encode(), timestamp=timestamp),
             "Anaconda OEMDRV ISO with ks.cfg, read when the installer has no inst.ks=", secret=True)
    output.oemdrv += bootmedia.oemdrv_disk_warnings(kickstart)
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
