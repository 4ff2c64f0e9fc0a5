"""Boot media for one node, in pure Python: a NoCloud `cidata` seed ISO and an Anaconda `OEMDRV` ISO.

Both are byte-for-byte reproducible: every timestamp in them is the `timestamp` argument (UTC), never the
clock, so the same input gives the same bytes. The default is a fixed instant; a caller that follows the
reproducible-builds convention passes `timestamp_from_environment()` (SOURCE_DATE_EPOCH). Nothing here reads
the environment or the clock by itself.

Sources for the layouts:
- NoCloud: cloud-init's DataSourceNoCloud looks for a vfat or iso9660 filesystem labelled `cidata` (either
  case; `fs_label` in its datasource config) and reads `user-data` and `meta-data` (both required),
  `vendor-data` and `network-config` (optional) from its root (canonical/cloud-init,
  cloudinit/sources/DataSourceNoCloud.py, and doc/rtd/topics/datasources/nocloud.rst). canonical/cloud-utils'
  cloud-localds makes the same seed with `genisoimage -volid cidata -joliet -rock`.
- OEMDRV: with no `inst.ks=` on the command line, Anaconda's dracut hook waits for a disk labelled `OEMDRV` and
  fetches `/ks.cfg` from it (rhinstaller/anaconda, dracut/kickstart-genrules.sh; since anaconda 23.17/24.2,
  commit 21ebce0f9e, 2015: every RHEL 8-10 and current Fedora installer).
- Both labels are read by libblkid (udev's /dev/disk/by-label, cloud-init's `blkid -tLABEL=`), which takes
  the label of an iso9660 volume with Joliet from the primary volume descriptor here: `cidata`, `OEMDRV`.
"""

from __future__ import annotations

import calendar
import contextlib
import io
import re
import shlex
import threading
import time
from collections.abc import Iterator, Mapping

import yaml

CIDATA_LABEL = "cidata"
OEMDRV_LABEL = "OEMDRV"

# 2000-01-01T00:00:00Z: a fixed, documented instant (not 0: a zero volume date means "not specified" in
# ISO 9660, and would mix with 1970 dates in the directory records)
DEFAULT_TIMESTAMP = calendar.timegm((2000, 1, 1, 0, 0, 0))

# ISO 9660 (level 3) name, Joliet name, Rock Ridge name: the plain ISO 9660 alphabet has no '-' nor lower case;
# Linux and cloud-init read the Rock Ridge name, Windows and others the Joliet one
_CIDATA_FILES = {
    "user-data": "/USER_DATA.;1",
    "meta-data": "/META_DATA.;1",
    "network-config": "/NETWORK_CONFIG.;1",
}
_KICKSTART_FILE = ("ks.cfg", "/KS.CFG;1")

_HOSTNAME = re.compile(r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")
_INSTANCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def timestamp_from_environment(environ: Mapping[str, str]) -> int:
    """SOURCE_DATE_EPOCH (reproducible-builds.org) when set, else DEFAULT_TIMESTAMP."""
    value = environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return DEFAULT_TIMESTAMP
    if not value.isdigit():
        raise ValueError(f"SOURCE_DATE_EPOCH: {value!r} is not a whole number of seconds since 1970")
    return int(value)


def meta_data(hostname: str, instance_id: str) -> str:
    """NoCloud meta-data: a YAML mapping with instance-id and local-hostname.

    cloud-init runs its once-per-instance modules again when instance-id changes, so it must be stable per
    node install (and change when the node is reinstalled from scratch, if that is wanted).
    """
    if not _HOSTNAME.fullmatch(hostname):
        raise ValueError(f"hostname {hostname!r}: lower-case letters, digits, '-' and '.' (RFC 1123) only")
    if not _INSTANCE_ID.fullmatch(instance_id):
        raise ValueError(f"instance-id {instance_id!r}: letters, digits and . _ : - only, at most 128")
    return yaml.safe_dump({"instance-id": instance_id, "local-hostname": hostname},
                          sort_keys=False, default_flow_style=False)


def cidata_iso(user_data: bytes, meta_data: bytes, network_config: bytes | None = None, *,
               timestamp: int = DEFAULT_TIMESTAMP) -> bytes:
    """A NoCloud seed: volume `cidata` with user-data, meta-data and (when given) network-config."""
    files = {"user-data": user_data, "meta-data": meta_data}
    if network_config is not None:
        files["network-config"] = network_config
    return _iso(CIDATA_LABEL, [(name, _CIDATA_FILES[name], data) for name, data in files.items()], timestamp)


def oemdrv_iso(kickstart: bytes, *, timestamp: int = DEFAULT_TIMESTAMP) -> bytes:
    """A volume `OEMDRV` holding `ks.cfg`, which Anaconda loads when no inst.ks= is given."""
    name, iso_path = _KICKSTART_FILE
    return _iso(OEMDRV_LABEL, [(name, iso_path, kickstart)], timestamp)


def _iso(label: str, files: list[tuple[str, str, bytes]], timestamp: int) -> bytes:
    if timestamp < 0:
        raise ValueError(f"timestamp {timestamp}: must not be before 1970")
    import pycdlib  # here: only --media needs it, and importing it costs every gen build ~15 ms

    with _fixed_clock(timestamp):
        iso = pycdlib.PyCdlib()
        iso.new(interchange_level=3, vol_ident=label, joliet=3, rock_ridge="1.09")
        for name, iso_path, data in files:
            iso.add_fp(io.BytesIO(data), len(data), iso_path, rr_name=name, joliet_path="/" + name)
        out = io.BytesIO()
        iso.write_fp(out)
        iso.close()
    return out.getvalue()


class _Clock:
    """Stands in for the `time` module inside pycdlib: its now is `timestamp`, its local zone is UTC."""

    def __init__(self, timestamp: int):
        self._timestamp = float(timestamp)

    def time(self) -> float:
        return self._timestamp

    def localtime(self, seconds: float | None = None) -> time.struct_time:
        return time.gmtime(self._timestamp if seconds is None else seconds)

    def __getattr__(self, name: str):
        return getattr(time, name)


# pycdlib takes every date from time.time() and stores it in local time with the zone's offset; it has no
# option for either, so for the length of one build its modules see a clock fixed at `timestamp`, in UTC.
# The lock keeps two builds in threads from swapping clocks under each other.
_CLOCK_LOCK = threading.Lock()


@contextlib.contextmanager
def _fixed_clock(timestamp: int) -> Iterator[None]:
    from pycdlib import dates, headervd, inplaceeditor, udf, utils
    from pycdlib import pycdlib as core
    modules = [core, dates, headervd, inplaceeditor, udf, utils]
    with _CLOCK_LOCK:
        saved = [module.time for module in modules]
        clock = _Clock(timestamp)
        for module in modules:
            module.time = clock
        try:
            yield
        finally:
            for module, original in zip(modules, saved):
                module.time = original


# Kernel names that a USB stick (usb-storage is a SCSI disk: sdX) or a second virtual disk can take: the kernel
# names disks in the order it finds them, so with the OEMDRV stick plugged in, "sda" may be the stick
_SHARED_KERNEL_NAME = re.compile(r"(/dev/)?(sd|vd|xvd|hd)[a-z]+")


def oemdrv_disk_warnings(kickstart: str) -> list[tuple[int, str]]:
    """Where a Kickstart's disk selection could erase the OEMDRV stick it was read from: (line, message) pairs.

    - `clearpart` with no disk named (no `ignoredisk --only-use`, no `--drives`) erases every disk it may;
    - a disk named by a kernel name the stick can take (sda, vdb...): name it by /dev/disk/by-id or by-path;
    - disk commands that come from `%include`: fine when a %pre writes them and looks for OEMDRV (this
      project's template does: it skips removable, read-only and OEMDRV disks), unknown otherwise.
    Anaconda also adds disks labelled OEMDRV to its ignored disks at start-up (rhinstaller/anaconda, anaconda.py
    -> pyanaconda/ui/lib/storage.py ignore_oemdrv_disks; since anaconda 26.21.9, commit 6871330240, 2017, so
    in every RHEL 8-10 and current Fedora installer), but only a whole disk with that label (disks_only): a
    stick whose OEMDRV volume is a partition is not ignored, and what a Kickstart that names the stick in
    `ignoredisk --only-use` then does was not checked. So the warnings stand on their own.
    """
    commands, includes, pre_checks_oemdrv = _disk_commands(kickstart)
    warnings = []
    named: list[tuple[int, str]] = []
    clearpart_lines = []
    for line, argv in commands:
        options = _options(argv[1:])
        if argv[0] == "ignoredisk" and "--only-use" in options:
            named += [(line, disk) for disk in options["--only-use"].split(",") if disk]
        elif argv[0] == "clearpart":
            clearpart_lines.append(line)
            named += [(line, disk) for disk in options.get("--drives", "").split(",") if disk]
    if clearpart_lines and not named:
        warnings.append((clearpart_lines[0], "clearpart names no disk and there is no `ignoredisk --only-use`: "
                         "every disk the installer sees may be erased, an OEMDRV stick included; set os.disk"))
    for line, disk in named:
        if _SHARED_KERNEL_NAME.fullmatch(disk):
            warnings.append((line, f"disk {disk!r} is a kernel name, given in the order disks are found: with the "
                             "OEMDRV stick plugged in it can be the stick; name the disk by /dev/disk/by-id/... or "
                             "/dev/disk/by-path/..."))
    if includes and not commands and not pre_checks_oemdrv:
        warnings.append((includes[0], "the disk selection comes from %include and no %pre looks for OEMDRV: "
                         "check by hand that it leaves the OEMDRV stick alone"))
    return warnings


def _disk_commands(kickstart: str) -> tuple[list[tuple[int, list[str]]], list[int], bool]:
    """ignoredisk/clearpart commands outside sections, %include lines, and whether a %pre mentions OEMDRV."""
    commands, includes, section, pre_checks_oemdrv = [], [], None, False
    for number, text in enumerate(kickstart.splitlines(), start=1):
        stripped = text.strip()
        if section:
            if stripped == "%end":
                section = None
            elif section == "%pre" and "OEMDRV" in stripped and not stripped.startswith("#"):
                pre_checks_oemdrv = True
            continue
        if stripped.startswith("%include"):
            includes.append(number)
        elif stripped.startswith("%"):
            section = stripped.split()[0]
        elif stripped.startswith(("ignoredisk", "clearpart")):
            try:
                argv = shlex.split(stripped, comments=True)
            except ValueError:
                argv = stripped.split()
            if argv and argv[0] in ("ignoredisk", "clearpart"):
                commands.append((number, argv))
    return commands, includes, pre_checks_oemdrv


def _options(args: list[str]) -> dict[str, str]:
    """--name=value and --name value forms alike; a flag maps to ''."""
    options, pending = {}, None
    for arg in args:
        if pending and not arg.startswith("--"):
            options[pending], pending = arg, None
        elif arg.startswith("--"):
            name, sep, value = arg.partition("=")
            options[name] = value
            pending = None if sep else name
    return options
