"""The PXE tree for a fleet: per-MAC pxelinux, GRUB and iPXE files, a dnsmasq proxy-DHCP snippet and a README.

`pxe_tree(entries, proxy_subnet=...)` returns {relative path: text}; it writes nothing. Every value that reaches a
file is checked first (host names, MACs as six hex pairs, URLs and paths from a small alphabet with no spaces,
quotes, `$`, `;`, `&`, `|` or `#`), since each of these files is a little language of its own: GRUB and iPXE
expand `${...}`, iPXE chains commands with `&&`/`||`, and a space splits a kernel argument in all of them.

Where each form comes from (upstream sources):
- Kernel arguments: `inst.ks=`, `inst.repo=`, `inst.stage2=` (rhinstaller/anaconda docs/user-guide/boot-options.rst);
  `ip=<client-IP>:[<peer>]:<gateway-IP>:<netmask>:<client_hostname>:<interface>:{none|...}`, `nameserver=<IP>`
  and `BOOTIF=<MAC>` (dracutdevs/dracut man/dracut.cmdline.7.asc); the `01-` form of BOOTIF, as pxelinux's
  IPAPPEND 2 writes it, is stripped by dracut's network-legacy (modules.d/40network/net-lib.sh fix_bootif) and
  by NetworkManager's initrd generator of EL9+ (src/nm-initrd-generator/nmi-cmdline-reader.c). With both a
  static `ip=` naming an interface and BOOTIF, the generator makes two profiles: the static one bound to the
  interface name (autoconnect priority -100) and a DHCP "BOOTIF Connection" bound to the MAC (-200); the
  static one wins only if `interface` is the name the NIC has in the installer's initrd.
- pxelinux looks for `pxelinux.cfg/01-<mac, lower case, dashes>` (syslinux doc/pxelinux.txt).
- GRUB (rhboot/grub2, the grub of Fedora/RHEL 8-10) looks for `<dir>/grub.cfg-01-<mac, dashes>` by itself
  (grub-core/net/net.c grub_net_search_config_file, called by normal/main.c grub_try_normal_prefix), first in
  `fw_path`, the TFTP directory of the boot file (shim's, here the TFTP root), then in `$prefix`, which the
  distributions' grubx64.efi has built in as /EFI/<vendor> (grub2-mkimage -p in their grub.macros) and so
  is no folder of this tree. The fallback grub.cfg does the search by hand from `net_default_mac`
  (colon-separated, lower case: grub_net_hwaddr_to_str) with `regexp` and `configfile`, in
  `$config_directory`, the folder GRUB read the fallback from (normal/main.c read_config_file), for a GRUB
  that does not search (the efi_netfs stack of rhel-8-main, or feature_net_search_cfg=n on rhel-9);
  `linux`/`initrd` exist on EFI in every rhel-8/9/10 branch (loader/i386/efi/linux.c).
- shim fetches grubx64.efi (its DEFAULT_LOADER) by TFTP from the folder of its own boot file (rhboot/shim
  netboot.c), so shimx64.efi and grubx64.efi sit side by side at the TFTP root.
- iPXE: `${mac:hexhyp}` is the MAC with dashes; `kernel`, `initrd --name`, `boot`, `chain` (ipxe.org/cmd).
- dnsmasq: `dhcp-range=<addr>,proxy`, `pxe-service=[tag:<tag>,]<CSA>,<menu text>,<basename>`, `dhcp-match`,
  `tag-if`, `dhcp-host=<mac>,set:<tag>`, `dhcp-ignore=tag:!<tag>`, `enable-tftp`, `tftp-root`, `port=0`
  (dnsmasq(8) and src/option.c, src/rfc2131.c at v2.90). CSA names are matched without regard to case; since
  2.76 x86-64_EFI is client arch 7 and BC_EFI 9 (swapped before: commit 68bea10), so both get the same file.
  In proxy mode dnsmasq answers every PXE client, with an empty menu when no pxe-service matches, unless
  dhcp-ignore drops it (rfc2131.c dhcp_reply).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

_HOSTNAME = re.compile(r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")
_MAC = re.compile(r"[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}")
# no space, quote, $ ; & | # \ ` ( ) [ ] { } < > * !: each means something to GRUB, iPXE, pxelinux or a shell
_URL = re.compile(r"(https?|ftp)://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/?=%+,@:-]*)?")
_TFTP_PATH = re.compile(r"[A-Za-z0-9._+-]+(/[A-Za-z0-9._+-]+)*")
_SERVER_PATH = re.compile(r"/[A-Za-z0-9._+/-]*")
_INTERFACE = re.compile(r"[A-Za-z0-9_.-]{1,15}")  # Linux IFNAMSIZ is 16 with the NUL
_EXTRA_ARG = re.compile(r"[A-Za-z0-9._,:=/+-]+")

BIOS_BOOT_FILE = "pxelinux.0"
UEFI_BOOT_FILE = "shimx64.efi"
IPXE_BOOT_FILE = "boot.ipxe"
DNSMASQ_SNIPPET = "dnsmasq/k8s-firstboot-pxe.conf"


class PxeError(ValueError):
    """A value that cannot go into the PXE files; the message names the host and the field."""


@dataclass(frozen=True)
class StaticAddress:
    """A static IPv4 address for the installer (dracut's `ip=`); `interface` is the name the installer sees."""
    address: str
    prefix: int
    interface: str
    gateway: str | None = None
    nameservers: tuple[str, ...] = ()


@dataclass(frozen=True)
class BootEntry:
    """One machine to install. `kernel`/`initrd` are paths under the TFTP root (copied from the install
    tree's images/pxeboot/); `install_url` goes to `inst.repo=` (a full tree) or, with stage2_only, to
    `inst.stage2=` (the installer image only: the Kickstart's `url` names the packages)."""
    hostname: str
    mac: str
    kickstart_url: str
    install_url: str
    kernel: str
    initrd: str
    stage2_only: bool = False
    static: StaticAddress | None = None
    extra_args: tuple[str, ...] = field(default_factory=tuple)


def pxe_tree(entries: list[BootEntry], *, proxy_subnet: str, tftp_root: str) -> dict[str, str]:
    """{path relative to the tree: text} for every file of the PXE tree.

    proxy_subnet is the IPv4 network the machines boot on (its DHCP server stays in charge of addresses;
    dnsmasq answers only for PXE), tftp_root the absolute folder on the boot server that holds tftp/.
    A large build writes the same files in two parts: machine_files with each node, shared_files at the end.
    """
    check_settings(proxy_subnet, tftp_root)
    if not entries:
        raise PxeError("no machines to boot: the PXE tree needs at least one entry")
    checked = [checked_entry(entry) for entry in entries]
    _no_duplicates(checked)
    files = shared_files([entry.mac for entry in checked], {(e.kernel, e.initrd) for e in checked},
                         proxy_subnet=proxy_subnet, tftp_root=tftp_root)
    for entry in checked:
        files.update(machine_files(entry))
    return files


def check_settings(proxy_subnet: str, tftp_root: str) -> None:
    """The tree-wide settings: an IPv4 network, and an absolute path of a small alphabet."""
    _subnet(proxy_subnet)
    if not _SERVER_PATH.fullmatch(tftp_root) or "/../" in tftp_root + "/":
        raise PxeError(f"tftp_root {tftp_root!r}: an absolute path of letters, digits and . _ + - /")


def machine_files(entry: BootEntry) -> dict[str, str]:
    """The files of one machine (named by its MAC); `entry` as checked_entry returned it."""
    dashed = entry.mac.replace(":", "-")
    return {f"tftp/pxelinux.cfg/01-{dashed}": pxelinux_config(entry),
            f"tftp/grub.cfg-01-{dashed}": grub_config(entry),
            f"tftp/ipxe/{dashed}.ipxe": ipxe_script(entry)}


def shared_files(macs: list[str], kernels: set[tuple[str, str]], *, proxy_subnet: str,
                 tftp_root: str) -> dict[str, str]:
    """The files of the whole tree: the fallbacks that pick a machine's file, dnsmasq's snippet and the README.
    macs: the machines' (checked, in build order); kernels: their (kernel, initrd) paths."""
    return {
        "tftp/grub.cfg": grub_fallback(),
        f"tftp/{IPXE_BOOT_FILE}": ipxe_dispatch(),
        DNSMASQ_SNIPPET: dnsmasq_snippet(macs, _subnet(proxy_subnet), tftp_root),
        "README.txt": readme(len(macs), kernels, tftp_root),
    }


def kernel_args(entry: BootEntry) -> list[str]:
    """The installer's kernel command line (without the initrd), the same for pxelinux, GRUB and iPXE."""
    source = "inst.stage2" if entry.stage2_only else "inst.repo"
    args = [f"inst.ks={entry.kickstart_url}", f"{source}={entry.install_url}",
            # which NIC is the boot NIC when there are several: the one with this MAC
            f"BOOTIF=01-{entry.mac.replace(':', '-')}"]
    if entry.static:
        s = entry.static
        netmask = ipaddress.IPv4Network(f"0.0.0.0/{s.prefix}").netmask
        # dracut: <client-IP>:[<peer>]:<gateway-IP>:<netmask>:<client_hostname>:<interface>:none
        args.append(f"ip={s.address}::{s.gateway or ''}:{netmask}:{entry.hostname}:{s.interface}:none")
        args += [f"nameserver={server}" for server in s.nameservers]
    return args + list(entry.extra_args)


def pxelinux_config(entry: BootEntry) -> str:
    return "\n".join([
        f"# k8s-firstboot: install {entry.hostname} ({entry.mac}); generated, build it again instead of editing",
        "DEFAULT install",
        "PROMPT 0",
        "LABEL install",
        f"  KERNEL {entry.kernel}",
        f"  APPEND initrd={entry.initrd} {' '.join(kernel_args(entry))}",
        "",
    ])


def grub_config(entry: BootEntry) -> str:
    # every argument single-quoted: GRUB expands $ and wildcards in bare words, never inside '...'
    quoted = " ".join(f"'{arg}'" for arg in kernel_args(entry))
    return "\n".join([
        f"# k8s-firstboot: install {entry.hostname} ({entry.mac}); generated, build it again instead of editing",
        "set default=0",
        "set timeout=3",
        f"menuentry 'Install {entry.hostname}' {{",
        f"  linux /{entry.kernel} {quoted}",
        f"  initrd /{entry.initrd}",
        "}",
        "",
    ])


def grub_fallback() -> str:
    """Loads this machine's own grub.cfg-01-<mac>; a machine without one goes back to the firmware."""
    pairs = ":".join(["([0-9a-f][0-9a-f])"] * 6)
    sets = " ".join(f"--set={n}:m{n}" for n in range(1, 7))
    return "\n".join([
        "# k8s-firstboot: GRUB of the UEFI machines (shim -> grubx64.efi) reads this when it did not find",
        "# grub.cfg-01-<mac> by itself: load the file named by this machine's MAC (net_default_mac, aa:bb:...).",
        "insmod regexp",
        f"if regexp {sets} '^{pairs}$' \"$net_default_mac\"; then",
        # next to this file: $prefix is the folder built into grubx64.efi (/EFI/<vendor>), not this tree's
        '  configfile "$config_directory/grub.cfg-01-$m1-$m2-$m3-$m4-$m5-$m6"',
        "fi",
        "# no file for this MAC: not a machine of the fleet; boot the next entry of the firmware's boot order",
        'echo "k8s-firstboot: nothing to install for $net_default_mac"',
        "exit",
        "",
    ])


def ipxe_script(entry: BootEntry) -> str:
    # the initrd named on the kernel command line: the EFI stub of older kernels loads it by that name
    return "\n".join([
        "#!ipxe",
        f"# k8s-firstboot: install {entry.hostname} ({entry.mac}); generated, build it again instead of editing",
        f"kernel /{entry.kernel} initrd=initrd.img {' '.join(kernel_args(entry))}",
        f"initrd --name initrd.img /{entry.initrd}",
        "boot",
        "",
    ])


def ipxe_dispatch() -> str:
    return "\n".join([
        "#!ipxe",
        "# k8s-firstboot: run this machine's own script, named by its MAC with dashes; none: back to the firmware",
        "chain --autofree ipxe/${mac:hexhyp}.ipxe || exit",
        "",
    ])


def dnsmasq_snippet(macs: list[str], network: ipaddress.IPv4Network, tftp_root: str) -> str:
    lines = [
        "# k8s-firstboot: proxy-DHCP and TFTP for the fleet's installs, for a dnsmasq of its own:",
        f"#   dnsmasq --conf-file={DNSMASQ_SNIPPET.split('/')[-1]}  (the network's DHCP server keeps handing out",
        "#   the addresses; this one only tells the fleet's machines what to boot). No DNS (port=0).",
        "port=0",
        f"dhcp-range={network.network_address},proxy,{network.netmask}",
        "enable-tftp",
        f"tftp-root={tftp_root}",
        "# only the fleet's MACs get an answer: any other machine boots as if this server were not there",
        "# (in proxy mode dnsmasq would otherwise answer every PXE client, with an empty menu)",
    ]
    lines += [f"dhcp-host={mac},set:k8s-fleet" for mac in macs]
    lines += [
        "dhcp-ignore=tag:!k8s-fleet",
        "# iPXE says who it is with DHCP option 175",
        "dhcp-match=set:ipxe,175",
        "tag-if=set:k8s-pxe,tag:k8s-fleet,tag:!ipxe",
        "tag-if=set:k8s-ipxe,tag:k8s-fleet,tag:ipxe",
        "# BIOS: pxelinux (dnsmasq adds the .0); UEFI: shim, which loads grubx64.efi (Secure Boot); iPXE: boot.ipxe",
        'pxe-service=tag:k8s-pxe,x86PC,"k8s-firstboot install (BIOS)",pxelinux',
        f'pxe-service=tag:k8s-pxe,X86-64_EFI,"k8s-firstboot install (UEFI)",{UEFI_BOOT_FILE}',
        f'pxe-service=tag:k8s-pxe,BC_EFI,"k8s-firstboot install (UEFI)",{UEFI_BOOT_FILE}',
        f'pxe-service=tag:k8s-ipxe,x86PC,"k8s-firstboot install (iPXE)",{IPXE_BOOT_FILE}',
        f'pxe-service=tag:k8s-ipxe,X86-64_EFI,"k8s-firstboot install (iPXE)",{IPXE_BOOT_FILE}',
        "",
    ]
    return "\n".join(lines)


def readme(machines: int, kernels: set[tuple[str, str]], tftp_root: str) -> str:
    copies = "\n".join(f"  tftp/{kernel}  <- images/pxeboot/vmlinuz of the install tree\n"
                       f"  tftp/{initrd}  <- images/pxeboot/initrd.img of the same tree"
                       for kernel, initrd in sorted(kernels))
    return f"""\
k8s-firstboot PXE tree ({machines} machine(s))

Serve tftp/ by TFTP from {tftp_root} and run dnsmasq with {DNSMASQ_SNIPPET}; serve each
Kickstart at the URL its inst.ks= names. Generated files (build again instead of editing):
  tftp/pxelinux.cfg/01-<mac>   BIOS, pxelinux
  tftp/grub.cfg-01-<mac>       UEFI, GRUB (loaded by GRUB itself, or by tftp/grub.cfg)
  tftp/grub.cfg                UEFI fallback: picks grub.cfg-01-<mac> from net_default_mac
  tftp/ipxe/<mac>.ipxe         iPXE, chained from tftp/boot.ipxe by ${{mac:hexhyp}}
  {DNSMASQ_SNIPPET}  proxy-DHCP and TFTP

Copy in, from the install tree (the same release as the Kickstarts) and the boot server's packages:
{copies}
  tftp/shimx64.efi     <- EFI/BOOT/BOOTX64.EFI of the install tree (shim, signed for Secure Boot)
  tftp/grubx64.efi     <- EFI/BOOT/grubx64.efi of the same tree (the GRUB that shim trusts and loads)
  tftp/pxelinux.0      <- pxelinux.0 of syslinux (e.g. /usr/share/syslinux/ from syslinux-nonlinux)
  tftp/ldlinux.c32     <- ldlinux.c32 of the same syslinux (pxelinux.0 loads it first)
With Secure Boot the chain is firmware -> shim -> grubx64.efi -> the tree's signed kernel: take all three
from one release, never grubx64.efi from another distribution.

Reinstall loops: after the install the machine must boot its disk, not the network again.
  - UEFI: Anaconda adds the installed system to the firmware's boot order and puts it first
    (efibootmgr -c; unless inst.leavebootorder or bootloader --leavebootorder is given), so leave the
    network entry after it. Firmware that moves network boot back to the front needs the next option.
  - Any machine: leave the disk first in the boot order and start each install with a one-time network
    boot through the BMC (IPMI: chassis bootdev pxe, without options=persistent; Redfish:
    BootSourceOverrideEnabled=Once, BootSourceOverrideTarget=Pxe).
  - The Kickstarts end with `reboot`. This dnsmasq answers only the MACs of its dhcp-host lines: to be
    sure an installed machine is left alone, build the tree again without it. Removing only its files is
    not enough for BIOS machines: pxelinux finds no file for the MAC and no `default`, and reboots
    (syslinux doc/pxelinux.txt), so the machine loops; GRUB and iPXE go back to the firmware.
"""


def checked_entry(entry: BootEntry) -> BootEntry:
    """The entry with every value checked (PxeError naming the host and field) and its MAC in lower case with colons."""
    where = entry.hostname if isinstance(entry.hostname, str) else repr(entry.hostname)
    if not isinstance(entry.hostname, str) or not _HOSTNAME.fullmatch(entry.hostname):
        raise PxeError(f"{where}: hostname: lower-case letters, digits, '-' and '.' only (RFC 1123)")
    if not isinstance(entry.mac, str) or not _MAC.fullmatch(entry.mac):
        raise PxeError(f"{where}: mac {entry.mac!r}: six hex pairs separated by ':' or '-' (52:54:00:12:34:56)")
    for name in ("kickstart_url", "install_url"):
        value = getattr(entry, name)
        if not isinstance(value, str) or not _URL.fullmatch(value):
            raise PxeError(f"{where}: {name} {value!r}: an http, https or ftp URL of letters, digits and "
                           "-._~/?=%+,@: only (no spaces, quotes, $ ; & | #)")
    for name in ("kernel", "initrd"):
        value = getattr(entry, name)
        if not isinstance(value, str) or not _TFTP_PATH.fullmatch(value) or ".." in value.split("/"):
            raise PxeError(f"{where}: {name} {value!r}: a path under the TFTP root, without a leading / or .., "
                           "of letters, digits and . _ + -")
    for arg in entry.extra_args:
        if not isinstance(arg, str) or not _EXTRA_ARG.fullmatch(arg):
            raise PxeError(f"{where}: extra kernel argument {arg!r}: letters, digits and . _ , : = / + - only")
    if entry.static:
        _check_static(where, entry.static)
    return BootEntry(entry.hostname, entry.mac.lower().replace("-", ":"), entry.kickstart_url, entry.install_url,
                     entry.kernel, entry.initrd, entry.stage2_only, entry.static, tuple(entry.extra_args))


def _check_static(where: str, static: StaticAddress) -> None:
    if not isinstance(static.prefix, int) or not 1 <= static.prefix <= 32:
        raise PxeError(f"{where}: static.prefix {static.prefix!r}: a prefix length from 1 to 32")
    address = _ipv4(where, "static.address", static.address)
    if static.gateway is not None:
        gateway = _ipv4(where, "static.gateway", static.gateway)
        if gateway not in ipaddress.IPv4Network(f"{address}/{static.prefix}", strict=False):
            raise PxeError(f"{where}: static.gateway {gateway}: outside {address}/{static.prefix}")
    for server in static.nameservers:
        _ipv4(where, "static.nameservers", server)
    if not isinstance(static.interface, str) or not _INTERFACE.fullmatch(static.interface):
        raise PxeError(f"{where}: static.interface {static.interface!r}: an interface name of at most 15 "
                       "letters, digits and _ . -")


def _ipv4(where: str, name: str, value) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(value)
    except (ipaddress.AddressValueError, ValueError, TypeError):
        raise PxeError(f"{where}: {name} {value!r}: an IPv4 address (192.168.122.21)") from None


def _subnet(value: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value, strict=False)
    except (ipaddress.AddressValueError, ipaddress.NetmaskValueError, ValueError, TypeError):
        raise PxeError(f"proxy_subnet {value!r}: an IPv4 network such as 192.168.122.0/24") from None


def _no_duplicates(entries: list[BootEntry]) -> None:
    seen: dict[str, str] = {}
    for entry in entries:
        for key in (f"mac {entry.mac}", f"hostname {entry.hostname}"):
            if key in seen:
                raise PxeError(f"{entry.hostname}: {key} is also {seen[key]}'s")
            seen[key] = entry.hostname
