"""The supported matrix: Kubernetes minor x operating system, with what each minor brings along."""

from dataclasses import dataclass

from generator import releases


@dataclass(frozen=True)
class Row:
    minor: str
    latest_patch: str
    crio_minor: str      # CRI-O's minor always equals Kubernetes'
    kubeadm_api: str
    kube_repo: str
    crio_repo: str
    operating_systems: tuple[str, ...]


def matrix() -> list[Row]:
    rows = []
    for minor in releases.kubernetes_minors():
        release = releases.kube_release(minor)
        systems = tuple(key for key, entry in releases.os_releases().items() if releases.os_supports(entry, minor))
        rows.append(Row(minor, release["latest_patch"], minor, release["kubeadm_api"], release["kube_repo"],
                        release["crio_repo"], systems))
    return rows


def supported_pairs() -> list[tuple[str, str]]:
    """(Kubernetes minor, OS key) for every cell of the matrix."""
    return [(row.minor, os_key) for row in matrix() for os_key in row.operating_systems]


def format_matrix() -> str:
    def repo(key: str) -> str:
        return key + ("*" if not releases.repo(key).get("served", True) else "")

    header = ("Kubernetes", "patch", "CRI-O", "kubeadm API", "Kubernetes repo", "CRI-O repo", "operating systems")
    lines = [header] + [(r.minor, r.latest_patch, r.crio_minor, r.kubeadm_api, repo(r.kube_repo), repo(r.crio_repo),
                         " ".join(r.operating_systems)) for r in matrix()]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    text = "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)) + "  " + line[-1] for line in lines)
    names = "\n".join(f"  {key}: {entry['name']} (Kickstart handler {entry['ks_handler']})"
                      for key, entry in releases.os_releases().items())
    return (text + "\n\n* no longer served upstream: give the profile mirrors.* for it\n\n"
            f"operating systems (os.distro-os.version):\n{names}\n")
