"""Release knowledge, read from data/releases.yaml: what each Kubernetes minor, OS release and CNI needs.

What changes between releases is data keyed by version (as pykickstart keys its handlers), so
supporting a new minor means adding an entry, not an `if`.
"""

from functools import cache

import yaml

from generator import DATA_DIR


def minor_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in str(version).split(".")[:2])


def minor_of(version: str) -> str:
    return ".".join(str(version).split(".")[:2])


# libyaml's parser (same safe constructor) reads this 30 KB file in about a tenth of PyYAML's pure-Python time
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def data() -> dict:
    return yaml.load((DATA_DIR / "releases.yaml").read_text(encoding="utf-8"), Loader=_SAFE_LOADER)


@cache  # the release data is read once per process and never changed (data() is cached too)
def kubernetes_minors() -> tuple[str, ...]:
    return tuple(sorted(data()["kubernetes"], key=minor_key))


def kube_release(minor: str) -> dict:
    return data()["kubernetes"][minor]


def os_key(distro: str, version: str) -> str:
    return f"{distro}-{version}"


def os_releases() -> dict[str, dict]:
    return data()["os"]


def in_range(entry: dict, minor: str) -> bool:
    """Whether a Kubernetes minor lies within an entry's min_kubernetes..max_kubernetes (both optional)."""
    low, high = entry.get("min_kubernetes", "1.0"), entry.get("max_kubernetes", "99.99")
    return minor_key(low) <= minor_key(minor) <= minor_key(high)


def os_supports(os_entry: dict, minor: str) -> bool:
    cgroup_v1_refused = kube_release(minor)["kubelet_requires_cgroup_v2"] and os_entry["cgroup"] == "v1"
    return in_range(os_entry, minor) and not cgroup_v1_refused


def supported_minors(key: str) -> list[str]:
    entry = os_releases()[key]
    return [m for m in kubernetes_minors() if os_supports(entry, m)]


def repo(key: str) -> dict:
    return data()["repos"][key]


def cni_plugin(plugin: str) -> dict:
    return data()["cni"][plugin]


@cache
def cni_versions_for(plugin: str, minor: str) -> tuple[str, ...]:
    """CNI releases that support this Kubernetes minor, oldest first."""
    versions = cni_plugin(plugin)["versions"]
    fits = [v for v, entry in versions.items() if in_range(entry, minor)]
    return tuple(sorted(fits, key=minor_key))


@cache
def kubernetes_minors_for_cni(plugin: str, cni_minor: str) -> tuple[str, ...]:
    """The Kubernetes minors a CNI release supports, oldest first."""
    return tuple(m for m in kubernetes_minors() if cni_minor in cni_versions_for(plugin, m))


def default_cni_version(plugin: str, minor: str) -> str | None:
    fits = cni_versions_for(plugin, minor)
    return fits[-1] if fits else None


def patch_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in str(version).split("."))


@cache  # one tuple for every node
def crio_sample_bridge_files() -> tuple[str, ...]:
    """Every name CRI-O has shipped its sample bridge network under; any of them would race the CNI.

    All are removed whatever the release, since a later cri-o package update may bring another name.
    """
    return tuple(data()["crio_sample_bridge_cni"])


def kubeadm_takes_ecdsa_sa_key(version: str) -> bool:
    """Whether kubeadm of this version (a minor means its newest patch) reads an ECDSA sa.key on a control-plane
    join (kubernetes#112508, backported to 1.22.15, 1.23.12, 1.24.6, 1.25.2)."""
    minor = minor_of(version)
    full = version if version.count(".") == 2 else kube_release(minor)["latest_patch"]
    since = data()["kubeadm_ecdsa_sa_key_since"][minor]
    return since is not None and patch_key(full) >= patch_key(since)
