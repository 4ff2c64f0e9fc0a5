"""The profile's HTTP(S) proxy: which destinations bypass it, as each consumer on the node reads no_proxy.

Two families read the list differently. Go programs (kubeadm, kubelet, CRI-O, and the static pods kubeadm
copies the variables into: cmd/kubeadm/app/util/env.go GetProxyEnvVars) match host names, domain suffixes and
CIDRs. libcurl (curl, and dnf through librepo) matches names and exact addresses, and CIDRs only from 7.86.0
(CURLOPT_NOPROXY). Anaconda's `url --proxy` has no exception list at all. So every address and name of the
cluster that is known at render time is listed one by one, and CIDRs are kept for the Go side only.
"""

import ipaddress
from urllib.parse import urlsplit

from generator.model import HostEntry, KubeSpec, Proxy

# the first libcurl that honours CIDR entries in no_proxy (curl's CURLOPT_NOPROXY documentation)
CURL_CIDR_NO_PROXY = (7, 86)
# names the cluster's own services go by inside the cluster
CLUSTER_DOMAINS = (".svc", ".cluster.local")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".")[:2])


def is_cidr(entry: str) -> bool:
    if "/" not in entry:
        return False
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True


def cluster_destinations(kube: KubeSpec, hostname: str, address: str, hosts: tuple[HostEntry, ...],
                         virtual_ip: str) -> list[str]:
    """Every destination of the cluster itself: never through the proxy (kubernetes/kubeadm#211, #1332)."""
    own = ["localhost", "127.0.0.1", hostname, hostname.split(".")[0], address, kube.endpoint_host, virtual_ip]
    for entry in hosts:  # the other nodes, by address and by every name: the API server reaches their kubelets
        own += [entry.ip, *entry.names]
    return [*own, kube.pod_cidr, kube.service_cidr, *CLUSTER_DOMAINS]


def resolve_proxy(section: dict, destinations: list[str]) -> Proxy | None:
    if not section:
        return None
    entries = [e for e in [*section.get("no_proxy", ()), *destinations] if e]
    return Proxy(http=section.get("http", ""), https=section.get("https", section.get("http", "")),
                 no_proxy=tuple(dict.fromkeys(entries)))


def bypasses(url: str, no_proxy: tuple[str, ...]) -> bool:
    """Whether a download from url goes direct by the profile's no_proxy, matched as curl matches names."""
    host = (urlsplit(url).hostname or "").lower()
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in no_proxy:
        entry = entry.lower()
        if entry == "*":
            return True
        if is_cidr(entry):
            if address is not None and address in ipaddress.ip_network(entry, strict=False):
                return True
            continue
        name = entry.removeprefix("*").removeprefix(".")
        if host == name or host.endswith("." + name):
            return True
    return False


def installer_proxy(url: str, proxy: Proxy | None) -> str:
    """The --proxy Anaconda gets for an install source: none where the profile says the host is reached direct."""
    if proxy is None or not url or bypasses(url, proxy.no_proxy):
        return ""
    return proxy.http or proxy.https


def cidr_warnings(section: dict, os_name: str, curl_version: str) -> list[str]:
    """The profile's CIDR no_proxy entries that this OS's curl and dnf ignore."""
    if not curl_version or _version(curl_version) >= CURL_CIDR_NO_PROXY:
        return []
    return [f"proxy.no_proxy: {entry} is a CIDR; kubeadm, kubelet and CRI-O honour it, but curl and dnf on "
            f"{os_name} (libcurl {curl_version}; CIDRs need 7.86) ignore it and send those hosts through the proxy: "
            f"also list the mirrors' names or addresses one by one"
            for entry in section.get("no_proxy", ()) if is_cidr(entry)]
