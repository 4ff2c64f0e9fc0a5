"""The profile's HTTP(S) proxy: which destinations bypass it, as each consumer on the node reads no_proxy.

The consumers read the list differently (docs/upstream-contracts.md, "Proxies"):
- Go programs (kubeadm, kubelet, CRI-O, and the static pods kubeadm copies the variables into,
  cmd/kubeadm/app/util/env.go GetProxyEnvVars) match names and domain suffixes, and CIDRs, but a CIDR only
  against a destination written as an IP address (golang.org/x/net/http/httpproxy).
- libcurl (curl, and dnf through librepo, which sets CURLOPT_PROXY but never CURLOPT_NOPROXY, so the no_proxy
  environment applies) matches names, suffixes after a dot and exact addresses; CIDRs only from 7.86.0.
- dnf's own configuration has no exception list: a repository reached directly says `proxy=_none_`.
- Anaconda reads no exception list: `url --proxy` becomes the base proxy of every installer repository.
So every address and name of the cluster known at render time is listed one by one.
"""

import dataclasses
import ipaddress
from urllib.parse import unquote, urlsplit

from generator import ipv4, releases
from generator.model import HostEntry, KubeSpec, Proxy, RepoFile

# the first libcurl that honours CIDR entries in no_proxy (curl's CURLOPT_NOPROXY documentation)
CURL_CIDR_NO_PROXY = (7, 86)
# names the cluster's own services go by inside the cluster
CLUSTER_DOMAINS = (".svc", ".cluster.local")


def url_credentials(url: str) -> tuple[str, str] | None:
    """(user, password) of a URL's userinfo, percent-decoded; None when it has none."""
    userinfo = urlsplit(url).netloc.rpartition("@")[0]
    if not userinfo:
        return None
    user, _, password = userinfo.partition(":")
    return unquote(user), unquote(password)


def without_credentials(url: str) -> str:
    """scheme://host[:port] of a proxy URL, as dnf's proxy= wants it (credentials go in their own keys)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def is_cidr(entry: str) -> bool:
    if "/" not in entry:
        return False
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True


def cluster_destinations(kube: KubeSpec, hostname: str, interface: str, hosts: tuple[HostEntry, ...],
                         virtual_ip: str) -> list[str]:
    """Every destination of the cluster itself: never through the proxy (kubernetes/kubeadm#211, #1332).

    interface is the static network.address with its prefix: its subnet covers, for the Go side, the kubelets
    of every node on it, which the API server reaches by IP address.
    """
    address = subnet = ""
    if interface:
        address, subnet = str(ipv4.interface(interface).ip), str(ipv4.interface(interface).network)
    own = ["localhost", "127.0.0.1", hostname, hostname.split(".")[0], address, kube.endpoint_host, virtual_ip]
    for entry in hosts:  # the other nodes, by address and by every name: the API server reaches their kubelets
        own += [entry.ip, *entry.names]
    return [*own, subnet, kube.pod_cidr, kube.service_cidr, *CLUSTER_DOMAINS]


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
    for entry in no_proxy:  # `*` and `*.name` never get here: rules.py refuses them (their readers disagree)
        entry = entry.lower()
        if is_cidr(entry):
            if address is not None and address in ipaddress.ip_network(entry, strict=False):
                return True
            continue
        name = entry.removeprefix(".")
        if host == name or host.endswith("." + name):
            return True
    return False


def installer_proxies(install_url: str, appstream_url: str, proxy: Proxy | None) -> tuple[str, str, list[str]]:
    """(--proxy of `url`, --proxy of the AppStream `repo`, warnings) for Anaconda.

    `url --proxy` is Anaconda's base proxy, inherited by every `repo` (an empty `repo --proxy` inherits), so a
    mirror can be reached directly only when the install tree is too.
    """
    if proxy is None:
        return "", "", []
    through = proxy.http or proxy.https
    if install_url and not bypasses(install_url, proxy.no_proxy):
        warnings = []
        if appstream_url and bypasses(appstream_url, proxy.no_proxy):
            warnings.append(f"Anaconda fetches {appstream_url} through the proxy all the same: "
                            f"`url --proxy` for os.install_url is the installer's proxy for every repository; put "
                            f"os.install_url on a direct mirror too, or let the proxy reach this one")
        return through, (through if appstream_url else ""), warnings
    direct_appstream = not appstream_url or bypasses(appstream_url, proxy.no_proxy)
    return "", ("" if direct_appstream else through), []


def with_direct_repos(repo_files: tuple[RepoFile, ...], proxy: Proxy | None) -> tuple[RepoFile, ...]:
    """Mark the dnf repositories no_proxy names: dnf.conf's proxy= has no exception list of its own."""
    if proxy is None:
        return repo_files
    return tuple(RepoFile(f.path, tuple(dataclasses.replace(r, direct=bypasses(r.baseurl, proxy.no_proxy))
                                         for r in f.repos)) for f in repo_files)


def cidr_warnings(section: dict, os_name: str, curl_version: str) -> list[tuple[tuple, str]]:
    """(key path, warning) for each CIDR no_proxy entry of the profile that this OS's curl and dnf ignore."""
    if not curl_version or releases.minor_key(curl_version) >= CURL_CIDR_NO_PROXY:
        return []
    return [(("proxy", "no_proxy", i), f"{entry} is a CIDR; curl and dnf on {os_name} (libcurl {curl_version}; CIDRs need "
            f"7.86) ignore it, and Go programs (kubelet, CRI-O) match it only against destinations written as IP "
            f"addresses: list the mirrors and registries by name too")
            for i, entry in enumerate(section.get("no_proxy", ())) if is_cidr(entry)]
