"""Run rendered artifacts the way their consumers would, inside a Sandbox, and read back what happened.

Shared by the Kickstart and cloud-init rehearsals so both carriers face the same assertions.
"""

import configparser
import shlex
import subprocess
from pathlib import Path

import yaml

from sandbox import Sandbox

UNIT = "/etc/systemd/system/k8s-firstboot.service"
SCRIPT = "/usr/local/sbin/k8s-firstboot"
DONE = "/var/lib/k8s-firstboot/done"


def run_kickstart_post(box: Sandbox, kickstart: str, handler: str) -> None:
    """Every %post section, as pykickstart hands it to Anaconda: its interpreter reading the script."""
    from generator.verify import post_scripts

    for n, post in enumerate(post_scripts(kickstart, handler)):
        assert post.inChroot, "a %post that runs outside the chroot would not see the installed system"
        # Anaconda writes the script to a file in the chroot and runs its interpreter on it
        (box.record / f"ks-script-{n}").write_text(post.script)
        result = box.run([post.interp, f"/opt/record/ks-script-{n}"])
        assert result.returncode == 0, f"%post failed ({result.returncode}):\n{result.stderr[-3000:]}"


def unit_exec_start(box: Sandbox) -> list[str]:
    """ExecStart of the installed first-boot unit, split as systemd would."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read_string(box.file(UNIT).read_text())
    return shlex.split(parser["Service"]["ExecStart"].lstrip("-@:+!"))


def run_first_boot(box: Sandbox) -> subprocess.CompletedProcess:
    """What systemd does at first boot: run the unit's ExecStart (unless its condition says done)."""
    if box.file(DONE).exists():  # ConditionPathExists=!/var/lib/k8s-firstboot/done
        return subprocess.CompletedProcess([], 0, "", "")
    # a system unit without User= gets no $HOME, $USER or $SHELL (systemd.exec(5), "Environment Variables in
    # Spawned Processes"): only PATH and the locale
    return box.run(unit_exec_start(box), env={"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin",
                                              "LANG": "C.UTF-8"})


def in_order(lines: list[str], expected: list[str]) -> list[str]:
    """The expected prefixes that are missing from `lines` in this order (empty when all are there)."""
    missing, position = [], 0
    for prefix in expected:
        for i in range(position, len(lines)):
            if lines[i].startswith(prefix):
                position = i + 1
                break
        else:
            missing.append(prefix)
    return missing


def openssl_ca_hash(cert: Path) -> str:
    """kubeadm's --discovery-token-ca-cert-hash, computed the way its documentation shows, by openssl."""
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", str(cert)], capture_output=True,
                         check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub, capture_output=True,
                         check=True).stdout
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-hex"], input=der, capture_output=True,
                            check=True).stdout.decode()
    return "sha256:" + digest.strip().split()[-1]


def kubeadm_documents(path: Path) -> dict[str, dict]:
    """A kubeadm config file's documents by kind."""
    return {d["kind"]: d for d in yaml.safe_load_all(path.read_text()) if d}
