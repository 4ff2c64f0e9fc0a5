"""`gen validate`: schema and rules, then the rendered artifacts handed to their real consumers."""

from pathlib import Path

from generator import secrets, userdata, verify
from generator.cloudinit import render_user_data
from generator.errors import Problem, ProfileError
from generator.kickstart import render_kickstart
from generator.model import Node
from generator.pipeline import checked_profile, is_node_profile
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


def user_data_checks(path: Path, node: Node) -> tuple[list[Problem], list[str]]:
    """cloud-init's own schema check and the size against the clouds' limits."""
    text = render_user_data(node)
    problems, notes = [], []
    findings = verify.cloud_init_schema_findings(text, "user-data")
    if findings is None:
        notes.append(f"{path}: note: cloud-init is not installed; the user-data's schema was not checked")
    else:
        problems += [Problem(str(path), 0, f.subject, f"{f.tool}: {f.message}") for f in findings]
    size_notes, size_errors = userdata.size_report(str(path), text)
    notes += size_notes
    problems += [Problem(str(path), 0, "user-data", message) for message in size_errors]
    return problems, notes


def validate_profiles(paths: list[Path], secrets_dir: Path | None = None,
                      strict: bool = False) -> tuple[list[Problem], list[str]]:
    """(problems, notes) for every profile; secrets are never created here. strict: warnings are problems."""
    problems: list[Problem] = []
    notes: list[str] = []
    for path in paths:
        try:
            doc = checked_profile(path)
        except ProfileError as exc:
            problems += exc.problems
            continue
        if not is_node_profile(doc):
            continue  # shared settings: nothing to render
        node = resolve(doc, secrets_dir, create_secrets=False)
        missing = "" if node.join.from_profile else secrets.missing_note(node.cluster, secrets_dir)
        if missing:
            notes.append(f"{path}: note: {missing}")
        findings = artifact_findings(node)
        problems += [Problem(str(path), 0, f.subject, f"{f.tool}: {f.message}") for f in findings]
        ud_problems, ud_notes = user_data_checks(path, node)
        problems += ud_problems
        notes += ud_notes
        for warning in node.warnings:
            if strict:
                problems.append(Problem(str(path), 0, "strict", warning))
            else:
                notes.append(f"{path}: warning: {warning}")
        if node.pki:
            notes.append(f"{path}: note: its Kickstart and user-data carry the cluster CA keys; keep them private "
                         f"(written 0600) and see docs/cloud-init.md on the cloud's metadata service")
    return problems, notes
