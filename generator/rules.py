"""Semantic rules the JSON Schema cannot express, each reported at the offending key's file:line.

The rules run on the part of a profile the schema accepted (see schema.accepted), so one run reports schema
and rule problems together; a rule reads values with _get and checks their type before using them.
"""

import ipaddress
from pathlib import Path

from generator import fleet, ipv4, releases
from generator.defaults import pick, schema_default
from generator.errors import Problem, ProfileError
from generator.load import Document, KeyPath, dotted, load_file
from generator.node_paths import CONDITIONAL_PATHS, FIXED_PATHS, OWN_DIRS, REPO_PATHS

# ranges offered when service_cidr and pod_cidr overlap: kubeadm's default service range first
SERVICE_RANGES = ("10.96.0.0/12", "10.112.0.0/12", "172.30.0.0/16", "192.168.224.0/20")
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
        return ipv4.network(value)
    except ValueError as exc:
        hint = ""
        try:
            hint = f"; did you mean {ipv4.network(value, strict=False)}?"
        except ValueError:
            pass
        problems.append(doc.problem(path, f"{value!r} is not a valid IPv4 network ({exc}){hint}"))
        return None


def _address(doc: Document, path: tuple, problems: list[Problem]):
    value = _get(doc.data, path)
    if value is None:
        return None
    try:
        return ipv4.address(value)
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


def rule_problems(doc: Document, refused: frozenset[KeyPath] = frozenset()) -> list[Problem]:
    """Every rule's problems; `refused`: key paths the schema refused (already reported, so not "missing")."""
    problems: list[Problem] = []
    data = doc.data
    _cloud_init_files(doc, problems)
    _no_proxy(doc, problems)
    _proxy_credentials(doc, problems)
    role = data.get("role")

    pod = _network(doc, ("kubernetes", "pod_cidr"), problems)
    service = _network(doc, ("kubernetes", "service_cidr"), problems)
    if pod and service and pod.overlaps(service):
        problems.append(_overlap(doc, pod, service))

    node_ip = None
    address = _get(data, ("network", "address"))
    if address is not None:
        try:
            node_ip = ipv4.interface(address).ip
        except ValueError as exc:
            problems.append(doc.problem(("network", "address"), f"{address!r} is not an address with prefix ({exc})"))
    if _get(data, ("network", "bootproto")) == "static" and _absent(doc, ("network", "address"), refused):
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
    if vip and _absent(doc, ("cluster", "first_control_plane"), refused):
        problems.append(doc.problem(("cluster", "virtual_ip"), "several control planes share a virtual IP: "
                                    "name the one that runs kubeadm init in cluster.first_control_plane"))

    problems += _release_choices(doc, refused)
    version = _get(data, ("kubernetes", "version"))
    if (role in ("control-plane", "master") and _get(data, ("cluster", "first_control_plane")) is not None
            and isinstance(version, str) and releases.minor_of(version) in releases.data()["kubernetes"]):
        ecdsa = _ecdsa_sa_key(version)
        if ecdsa:
            problems.append(doc.problem(("kubernetes", "version"), ecdsa))

    if role is not None:
        problems += _node_keys(doc, refused)
        if not any(path[:1] == ("users",) for path in refused):  # else "nobody can log in" would mislead
            _way_in(doc, problems)
        problems += fleet.node_problems(doc)  # names and addresses the node must agree with itself on
        if role in ("control-plane", "master") and _get(data, ("cluster", "join")) is not None:
            problems.append(doc.problem(("cluster", "join"),
                                        "a control plane cannot join an existing cluster by token alone; "
                                        "render it from this cluster's secrets instead (remove cluster.join)"))
    # a rule that names a value the schema refused would repeat (or contradict) the schema's message
    return [p for p in problems if not any(p.path == dotted(r) or p.path.startswith(dotted(r) + ".")
                                          or p.path.startswith(dotted(r) + "[") for r in refused if r)]


def _overlap(doc: Document, pod: ipaddress.IPv4Network, service: ipaddress.IPv4Network) -> Problem:
    """service_cidr and pod_cidr share addresses: offer a service range that fits, never the one already there."""
    taken = [pod, service]
    node = _get(doc.data, ("network", "address"))
    try:
        taken.append(ipv4.interface(node).network if isinstance(node, str) else None)
    except ValueError:
        pass
    free = [r for r in map(ipaddress.IPv4Network, SERVICE_RANGES) if not any(t and r.overlaps(t) for t in taken)]
    offer = f", e.g. service_cidr: {free[0]}" if free else ""
    return doc.problem(("kubernetes", "service_cidr"), f"{service} overlaps the pod network {pod} "
                                                      f"(kubernetes.pod_cidr); give one of them a range that "
                                                      f"shares no address with the other{offer}")


def _absent(doc: Document, path: KeyPath, refused: frozenset[KeyPath]) -> bool:
    """The profile does not set `path` (a value the schema refused is set: the schema said what is wrong)."""
    return _get(doc.data, path) is None and not any(path[:n] in refused for n in range(1, len(path) + 1))


def _node_keys(doc: Document, refused: frozenset[KeyPath]) -> list[Problem]:
    """The keys a node profile needs; a profile that extends nothing is told about `extends:` once."""
    missing = [p for p in NODE_REQUIRED if _absent(doc, p, refused)]
    if not missing:
        return []
    if len(doc.files) > 1:
        return [doc.problem(p[:-1], f"{'.'.join(p)} is required for a node profile (set it here or in the file "
                                    f"this one extends)") for p in missing]
    names = ", ".join(".".join(p) for p in missing)
    shared = _shared_profiles(Path(doc.files[0]))
    if shared:
        extend = f"add `extends: {shared[0]}` (the shared profile beside it)"
    else:
        extend = "add `extends: <file>` naming the cluster's shared profile (one without role:, e.g. cluster.yaml)"
    return [doc.problem((), f"this node profile extends no shared profile and lacks {names}; {extend}, "
                            f"or set them here")]


def _shared_profiles(profile: Path, limit: int = 50) -> list[str]:
    """Names of the shared profiles (no role:) in the folder of `profile`, cluster.yaml first."""
    found = []
    for candidate in sorted(profile.parent.glob("*.yaml"))[:limit]:
        if candidate.name == profile.name:
            continue
        try:
            data, _ = load_file(candidate)
        except ProfileError:
            continue
        if "role" not in data:
            found.append(candidate.name)
    return sorted(found, key=lambda name: name != "cluster.yaml")


def _release_choices(doc: Document, refused: frozenset[KeyPath]) -> list[Problem]:
    """Kubernetes version, OS release, their pairing and the CNI release must be ones we know."""
    problems = []
    version = _get(doc.data, ("kubernetes", "version"))
    minor = releases.minor_of(version) if isinstance(version, str) else None
    if minor and minor not in releases.data()["kubernetes"]:
        known = releases.kubernetes_minors()
        problems.append(doc.problem(("kubernetes", "version"),
                                    f"Kubernetes {version} is not supported; choose a minor from {known[0]} to {known[-1]}"))
        minor = None
    distro, os_version = _get(doc.data, ("os", "distro")), _get(doc.data, ("os", "version"))
    entry = None
    if isinstance(distro, str) and isinstance(os_version, str):
        entry = releases.os_releases().get(releases.os_key(distro, os_version))
        if entry is None:
            known = sorted(k.split("-")[-1] for k in releases.os_releases() if k.rsplit("-", 1)[0] == distro)
            problems.append(doc.problem(("os", "version"),
                                        f"{distro} {os_version} is not supported; {distro} releases we know: {', '.join(known) or 'none'}"))
    if entry and minor and not releases.os_supports(entry, minor):
        fits = releases.supported_minors(releases.os_key(distro, os_version))
        span = f"{fits[0]} to {fits[-1]}" if fits else "none"
        problems.append(doc.problem(("kubernetes", "version"),
                                    f"Kubernetes {minor} has no packages for {entry['name']}; supported there: {span}"))
    plugin = _get(doc.data, ("cni", "plugin"))
    cni_version = _get(doc.data, ("cni", "version"))
    if isinstance(plugin, str) and isinstance(cni_version, str):
        known = releases.cni_plugin(plugin)["versions"]
        if releases.minor_of(cni_version) not in known:
            problems.append(doc.problem(("cni", "version"),
                                        f"{plugin} {cni_version} is not known; known releases: {', '.join(sorted(known, key=releases.minor_key))}"))
        elif minor and minor not in releases.kubernetes_minors_for_cni(plugin, releases.minor_of(cni_version)):
            fits = releases.cni_versions_for(plugin, minor)
            problems.append(doc.problem(("cni", "version"),
                                        f"{plugin} {cni_version} does not support Kubernetes {minor}; "
                                        f"choose one of {', '.join(fits) or 'none'}"))
    if minor and _absent(doc, ("cni", "version"), refused):
        plugin_or_default = plugin if isinstance(plugin, str) else schema_default("cni", "plugin")
        if releases.default_cni_version(plugin_or_default, minor) is None:
            ours = [m for m in releases.kubernetes_minors() if releases.cni_versions_for(plugin_or_default, m)]
            span = f"{ours[0]} to {ours[-1]}" if ours else "none"
            problems.append(doc.problem(("cni", "plugin") if isinstance(plugin, str) else ("kubernetes", "version"),
                                        f"no {plugin_or_default} release we know supports Kubernetes {minor} "
                                        f"(our {plugin_or_default} releases cover {span}); choose another "
                                        f"kubernetes.version or cni.plugin"))
    min_kernel = releases.cni_plugin(plugin).get("min_kernel") if isinstance(plugin, str) else None
    if min_kernel and entry and "kernel" in entry and releases.minor_key(entry["kernel"]) < releases.minor_key(min_kernel):
        newer = [e["name"] for key, e in releases.os_releases().items() if key.rsplit("-", 1)[0] == distro
                 and releases.minor_key(e.get("kernel", "99")) >= releases.minor_key(min_kernel)]  # Fedora: no kernel fact, always new
        problems.append(doc.problem(("cni", "plugin"), f"{plugin} needs a newer kernel than {entry['name']} has "
                                                       f"({entry['kernel']}; {plugin} needs {min_kernel}); use calico "
                                                       f"or flannel, or an OS release with kernel {min_kernel} or "
                                                       f"later{', such as ' + newer[0] if newer else ''}"))
    required_cidr = releases.cni_plugin(plugin).get("required_pod_cidr") if isinstance(plugin, str) else None
    pod_cidr = _get(doc.data, ("kubernetes", "pod_cidr"))
    if required_cidr and pod_cidr and pod_cidr != required_cidr and not _get(doc.data, ("cni", "manifest_url")):
        problems.append(doc.problem(("kubernetes", "pod_cidr"),
                                    f"{plugin}'s manifest assumes the pod network {required_cidr}; use it, or give "
                                    f"cni.manifest_url pointing at a manifest edited for {pod_cidr}"))
    return problems


def _ecdsa_sa_key(version: str) -> str | None:
    """Why kubeadm of this version cannot take the shared ECDSA sa.key on a control-plane join, or None."""
    if releases.kubeadm_takes_ecdsa_sa_key(version):
        return None
    minor = releases.minor_of(version)
    full = version if version.count(".") == 2 else releases.kube_release(minor)["latest_patch"]
    since = releases.data()["kubeadm_ecdsa_sa_key_since"][minor]
    first = f"{since} or later" if since else "1.22.15 (or 1.23.12, 1.24.6, 1.25.2) or later"
    return (f"kubeadm {full} reads only an RSA service-account key (sa.key) when a control plane joins "
            f"(kubernetes/kubeadm#2756), and k8s-firstboot makes ECDSA keys: for several control planes use "
            f"Kubernetes {first}, or a single control plane")
