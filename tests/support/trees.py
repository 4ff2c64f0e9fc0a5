"""Profile trees for tests: the repository's examples copied and changed."""

import shutil

import yaml

from tests.support.common import ROOT

def ha_tree(tmp_path, version: str, distro: str = "rocky", os_version: str = "8", ha: bool = True):
    """profiles/ha on another version (ha=False: cp1 alone, without virtual IP or first control plane)."""
    tree = tmp_path / ("ha" if ha else "single")
    shutil.copytree(ROOT / "profiles/ha", tree)
    cluster = yaml.safe_load((tree / "cluster.yaml").read_text())
    if not ha:
        del cluster["cluster"]["first_control_plane"], cluster["cluster"]["virtual_ip"]
    cluster["kubernetes"]["version"] = version
    cluster["os"].update(distro=distro, version=os_version)
    cluster["cni"].pop("version", None)
    (tree / "cluster.yaml").write_text(yaml.safe_dump(cluster))
    return tree
