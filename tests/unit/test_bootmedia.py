"""Boot media (issue 12): the NoCloud `cidata` seed and the `OEMDRV` Kickstart ISO.

Read back three ways: pycdlib (volume label, names, bytes), xorriso where installed (list and extract), and the
real cloud-init (Debian's, under /usr/bin/python3) reading an extracted seed with its own NoCloud code.
"""

import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pycdlib
import pytest

from generator import bootmedia
from generator.kickstart import render_kickstart
from generator.pipeline import node_from_profile
from tests.support.common import need
from tests.support.trees import DISK_PROFILE

USER_DATA = b"#cloud-config\nhostname: w1\nruncmd:\n  - [echo, hello]\n"
NETWORK_CONFIG = textwrap.dedent("""\
    version: 2
    ethernets:
      nic0:
        match:
          macaddress: "52:54:00:12:34:56"
        set-name: nic0
        addresses: [192.168.122.21/24]
        routes:
          - to: default
            via: 192.168.122.1
        nameservers:
          addresses: [192.168.122.1]
    """).encode()
SYSTEM_PYTHON = "/usr/bin/python3"
CLOUD_INIT = "/usr/lib/python3/dist-packages/cloudinit"


def seed(hostname="w1.lab.example", instance_id="w1-1", network_config=NETWORK_CONFIG, **kwargs) -> bytes:
    return bootmedia.cidata_iso(USER_DATA, bootmedia.meta_data(hostname, instance_id).encode(), network_config,
                                **kwargs)


def read_back(iso_bytes: bytes) -> tuple[str, dict[str, bytes], dict[str, bytes]]:
    """Volume label, then {Rock Ridge name: bytes} and {Joliet name: bytes} of the root's files."""
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(iso_bytes))
    label = iso.pvd.volume_identifier.decode().rstrip()
    rock_ridge, joliet = {}, {}
    for record in iso.list_children(iso_path="/"):
        if record.is_dir():
            continue
        name = record.rock_ridge.name().decode()
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, rr_path="/" + name)
        rock_ridge[name] = out.getvalue()
    for record in iso.list_children(joliet_path="/"):
        if record.is_dir():
            continue
        name = record.file_identifier().decode("utf-16_be")
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, joliet_path="/" + name)
        joliet[name] = out.getvalue()
    iso.close()
    return label, rock_ridge, joliet


def extract(iso_bytes: bytes, folder: Path) -> Path:
    """Every root file, by its Rock Ridge name (as Linux mounts it), into folder."""
    folder.mkdir(parents=True, exist_ok=True)
    _, files, _ = read_back(iso_bytes)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


# --- reproducible ---------------------------------------------------------------------------------------------

def test_same_input_gives_the_same_bytes_whatever_the_clock_and_zone():
    first = seed()
    second = subprocess.run(  # another process, another time zone, a later clock
        [sys.executable, "-c", "import sys; from generator import bootmedia as b; "
         "sys.stdout.buffer.write(b.cidata_iso(*[bytes.fromhex(a) for a in sys.argv[1:4]]))",
         USER_DATA.hex(), bootmedia.meta_data("w1.lab.example", "w1-1").encode().hex(), NETWORK_CONFIG.hex()],
        capture_output=True, check=True, env={**os.environ, "TZ": "Pacific/Kiritimati"},
        cwd=Path(bootmedia.__file__).parent.parent).stdout
    assert first == second
    assert bootmedia.oemdrv_iso(b"text\n") == bootmedia.oemdrv_iso(b"text\n")


def test_other_input_or_timestamp_gives_other_bytes():
    assert seed() != seed(hostname="w2.lab.example")
    assert seed() != seed(timestamp=bootmedia.DEFAULT_TIMESTAMP + 1)
    assert bootmedia.oemdrv_iso(b"a") != bootmedia.oemdrv_iso(b"b")


def test_timestamp_from_environment():
    assert bootmedia.timestamp_from_environment({}) == bootmedia.DEFAULT_TIMESTAMP
    assert bootmedia.timestamp_from_environment({"SOURCE_DATE_EPOCH": "1700000000"}) == 1700000000
    with pytest.raises(ValueError, match="SOURCE_DATE_EPOCH"):
        bootmedia.timestamp_from_environment({"SOURCE_DATE_EPOCH": "yesterday"})


def test_the_clock_of_pycdlib_is_restored():
    import pycdlib.headervd
    import time
    bootmedia.oemdrv_iso(b"x")
    assert pycdlib.headervd.time is time


# --- read back by pycdlib -------------------------------------------------------------------------------------

def test_cidata_reads_back():
    meta = bootmedia.meta_data("w1.lab.example", "w1-1").encode()
    label, rock_ridge, joliet = read_back(bootmedia.cidata_iso(USER_DATA, meta, NETWORK_CONFIG))
    assert label == "cidata"
    expected = {"user-data": USER_DATA, "meta-data": meta, "network-config": NETWORK_CONFIG}
    assert rock_ridge == expected
    assert joliet == expected


def test_cidata_without_network_config_has_no_such_file():
    _, rock_ridge, _ = read_back(seed(network_config=None))
    assert sorted(rock_ridge) == ["meta-data", "user-data"]


def test_oemdrv_reads_back():
    kickstart = b"text\nreboot\n" * 1000  # several blocks
    label, rock_ridge, joliet = read_back(bootmedia.oemdrv_iso(kickstart))
    assert label == "OEMDRV"
    assert rock_ridge == joliet == {"ks.cfg": kickstart}


@pytest.mark.parametrize("hostname", ["Bad_Host", "a b", "-x", "x" * 64, "", "w1\ninstance-id: evil"])
def test_meta_data_refuses_a_bad_hostname(hostname):
    with pytest.raises(ValueError, match="hostname"):
        bootmedia.meta_data(hostname, "i-1")


@pytest.mark.parametrize("instance_id", ["", "a b", "i\n- x", "x" * 200])
def test_meta_data_refuses_a_bad_instance_id(instance_id):
    with pytest.raises(ValueError, match="instance-id"):
        bootmedia.meta_data("w1", instance_id)


# --- libblkid: the label udev and cloud-init see --------------------------------------------------------------

def blkid(image: Path) -> dict[str, str]:
    result = subprocess.run(["blkid", "-p", "-o", "export", str(image)], capture_output=True, text=True, check=True)
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


def test_blkid_sees_the_labels_cloud_init_and_anaconda_look_for(tmp_path):
    """cloud-init's NoCloud keeps devices of TYPE iso9660 (or vfat) whose LABEL is cidata or CIDATA
    (DataSourceNoCloud._get_devices at 22.4 and 26.2); Anaconda's dracut hook waits for LABEL=OEMDRV exactly
    (dracut/kickstart-genrules.sh). Both ask libblkid, which may take a Joliet volume's label from its own
    descriptor: the one it reports is what counts."""
    need(shutil.which("blkid") is not None, "blkid is not installed (util-linux)")
    (tmp_path / "seed.iso").write_bytes(seed())
    (tmp_path / "oemdrv.iso").write_bytes(bootmedia.oemdrv_iso(b"text\n"))
    seed_tags, oemdrv_tags = blkid(tmp_path / "seed.iso"), blkid(tmp_path / "oemdrv.iso")
    assert seed_tags["TYPE"] == oemdrv_tags["TYPE"] == "iso9660"
    assert seed_tags["LABEL"] in ("cidata", "CIDATA")
    assert oemdrv_tags["LABEL"] == "OEMDRV"


# --- xorriso --------------------------------------------------------------------------------------------------

def test_xorriso_lists_and_extracts(tmp_path):
    need(shutil.which("xorriso") is not None, "xorriso is not installed")
    image = tmp_path / "seed.iso"
    image.write_bytes(seed())
    listing = subprocess.run(["xorriso", "-indev", str(image), "-pvd_info", "-ls", "/"],
                             capture_output=True, text=True, check=True)
    assert "Volume Id    : cidata" in listing.stdout
    assert {"'user-data'", "'meta-data'", "'network-config'"} <= set(listing.stdout.split())
    out = tmp_path / "x"
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", str(image), "-extract", "/", str(out)],
                   capture_output=True, check=True)
    assert (out / "user-data").read_bytes() == USER_DATA
    assert (out / "network-config").read_bytes() == NETWORK_CONFIG
    assert (out / "meta-data").read_bytes() == bootmedia.meta_data("w1.lab.example", "w1-1").encode()


def test_xorriso_reads_the_oemdrv_kickstart(tmp_path):
    need(shutil.which("xorriso") is not None, "xorriso is not installed")
    image = tmp_path / "oemdrv.iso"
    image.write_bytes(bootmedia.oemdrv_iso(b"text\nreboot\n"))
    out = tmp_path / "x"
    listing = subprocess.run(["xorriso", "-indev", str(image), "-pvd_info", "-osirrox", "on",
                              "-extract", "/", str(out)], capture_output=True, text=True, check=True)
    assert "Volume Id    : OEMDRV" in listing.stdout
    assert sorted(p.name for p in out.iterdir()) == ["ks.cfg"]
    assert (out / "ks.cfg").read_bytes() == b"text\nreboot\n"


# --- the real cloud-init --------------------------------------------------------------------------------------

# Runs under Debian's python with Debian's cloud-init: its NoCloud datasource reads the seed folder
# <cloud_dir>/seed/nocloud (the same reader it uses on a mounted cidata volume); no device scan (fs_label None)
CLOUD_INIT_READER = """
import json, sys
from cloudinit import distros, helpers
from cloudinit.sources import DataSourceNoCloud
paths = helpers.Paths({"cloud_dir": sys.argv[1], "run_dir": sys.argv[1] + "/run"})
distro = distros.fetch("debian")("debian", {}, paths)
ds = DataSourceNoCloud.DataSourceNoCloud({"datasource": {"NoCloud": {"fs_label": None}}}, distro, paths)
found = ds.get_data()
print(json.dumps({"found": found, "seed": ds.seed, "instance_id": ds.get_instance_id(),
                  "local_hostname": ds.metadata.get("local-hostname"),
                  "user_data": ds.get_userdata_raw().decode(), "network_config": ds.network_config}))
"""


def cloud_init_reads(tmp_path: Path, iso_bytes: bytes) -> dict:
    need(Path(SYSTEM_PYTHON).exists() and Path(CLOUD_INIT).is_dir(), "Debian's cloud-init is not installed")
    seed_dir = extract(iso_bytes, tmp_path / "cloud" / "seed" / "nocloud")
    result = subprocess.run([SYSTEM_PYTHON, "-c", CLOUD_INIT_READER, str(tmp_path / "cloud")],
                            capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["found"] is True and data["seed"] == str(seed_dir)
    return data


def test_cloud_init_reads_the_seed(tmp_path):
    data = cloud_init_reads(tmp_path, seed())
    assert data["user_data"] == USER_DATA.decode()
    assert data["instance_id"] == "w1-1"
    assert data["local_hostname"] == "w1.lab.example"
    nic = data["network_config"]["ethernets"]["nic0"]
    assert data["network_config"]["version"] == 2
    assert nic["match"]["macaddress"] == "52:54:00:12:34:56"
    assert nic["addresses"] == ["192.168.122.21/24"]


def test_cloud_init_reads_a_seed_without_network_config(tmp_path):
    data = cloud_init_reads(tmp_path, seed(network_config=None))
    assert data["network_config"] is None
    assert data["instance_id"] == "w1-1"


# --- does the Kickstart's disk selection leave the OEMDRV stick alone? ----------------------------------------

def rendered_kickstart(tmp_path: Path, disk: str = "") -> str:
    profile = tmp_path / "w.yaml"
    profile.write_text(DISK_PROFILE.format(disk=f", disk: {json.dumps(disk)}" if disk else ""))
    return render_kickstart(node_from_profile(profile, tmp_path / "secrets"))


def test_the_templates_pre_leaves_oemdrv_alone(tmp_path):
    ks = rendered_kickstart(tmp_path)
    assert "%include" in ks  # the %pre picks the disk
    assert bootmedia.oemdrv_disk_warnings(ks) == []


def test_a_disk_by_id_is_not_warned(tmp_path):
    ks = rendered_kickstart(tmp_path, "/dev/disk/by-id/nvme-SAMSUNG_MZVL21T0HCLR-00B00_S676NF0R123456")
    assert "ignoredisk --only-use=/dev/disk/by-id/" in ks
    assert bootmedia.oemdrv_disk_warnings(ks) == []


def test_a_kernel_name_the_stick_can_take_is_warned(tmp_path):
    ks = rendered_kickstart(tmp_path, "sda")
    warnings = bootmedia.oemdrv_disk_warnings(ks)
    lines = ks.splitlines()
    assert warnings and all("'sda'" in message and "by-id" in message for _, message in warnings)
    assert {lines[line - 1].split()[0] for line, _ in warnings} == {"ignoredisk", "clearpart"}


def test_nvme_is_not_a_name_a_usb_stick_takes(tmp_path):
    assert bootmedia.oemdrv_disk_warnings(rendered_kickstart(tmp_path, "nvme0n1")) == []


@pytest.mark.parametrize("ks, expected", [
    ("clearpart --all --initlabel\nautopart\n", "names no disk"),
    ("ignoredisk --only-use vdb\nclearpart --all\n", "'vdb'"),
    ("clearpart --all --drives=sdb,nvme0n1\n", "'sdb'"),
    ("%include /tmp/disks\n%pre\necho sda > /tmp/disks\n%end\n", "%include"),
])
def test_hand_written_kickstarts(ks, expected):
    [(line, message)] = bootmedia.oemdrv_disk_warnings(ks)
    assert expected in message
    assert line == 1


def test_a_kickstart_that_erases_nothing_is_not_warned():
    assert bootmedia.oemdrv_disk_warnings("text\nautopart\nreboot\n") == []
    # a clearpart inside %post is shell, not a Kickstart command
    assert bootmedia.oemdrv_disk_warnings("ignoredisk --only-use=nvme0n1\n%post\nclearpart --all\n%end\n") == []


def _mkksiso_parsers():
    """mkksiso's command lines as weldr/lorax parses them (src/sbin/mkksiso of rhel8-branch and lorax-34.9.9-1:
    the Kickstart only positional; src/pylorax/cmdline/mkksiso.py of lorax 37.8 on: `--ks` or positional).
    Only the arguments the README uses are modelled; argparse refuses any other option, as mkksiso's does."""
    import argparse
    old = argparse.ArgumentParser(prog="mkksiso", exit_on_error=False)
    for name in ("ks", "input_iso", "output_iso"):
        old.add_argument(name)
    new = argparse.ArgumentParser(prog="mkksiso", exit_on_error=False)
    new.add_argument("--ks")
    for name, nargs in (("ks_pos", "?"), ("input_iso", None), ("output_iso", None)):
        new.add_argument(name, nargs=nargs)
    return {"lorax 28 (EL8), 34.9.9 (EL9.0)": old, "lorax 37.8+": new}


def test_the_readmes_mkksiso_commands_run_on_every_el_mkksiso(capsys):
    import re
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    commands = re.findall(r"`(mkksiso [^`]+)`", readme)
    assert commands, "the README names mkksiso"
    for command in commands:
        for release, parser in _mkksiso_parsers().items():
            try:
                args = parser.parse_args(command.split()[1:])
            except (SystemExit, Exception) as exc:  # argparse exits on an unknown option even with exit_on_error off
                pytest.fail(f"{command!r}: refused by the mkksiso of {release}: {exc} {capsys.readouterr().err}")
            kickstart = getattr(args, "ks", None) or getattr(args, "ks_pos", None)
            assert kickstart and kickstart.endswith(".ks"), (command, release)
