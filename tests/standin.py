#!/usr/bin/python3
"""Stand-in for the commands the bootstrap runs (dnf, systemctl, kubeadm, ...) inside the sandbox.

Installed under /usr/local/bin in the sandbox as one symlink per command. Each call is appended to
/opt/record/calls (one line: the command and its arguments, tab-separated) and leaves behind the files
the real command would, so later steps see a believable system. /opt/record/faults may make a command
fail: each line is `<count|always> <command> [<first argument>]`; a count is used up one call at a time.
"""

import os
import shutil
import sys
from pathlib import Path

RECORD = Path("/opt/record")
NAME = Path(sys.argv[0]).name
ARGS = sys.argv[1:]

# what a fresh package install leaves on disk, where a later step depends on it
PACKAGE_FILES = {
    "cri-o": {
        "/etc/crio/crio.conf": '[crio.runtime]\nconmon = "/usr/libexec/crio/conmon"\n',
        "/etc/cni/net.d/100-crio-bridge.conf": '{"name": "crio-bridge"}\n',
        "/etc/cni/net.d/11-crio-ipv4-bridge.conflist": '{"name": "crio"}\n',
    },
}


def record() -> None:
    RECORD.mkdir(parents=True, exist_ok=True)
    with open(RECORD / "calls", "a", encoding="utf-8") as log:
        log.write("\t".join([NAME, *ARGS]) + "\n")
    if os.environ.get("https_proxy"):  # which calls would have gone through the profile's proxy
        with open(RECORD / "proxied", "a", encoding="utf-8") as log:
            log.write(f"{NAME}\t{os.environ['https_proxy']}\t{os.environ.get('no_proxy', '')}\n")


def injected_fault() -> bool:
    faults = RECORD / "faults"
    if not faults.exists():
        return False
    lines = faults.read_text().splitlines()
    for i, line in enumerate(lines):
        count, command, *first = line.split()
        if command != NAME or (first and first[0] not in ARGS):
            continue
        if count != "always":
            left = int(count) - 1
            lines[i] = f"{left} {command} {' '.join(first)}".strip() if left else ""
            faults.write_text("\n".join(l for l in lines if l) + "\n")
        return True
    return False


def write(path: str, text: str, mode: int = 0o644) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    p.chmod(mode)


def option(flag: str) -> str | None:
    for i, arg in enumerate(ARGS):
        if arg == flag and i + 1 < len(ARGS):
            return ARGS[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def dnf() -> int:
    if ARGS[:2] == ["-y", "install"]:
        for package in ARGS[2:]:
            if package.startswith("-"):
                continue
            write(f"/var/lib/standin-rpm/{package}", "installed\n")
            for path, text in PACKAGE_FILES.get(package, {}).items():
                if not Path(path).exists():
                    write(path, text)
    return 0


def systemctl() -> int:
    verb, units = ARGS[0], ARGS[1:]
    for unit in units:
        if verb == "enable":
            write(f"/etc/systemd/system/multi-user.target.wants/{unit}", "enabled\n")
        elif verb == "disable":
            Path(f"/etc/systemd/system/multi-user.target.wants/{unit}").unlink(missing_ok=True)
    return 0


def kubeadm() -> int:
    if ARGS[0] == "init":
        config = Path(option("--config")).read_text()
        write(str(RECORD / "init-config.yaml"), config)
        if not Path("/etc/kubernetes/pki/ca.key").exists():
            print("standin kubeadm: no CA in /etc/kubernetes/pki; would have made a new one", file=sys.stderr)
            return 1
        write("/etc/kubernetes/manifests/kube-apiserver.yaml", "kind: Pod\n", 0o600)
        write("/etc/kubernetes/admin.conf", "kind: Config\n", 0o600)
        write("/etc/kubernetes/kubelet.conf", "kind: Config\n", 0o600)
    elif ARGS[0] == "join":
        config = Path(option("--config")).read_text()
        write(str(RECORD / "join-config.yaml"), config)
        if "controlPlane" in config:
            # without --certificate-key, kubeadm needs the shared CAs on disk to join as a control plane
            for shared in ("ca.key", "front-proxy-ca.key", "etcd/ca.key", "sa.key"):
                if not Path(f"/etc/kubernetes/pki/{shared}").exists():
                    print(f"standin kubeadm: /etc/kubernetes/pki/{shared} missing for a control-plane join", file=sys.stderr)
                    return 1
            write("/etc/kubernetes/manifests/kube-apiserver.yaml", "kind: Pod\n", 0o600)
            write("/etc/kubernetes/admin.conf", "kind: Config\n", 0o600)
        write("/etc/kubernetes/kubelet.conf", "kind: Config\n", 0o600)
    elif ARGS[0] == "reset":
        for path in ("/etc/kubernetes/manifests", "/etc/kubernetes/pki"):
            shutil.rmtree(path, ignore_errors=True)
        for conf in Path("/etc/kubernetes").glob("*.conf"):
            conf.unlink()
    return 0


def kubectl() -> int:
    if "get" in ARGS and "node" in ARGS:
        print("True", end="")
    return 0


def curl() -> int:
    out = option("-o")
    if out:
        write(out, "# stand-in CNI manifest\nkind: List\n")
    return 0


def tar() -> int:
    # the only archive the bootstrap unpacks is the cilium CLI: leave a cilium stand-in where it was asked to go
    target = Path(option("-C") or ".") / "cilium"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to("/usr/local/bin/standin")
    return 0


def cilium() -> int:
    installed = Path("/var/lib/standin-cilium/installed")
    if ARGS[0] == "status":
        return 0 if installed.exists() else 1
    if ARGS[0] == "install":
        write(str(installed), " ".join(ARGS) + "\n")
    return 0


def getenforce() -> int:
    print("Enforcing")
    return 0


HANDLERS = {"dnf": dnf, "systemctl": systemctl, "kubeadm": kubeadm, "kubectl": kubectl, "curl": curl,
            "getenforce": getenforce, "tar": tar, "cilium": cilium}


def main() -> int:
    record()
    if injected_fault():
        print(f"standin {NAME}: injected failure", file=sys.stderr)
        return 1
    return HANDLERS.get(NAME, lambda: 0)()


if __name__ == "__main__":
    sys.exit(main())
