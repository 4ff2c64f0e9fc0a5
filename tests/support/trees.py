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


# a worker profile with nothing but its disk left open: DISK_PROFILE.format(disk=', disk: sda') or disk=''
DISK_PROFILE = """\
role: worker
hostname: worker1
os: {{distro: rocky, version: "9"{disk}}}
kubernetes: {{version: "1.36", control_plane_endpoint: 192.168.122.10:6443}}
users: {{root: {{password_hash: "$6$k8sfirstboot$B.1JteR1gldw1SouvTiglJgGOoRZwvLdzjgxoeDYiZ9Kh6oEsn984RLWAdI/dJ19WuFF9yeNn2GPdCIM3Wqs//"}}}}
"""
