#!/usr/bin/python3
"""Stand-in for the commands the bootstrap runs (dnf, systemctl, kubeadm, ...) inside the sandbox.

Installed under /usr/local/bin in the sandbox as one symlink per command. Each call is appended to
/opt/record/calls (one line: the command and its arguments, tab-separated) and leaves behind the files
the real command would, so later steps see a believable system. /opt/record/faults may make a command
fail: each line is `<count|always> <command> [<argument>] [kill]`; the line applies to calls of <command>
that have <argument> among their arguments; a count is used up one call at a time.

`kill` simulates a power cut instead of a failure: the command reaches its crash point (midway for
`kubeadm init`: static pod manifests written, no kubeconfigs yet; after its work for every other command)
and then every process of the sandbox dies by SIGKILL, the bootstrap script included, so nothing after
that point runs: no step marker, no EXIT trap, no status update.

Commands in PASSTHROUGH (sed, cp, rm, ...) are real tools; the sandbox puts a stand-in in front of them only
when a test asks for a crash point inside a step that calls no other stand-in (Sandbox.watch). They run
the real program, are not recorded, and honour `kill` faults only.
"""

import os
import signal
import sys
from pathlib import Path

# shutil and subprocess are imported where needed: every stand-in call starts a Python, and the fault and
# crash tests make thousands of them

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


# sha256sum is the real one: a checksum check that passes anything would prove nothing
PASSTHROUGH = {"sed", "cp", "rm", "install", "mkdir", "cat", "touch", "sha256sum"}
CRASH = False


def injected_fault() -> str | None:
    """None, "fail" or "kill": what /opt/record/faults says this call does."""
    faults = RECORD / "faults"
    if not faults.exists():
        return None
    lines = faults.read_text().splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        count, command, *rest = line.split()
        mode = "kill" if rest and rest[-1] == "kill" else "fail"
        first = rest[:-1] if mode == "kill" else rest
        if command != NAME or (first and first[0] not in ARGS):
            continue
        if count != "always":
            left = int(count) - 1
            lines[i] = line.replace(count, str(left), 1) if left else ""
            faults.write_text("\n".join(l for l in lines if l) + "\n")
        return mode
    return None


def power_cut() -> None:
    """SIGKILL every process of the sandbox (bubblewrap's PID namespace), then this one."""
    # kill(-1) reaches every process this one may signal; only inside the sandbox's own PID namespace,
    # whose init is bwrap, is that the sandbox alone. Anywhere else refuse loudly instead.
    if Path("/proc/1/comm").read_text().strip() != "bwrap":
        print("standin: refusing a power cut outside the bubblewrap sandbox", file=sys.stderr)
        os._exit(99)
    sys.stdout.flush()
    os.kill(-1, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def crash_point() -> None:
    """Where a `kill` fault cuts the power while this command runs."""
    if CRASH:
        power_cut()


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
        if Path("/etc/kubernetes/manifests/kube-apiserver.yaml").exists():  # kubeadm's preflight checks
            print("standin kubeadm: [ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]: "
                  "/etc/kubernetes/manifests/kube-apiserver.yaml already exists", file=sys.stderr)
            return 1
        if not Path("/etc/kubernetes/pki/ca.key").exists():
            print("standin kubeadm: no CA in /etc/kubernetes/pki; would have made a new one", file=sys.stderr)
            return 1
        write("/etc/kubernetes/manifests/kube-apiserver.yaml", "kind: Pod\n", 0o600)
        crash_point()  # midway: the static pods exist, the kubeconfigs do not
        write("/etc/kubernetes/admin.conf", "kind: Config\n", 0o600)
        write("/etc/kubernetes/kubelet.conf", "kind: Config\n", 0o600)
    elif ARGS[0] == "join":
        if Path("/etc/kubernetes/kubelet.conf").exists():
            print("standin kubeadm: [ERROR FileAvailable--etc-kubernetes-kubelet.conf]: "
                  "/etc/kubernetes/kubelet.conf already exists", file=sys.stderr)
            return 1
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
        import shutil
        for path in ("/etc/kubernetes/manifests", "/etc/kubernetes/pki"):
            shutil.rmtree(path, ignore_errors=True)
        for conf in Path("/etc/kubernetes").glob("*.conf"):
            conf.unlink()
    return 0


def kubectl() -> int:
    if "get" in ARGS and "node" in ARGS:
        print("True", end="")
    return 0


# what every download returns (conftest pins the CNI manifests to its sha256, as data/checksums.yaml pins the real ones)
DOWNLOAD = "# stand-in CNI manifest\nkind: List\n"


def curl() -> int:
    out = option("-o")
    url = ARGS[-1]
    if out and url.endswith(".sha256sum"):  # a release's checksum file, as GitHub serves it beside the asset
        import hashlib
        write(out, f"{hashlib.sha256(DOWNLOAD.encode()).hexdigest()}  {url.rsplit('/', 1)[-1][:-len('.sha256sum')]}\n")
    elif out:
        write(out, DOWNLOAD)
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


def passthrough() -> int:
    import subprocess
    global CRASH
    CRASH = injected_fault() == "kill"
    rc = subprocess.run([f"/usr/bin/{NAME}", *ARGS]).returncode
    crash_point()
    return rc


def main() -> int:
    global CRASH
    if NAME in PASSTHROUGH:
        return passthrough()
    record()
    fault = injected_fault()
    if fault == "fail":
        print(f"standin {NAME}: injected failure", file=sys.stderr)
        return 1
    CRASH = fault == "kill"
    rc = HANDLERS.get(NAME, lambda: 0)()
    crash_point()
    return rc


if __name__ == "__main__":
    sys.exit(main())
