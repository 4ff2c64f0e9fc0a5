"""`gen plan`'s text: what a node is, what its install erases, and its steps phase by phase (generator/plan.py
holds the steps as data; this module words them for a person, with what each carrier makes of the node)."""

from pathlib import Path

from generator.cloudinit import cloud_instance
from generator.errors import Problem
from generator.kickstart import erased_disks
from generator.model import Node
from generator.plan import BOOT, PREPARE, plan
from generator.secrets import missing_note

_DEFAULT_ADDRESS = "the default route's address at boot"
# both carriers run prepare themselves and leave boot to the unit (cloud-init's runcmd only starts it)
_WHERE = {PREPARE: "in the installer's %post / cloud-init runcmd",
          BOOT: "on first boot (k8s-firstboot.service, started by the Kickstart's reboot or by cloud-init's runcmd)"}


def plan_text(node: Node) -> str:
    lines = [f"{node.hostname}: {node.role} ({node.action}) of cluster {node.cluster} — {node.os.name}, "
             f"Kubernetes {node.kube.version}, CRI-O {node.kube.minor}, {node.cni.plugin} {node.cni.version}"]
    if node.is_control_plane:
        kickstart_address = node.kube.advertise_address or _DEFAULT_ADDRESS
        cloud_address = cloud_instance(node).kube.advertise_address or _DEFAULT_ADDRESS
        lines.append(f"API server advertises: {kickstart_address} (Kickstart); {cloud_address} (cloud-init)"
                     + ("" if node.kube.advertise_explicit else "; kubernetes.advertise_address pins it"))
    lines.append(f"Kickstart install erases: {erased_disks(node)}")
    phase = None
    for number, step in enumerate(plan(node), 1):
        if step.phase != phase:
            phase = step.phase
            lines.append(f"\n{phase} — {_WHERE[phase]}")
        lines.append(f"  {number:2}. {step.title}")
    return "\n".join(lines) + "\n"


def plan_notes(node: Node, profile: Path, secrets_dir: Path | None) -> list[Problem]:
    """The missing-secrets note (a dry run makes none) and the node's warnings."""
    note = missing_note(node.cluster, secrets_dir, node.join.from_profile)
    return ([Problem(str(profile), 0, "", note, "note")] if note else []) + list(node.warnings)
