"""The Kickstart erases one disk only (issue 8, defect 15): os.disk, or the first disk the %pre finds.

The %pre runs in the sandbox against a made-up disk inventory (stand-in lsblk and blkid); its include is then
parsed by pykickstart together with the Kickstart, as Anaconda reads it after %pre.
"""

import pytest
from pykickstart.constants import KS_SCRIPT_PRE

from generator.kickstart import render_kickstart
from generator.pipeline import node_from_profile
from generator.verify import parse_kickstart, shellcheck_findings, shellcheck_tool
from tests.support.common import need, run_gen
from tests.support.sandbox import Sandbox, bwrap_available
from tests.support.trees import DISK_PROFILE

# lsblk -dn -o NAME,TYPE,RM,RO lines, the OEMDRV volume (blkid -L) and its parent disk (lsblk -ndo PKNAME)
MACHINES = {
    "USB stick with the Kickstart first, then the VM disk": ("sda disk 1 0\nsr0 rom 1 0\nvda disk 0 0\nvdb disk 0 0\n",
                                                              "/dev/sda1", "sda", "vda"),
    "OEMDRV on a fixed USB disk": ("sda disk 0 0\nsdb disk 0 0\n", "/dev/sda1", "sda", "sdb"),
    "OEMDRV on a whole disk": ("vda disk 0 0\nvdb disk 0 0\n", "/dev/vda", "", "vdb"),
    "zram swap of the installer and NVMe": ("zram0 disk 0 0\nnvme0n1 disk 0 0\nnvme1n1 disk 0 0\n", "", "", "nvme0n1"),
    "read-only disk first": ("sda disk 0 1\nsdb disk 0 0\n", "", "", "sdb"),
    "nothing to install on": ("sda disk 1 0\nsr0 rom 1 0\n", "/dev/sda1", "sda", None),
}
FAKE_LSBLK = """#!/bin/bash
if [[ $* == "-dn -o NAME,TYPE,RM,RO" ]]; then cat /opt/record/disks; exit; fi
if [[ $1 == -ndo && $2 == PKNAME ]]; then cat /opt/record/pkname; exit; fi
echo "fake lsblk: unexpected arguments: $*" >&2; exit 64
"""
FAKE_BLKID = """#!/bin/bash
[[ $* == "-L OEMDRV" && -s /opt/record/oemdrv ]] || exit 2
cat /opt/record/oemdrv
"""


def include_of(ks: str) -> str:
    """The file a Kickstart's %include reads (written by its %pre)."""
    return next((l.split()[1] for l in ks.splitlines() if l.startswith("%include ")), "")


def kickstart(write_profile, tmp_path, disk: str = "") -> tuple[str, str]:
    node = node_from_profile(write_profile("w.yaml", DISK_PROFILE.format(disk=f", disk: {disk}" if disk else "")),
                             tmp_path / "secrets")
    return render_kickstart(node), node.os.ks_handler


def run_pre(tmp_path, ks: str, handler: str, disks: str, oemdrv: str, pkname: str):
    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")
    [pre] = [s for s in parse_kickstart(ks, handler).handler.scripts if s.type == KS_SCRIPT_PRE]
    box = Sandbox(tmp_path / "box")
    for name, text in (("lsblk", FAKE_LSBLK), ("blkid", FAKE_BLKID)):
        tool = box.root / "usr/local/bin" / name
        tool.write_text(text)
        tool.chmod(0o755)
    for name, text in (("disks", disks), ("oemdrv", oemdrv and oemdrv + "\n"), ("pkname", pkname + "\n"),
                       ("pre", pre.script)):
        (box.record / name).write_text(text)
    # Anaconda runs %pre in the installer's environment; /tmp lives as long as this one call
    return box.run(["bash", "-c", f"{pre.interp} /opt/record/pre >/dev/null && cat {include_of(ks)}"])


@pytest.mark.parametrize("machine", MACHINES)
def test_the_first_disk_is_the_only_one_erased(tmp_path, write_profile, machine):
    disks, oemdrv, pkname, expected = MACHINES[machine]
    ks, handler = kickstart(write_profile, tmp_path)
    result = run_pre(tmp_path, ks, handler, disks, oemdrv, pkname)
    if expected is None:
        assert result.returncode != 0 and "set os.disk" in result.stderr
        return
    assert result.returncode == 0, result.stderr
    # what Anaconda parses once %pre wrote the include
    handler_data = parse_kickstart(ks.replace(f"%include {include_of(ks)}", result.stdout), handler).handler
    assert handler_data.ignoredisk.onlyuse == [expected]
    assert handler_data.clearpart.drives == [expected]


@pytest.mark.parametrize("disk,expected", [("vda", "vda"), ("/dev/nvme0n1", "nvme0n1"),
                                           ("/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4"),
                                           ("/dev/disk/by-path/pci-0000:00:1f.2-ata-1", "/dev/disk/by-path/pci-0000:00:1f.2-ata-1")])
def test_a_named_disk_is_the_only_one_erased(tmp_path, write_profile, disk, expected):
    ks, handler = kickstart(write_profile, tmp_path, disk)
    data = parse_kickstart(ks, handler).handler
    assert data.ignoredisk.onlyuse == [expected] and data.clearpart.drives == [expected]
    assert not [s for s in data.scripts if s.type == KS_SCRIPT_PRE]


def test_every_kickstart_limits_what_it_erases(tmp_path, write_profile):
    """clearpart --all with neither --drives nor ignoredisk wipes every attached disk."""
    ks, handler = kickstart(write_profile, tmp_path)
    data = parse_kickstart(ks, handler).handler
    assert data.ignoredisk.onlyuse or include_of(ks), "neither ignoredisk nor a %pre-written include"
    assert data.clearpart.type is None or data.clearpart.drives, "clearpart without --drives"
    pre = [s.script for s in data.scripts if s.type == KS_SCRIPT_PRE]
    if shellcheck_tool():
        assert [f for script in pre for f in shellcheck_findings(script, "%pre")] == []


def test_plan_says_which_disks_are_erased(tmp_path, write_profile):
    for disk, expected in (("", "the first disk found at install time"), ("sdb", "disk sdb only")):
        path = write_profile(f"{disk or 'first'}/w.yaml", DISK_PROFILE.format(disk=f", disk: {disk}" if disk else ""))
        result = run_gen("plan", str(path), "--secrets-dir", str(tmp_path / "secrets"))
        assert result.returncode == 0, result.stderr
        line = next(l for l in result.stdout.splitlines() if l.startswith("Kickstart install erases:"))
        assert expected in line and "every other disk is left alone" in line
