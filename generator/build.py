"""`gen build`: every node profile under the given paths rendered into a directory."""

from pathlib import Path

from generator.cloudinit import render_user_data
from generator.emit import write_artifact
from generator.errors import ProfileError, UsageError
from generator.kickstart import render_kickstart
from generator.pipeline import checked_profile, is_node_profile, node_from_document
from generator.private import directory_problem

# the file suffix of each format. Only `gen build` writes every format at once; `gen ks`, `gen cloud-init`
# and `gen validate` call the renderer they need, with options of their own.
CARRIERS = {
    ".ks": render_kickstart,
    ".user-data": render_user_data,
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


def build(paths: list[Path], out_dir: Path, secrets_dir: Path | None = None) -> list[Path]:
    nodes, problems = [], []
    for profile, relative in find_profiles(paths):
        try:
            doc = checked_profile(profile)  # once: shared profiles are checked too, then skipped
            if is_node_profile(doc):
                nodes.append((node_from_document(doc, secrets_dir), relative))
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
    return written
