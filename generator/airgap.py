"""For air-gapped profiles: every download the node would still make from a public source."""

from urllib.parse import urlsplit

from generator import releases
from generator.model import Node

# registries the upstream images live on (kubeadm, CNI manifests)
PUBLIC_REGISTRIES = ("registry.k8s.io", "k8s.gcr.io", "gcr.io", "docker.io", "quay.io", "ghcr.io")


def _urls(value) -> list[str]:
    if isinstance(value, dict):
        return [u for v in value.values() for u in _urls(v)]
    if isinstance(value, list):
        return [u for v in value for u in _urls(v)]
    return [value] if isinstance(value, str) and value.startswith(("http://", "https://")) else []


def public_hosts() -> set[str]:
    """Hosts of every upstream URL in the release data, plus the public registries."""
    return {urlsplit(u).hostname for u in _urls(releases.data())} | set(PUBLIC_REGISTRIES)


def _registry_host(image: str) -> str:
    return image.split("/", 1)[0]


def public_downloads(node: Node) -> list[str]:
    """One warning (about air_gapped) per public source an air-gapped node would try, naming the profile key that
    replaces it."""
    public = public_hosts()
    found = []

    def check(url: str, key: str) -> None:
        if url and urlsplit(url).hostname in public:
            found.append(f"{url} is public; set {key} to an internal mirror")

    check(node.os.install_url, "os.install_url")
    check(node.os.appstream_url, "os.appstream_url")
    for repo_file in node.repo_files:
        for repo in repo_file.repos:
            key = f"mirrors.{repo.mirror_key}"
            check(repo.baseurl, f"{key}.baseurl")
            for gpgkey in repo.gpgkey:
                check(gpgkey, f"{key}.gpgkey")
    if not node.os.own_repos:
        found.append("the installed system keeps the distro's stock repo files (public mirrors); "
                     "set mirrors.os.baseos and mirrors.os.appstream (or os.install_url and os.appstream_url)")
    if node.registration:
        found.append("os.registration reaches Red Hat's public subscription service and CDN; "
                     "use mirrors.os.* of a Satellite or internal mirror instead")
    check(node.cni.manifest_url, "cni.manifest_url")
    check(node.cni.manifest_archive, "cni.manifest_url")
    check(node.cni.cli_url, "cni.cli_url")
    check(node.cni.chart_url, "cni.chart_url")
    mirrored = {m.prefix for m in node.registry_mirrors}
    if _registry_host(node.kube.image_repository) in public:
        found.append(f"control-plane images come from {node.kube.image_repository}; set mirrors.images")
    for registry in node.cni.image_registries:
        if registry not in mirrored:
            found.append(f"{node.cni.plugin} {node.cni.version} images come from {registry}; "
                         f"add it to mirrors.registries")
    return found
