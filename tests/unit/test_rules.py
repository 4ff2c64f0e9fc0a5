"""Schema and semantic rules: each mistake gets its file:line, key path and a hint."""

import pytest

from generator.errors import ProfileError
from generator.pipeline import checked_profile

GOOD = """\
role: worker
hostname: node1
os: {distro: rocky, version: "9"}
kubernetes:
  version: "1.36"
  pod_cidr: 10.244.0.0/16
  service_cidr: 10.96.0.0/12
  control_plane_endpoint: cp.example:6443
network:
  bootproto: static
  address: 192.168.1.20/24
"""


def errors(write_profile, text: str) -> list[str]:
    path = write_profile("p.yaml", text)
    with pytest.raises(ProfileError) as err:
        checked_profile(path)
    return [str(p).replace(str(path), "p.yaml") for p in err.value.problems]


def test_good_profile_passes(write_profile):
    assert checked_profile(write_profile("p.yaml", GOOD)).data["hostname"] == "node1"


@pytest.mark.parametrize("change, expected", [
    (("hostname: node1", "hostnme: node1"), "p.yaml:2: error: hostnme: unknown key; did you mean 'hostname'?"),
    (("role: worker", "role: wroker"), 'p.yaml:1: error: role: "wroker" is not one of "control-plane", "master", "worker"; did you mean \'worker\'?'),
    (("hostname: node1", "hostname: Node_1"), 'p.yaml:2: error: hostname: "Node_1" is not valid: an RFC 1123 name'),
    (('version: "1.36"', "version: 1.34"), "p.yaml:5: error: kubernetes.version: must be text: put the value in quotes (YAML read 1.34 as a number)"),
    (('version: "1.36"', 'version: "1.17"'), "p.yaml:5: error: kubernetes.version: Kubernetes 1.17 is not supported; choose a minor from 1.18"),
    (("pod_cidr: 10.244.0.0/16", "pod_cidr: 10.244.0.1/16"), "p.yaml:6: error: kubernetes.pod_cidr: '10.244.0.1/16' is not a valid IPv4 network (10.244.0.1/16 has host bits set); did you mean 10.244.0.0/16?"),
    (("pod_cidr: 10.244.0.0/16", "pod_cidr: 10.96.0.0/16"), "p.yaml:7: error: kubernetes.service_cidr: 10.96.0.0/12 overlaps the pod network 10.96.0.0/16"),
    (("address: 192.168.1.20/24", "address: 10.244.3.4/24"), "p.yaml:11: error: network.address: the node address 10.244.3.4 lies inside the pod network 10.244.0.0/16"),
    (("cp.example:6443", "cp.example:99999"), "p.yaml:8: error: kubernetes.control_plane_endpoint: port 99999 is out of range 1-65535"),
    (("cp.example:6443", "$(reboot)"), 'p.yaml:8: error: kubernetes.control_plane_endpoint: "$(reboot)" is not valid'),
    (("hostname: node1", "hostname: ';rm -rf /'"), "p.yaml:2: error: hostname: \";rm -rf /\" is not valid"),
    (("os: {distro: rocky, version: \"9\"}", "os: {distro: rocky, version: \"7\"}"), "p.yaml:3: error: os.version: rocky 7 is not supported"),
    (("role: worker", "role: worker\nusers: {root: {password_hash: hunter2}}"), 'p.yaml:2: error: users.root.password_hash: "hunter2" is not valid: give a crypt hash such as the output of `openssl passwd -6`'),
    (("  control_plane_endpoint: cp.example:6443\n", ""), "p.yaml:1: error: this node profile extends no shared profile and lacks kubernetes.control_plane_endpoint; "
     "add `extends: <file>` naming the cluster's shared profile (one without role:, e.g. cluster.yaml), or set them here"),
    (("os: {distro: rocky, version: \"9\"}", "os: [rocky]"), "p.yaml:3: error: os: must be a mapping (keys under it), not a list"),
])
def test_each_mistake_is_reported_where_it_is(write_profile, change, expected):
    old, new = change
    assert old in GOOD
    found = errors(write_profile, GOOD.replace(old, new))
    assert any(f.startswith(expected) for f in found), found


def test_unsupported_pair_lists_what_is_supported(write_profile):
    text = GOOD.replace('os: {distro: rocky, version: "9"}', 'os: {distro: centos, version: "8"}')
    found = errors(write_profile, text)
    assert any("kubernetes.version: Kubernetes 1.36 has no packages for CentOS Linux 8; supported there: 1.18 to" in f
               for f in found), found


def test_shared_profile_without_role_needs_no_node_keys(write_profile):
    doc = checked_profile(write_profile("p.yaml", "kubernetes: {pod_cidr: 10.244.0.0/16}\n"))
    assert doc.data == {"kubernetes": {"pod_cidr": "10.244.0.0/16"}}
