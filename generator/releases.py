"""Release knowledge, read from data/releases.yaml: what each Kubernetes minor, OS release and CNI needs.

What changes between releases is data keyed by version (as pykickstart keys its handlers), so
supporting a new minor means adding an entry, not an `if`.
"""

from functools import cache

import yaml

from generator import DATA_DIR
from generator.errors import Problem
from generator.load import Document


def minor_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in str(version).split(".")[:2])


def minor_of(version: str) -> str:
    return ".".join(str(version).split(".")[:2])


# libyaml's parser (same safe constructor) reads this 30 KB file in about a tenth of PyYAML's pure-Python time
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def data() -> dict:
    return yaml.load((DATA_DIR / "releases.yaml").read_text(encoding="utf-8"), Loader=_SAFE_LOADER)


def kubernetes_minors() -> list[str]:
    return sorted(data()["kubernetes"], key=minor_key)


def kube_release(minor: str) -> dict:
    return data()["kubernetes"][minor]


def os_key(distro: str, version: str) -> str:
    return f"{distro}-{version}"


def os_releases() -> dict[str, dict]:
    return data()["os"]


def os_supports(os_entry: dict, minor: str) -> bool:
    low, high = os_entry.get("min_kubernetes", "1.0"), os_entry.get("max_kubernetes", "99.99")
    return minor_key(low) <= minor_key(minor) <= minor_key(high)


def supported_minors(key: str) -> list[str]:
    entry = os_releases()[key]
    return [m for m in kubernetes_minors() if os_supports(entry, m)]


def repo(key: str) -> dict:
    return data()["repos"][key]


def cni_plugin(plugin: str) -> dict:
    return data()["cni"][plugin]


def cni_versions_for(plugin: str, minor: str) -> list[str]:
    """CNI releases that support this Kubernetes minor, oldest first."""
    return list(_cni_versions_for(plugin, minor))


@cache  # the release data is read once per process and never changed (data() is cached too)
def _cni_versions_for(plugin: str, minor: str) -> tuple[str, ...]:
    versions = cni_plugin(plugin)["versions"]
    fits = [v for v, entry in versions.items()
            if minor_key(entry.get("k8s_min", "1.0")) <= minor_key(minor) <= minor_key(entry.get("k8s_max", "99.99"))]
    return tuple(sorted(fits, key=minor_key))


def default_cni_version(plugin: str, minor: str) -> str | None:
    fits = cni_versions_for(plugin, minor)
    return fits[-1] if fits else None


def _get(d: dict, *path):
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def check_choices(doc: Document) -> list[Problem]:
    """Kubernetes version, OS release, their pairing and the CNI release must be ones we know."""
    problems = []
    version = _get(doc.data, "kubernetes", "version")
    minor = minor_of(version) if isinstance(version, str) else None
    if minor and minor not in data()["kubernetes"]:
        known = kubernetes_minors()
        problems.append(doc.problem(("kubernetes", "version"),
                                    f"Kubernetes {version} is not supported; choose a minor from {known[0]} to {known[-1]}"))
        minor = None
    distro, os_version = _get(doc.data, "os", "distro"), _get(doc.data, "os", "version")
    entry = None
    if isinstance(distro, str) and isinstance(os_version, str):
        entry = os_releases().get(os_key(distro, os_version))
        if entry is None:
            known = sorted(k.split("-")[-1] for k in os_releases() if k.rsplit("-", 1)[0] == distro)
            problems.append(doc.problem(("os", "version"),
                                        f"{distro} {os_version} is not supported; {distro} releases we know: {', '.join(known) or 'none'}"))
    if entry and minor and not os_supports(entry, minor):
        fits = supported_minors(os_key(distro, os_version))
        span = f"{fits[0]} to {fits[-1]}" if fits else "none"
        problems.append(doc.problem(("kubernetes", "version"),
                                    f"Kubernetes {minor} has no packages for {entry['name']}; supported there: {span}"))
    plugin = _get(doc.data, "cni", "plugin")
    cni_version = _get(doc.data, "cni", "version")
    if isinstance(plugin, str) and isinstance(cni_version, str):
        known = cni_plugin(plugin)["versions"]
        if minor_of(cni_version) not in known:
            problems.append(doc.problem(("cni", "version"),
                                        f"{plugin} {cni_version} is not known; known releases: {', '.join(sorted(known, key=minor_key))}"))
        elif minor and minor not in [m for m in kubernetes_minors()
                                     if minor_of(cni_version) in cni_versions_for(plugin, m)]:
            fits = cni_versions_for(plugin, minor)
            problems.append(doc.problem(("cni", "version"),
                                        f"{plugin} {cni_version} does not support Kubernetes {minor}; "
                                        f"choose one of {', '.join(fits) or 'none'}"))
    if minor and cni_version is None:
        plugin_or_default = plugin if isinstance(plugin, str) else "calico"
        if default_cni_version(plugin_or_default, minor) is None:
            ours = [m for m in kubernetes_minors() if cni_versions_for(plugin_or_default, m)]
            span = f"{ours[0]} to {ours[-1]}" if ours else "none"
            problems.append(doc.problem(("cni", "plugin") if isinstance(plugin, str) else ("kubernetes", "version"),
                                        f"no {plugin_or_default} release we know supports Kubernetes {minor} "
                                        f"(our {plugin_or_default} releases cover {span}); choose another "
                                        f"kubernetes.version or cni.plugin"))
    min_el = _get(cni_plugin(plugin), "min_el_major") if isinstance(plugin, str) else None
    if min_el and distro != "fedora" and isinstance(os_version, str) and os_version.isdigit() and int(os_version) < min_el:
        problems.append(doc.problem(("cni", "plugin"), f"{plugin} needs a newer kernel than {distro} {os_version} has; "
                                                       f"use EL{min_el} or later, or calico/flannel"))
    required_cidr = _get(cni_plugin(plugin), "required_pod_cidr") if isinstance(plugin, str) else None
    pod_cidr = _get(doc.data, "kubernetes", "pod_cidr")
    if required_cidr and pod_cidr and pod_cidr != required_cidr and not _get(doc.data, "cni", "manifest_url"):
        problems.append(doc.problem(("kubernetes", "pod_cidr"),
                                    f"{plugin}'s manifest assumes the pod network {required_cidr}; use it, or give "
                                    f"cni.manifest_url pointing at a manifest edited for {pod_cidr}"))
    return problems


def patch_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in str(version).split("."))


def ecdsa_sa_key_problem(version: str) -> str | None:
    """Why kubeadm of this version cannot take the shared ECDSA sa.key on a control-plane join, or None."""
    minor = minor_of(version)
    full = version if version.count(".") == 2 else kube_release(minor)["latest_patch"]
    since = data()["kubeadm_ecdsa_sa_key_since"][minor]
    if since is not None and patch_key(full) >= patch_key(since):
        return None
    first = f"{since} or later" if since else "1.22.15 (or 1.23.12, 1.24.6, 1.25.2) or later"
    return (f"kubeadm {full} reads only an RSA service-account key (sa.key) when a control plane joins "
            f"(kubernetes/kubeadm#2756), and k8s-firstboot makes ECDSA keys: for several control planes use "
            f"Kubernetes {first}, or a single control plane")


def crio_sample_bridge_files() -> tuple[str, ...]:
    """Every name CRI-O has shipped its sample bridge network under; any of them would race the CNI.

    All are removed whatever the release, since a later cri-o package update may bring another name.
    """
    return tuple(data()["crio_sample_bridge_cni"])
