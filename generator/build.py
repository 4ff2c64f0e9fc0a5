"""`gen build`: every node profile under the given paths rendered into a directory."""

from pathlib import Path

from generator.emit import write_artifact
from generator.private import directory_problem
from generator.errors import Problem, ProfileError, UsageError
from generator.pipeline import checked_profile, is_node_profile, node_from_profile


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


def build(paths: list[Path], out_dir: Path, secrets_dir: Path | None = None) -> tuple[list[Path], list[Problem]]:
    """(files written, warnings of the nodes rendered); any error stops it before a file is written."""
    from generator.carriers import CARRIERS

    nodes, problems = [], []
    for profile, relative in find_profiles(paths):
        try:
            if is_node_profile(checked_profile(profile)):
                nodes.append((node_from_profile(profile, secrets_dir), relative))
        except ProfileError as exc:
            problems += exc.problems
    if problems:  # nothing is written unless every profile is good
        raise ProfileError(problems)
    # the folder itself, not only each file's: others who can rearrange it could swap a subfolder we write into
    out_dir.mkdir(parents=True, exist_ok=True)
    unsafe = directory_problem(out_dir)
    if unsafe:
        raise UsageError(f"{out_dir}: nothing written: {unsafe}")
    written = []
    for node, relative in nodes:
        for suffix, render in CARRIERS.items():
            target = out_dir / relative.with_suffix(suffix)
            write_artifact(target, render(node))
            written.append(target)
    # nodes that extend one file share its warnings: each is said once
    return written, list(dict.fromkeys(w for node, _ in nodes for w in node.warnings))
