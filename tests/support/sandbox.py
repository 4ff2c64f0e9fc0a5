"""A scratch root in which rendered artifacts run for real, under bubblewrap, against stand-in commands.

The host's /usr is mounted read-only (real bash, sed, install, ...); /etc, /var, /root, /home and
/usr/local are scratch folders of the test; the commands that would change a real machine (dnf,
systemctl, kubeadm, kubectl, curl, modprobe, ...) are stand-ins from tests/support/standin.py that record
their calls under /opt/record. No network, separate PID/IPC/UTS namespaces.
"""

import os
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
STANDINS = ("dnf", "systemctl", "kubeadm", "kubectl", "curl", "modprobe", "sysctl", "firewall-offline-cmd",
            "setenforce", "getenforce", "swapoff", "crictl", "sleep", "tar", "sha256sum", "cilium",
            "chronyc", "timedatectl", "ip", "restorecon")
# commands some package puts on PATH (standin.PACKAGE_BINARIES): until dnf installs it they answer
# "command not found", and they hide the host's own copies (/usr/bin/kubectl, /usr/sbin/tc)
PACKAGED_STANDINS = ("kubelet", "firewall-cmd", "keepalived", "tc", "subscription-manager", "crio")
# packages a fresh install has before the bootstrap runs. Kickstart: %packages (@^minimal-environment, chrony,
# curl, tar); @core brings dnf, systemd, kmod, procps-ng, util-linux, libselinux-utils and, on RHEL,
# subscription-manager. Cloud images start from the same core set.
BASE_PACKAGES = ("chrony", "curl", "tar")
BASE_PACKAGES_BY_DISTRO = {"rhel": ("subscription-manager",), "fedora": ("zram-generator-defaults",)}
# upstream URL prefixes that still answer (docs/upstream-contracts.md, "Packages"); hosts the profiles name
# for their own site (.lan, .example, IP addresses) answer too (standin.is_private). Not here, so failing:
# mirrorlist.centos.org (no DNS since 2024), packages.cloud.google.com, Kubic, docs.projectcalico.org/archive
SERVING = (
    "https://pkgs.k8s.io/", "https://download.opensuse.org/repositories/isv:/cri-o:/", "https://vault.centos.org/",
    "https://dl.rockylinux.org/", "https://mirrors.rockylinux.org/", "https://repo.almalinux.org/",
    "https://mirrors.almalinux.org/", "https://mirror.stream.centos.org/", "https://mirrors.centos.org/",
    "https://dl.fedoraproject.org/", "https://mirrors.fedoraproject.org/",
    "https://download.copr.fedorainfracloud.org/", "https://cdn.redhat.com/", "https://github.com/",
    "https://raw.githubusercontent.com/",
    # registries (image pulls by kubeadm and crictl go through CRI-O's registry mirrors first)
    "https://registry.k8s.io/", "https://k8s.gcr.io/", "https://docker.io/", "https://quay.io/", "https://ghcr.io/",
)
# what each OS release's install leaves in /etc/yum.repos.d (enabled sections only), and its signing key.
# RHEL has none until it is registered (subscription-manager writes redhat.repo).
_EL = "https://mirrors.{}/mirrorlist?arch=$basearch&repo={}-$releasever"
STOCK_REPOS = {
    "centos-8": ("RPM-GPG-KEY-centosofficial", {
        f"CentOS-Linux-{name}.repo": {name.lower(): f"mirrorlist=http://mirrorlist.centos.org/?release=$releasever"
                                                   f"&arch=$basearch&repo={name}&infra=$infra"}
        for name in ("BaseOS", "AppStream", "Extras")}),
    "rocky-8": ("RPM-GPG-KEY-rockyofficial", {
        f"Rocky-{name}.repo": {name.lower(): "mirrorlist=" + _EL.format("rockylinux.org", name)}
        for name in ("BaseOS", "AppStream", "Extras")}),
    "almalinux-8": ("RPM-GPG-KEY-AlmaLinux", {
        f"almalinux-{name}.repo": {name: f"mirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/{name}"}
        for name in ("baseos", "appstream", "extras")}),
    "centos-stream-9": ("RPM-GPG-KEY-centosofficial", {"centos.repo": {
        name: f"metalink=https://mirrors.centos.org/metalink?repo=centos-{name}-$stream&arch=$basearch"
        for name in ("baseos", "appstream")}}),
    "fedora": ("RPM-GPG-KEY-fedora-$releasever-$basearch", {
        "fedora.repo": {"fedora": "metalink=https://mirrors.fedoraproject.org/metalink?repo=fedora-$releasever&arch=$basearch"},
        "fedora-updates.repo": {"updates": "metalink=https://mirrors.fedoraproject.org/metalink?repo=updates-released-f$releasever&arch=$basearch"}}),
}
for _major in ("9", "10"):
    STOCK_REPOS[f"rocky-{_major}"] = (f"RPM-GPG-KEY-Rocky-{_major}", {
        "rocky.repo": {name.lower(): "mirrorlist=" + _EL.format("rockylinux.org", name) for name in ("BaseOS", "AppStream")},
        "rocky-extras.repo": {"extras": "mirrorlist=" + _EL.format("rockylinux.org", "extras")}})
    STOCK_REPOS[f"almalinux-{_major}"] = (f"RPM-GPG-KEY-AlmaLinux-{_major}", {
        f"almalinux-{name}.repo": {name: f"mirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/{name}"}
        for name in ("baseos", "appstream", "extras")})
STOCK_REPOS["centos-stream-10"] = ("RPM-GPG-KEY-centosofficial-SHA256", STOCK_REPOS["centos-stream-9"][1])
SCRATCH = ("etc", "var", "root", "home", "usr/local", "run", "opt/record", "usr/libexec/keepalived")
# /usr is the host's and read-only, but keepalived's scripts must sit in /usr/libexec/keepalived (the one path
# SELinux lets them run unconfined): /usr/libexec becomes a tmpfs holding the host's entries and that folder
LIBEXEC = "/usr/libexec"


def bwrap_available() -> bool:
    if shutil.which("bwrap") is None:
        return False
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-net", "true"], capture_output=True)
    return probe.returncode == 0


class Sandbox:
    def __init__(self, base: Path, admin: str | None = "ops", os_key: str = "rocky-9",
                 reachable: tuple[str, ...] = SERVING):
        """A fresh install of os_key (e.g. "centos-8", "fedora-43"); reachable: URL prefixes that answer ("*": all)."""
        self.base = base
        self.root = base / "root"
        for folder in SCRATCH:
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        bin_dir = self.root / "usr/local/bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(HERE / "standin.py", bin_dir / "standin")
        (bin_dir / "standin").chmod(0o755)
        for name in STANDINS + PACKAGED_STANDINS:
            (bin_dir / name).symlink_to("standin")
        self.install_os(os_key, reachable)
        (self.root / "usr/local/sbin").mkdir(parents=True, exist_ok=True)
        etc = self.root / "etc"
        (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n" +
                                    (f"{admin}:x:1000:1000::/home/{admin}:/bin/bash\n" if admin else ""))
        (etc / "group").write_text("root:x:0:\nwheel:x:10:\n" + (f"{admin}:x:1000:\n" if admin else ""))
        if admin:
            (self.root / "home" / admin).mkdir(parents=True, exist_ok=True)
        (etc / "hosts").write_text("127.0.0.1 localhost\n")
        (etc / "fstab").write_text("/dev/mapper/rl-root / xfs defaults 0 0\n"
                                   "/dev/mapper/rl-swap none swap defaults 0 0\n")
        (etc / "dnf").mkdir(exist_ok=True)  # as the dnf package ships it on EL9
        (etc / "dnf/dnf.conf").write_text("[main]\ngpgcheck=1\ninstallonly_limit=3\nclean_requirements_on_remove=True\n"
                                          "best=True\nskip_if_unavailable=False\n")
        (etc / "selinux").mkdir(exist_ok=True)
        (etc / "selinux/config").write_text("SELINUX=enforcing\nSELINUXTYPE=targeted\n")
        (self.root / "console").write_text("")

    def install_os(self, os_key: str, reachable: tuple[str, ...]) -> None:
        """os-release (the dnf stand-in picks dnf4 or dnf5 from it), base packages, stock repo files, keys."""
        distro, _, major = os_key.rpartition("-")
        etc = self.root / "etc"
        (etc / "os-release").write_text(f'ID="{distro}"\nVERSION_ID="{major}"\n')
        for package in BASE_PACKAGES + BASE_PACKAGES_BY_DISTRO.get(distro, ()):
            rpm = self.root / "var/lib/standin-rpm" / package
            rpm.parent.mkdir(parents=True, exist_ok=True)
            rpm.write_text("base image\n")
        key, files = STOCK_REPOS.get(os_key) or STOCK_REPOS.get(distro) or ("RPM-GPG-KEY-redhat-release", {})
        keys = etc / "pki/rpm-gpg"
        keys.mkdir(parents=True, exist_ok=True)
        (keys / key.replace("$releasever", major).replace("$basearch", "x86_64")).write_text("stand-in key\n")
        (etc / "yum.repos.d").mkdir(exist_ok=True)
        for name, sections in files.items():
            (etc / "yum.repos.d" / name).write_text("".join(
                f"[{repo}]\nname={repo}\n{source}\nenabled=1\ngpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/{key}\n\n"
                for repo, source in sections.items()))
        (self.record / "reachable").write_text("".join(f"{prefix}\n" for prefix in reachable))

    @property
    def record(self) -> Path:
        return self.root / "opt/record"

    def run(self, argv: list[str], stdin: str | None = None, timeout: int = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        r = self.root
        args = ["bwrap", "--die-with-parent", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
                "--symlink", "usr/lib", "/lib", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
                "--bind", str(r / "console"), "/dev/console"]
        if Path("/lib64").exists():
            args += ["--symlink", "usr/lib64", "/lib64"]
        args += ["--tmpfs", LIBEXEC]
        for entry in sorted(os.listdir(LIBEXEC)) if os.path.isdir(LIBEXEC) else ():
            args += ["--ro-bind", f"{LIBEXEC}/{entry}", f"{LIBEXEC}/{entry}"]
        for folder in SCRATCH:
            args += ["--bind", str(r / folder), "/" + folder]
        env = env or {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin", "HOME": "/root", "LANG": "C.UTF-8"}
        return subprocess.run(args + argv, input=stdin, capture_output=True, text=True, timeout=timeout,
                              env=env)

    def calls(self) -> list[list[str]]:
        path = self.record / "calls"
        if not path.exists():
            return []
        return [line.split("\t") for line in path.read_text().splitlines()]

    def command_lines(self) -> list[str]:
        return [" ".join(c) for c in self.calls()]

    def file(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def snapshot(self) -> dict[str, tuple[int, bytes]]:
        """Every file of the scratch root (less the call record) with its mode and bytes."""
        found = {}
        for dirpath, _, filenames in os.walk(self.root):
            for name in filenames:
                p = Path(dirpath) / name
                rel = "/" + str(p.relative_to(self.root))
                if rel.startswith("/opt/record") or rel == "/console" or p.is_symlink():
                    continue
                found[rel] = (p.stat().st_mode & 0o7777, p.read_bytes())
        return found

    def inject_fault(self, spec: str) -> None:
        with open(self.record / "faults", "a") as f:
            f.write(spec + "\n")

    def watch(self, command: str) -> None:
        """Put the stand-in in front of a real tool (sed, cp, ...) so a `kill` fault can crash inside it."""
        link = self.root / "usr/local/bin" / command
        if not link.exists():
            link.symlink_to("standin")

    def console(self) -> str:
        return (self.root / "console").read_text()
