"""Semantic rules the JSON Schema cannot express, each reported at the offending key's file:line."""

import ipaddress

from generator import releases
from generator.defaults import pick
from generator.errors import Problem, ProfileError
from generator.load import Document
from generator.node_paths import CONDITIONAL_PATHS, FIXED_PATHS, OWN_DIRS, REPO_PATHS

# keys a node profile needs once everything it extends is merged
NODE_REQUIRED = (
    ("hostname",), ("os", "distro"), ("os", "version"), ("kubernetes", "version"),
    ("kubernetes", "control_plane_endpoint"),
)


def _get(data: dict, path: tuple):
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _network(doc: Document, path: tuple, problems: list[Problem]):
    value = _get(doc.data, path)
    if value is None:
        return None
    try:
        return ipaddress.IPv4Network(value)
    except ValueError as exc:
        hint = ""
        try:
            hint = f"; did you mean {ipaddress.IPv4Network(value, strict=False)}?"
        except ValueError:
            pass
        problems.append(doc.problem(path, f"{value!r} is not a valid IPv4 network ({exc}){hint}"))
        return None


def _address(doc: Document, path: tuple, problems: list[Problem]):
    value = _get(doc.data, path)
    if value is None:
        return None
    try:
        return ipaddress.IPv4Address(value)
    except ValueError as exc:
        problems.append(doc.problem(path, f"{value!r} is not a valid IPv4 address ({exc})"))
        return None


def _cloud_init_files(doc: Document, problems: list[Problem]) -> None:
    """cloud_init.write_files may not overwrite the bootstrap's own files, nor name one path twice."""
    seen: dict[str, int] = {}
    for i, entry in enumerate(_get(doc.data, ("cloud_init", "write_files")) or []):
        path = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(path, str):
            continue
        where = ("cloud_init", "write_files", i, "path")
        if path in FIXED_PATHS + CONDITIONAL_PATHS + REPO_PATHS or any(path == d or path.startswith(d + "/") for d in OWN_DIRS):
            problems.append(doc.problem(where, f"{path} is written by k8s-firstboot itself; pick another path"))
        elif path in seen:
            problems.append(doc.problem(where, f"{path} is already written by cloud_init.write_files[{seen[path]}]"))
        seen.setdefault(path, i)


def _proxy_credentials(doc: Document, problems: list[Problem]) -> None:
    """Credentials land decoded in dnf.conf (proxy_username/proxy_password): one line each, nothing more."""
    from generator.proxy import url_credentials

    for key in ("http", "https"):
        url = _get(doc.data, ("proxy", key))
        if not isinstance(url, str):
            continue
        credentials = url_credentials(url)
        if credentials and not "".join(credentials).isprintable():
            problems.append(doc.problem(("proxy", key), "the user name or password decodes to a line break or other "
                                                        "control character, which no config file can hold"))


def _no_proxy(doc: Document, problems: list[Problem]) -> None:
    """Entries whose meaning differs between the node's readers (Go, libcurl) are refused, not guessed at."""
    for i, entry in enumerate(_get(doc.data, ("proxy", "no_proxy")) or []):
        where = ("proxy", "no_proxy", i)
        if entry == "*":
            problems.append(doc.problem(where, "'*' turns the proxy off for kubelet and CRI-O but not for curl and dnf "
                                               "once the cluster's own entries follow it; to go without a proxy, "
                                               "remove the proxy section"))
        elif isinstance(entry, str) and entry.startswith("*"):
            problems.append(doc.problem(where, f"curl and dnf never match {entry!r} (only Go does); "
                                               f"write {entry.lstrip('*')} to reach every host under it directly"))


def _way_in(doc: Document, problems: list[Problem]) -> None:
    """Someone must be able to log in and become root: root with a password, or an admin (in wheel) with a
    password (sudo asks for it), or with SSH keys and password-less sudo."""
    users = _get(doc.data, ("users",))
    if not isinstance(users, dict):
        return  # no users at all: resolve warns (the Kickstart locks root; cloud-init keeps the image's user)
    root, admin = users.get("root") or {}, users.get("admin")
    if root.get("password_hash") and not pick(root, "locked", "users", "root"):
        return
    if not isinstance(admin, dict):
        problems.append(doc.problem(("users",), "nobody can log in: root is locked and there is no users.admin; "
                                                "add an admin with ssh_keys and sudo: nopasswd, or a password_hash"))
    elif not admin.get("password_hash") and not (admin.get("ssh_keys") and admin.get("sudo") == "nopasswd"):
        why = ("has SSH keys but sudo asks for a password it does not have" if admin.get("ssh_keys")
               else "has neither a password nor SSH keys")
        problems.append(doc.problem(("users", "admin"), f"nobody can become root: root is locked and the admin {why}; "
                                                        f"set users.admin.sudo: nopasswd (with ssh_keys), or a password_hash"))


def check_rules(doc: Document) -> None:
    problems: list[Problem] = []
    data = doc.data
    _cloud_init_files(doc, problems)
    _no_proxy(doc, problems)
    _proxy_credentials(doc, problems)
    role = data.get("role")

    pod = _network(doc, ("kubernetes", "pod_cidr"), problems)
    service = _network(doc, ("kubernetes", "service_cidr"), problems)
    if pod and service and pod.overlaps(service):
        problems.append(doc.problem(("kubernetes", "service_cidr"),
                                    f"{service} overlaps the pod network {pod}; pick disjoint ranges such as 10.96.0.0/12"))

    node_ip = None
    address = _get(data, ("network", "address"))
    if address is not None:
        try:
            node_ip = ipaddress.IPv4Interface(address).ip
        except ValueError as exc:
            problems.append(doc.problem(("network", "address"), f"{address!r} is not an address with prefix ({exc})"))
    if _get(data, ("network", "bootproto")) == "static" and address is None:
        problems.append(doc.problem(("network", "bootproto"), "static needs network.address (such as 192.168.122.10/24)"))
    _address(doc, ("network", "gateway"), problems)
    for i, _ in enumerate(_get(data, ("network", "nameservers")) or []):
        _address(doc, ("network", "nameservers", i), problems)
    for i, _ in enumerate(data.get("hosts") or []):
        _address(doc, ("hosts", i, "ip"), problems)
    advertise = _address(doc, ("kubernetes", "advertise_address"), problems)
    for label, ip, path in (("node address", node_ip, ("network", "address")),
                            ("advertise address", advertise, ("kubernetes", "advertise_address"))):
        for name, net, net_key in (("pod", pod, "pod_cidr"), ("service", service, "service_cidr")):
            if ip and net and ip in net:
                problems.append(doc.problem(path, f"the {label} {ip} lies inside the {name} network {net} "
                                                  f"(kubernetes.{net_key}); the ranges must not contain node addresses"))

    endpoint = _get(data, ("kubernetes", "control_plane_endpoint"))
    if isinstance(endpoint, str) and ":" in endpoint:
        port = int(endpoint.rsplit(":", 1)[1])
        if not 0 < port < 65536:
            problems.append(doc.problem(("kubernetes", "control_plane_endpoint"), f"port {port} is out of range 1-65535"))

    vip = _address(doc, ("cluster", "virtual_ip", "address"), problems)
    if vip and isinstance(endpoint, str) and endpoint.rsplit(":", 1)[0] != str(vip):
        problems.append(doc.problem(("kubernetes", "control_plane_endpoint"),
                                    f"with cluster.virtual_ip the endpoint must be that address: {vip}:6443"))
    if vip and _get(data, ("cluster", "first_control_plane")) is None:
        problems.append(doc.problem(("cluster", "virtual_ip"), "several control planes share a virtual IP: "
                                    "name the one that runs kubeadm init in cluster.first_control_plane"))

    problems += releases.check_choices(doc)
    version = _get(data, ("kubernetes", "version"))
    if (role in ("control-plane", "master") and _get(data, ("cluster", "first_control_plane")) is not None
            and isinstance(version, str) and releases.minor_of(version) in releases.data()["kubernetes"]):
        ecdsa = releases.ecdsa_sa_key_problem(version)
        if ecdsa:
            problems.append(doc.problem(("kubernetes", "version"), ecdsa))

    if role is not None:
        for path in NODE_REQUIRED:
            if _get(data, path) is None:
                problems.append(doc.problem(path[:-1], f"{'.'.join(path)} is required for a node profile "
                                                       f"(set it here or in the file this one extends)"))
        _way_in(doc, problems)
        if role in ("control-plane", "master") and _get(data, ("cluster", "join")) is not None:
            problems.append(doc.problem(("cluster", "join"),
                                        "a control plane cannot join an existing cluster by token alone; "
                                        "render it from this cluster's secrets instead (remove cluster.join)"))
    if problems:
        raise ProfileError(problems)
