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

Nodes are rendered and written one at a time - shared among processes forked from this one when there are
many (parallel.py; the bytes do not depend on how many) - and only their manifest entries stay in memory. The
folder is built beside the target and renamed into place (outtree.py), so a failed build leaves the previous
one untouched.
"""

import hashlib
import io
import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from generator import bootmedia, parallel, userdata
from generator.cloudinit import instance_files, render_user_data
from generator.errors import Problem, ProfileError, UsageError
from generator.fleet import FleetNode, fleet_problems
from generator.inventory import BuildEntries, build_entries
from generator.kickstart import render_kickstart
from generator.memo import share_equal_fields
from generator.model import Node
from generator.netconfig import render_network_config
from generator.outtree import MANIFEST, check_target, new_tree
from generator.private import open_new, write_new
from generator.progress import Progress
from generator.pxe import PxeError
from generator.render import node_files
from generator.resolve import makes_secrets, resolve
from generator.serve import kickstart_path, plan_pxe

MANIFEST_FORMAT = 1
# below this many nodes a build stays in one process: forking and gathering would cost more than it saves
PARALLEL_FROM = 100
_DASHED_MAC = re.compile(r"[0-9a-f]{2}(-[0-9a-f]{2}){5}(?=(\.ipxe)?$)")  # at the end of the name


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


def _same_targets(members: list[tuple[FleetNode, Path]]) -> list[Problem]:
    """Two nodes whose artifacts would have one name (same host name in one folder, from different clusters)."""
    seen: dict[Path, FleetNode] = {}
    problems = []
    for member, name in members:
        if name in seen and seen[name].node.cluster != member.node.cluster:
            other = seen[name]
            file, line = other.doc.locate(("hostname",))
            problems.append(member.doc.problem(("hostname",), f"its artifacts would be {name}.* like those of "
                                                              f"{other.node.hostname} ({file}:{line}) of cluster "
                                                              f"{other.node.cluster}; build the clusters into "
                                                              f"separate folders"))
        seen.setdefault(name, member)
    return problems


@dataclass
class BuildReport:
    out_dir: Path
    files: list[str]                                   # relative to out_dir, as in the manifest
    problems: list[Problem] = field(default_factory=list)  # warnings and notes
    summary: str = ""

    @property
    def written(self) -> list[Path]:
        return [self.out_dir / name for name in self.files]


class _Tree:
    """Writes files into the staging folder and records each in the manifest."""

    def __init__(self, root: Path):
        self.root = root  # the staging folder of outtree.new_tree: ours alone until it is renamed into place
        self.folders: set[Path] = {root}
        self.nodes: list[dict] = []
        self.shared: list[dict] = []

    def write(self, path: str, payload: bytes, secret: bool) -> None:
        target = self.root / path
        if target.parent not in self.folders:
            target.parent.mkdir(parents=True, exist_ok=True)
            self.folders.add(target.parent)
        write_new(target, payload, 0o600 if secret else 0o644)

    def put(self, entries: list[dict], path: str, data: str | bytes, purpose: str, secret: bool) -> None:
        payload = data.encode("utf-8") if isinstance(data, str) else data
        self.write(path, payload, secret)
        entries.append({"path": path, "purpose": purpose, "size": len(payload),
                        "sha256": hashlib.sha256(payload).hexdigest(), "secret": secret})

    def write_manifest(self) -> None:
        """manifest.json, encoded piece by piece into the file: a large fleet's never sits in memory whole."""
        with open_new(self.root / MANIFEST, 0o644) as handle, io.TextIOWrapper(handle, encoding="utf-8") as text:
            json.dump({"format": MANIFEST_FORMAT, "generator": "k8s-firstboot gen build", "nodes": self.nodes,
                       "shared": self.shared}, text, indent=1)
            text.write("\n")


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
    """jobs: processes that render and write the nodes (default: one per CPU) once there are PARALLEL_FROM."""
    check_target(out_dir)  # before any work: a folder we would not replace is refused at once
    timestamp = _media_timestamp() if media else 0
    members, problems = _checked_members(find_profiles(paths), secrets_dir, jobs)
    # across the sound nodes too, so every problem shows at once; what needs them all waits for them all
    problems += fleet_problems([member for member, _ in members], complete=not problems)
    problems += _same_targets(members)
    pxe, pxe_problems = plan_pxe(members)
    problems += pxe_problems
    if problems:  # nothing is written unless every profile is good
        raise ProfileError(problems)
    summary = _summary(out_dir, members, media, len(pxe.entries))
    first_file = members[0][0].doc.files[0] if members else str(out_dir)
    nodes = [(member.node, name) for member, name in members]
    del members  # the profiles and their origins served the checks; what follows needs the nodes alone
    findings = _Findings()
    options = _Options(media, timestamp, gzip_it, base64_it)
    progress = Progress(len(nodes), "nodes")
    with new_tree(out_dir) as staging:
        tree = _Tree(staging)
        try:
            outputs = parallel.ordered_map(lambda item: _write_node(tree, item[0], item[1], options), nodes,
                                           _jobs_for(len(nodes), jobs), progress.update)
        finally:
            progress.close()
        for output in outputs:  # in the nodes' order, however many processes wrote them
            tree.nodes.append(output.record)
            findings.add(output)
        _write_pxe_tree(tree, pxe, first_file)
        tree.write_manifest()
    files = [f["path"] for node in tree.nodes for f in node["files"]] + [f["path"] for f in tree.shared] + [MANIFEST]
    notes = [Problem(str(out_dir), 0, "pxe", pxe.note, severity="note")] if pxe.note else []
    return BuildReport(out_dir, files, findings.problems(out_dir, gzip_it) + notes, summary)


def _checked_members(profiles: list[tuple[Path, Path]], secrets_dir: Path | None,
                     jobs: int | None) -> tuple[list[tuple[FleetNode, Path]], list[Problem]]:
    """Every node of the build, checked and resolved, with the name of its artifacts; and every problem found.

    A cluster file's listed nodes are checked and resolved in several processes when there are many; a node
    whose cluster secrets do not exist yet is resolved here, once the others are done, so the file is made once
    and no process reads it half-written."""
    found = []  # per file: its entries, or the problems that made it fail as a whole
    for profile, relative in profiles:
        try:
            found.append(build_entries(profile, relative))
        except ProfileError as exc:
            found.append(BuildEntries([], exc.problems, None))
    work = [(entry, held) for held in found for entry in held.entries]

    def check_and_resolve(item) -> tuple[list[Problem], Node | None]:
        entry, held = item
        failed = held.problems_of(entry)
        if failed or makes_secrets(entry.doc, secrets_dir):
            return failed, None
        try:
            return [], share_equal_fields(resolve(entry.doc, secrets_dir), parts)  # (in each process, then here)
        except ProfileError as exc:  # e.g. a secrets file it refuses: reported with the other problems
            return exc.problems, None

    parts: dict = {}  # the nodes' equal parts, held once (memo.share_equal_fields)
    results = iter(parallel.ordered_map(check_and_resolve, work, _jobs_for(len(work), jobs)))
    members, problems = [], []
    for held in found:  # the problems in the order of the files, entries and rows
        problems += held.problems
        for entry in held.entries:
            failed, node = next(results)
            if not failed and node is None:  # its cluster's secrets are made here, once
                try:
                    node = resolve(entry.doc, secrets_dir)
                except ProfileError as exc:
                    failed = exc.problems
            problems += failed
            if not failed:
                members.append((FleetNode(entry.doc, share_equal_fields(node, parts)), entry.name))
    return members, problems


def _jobs_for(nodes: int, requested: int | None) -> int:
    return parallel.usable_jobs(requested) if nodes >= PARALLEL_FROM else 1


def _media_timestamp() -> int:
    try:
        return bootmedia.timestamp_from_environment(os.environ)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


@dataclass(frozen=True)
class _Options:
    media: bool
    timestamp: int
    gzip_it: bool
    base64_it: bool


def _write_node(tree: _Tree, node, name: Path, options: _Options) -> _NodeOutput:
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


def _write_pxe_tree(tree: _Tree, pxe, first_file: str) -> None:
    try:
        files = pxe.tree()
    except PxeError as exc:  # each entry passed alone; what is left is across entries
        raise ProfileError([Problem(first_file, 0, "pxe", str(exc))]) from None
    by_name = {record["name"]: record["files"] for record in tree.nodes}
    by_dashed_mac = {mac.replace(":", "-"): by_name[name] for mac, name in pxe.owners.items()}
    for path in sorted(files):
        purpose = next(text for prefix, text in PXE_PURPOSES.items() if path.startswith(prefix))
        mac = _DASHED_MAC.search(path)  # the per-MAC files name their machine by its MAC with dashes
        tree.put(by_dashed_mac[mac.group()] if mac else tree.shared, path, files[path], purpose, secret=False)


def _summary(out_dir: Path, members, media: bool, served: int) -> str:
    roles = defaultdict(int)
    for member, _ in members:
        roles[member.node.role] += 1
    counts = ", ".join(f"{count} {role}" for role, count in sorted(roles.items()))
    parts = ["Kickstarts in http/ks/", "user-data in cloud/"]
    if media:
        parts.append("cidata and OEMDRV images in media/")
    if served:
        parts.append(f"a PXE tree for {served} MAC(s) (README.txt)")
    return f"{out_dir}: {len(members)} node(s) ({counts}): {', '.join(parts)}; {MANIFEST}"
