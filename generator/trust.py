"""What a node downloads and runs, and how far it can trust it: pinned checksums and plain-http sources.

Pinned digests live in data/checksums.yaml (URL -> sha256, with where each came from). A site that serves
its own copies, or a test whose stand-in serves other bytes, names its own file in K8S_FIRSTBOOT_CHECKSUMS.
"""

import os
from functools import cache
from pathlib import Path

import yaml

from generator import DATA_DIR, proxy

CHECKSUMS_ENV = "K8S_FIRSTBOOT_CHECKSUMS"


@cache
def _pins(path: str) -> dict[str, str]:
    table = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return {url: entry["sha256"] for url, entry in table.items()}


def pinned_sha256(url: str) -> str:
    """The pinned sha256 of `url`, or "" when none is known."""
    return _pins(os.environ.get(CHECKSUMS_ENV) or str(DATA_DIR / "checksums.yaml")).get(url, "")


def download_warnings(node) -> list[tuple[tuple, str]]:
    """(key path, warning) per download whose integrity rests on weak grounds (`gen validate --strict` refuses
    them)."""
    warnings = []
    cni = node.cni
    if cni.install == "manifest" and not cni.manifest_sha256:
        source = cni.manifest_url or f"{cni.manifest_member} from {cni.manifest_archive}"
        set_it = ("set cni.manifest_sha256" if cni.manifest_url else
                  "serve an extracted copy and set cni.manifest_url and cni.manifest_sha256")
        warnings.append((("cni",), f"the {cni.plugin} manifest {source} is applied with cluster-admin rights "
                        f"but no checksum is pinned for it; {set_it}"))
    if cni.install == "cilium-cli":
        warnings.append((("cni",), f"the cilium CLI {cni.cli_url} is checked only against the .sha256sum served "
                                   "beside it (same origin); serve both from a mirror you trust"))
    if node.report_url.startswith("http://") and proxy.url_credentials(node.report_url):
        warnings.append((("bootstrap", "report_url"), "plain http with a user and password: they cross the "
                                                      "network in clear (Basic auth); use https"))
    plain = [(key, url) for key, url in _sources(node) if url.startswith("http://")]
    for key, url in plain:
        warnings.append((tuple(key.split(".")), f"{url} is plain http: anyone on the path can change what the node "
                                                f"runs; use https"))
    return warnings


def _sources(node) -> list[tuple[str, str]]:
    """(profile key, URL) of every key, manifest and binary the node fetches itself."""
    found = []
    for repo_file in node.repo_files:
        for repo in repo_file.repos:
            key = f"mirrors.{repo.mirror_key}"
            found += [(f"{key}.gpgkey", url) for url in repo.gpgkey]
    if node.cni.install == "manifest":
        found.append(("cni.manifest_url", node.cni.manifest_url))
    else:
        found.append(("cni.cli_url", node.cni.cli_url))
    return found
