"""Checks across the nodes of one build, and the per-node checks that need a node's own names and addresses.

Each of these mistakes renders without complaint node by node and costs an install cycle on real hardware:
two nodes on one address or MAC, a first_control_plane that names no control plane (the only control plane
then joins its own API and waits forever), two control planes that both run `kubeadm init`, an endpoint
nothing answers on. Every problem is reported at once, at the file and line of the value to change.
"""

import difflib
import ipaddress
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from generator import ipv4
from generator.errors import Problem
from generator.load import Document
from generator.model import Node

CONTROL_PLANE_ROLES = ("control-plane", "master")


def _get(data: dict, *path):
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _short(name: str) -> str:
    return name.split(".", 1)[0]


def same_host(a: str, b: str) -> bool:
    """Whether two host names name one machine as /etc/hosts would: equal, or one is the other's short form."""
    return a == b or ("." not in a and a == _short(b)) or ("." not in b and b == _short(a))


def _interface(data: dict) -> ipaddress.IPv4Interface | None:
    try:
        return ipv4.interface(_get(data, "network", "address"))
    except (ValueError, TypeError):
        return None


def _ip(value) -> ipaddress.IPv4Address | None:
    try:
        return ipv4.address(value)
    except (ValueError, TypeError):
        return None


def where(doc: Document, *path) -> str:
    """The file:line of a key path (or its nearest located ancestor), for a message that points at a value."""
    file, line = doc.locate(path)
    return f"{file}:{line}" if line else file


# --- rules for one node: they hold whether or not the rest of the cluster is rendered too -----------------

def node_problems(doc: Document) -> list[Problem]:
    """Mistakes one node profile shows by itself (called by rules.rule_problems for every node profile)."""
    data = doc.data
    problems: list[Problem] = []
    hostname, role = data.get("hostname"), data.get("role")
    if not isinstance(hostname, str):
        return problems
    first = _get(data, "cluster", "first_control_plane")
    interface = _interface(data)
    vip = _ip(_get(data, "cluster", "virtual_ip", "address"))
    endpoint = _get(data, "kubernetes", "control_plane_endpoint")
    endpoint_host = endpoint.rsplit(":", 1)[0] if isinstance(endpoint, str) else None

    if not isinstance(first, str):
        pass
    elif role in CONTROL_PLANE_ROLES and first != hostname and same_host(first, hostname):
        problems.append(doc.problem(("cluster", "first_control_plane"), (
            f"{first!r} is not this host's name {hostname!r}, only another form of it: the names must match exactly, "
            f"or this control plane joins a cluster that never starts; write first_control_plane: {hostname}")))
    elif role not in CONTROL_PLANE_ROLES and same_host(first, hostname):
        problems.append(doc.problem(("cluster", "first_control_plane"),
                                    f"names this node, a {role}: name the control plane that runs kubeadm init"))
    elif (role in CONTROL_PLANE_ROLES and first != hostname and not vip
          and endpoint_host and (same_host(endpoint_host, hostname) or (interface and endpoint_host == str(interface.ip)))):
        problems.append(doc.problem(("cluster", "first_control_plane"), (
            f"names {first!r}, not this control plane {hostname!r}, so it would join the cluster at {endpoint} - "
            f"its own address - and wait forever for an API that only it could start; write "
            f"first_control_plane: {hostname} if it is the first, or point control_plane_endpoint at the first")))

    if interface and vip:
        if vip == interface.ip:
            problems.append(doc.problem(("cluster", "virtual_ip", "address"),
                                        f"{vip} is this node's own address ({where(doc, 'network', 'address')}); "
                                        f"the virtual IP must be a free address of the control planes' network"))
        elif role in CONTROL_PLANE_ROLES and vip not in interface.network:
            problems.append(doc.problem(("cluster", "virtual_ip", "address"), (
                f"{vip} lies outside this control plane's network {interface.network} "
                f"({where(doc, 'network', 'address')}); keepalived can hold only an address of that network")))
    gateway = _ip(_get(data, "network", "gateway"))
    if interface and gateway and gateway not in interface.network:
        problems.append(doc.problem(("network", "gateway"), f"{gateway} lies outside the node's network "
                                                            f"{interface.network}; the gateway must be reachable on it"))
    if interface:
        for key in ("pod_cidr", "service_cidr"):
            try:
                network = ipv4.network(_get(data, "kubernetes", key))
            except (ValueError, TypeError):
                continue
            if interface.network.overlaps(network) and interface.ip not in network:  # rules.py reports the other case
                problems.append(doc.problem(("kubernetes", key), (
                    f"{network} overlaps the node network {interface.network} ({where(doc, 'network', 'address')}); "
                    f"pod and service ranges must be apart from the nodes' addresses")))
    for i, entry in enumerate(data.get("hosts") or []):
        ip = _ip(entry.get("ip")) if isinstance(entry, dict) else None
        names = entry.get("names") if isinstance(entry, dict) else None
        if interface and ip and ip != interface.ip and any(same_host(n, hostname) for n in names or ()
                                                           if isinstance(n, str)):
            problems.append(doc.problem(("hosts", i, "ip"), (
                f"{ip} is given for {hostname}, but this node's address is {interface.ip} "
                f"({where(doc, 'network', 'address')})")))
    return problems


# --- rules across the nodes of a build -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FleetNode:
    """What the checks across a build need of one node: its names and addresses as resolved, two values as the
    profile wrote them, and where its profile is. A build keeps one per node while its checks run, so it holds
    no profile: the document is made again (`source`) only when a problem must point into it."""
    hostname: str
    role: str
    cluster: str
    mac: str
    address: str                    # without its prefix, or ""
    endpoint_host: str
    virtual_ip: str                 # the node's resolved cluster.virtual_ip (control planes), or ""
    written_virtual_ip: object      # cluster.virtual_ip.address as the profile has it, or None
    first_control_plane: object     # cluster.first_control_plane as the profile has it, or None
    hosts: tuple
    source: Callable[[], Document] | None = field(default=None, compare=False)

    @classmethod
    def of(cls, doc: Document, node: Node, source: Callable[[], Document] | None = None) -> "FleetNode":
        """source: how to make `doc` again when it is needed (default: keep `doc` itself)."""
        return cls(hostname=node.hostname, role=node.role, cluster=node.cluster, mac=node.network.mac,
                   address=str(ipv4.interface(node.network.address).ip) if node.network.address else "",
                   endpoint_host=node.kube.endpoint_host,
                   virtual_ip=node.virtual_ip.address if node.virtual_ip else "",
                   written_virtual_ip=_get(doc.data, "cluster", "virtual_ip", "address"),
                   first_control_plane=_get(doc.data, "cluster", "first_control_plane"), hosts=node.hosts,
                   source=source or (lambda: doc))

    @property
    def doc(self) -> Document:
        return self.source()

    @property
    def is_control_plane(self) -> bool:
        return self.role == "control-plane"


def _label(member: FleetNode) -> str:
    return f"{member.hostname} ({member.role}, {where(member.doc, 'hostname')})"


def _duplicates(members: list[FleetNode], value, path: tuple, what: str) -> list[Problem]:
    """Every member after the first that has the same value, pointing at the first."""
    problems: list[Problem] = []
    first_with: dict = {}
    for member in members:
        key = value(member)
        if not key:
            continue
        if key in first_with:
            other = first_with[key]
            problems.append(member.doc.problem(path, f"{what} {key} is also {other.hostname}'s "
                                                     f"({other.role}, {where(other.doc, 'hostname')}); "
                                                     f"every node needs its own"))
        else:
            first_with[key] = member
    return problems


def _first_control_plane(members: list[FleetNode], control_planes: list[FleetNode]) -> list[Problem]:
    problems: list[Problem] = []
    if not control_planes:
        return problems  # the control planes are rendered elsewhere (or the nodes join an existing cluster)
    names = [m.hostname for m in control_planes]
    for member in members:
        first = member.first_control_plane
        if not isinstance(first, str) or first in names:
            continue
        worker = next((m for m in members if m.hostname == first), None)
        if worker:
            message = f"names {first}, a worker ({where(worker.doc, 'hostname')}); name the control plane that runs kubeadm init"
        else:
            close = difflib.get_close_matches(first, names, n=1) or [n for n in names if same_host(n, first)]
            hint = f"; did you mean {close[0]!r}?" if close else ""
            message = f"no control plane of cluster {member.cluster} is called {first!r} (they are {', '.join(names)}){hint}"
        problems.append(member.doc.problem(("cluster", "first_control_plane"), message))
    if len(control_planes) > 1:
        for member in control_planes:
            if member.first_control_plane is None:
                problems.append(member.doc.problem(("cluster",), (
                    f"cluster {member.cluster} has {len(control_planes)} control planes ({', '.join(names)}) and "
                    f"no cluster.first_control_plane: each would run kubeadm init and start a cluster of its own; "
                    f"name the first one")))
    return problems


def _endpoint(members: list[FleetNode], control_planes: list[FleetNode]) -> list[Problem]:
    """The API endpoint must be a control plane, the virtual IP, or a load balancer the profile names."""
    problems: list[Problem] = []
    if not control_planes:
        return problems
    by_address = {m.address: m for m in members if m.address}
    owners: dict[str, FleetNode | None] = {}  # by endpoint host: the nodes of a cluster mostly share one
    for member in members:
        host = member.endpoint_host
        vip = member.virtual_ip or member.written_virtual_ip
        if host not in owners:
            owners[host] = by_address.get(host) or next((m for m in members if same_host(m.hostname, host)), None)
        owner = owners[host]
        named = any(host == h.ip or host in h.names for h in member.hosts)
        path = ("kubernetes", "control_plane_endpoint")
        if owner and not owner.is_control_plane:
            problems.append(member.doc.problem(path, f"{host} is the worker {_label(owner)}: the endpoint must be a "
                                                     f"control plane, the virtual IP or a load balancer"))
        elif not owner and host != vip and not named and _ip(host):
            problems.append(member.doc.problem(path, (
                f"nothing of cluster {member.cluster} answers on {host}: it is no control plane's address and not "
                f"cluster.virtual_ip; for a load balancer, name it in hosts: (ip and names)")))
    return problems


def _hosts_entries(members: list[FleetNode]) -> list[Problem]:
    """A hosts: entry naming a node of the build must give that node's address."""
    problems: list[Problem] = []
    contradicted: dict = {}  # by entry: the nodes of a cluster mostly share their hosts: entries
    for member in members:
        for i, entry in enumerate(member.hosts):
            if entry not in contradicted:
                contradicted[entry] = [other for other in members if other.address and entry.ip != other.address
                                       and any(same_host(n, other.hostname) for n in entry.names)]
            for other in contradicted[entry]:
                problems.append(member.doc.problem(("hosts", i, "ip"), (
                    f"{entry.ip} is given for {other.hostname}, whose address is {other.address} "
                    f"({where(other.doc, 'network', 'address')})")))
    return problems


def _virtual_ip(members: list[FleetNode]) -> list[Problem]:
    problems: list[Problem] = []
    vips = {m.virtual_ip: m for m in members if m.virtual_ip}
    for member in members:
        if member.address in vips:
            owner = vips[member.address]
            problems.append(member.doc.problem(("network", "address"), (
                f"{member.address} is the cluster's virtual IP ({where(owner.doc, 'cluster', 'virtual_ip', 'address')}); "
                f"keepalived would take it from this node")))
    return problems


def _endpoint_workers(members: list[FleetNode]) -> list[Problem]:
    """A worker on the address every node reaches the API by."""
    problems: list[Problem] = []
    for member in members:
        if not member.is_control_plane and member.address and member.address == member.endpoint_host:
            problems.append(member.doc.problem(("network", "address"), (
                f"{member.address} is the control plane endpoint ({where(member.doc, 'kubernetes', 'control_plane_endpoint')}); "
                f"a worker there takes the API's address")))
    return problems


def fleet_problems(members: list[FleetNode], complete: bool = True) -> list[Problem]:
    """Every problem across the nodes of one build; clusters are told apart by cluster.name.

    complete=False: some nodes failed their own checks and are missing here, so what depends on every node
    being present (which control planes exist, what answers on the endpoint) is not judged.
    """
    problems = _duplicates(members, lambda m: m.mac, ("network", "mac"), "MAC address")
    clusters: dict[str, list[FleetNode]] = defaultdict(list)
    for member in members:
        clusters[member.cluster].append(member)
    for cluster_members in clusters.values():
        control_planes = [m for m in cluster_members if m.is_control_plane]
        problems += _duplicates(cluster_members, lambda m: m.hostname, ("hostname",), "host name")
        problems += _duplicates(cluster_members, lambda m: m.address, ("network", "address"), "address")
        if complete:
            problems += _first_control_plane(cluster_members, control_planes)
            problems += _endpoint(cluster_members, control_planes)
        problems += _hosts_entries(cluster_members)
        problems += _virtual_ip(cluster_members)
        problems += _endpoint_workers(cluster_members)
    return problems
