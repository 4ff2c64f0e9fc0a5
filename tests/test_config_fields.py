"""Rendered config documents against the field lists of their API at each release tag, as strict decoding does.

The field lists under tests/data/kube_api_fields/ were extracted from the upstream Go types by
tests/tools/kube_api_fields.py (each file names its tag). kubelet's strict decoding of its config file
(kubelet.config.k8s.io/v1beta1) refuses unknown fields and wrong types; so does kubeadm for the documents it
reads, the KubeletConfiguration included.
"""

import re
from pathlib import Path

import pytest
import yaml

from generator.pipeline import node_from_profile
from generator.render import node_files
from generator.versions import supported_pairs
from generator import node_paths as paths

FIELDS = Path(__file__).parent / "data" / "kube_api_fields"
MINORS = sorted({m for m, _ in supported_pairs()}, key=lambda m: int(m.split(".")[1]))
FIRST_OS = {m: next(o for mm, o in supported_pairs() if mm == m) for m in MINORS}
GO_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$|^0$")


def strict_problems(value, spec, path: str = "") -> list[str]:
    """What Go's strict JSON decoding into these types would refuse: unknown fields and wrong types."""
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return [f"{path}: want an object, got {value!r}"]
        found = []
        for key, item in value.items():
            if key not in spec:
                found.append(f"{path}.{key}: unknown field")
            else:
                found += strict_problems(item, spec[key], f"{path}.{key}")
        return found
    if isinstance(spec, list):
        if not isinstance(value, list):
            return [f"{path}: want a list, got {value!r}"]
        return [p for i, item in enumerate(value) for p in strict_problems(item, spec[0], f"{path}[{i}]")]
    ok = {
        "string": lambda v: isinstance(v, str),
        "duration": lambda v: isinstance(v, str) and bool(GO_DURATION.match(v)),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "map": lambda v: isinstance(v, dict),
        "object": lambda v: True,
    }[spec]
    return [] if ok(value) else [f"{path}: want {spec}, got {value!r}"]


def kubelet_fields(minor: str) -> dict:
    return yaml.safe_load((FIELDS / "kubelet" / f"{minor}.yaml").read_text())


def test_field_lists_name_their_tag():
    for minor in MINORS:
        data = kubelet_fields(minor)
        assert data["tag"].startswith(f"kubernetes-{minor}.") and data["kind"] == "KubeletConfiguration"


def test_the_check_refuses_what_strict_decoding_refuses():
    fields = kubelet_fields("1.26")["fields"]
    assert strict_problems({"apiVersion": "kubelet.config.k8s.io/v1beta1", "cgroupDriver": "systemd"}, fields) == []
    # containerRuntimeEndpoint arrived in 1.27's KubeletConfiguration
    assert strict_problems({"containerRuntimeEndpoint": "unix:///run/crio/crio.sock"}, fields) == \
        [".containerRuntimeEndpoint: unknown field"]
    assert strict_problems({"cgroupDriver": 1}, fields) == [".cgroupDriver: want string, got 1"]
    assert strict_problems({"authentication": {"webhook": {"cacheTTL": "2 minutes"}}}, fields) != []
    join = yaml.safe_load((FIELDS / "kubeadm" / "v1beta3.yaml").read_text())["kinds"]["JoinConfiguration"]
    assert strict_problems({"discovery": {"bootstrapToken": {"caCertHash": ["sha256:00"]}}}, join) == \
        [".discovery.bootstrapToken.caCertHash: unknown field"]
    assert strict_problems({"controlPlane": {"localAPIEndpoint": {"bindPort": "6443"}}}, join) != []


@pytest.mark.parametrize("minor", MINORS)
def test_kubelet_configuration_decodes_strictly(tmp_path, minor):
    distro, major = FIRST_OS[minor].rsplit("-", 1)
    profile = tmp_path / "cp.yaml"
    profile.write_text(yaml.safe_dump({
        "role": "control-plane", "hostname": "cp1", "cluster": {"name": "fields"},
        "os": {"distro": distro, "version": major},
        "kubernetes": {"version": minor, "pod_cidr": "10.244.0.0/16", "control_plane_endpoint": "cp1.example:6443"},
        "network": {"bootproto": "static", "address": "192.168.10.5/24", "gateway": "192.168.10.1"},
    }))
    node = node_from_profile(profile, tmp_path / "secrets")
    config = next(f.content for f in node_files(node) if f.path == paths.KUBEADM_CONFIG)
    kubelet = next(d for d in yaml.safe_load_all(config) if d and d["kind"] == "KubeletConfiguration")
    assert kubelet["apiVersion"] == "kubelet.config.k8s.io/v1beta1"
    assert strict_problems(kubelet, kubelet_fields(minor)["fields"]) == []


def kubeadm_fields(api: str) -> dict:
    path = FIELDS / "kubeadm" / f"{api}.yaml"
    return yaml.safe_load(path.read_text())["kinds"] if path.exists() else {}


V1BETA3 = [m for m in MINORS if 22 <= int(m.split(".")[1]) <= 30]  # kubeadm's config API there (test_matrix)


@pytest.mark.parametrize("minor", V1BETA3)
def test_kubeadm_documents_decode_strictly(tmp_path, minor):
    from test_kubeadm import ha_tree

    kinds = kubeadm_fields("v1beta3")
    tree = ha_tree(tmp_path, minor, *FIRST_OS[minor].rsplit("-", 1))
    checked = set()
    for name in ("cp1", "cp2", "worker1"):
        node = node_from_profile(tree / f"{name}.yaml", tmp_path / "secrets")
        for f in node_files(node):
            if not f.path.startswith("/etc/k8s-firstboot/kubeadm"):
                continue
            for doc in yaml.safe_load_all(f.content):
                if doc and doc["apiVersion"].startswith("kubeadm.k8s.io/"):
                    assert doc["apiVersion"] == "kubeadm.k8s.io/v1beta3", (name, f.path)
                    assert strict_problems(doc, kinds[doc["kind"]]) == [], (name, f.path)
                    checked.add(doc["kind"])
    assert checked == {"InitConfiguration", "ClusterConfiguration", "JoinConfiguration"}
