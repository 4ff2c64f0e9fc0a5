"""`gen validate`: schema and rules, then the rendered artifacts handed to their real consumers."""

from pathlib import Path

from generator import secrets, userdata, verify
from generator.cloudinit import render_user_data
from generator.errors import Problem, ProfileError
from generator.kickstart import render_kickstart
from generator.model import Node
from generator.fleet import FleetNode, fleet_problems
from generator.inventory import build_documents
from generator.node_paths import SCRIPT_PATH, UNIT_PATH
from generator.render import node_files
from generator.resolve import resolve


def artifact_findings(node: Node) -> list[verify.Finding]:
    files = node_files(node)
    script = next(f.content for f in files if f.path == SCRIPT_PATH)
    unit = next(f.content for f in files if f.path == UNIT_PATH)
    kickstart = render_kickstart(node, files)
    findings = verify.kickstart_findings(kickstart, node.os.ks_handler, "kickstart")
    findings += verify.shellcheck_findings(script, SCRIPT_PATH)
    if not findings:
        for n, post in enumerate(verify.post_scripts(kickstart, node.os.ks_handler), 1):
            findings += verify.shellcheck_findings(post.script, f"kickstart %post #{n}")
        for n, pre in enumerate(verify.pre_scripts(kickstart, node.os.ks_handler), 1):
            findings += verify.shellcheck_findings(pre.script, f"kickstart %pre #{n}")
    findings += verify.systemd_unit_findings(Path(UNIT_PATH).name, unit, {SCRIPT_PATH: script})
    return findings


def user_data_checks(path: Path, node: Node) -> list[Problem]:
    """cloud-init's own schema check and the size against the clouds' limits."""
    text = render_user_data(node)
    found = []
    findings = verify.cloud_init_schema_findings(text, "user-data")
    if findings is None:
        found.append(Problem(str(path), 0, "", "cloud-init is not installed; the user-data's schema was not checked",
                             "note"))
    else:
        found += [Problem(str(path), 0, f.subject, f"{f.tool}: {f.message}") for f in findings]
    return found + userdata.size_report(str(path), text)


def validate_profiles(paths: list[Path], secrets_dir: Path | None = None) -> list[Problem]:
    """Every error, warning and note of every profile; secrets are never created here.

    A cluster file with `nodes:` is validated node by node; with several nodes, the checks across them follow.
    """
    found: list[Problem] = []
    members: list[FleetNode] = []
    for path in paths:
        try:
            entries, failed = build_documents(path, Path(path.name))
        except ProfileError as exc:
            found += exc.problems
            continue
        found += failed
        for entry in entries:
            node = resolve(entry.doc, secrets_dir, create_secrets=False)
            members.append(FleetNode.of(entry.doc, node))
            label = path if entry.name.rsplit("/", 1)[-1] == path.stem else Path(f"{path} ({node.hostname})")
            found += _node_checks(label, node, secrets_dir)
    if len(members) > 1:
        found += fleet_problems(members, complete=not any(p.is_error for p in found))
    return list(dict.fromkeys(found))  # profiles that extend one file share its warnings: each is said once


def _node_checks(path: Path, node: Node, secrets_dir: Path | None) -> list[Problem]:
    """The rendered artifacts of one node, through their real consumers, and what resolving it found."""
    found: list[Problem] = []
    missing = secrets.missing_note(node.cluster, secrets_dir, node.join.from_profile)
    if missing:
        found.append(Problem(str(path), 0, "", missing, "note"))
    found += [Problem(str(path), 0, f.subject, f"{f.tool}: {f.message}") for f in artifact_findings(node)]
    found += user_data_checks(path, node)
    found += node.warnings
    if node.pki:
        found.append(Problem(str(path), 0, "", "its Kickstart and user-data carry the cluster CA keys; keep them "
                                               "private (written 0600) and see docs/cloud-init.md on the cloud's "
                                               "metadata service", "note"))
    return found
