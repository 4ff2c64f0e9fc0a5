"""A scratch root in which rendered artifacts run for real, under bubblewrap, against stand-in commands.

The host's /usr is mounted read-only (real bash, sed, install, ...); /etc, /var, /root, /home and
/usr/local are scratch folders of the test; the commands that would change a real machine (dnf,
systemctl, kubeadm, kubectl, curl, modprobe, ...) are stand-ins from tests/standin.py that record
their calls under /opt/record. No network, separate PID/IPC/UTS namespaces.
"""

import os
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
STANDINS = ("dnf", "systemctl", "kubeadm", "kubectl", "curl", "modprobe", "sysctl", "firewall-offline-cmd",
            "setenforce", "getenforce", "swapoff", "crictl", "sleep", "tar", "sha256sum", "cilium")
SCRATCH = ("etc", "var", "root", "home", "usr/local", "run", "opt/record")


def bwrap_available() -> bool:
    if shutil.which("bwrap") is None:
        return False
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-net", "true"], capture_output=True)
    return probe.returncode == 0


class Sandbox:
    def __init__(self, base: Path, admin: str | None = "ops"):
        self.base = base
        self.root = base / "root"
        for folder in SCRATCH:
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        bin_dir = self.root / "usr/local/bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(HERE / "standin.py", bin_dir / "standin")
        (bin_dir / "standin").chmod(0o755)
        for name in STANDINS:
            (bin_dir / name).symlink_to("standin")
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
        (etc / "selinux").mkdir(exist_ok=True)
        (etc / "selinux/config").write_text("SELINUX=enforcing\nSELINUXTYPE=targeted\n")
        (self.root / "console").write_text("")

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
