"""A sandbox in which Debian's real cloud-init boots a NoCloud seed, then systemd runs what it queued."""

import subprocess
from pathlib import Path

import yaml

from tests.support.rehearsal import run_first_boot
from tests.support.sandbox import Sandbox

UNIT_WANTS = "/etc/systemd/system/multi-user.target.wants/k8s-firstboot.service"
STAGES = (["init"], ["modules", "--mode", "config"], ["modules", "--mode", "final"])
# cloud-init's own bookkeeping, which changes on every run by design
CLOUD_INIT_STATE = ("/var/lib/cloud/", "/run/cloud-init/", "/var/log/")

# the modules a RHEL cloud image runs, cut down to the ones the rehearsal is about, in the image's order
CLOUD_CFG = {
    "datasource_list": ["NoCloud"],
    "system_info": {"distro": "rhel"},
    "cloud_init_modules": ["bootcmd", "write_files"],  # bootcmd first, as in config/cloud.cfg.tmpl (22.4 and today)
    "cloud_config_modules": ["runcmd"],
    "cloud_final_modules": ["write_files_deferred", "scripts_user"],
}


class CloudSandbox(Sandbox):
    """A Sandbox whose /etc/cloud and NoCloud seed make cloud-init read the given user-data."""

    def __init__(self, base: Path, user_data: bytes, hostname: str, os_key: str = "rocky-9"):
        super().__init__(base, os_key=os_key)
        (self.root / "etc/cloud/cloud.cfg.d").mkdir(parents=True)
        (self.root / "etc/cloud/cloud.cfg").write_text(yaml.safe_dump(CLOUD_CFG, sort_keys=False))
        seed = self.root / "var/lib/cloud/seed/nocloud"
        seed.mkdir(parents=True)
        (seed / "user-data").write_bytes(user_data)
        (seed / "meta-data").write_text(yaml.safe_dump({"instance-id": f"iid-{hostname}", "local-hostname": hostname}))
        self.output = ""

    def cloud_init(self, *argv: str) -> subprocess.CompletedProcess:
        result = self.run(["cloud-init", *argv], timeout=300)
        self.output += result.stdout + result.stderr
        assert result.returncode == 0, f"cloud-init {' '.join(argv)}:\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def boot(self, stages=STAGES) -> None:
        """A boot: cloud-init's stages, then what systemd starts: the first-boot unit when it is enabled (from
        multi-user.target) or was queued by `systemctl start --no-block` during this boot."""
        before = len(self.calls())
        for stage in stages:
            self.cloud_init(*stage)
        self.systemd_starts_units(before)

    def systemd_starts_units(self, calls_before_boot: int = 0) -> None:
        queued = "systemctl start --no-block k8s-firstboot.service" in self.command_lines()[calls_before_boot:]
        if queued or self.file(UNIT_WANTS).exists():
            self.unit_result = run_first_boot(self)

    def state(self) -> dict:
        return {p: v for p, v in self.snapshot().items() if not p.startswith(CLOUD_INIT_STATE)}
