"""`gen build`: every node profile under the given paths rendered into a directory."""

from pathlib import Path

from generator.cloudinit import render_user_data_from
from generator.emit import write_artifact
from generator.errors import Problem, ProfileError, UsageError
from generator.fleet import FleetNode, fleet_problems
from generator.inventory import build_documents
from generator.kickstart import render_kickstart
from generator.netconfig import render_network_config
from generator.private import directory_problem
from generator.render import node_files
from generator.resolve import resolve

# the file suffix of each format. Only `gen build` writes every format at once; `gen ks`, `gen cloud-init`
# and `gen validate` call the renderer they need, with options of their own.
CARRIERS = {
    ".ks": render_kickstart,
    ".user-data": render_user_data_from,
}


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


def build(paths: list[Path], out_dir: Path, secrets_dir: Path | None = None) -> list[Path]:
    members, problems = [], []
    for profile, relative in find_profiles(paths):
        try:
            entries, failed = build_documents(profile, relative)
        except ProfileError as exc:
            problems += exc.problems
            continue
        problems += failed
        members += [(FleetNode(entry.doc, resolve(entry.doc, secrets_dir)), entry.name) for entry in entries]
    # across the sound nodes too, so every problem shows at once; what needs them all waits for them all
    problems += fleet_problems([member for member, _ in members], complete=not problems)
    problems += _same_targets(members)
    if problems:  # nothing is written unless every profile is good
        raise ProfileError(problems)
    # the folder itself, not only each file's: others who can rearrange it could swap a subfolder we write into
    out_dir.mkdir(parents=True, exist_ok=True)
    unsafe = directory_problem(out_dir)
    if unsafe:
        raise UsageError(f"{out_dir}: nothing written: {unsafe}")
    written = []
    for member, name in members:
        files = node_files(member.node)  # rendered once for both carriers
        outputs = [(suffix, render(member.node, files)) for suffix, render in CARRIERS.items()]
        outputs.append((".network-config", render_network_config(member.node)))
        for suffix, text in outputs:
            if text is None:
                continue
            target = out_dir / name.parent / (name.name + suffix)  # a host name may hold dots
            write_artifact(target, text)
            written.append(target)
    return written
