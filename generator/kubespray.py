"""`gen import kubespray`: a Kubespray inventory (hosts.yaml) as a cluster file with `nodes:`.

Kubespray's YAML inventory is Ansible's: hosts with their variables under `all.hosts` (or under any group's
`hosts`), groups under `all.children`, nested through `children`. Its contrib/inventory_builder wrote that
hosts.yaml, with `ip`, `access_ip` and `ansible_host` per host and the groups `kube_control_plane`,
`kube_node`, `etcd`, `k8s_cluster` and `calico_rr` (kubernetes-sigs/kubespray v2.26.1
contrib/inventory_builder/inventory.py; the builder is gone from v2.27.0, commit 719c0b00c). Kubespray's
sample is now an INI file (inventory/sample/inventory.ini) with the same groups and host variables
(docs/ansible/inventory.md); this import reads the YAML form only and says how to convert an INI one.
The groups were `kube-master` and `kube-node` before v2.16.0 (kubespray#7256, #7552). A node's address is
`ip` (the address Kubespray binds Kubernetes to), else `ansible_host` when that is an address; its MAC is
the host variable `mac`. Hosts in kube_control_plane become control planes, the rest of kube_node workers;
etcd-only and calico_rr-only hosts are not nodes here.
"""

import ipaddress
import re
from pathlib import Path

import yaml

from generator.errors import Problem, ProfileError
from generator.load import load_file, read_utf8
from generator.schema import _ecma_pattern, profile_schema

HOSTNAME = _ecma_pattern(profile_schema()["$defs"]["hostname"]["pattern"])

# an INI section header such as [kube_control_plane] or [etcd:children]: no YAML inventory has such a line
INI_SECTION = re.compile(r"\[[A-Za-z0-9_.:-]+\]\s*")

CONTROL_PLANE_GROUPS = ("kube_control_plane", "kube-master")   # kube-master: the name before Kubespray 2.16
WORKER_GROUPS = ("kube_node", "kube-node")


def _groups(data: dict) -> dict[str, dict]:
    """Every group of the inventory by name, the nested ones too."""
    found: dict[str, dict] = {}

    def walk(name: str, group) -> None:
        group = group if isinstance(group, dict) else {}
        if group or name not in found:  # `children: {kube_node: }` only refers to a group defined elsewhere
            found[name] = group
        for child, sub in (group.get("children") or {}).items():
            walk(child, sub)

    for name, group in data.items():
        walk(name, group)
    return found


def _members(groups: dict[str, dict], names: tuple[str, ...], seen: set | None = None) -> list[str]:
    """Hosts of the named groups and of their child groups, in the order written."""
    seen = seen if seen is not None else set()
    hosts: list[str] = []
    for name in names:
        if name in seen or name not in groups:
            continue
        seen.add(name)
        group = groups[name]
        hosts += [h for h in (group.get("hosts") or {}) if h not in hosts]
        hosts += [h for h in _members(groups, tuple(group.get("children") or {}), seen) if h not in hosts]
    return hosts


def _host_vars(groups: dict[str, dict], host: str) -> tuple[dict, tuple]:
    """The host's variables from every group that lists it, and the key path of its entry in `all`."""
    merged: dict = {}
    where: tuple = ()
    for name, group in groups.items():
        entry = (group.get("hosts") or {}).get(host)
        if isinstance(entry, dict):
            merged.update(entry)
            if not where or name == "all":
                where = (name, "hosts", host)
    return merged, where


def _address(variables: dict) -> str | None:
    for key in ("ip", "ansible_host"):
        try:
            return str(ipaddress.IPv4Address(str(variables.get(key))))
        except ValueError:
            continue
    return None


def import_hosts(path: Path, prefix: int, extends: str | None = None) -> str:
    """The cluster file text for a Kubespray hosts.yaml; problems name the inventory's lines."""
    display = str(path)
    _refuse_ini(path, display)
    data, origins = load_file(path, display)
    groups = _groups(data)

    def problem(key_path: tuple, message: str) -> Problem:
        while key_path and key_path not in origins:
            key_path = key_path[:-1]
        file, line = origins.get(key_path, (display, 0))
        return Problem(file, line, ".".join(str(p) for p in key_path), message)

    control_planes = _members(groups, CONTROL_PLANE_GROUPS)
    workers = [h for h in _members(groups, WORKER_GROUPS) if h not in control_planes]
    if not control_planes and not workers:
        raise ProfileError([Problem(display, 1, "all.children", "no host in kube_control_plane or kube_node: "
                                                                "nothing to import")])
    problems: list[Problem] = []
    nodes = []
    for host, role in [(h, "control-plane") for h in control_planes] + [(h, "worker") for h in workers]:
        variables, where = _host_vars(groups, host)
        node: dict = {"hostname": host, "role": role}
        address = _address(variables)
        if address:
            node["address"] = f"{address}/{prefix}"
        if isinstance(variables.get("mac"), str):
            node["mac"] = variables["mac"].lower()
        elif "mac" in variables:  # YAML 1.1 reads an all-digit 52:54:00:12:34:56 as a base-60 number
            problems.append(problem(where + ("mac",), "not text: put the MAC address in quotes"))
        if not HOSTNAME.search(host):
            problems.append(problem(where, f"{host!r} is no RFC 1123 host name (lower-case letters, digits, dashes); "
                                           f"rename it in the inventory"))
        nodes.append(node)
    if problems:
        raise ProfileError(problems)
    return _cluster_text(display, nodes, control_planes, extends)


def _refuse_ini(path: Path, display: str) -> None:
    for number, line in enumerate(read_utf8(path, display).splitlines(), start=1):
        if INI_SECTION.fullmatch(line):
            raise ProfileError([Problem(display, number, "", "an INI inventory (like Kubespray's inventory.ini); this "
                                                             "import reads the YAML form: convert it with `ansible-inventory "
                                                             f"-i {path.name} --list --yaml > hosts.yaml` and import that")])


def _cluster_text(source: str, nodes: list[dict], control_planes: list[str], extends: str | None) -> str:
    profile: dict = {}
    if extends:
        profile["extends"] = extends
    if len(control_planes) > 1:
        profile["cluster"] = {"first_control_plane": control_planes[0]}
    profile["nodes"] = nodes
    todo = ("" if extends else
            "# Add the cluster's settings (os, kubernetes with control_plane_endpoint, users, network.gateway) above\n"
            "# `nodes:`, or run the import again with --extends naming a file that holds them.\n")
    return (f"# Imported by `gen import kubespray` from {Path(source).name}: every node inherits the settings of this\n"
            f"# file. Check the address prefixes, and quote MACs if you edit them.\n{todo}"
            + yaml.safe_dump(profile, sort_keys=False, default_flow_style=False))
