"""The PXE side of `gen build`: a pxe.BootEntry per node that can boot from the network, the one tree-wide
setting of the tree (proxy subnet, TFTP root), and a note naming what is missing when there is no tree.

A node gets PXE files when it has network.mac, pxe.http_url, pxe.proxy_subnet and an install tree
(os.install_url, or the distro's default). Its Kickstart is served from `<pxe.http_url>/ks/<name>.ks`, the
place `gen build` writes it under http/. A static node gets dracut's `ip=` only when network.device names its
interface: the installer knows no other name, and the PXE boot itself needed the network's DHCP server, so
without a name the installer takes its address from there and the Kickstart's `network` line (matched by MAC)
sets the static one for the installed system.
"""

from dataclasses import dataclass, field

from generator import ipv4
from generator.errors import Problem
from generator.fleet import FleetNode, where
from generator.model import Node
from generator.load import Document
from generator.pxe import BootEntry, PxeError, StaticAddress, check_settings, checked_entry, shared_files

# the field a PxeError message names -> the profile key that sets it
PROFILE_KEYS = {
    "hostname": ("hostname",), "mac": ("network", "mac"), "kickstart_url": ("pxe", "http_url"),
    "install_url": ("os", "install_url"), "kernel": ("pxe", "kernel"), "initrd": ("pxe", "initrd"),
    "extra kernel argument": ("pxe", "kernel_args"), "static.address": ("network", "address"),
    "static.gateway": ("network", "gateway"), "static.nameservers": ("network", "nameservers"),
    "static.interface": ("network", "device"), "static.prefix": ("network", "address"),
    "proxy_subnet": ("pxe", "proxy_subnet"), "tftp_root": ("pxe", "tftp_root"),
}
HTTP_FOLDER = "http"  # served at pxe.http_url
KICKSTART_FOLDER = f"{HTTP_FOLDER}/ks"


@dataclass(frozen=True)
class PxeFacts:
    """What the PXE plan needs of one node, found while it was checked: the keys it lacks for PXE files (none
    when it gets them) and the tree-wide settings and kernel paths it asks for."""
    missing: tuple[str, ...] = ()
    proxy_subnet: str = ""
    tftp_root: str = ""
    kernel: tuple[str, str] = ("", "")   # (kernel, initrd) under the TFTP root


@dataclass
class PxePlan:
    owners: dict[str, str] = field(default_factory=dict)  # MAC (lower case, colons) -> the node's build name
    kernels: set[tuple[str, str]] = field(default_factory=set)
    proxy_subnet: str = ""
    tftp_root: str = ""
    note: str = ""      # what keeps nodes from PXE files, or ""

    def shared_files(self) -> dict[str, str]:
        if not self.owners:
            return {}
        return shared_files(list(self.owners), self.kernels, proxy_subnet=self.proxy_subnet, tftp_root=self.tftp_root)


def kickstart_path(name: str) -> str:
    """Where a node's Kickstart lands in the build, relative to its top (name: its build name, with /)."""
    return f"{KICKSTART_FOLDER}/{name}.ks"


def _missing(node: Node) -> list[str]:
    if not node.network.mac:
        return ["network.mac"]
    pxe = node.pxe
    missing = [key for key, value in (("pxe.http_url", pxe and pxe.http_url),
                                      ("pxe.proxy_subnet", pxe and pxe.proxy_subnet)) if not value]
    return missing + ([] if node.os.install_url else ["os.install_url"])


def _installer_interface(node: Node) -> str | None:
    device = node.network.device
    return None if device in ("link", "bootif") or ":" in device else device


def boot_entry(node: Node, name: str) -> BootEntry:
    static = None
    interface = _installer_interface(node)
    if node.network.bootproto == "static" and node.network.address and interface:
        address = ipv4.interface(node.network.address)
        static = StaticAddress(address=str(address.ip), prefix=address.network.prefixlen, interface=interface,
                               gateway=node.network.gateway or None, nameservers=node.network.nameservers)
    return BootEntry(hostname=node.hostname, mac=node.network.mac,
                     kickstart_url=f"{node.pxe.http_url.rstrip('/')}/"  # where HTTP_FOLDER is served
                                   f"{kickstart_path(name).removeprefix(HTTP_FOLDER + '/')}",
                     install_url=node.os.install_url, kernel=node.pxe.kernel, initrd=node.pxe.initrd,
                     static=static, extra_args=node.pxe.kernel_args)


def pxe_problem(doc: Document, hostname: str, error: PxeError) -> Problem:
    """A PxeError ("<host>: <field> <value>: <what is wrong>") at the file and line of the key that set it."""
    message = str(error)
    prefix = f"{hostname}: "
    message = message[len(prefix):] if message.startswith(prefix) else message
    for name in sorted(PROFILE_KEYS, key=len, reverse=True):
        if message.startswith(name + " ") or message.startswith(name + ":"):
            path = PROFILE_KEYS[name]
            return doc.problem(path, message[len(name):].lstrip(" :"))
    return doc.problem(("pxe",), message)


def pxe_facts(doc: Document, node: Node, name: str) -> tuple[PxeFacts, BootEntry | None, list[Problem]]:
    """The node's PXE facts, its checked boot entry (for pxe.machine_files; None when it gets no PXE files), and
    its problems with PXE values (each checked alone, reported at its line)."""
    missing = _missing(node)
    if missing:
        return PxeFacts(tuple(missing)), None, []
    try:
        check_settings(node.pxe.proxy_subnet, node.pxe.tftp_root)
        entry = checked_entry(boot_entry(node, name))
    except PxeError as error:
        return PxeFacts(), None, [pxe_problem(doc, node.hostname, error)]
    return PxeFacts((), node.pxe.proxy_subnet, node.pxe.tftp_root, (node.pxe.kernel, node.pxe.initrd)), entry, []


def plan_pxe(members: list[tuple[FleetNode, str, PxeFacts | None]]) -> tuple[PxePlan, list[Problem]]:
    """The nodes that get PXE files (their facts passed pxe_facts; None: they did not), and the problems
    across them: one tree has one proxy subnet and one TFTP root, and boots each host name once."""
    plan, problems = PxePlan(), []
    lacking: dict[str, int] = {}
    first: FleetNode | None = None
    by_hostname: dict[str, FleetNode] = {}
    for member, name, facts in members:
        if facts is None:
            continue
        if facts.missing:
            for key in facts.missing:
                lacking[key] = lacking.get(key, 0) + 1
            continue
        if first is None:
            first, plan.proxy_subnet, plan.tftp_root = member, facts.proxy_subnet, facts.tftp_root
        for key, value, ours in (("proxy_subnet", facts.proxy_subnet, plan.proxy_subnet),
                                 ("tftp_root", facts.tftp_root, plan.tftp_root)):
            if value != ours:
                problems.append(member.doc.problem(("pxe", key), (
                    f"{value} differs from {first.hostname}'s {ours} ({where(first.doc, 'pxe', key)}): one build "
                    f"makes one PXE tree with one {key}; build these nodes into another folder")))
        other = by_hostname.setdefault(member.hostname, member)
        if other.cluster != member.cluster:  # (within one cluster, fleet_problems reports it)
            problems.append(member.doc.problem(("hostname",), (
                f"{member.hostname} is also the host name of a node of cluster {other.cluster} "
                f"({where(other.doc, 'hostname')}) "
                f"that this PXE tree boots on {plan.proxy_subnet}: the installer's ip= and DHCP would give both "
                f"one name; rename one, or build the clusters into separate folders")))
        plan.owners[member.mac] = name
        plan.kernels.add(facts.kernel)
    plan.note = _note(lacking, len(plan.owners), len(members))
    return plan, problems


def _note(lacking: dict[str, int], served: int, total: int) -> str:
    if not lacking:
        return ""
    parts = [f"{count} without {key}" for key, count in lacking.items()]
    where = "no PXE tree" if not served else f"PXE files for {served} of {total} nodes"
    return (f"{where}: {', '.join(parts)}; a node gets PXE files with network.mac, pxe.http_url and "
            f"pxe.proxy_subnet (README.md, PXE with dnsmasq)")
