"""Rendered config documents against the field lists of their API at each release, as strict decoding does.

The field lists under tests/data/kube_api_fields/ were extracted from the upstream Go types by
tests/tools/kube_api_fields.py. kubelet's strict decoding of its config file (kubelet.config.k8s.io/v1beta1)
refuses unknown fields and wrong types; kubeadm decodes its documents, the KubeletConfiguration included, into the
same Go types (unknown fields: warnings or errors, by release).

- KubeletConfiguration: one list per minor, taken at the release tag (kubelet/1.N.yaml names it).
- kubeadm's Init/Cluster/JoinConfiguration: one file per API version (kubeadm/v1betaN.yaml) taken from a stored
  commit of kubernetes/kubernetes, NOT a tag; its `minors` say, for each minor using that API, what stands for the
  tag and which fields that minor adds. Every document we render for the first control plane, a joining control
  plane and a worker is checked, for all minors.
- KubeProxyConfiguration: none is checked because we render none (generator/configs.py writes no
  kubeproxy.config.k8s.io document; kube-proxy runs on kubeadm's defaults).
"""

import copy
import re
from pathlib import Path

import pytest
import yaml

from generator.errors import ProfileError
from generator import node_paths as paths
from generator.pipeline import node_from_profile
from generator.render import node_files
from generator.versions import supported_pairs

from tests.support.common import DATA, ROOT
from tests.support.trees import ha_tree

FIELDS = DATA / "kube_api_fields"
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
    join = kubeadm_kinds("v1beta3", "1.26")["JoinConfiguration"]
    assert strict_problems({"discovery": {"bootstrapToken": {"caCertHash": ["sha256:00"]}}}, join) == \
        [".discovery.bootstrapToken.caCertHash: unknown field"]
    assert strict_problems({"controlPlane": {"localAPIEndpoint": {"bindPort": "6443"}}}, join) != []


def test_the_kubeadm_check_follows_each_api_and_minor():
    # kubeletExtraArgs: a map of flags up to v1beta3, a list of {name, value} in v1beta4
    flags = {"nodeRegistration": {"kubeletExtraArgs": {"node-ip": "192.168.10.5"}}}
    assert strict_problems(flags, kubeadm_kinds("v1beta3", "1.30")["InitConfiguration"]) == []
    assert strict_problems(flags, kubeadm_kinds("v1beta4", "1.31")["InitConfiguration"]) != []
    # dns.type left with v1beta2; skipPhases came with v1beta3; dryRun with v1beta4
    assert strict_problems({"dns": {"type": "CoreDNS"}}, kubeadm_kinds("v1beta2", "1.21")["ClusterConfiguration"]) == []
    assert strict_problems({"dns": {"type": "CoreDNS"}}, kubeadm_kinds("v1beta3", "1.22")["ClusterConfiguration"]) == \
        [".dns.type: unknown field"]
    assert strict_problems({"skipPhases": ["addon/kube-proxy"]}, kubeadm_kinds("v1beta2", "1.21")["InitConfiguration"]) \
        == [".skipPhases: unknown field"]
    assert strict_problems({"dryRun": True}, kubeadm_kinds("v1beta3", "1.30")["JoinConfiguration"]) == \
        [".dryRun: unknown field"]
    # a field a later minor adds is refused before it
    external = {"etcd": {"external": {"endpoints": ["https://e1:2379"], "httpEndpoints": ["http://e1:2381"]}}}
    assert strict_problems(external, kubeadm_kinds("v1beta4", "1.34")["ClusterConfiguration"]) == \
        [".etcd.external.httpEndpoints: unknown field"]
    assert strict_problems(external, kubeadm_kinds("v1beta4", "1.35")["ClusterConfiguration"]) == []
    token = {"bootstrapTokens": [{"token": "abcdef.0123456789abcdef", "ttl": 86400}]}
    assert strict_problems(token, kubeadm_kinds("v1beta4", "1.37")["InitConfiguration"]) == \
        [".bootstrapTokens[0].ttl: want duration, got 86400"]


def test_kubeadm_field_lists_cover_every_minor_with_its_api():
    releases = yaml.safe_load((ROOT / "generator" / "data" / "releases.yaml").read_text())["kubernetes"]
    for minor in MINORS:
        api = releases[minor]["kubeadm_api"]
        data = yaml.safe_load((FIELDS / "kubeadm" / f"{api}.yaml").read_text())
        assert data["api"] == f"kubeadm.k8s.io/{api}" and data["source"].startswith("kubernetes/kubernetes@")
        assert data["minors"][minor]["evidence"], minor
        assert set(data["kinds"]) == {"InitConfiguration", "ClusterConfiguration", "JoinConfiguration"}


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


def kubeadm_kinds(api: str, minor: str) -> dict:
    """The kinds of kubeadm/<api>.yaml, with the fields its `minors` entry says that minor adds."""
    data = yaml.safe_load((FIELDS / "kubeadm" / f"{api}.yaml").read_text())
    kinds = copy.deepcopy(data["kinds"])
    for path, spec in (data["minors"][minor].get("added") or {}).items():
        *parents, leaf = path.split(".")
        node = kinds
        for key in parents:
            node = node[key]
        node[leaf] = spec
    return kinds


def rendered_kubeadm_documents(tree: Path, names: tuple, secrets: Path):
    for name in names:
        node = node_from_profile(tree / f"{name}.yaml", secrets)
        for f in node_files(node):
            if f.path.startswith(f"{paths.CONFIG_DIR}/kubeadm"):
                for doc in yaml.safe_load_all(f.content):
                    if doc and doc["apiVersion"].startswith("kubeadm.k8s.io/"):
                        yield name, f.path, doc


@pytest.mark.parametrize("minor", MINORS)
def test_kubeadm_documents_decode_strictly(tmp_path, minor):

    api = yaml.safe_load((ROOT / "generator" / "data" / "releases.yaml").read_text())["kubernetes"][minor]["kubeadm_api"]
    kinds = kubeadm_kinds(api, minor)
    distro, major = FIRST_OS[minor].rsplit("-", 1)
    names = ("cp1", "cp2", "worker1")
    try:
        ha = ha_tree(tmp_path, minor, distro, major)
        documents = list(rendered_kubeadm_documents(ha, names, tmp_path / "secrets"))
    except ProfileError as refused:  # no joining control plane before 1.22 (test_kubeadm): cp1 alone and a worker
        assert "RSA service-account key" in str(refused) and int(minor.split(".")[1]) < 22
        names = ("cp1", "worker1")
        single = ha_tree(tmp_path, minor, distro, major, ha=False)
        documents = list(rendered_kubeadm_documents(single, names, tmp_path / "secrets"))
    checked = set()
    for name, path, doc in documents:
        assert doc["apiVersion"] == f"kubeadm.k8s.io/{api}", (name, path)
        assert strict_problems(doc, kinds[doc["kind"]]) == [], (name, path, doc["kind"])
        checked.add((name, doc["kind"]))
    assert {kind for _, kind in checked} == {"InitConfiguration", "ClusterConfiguration", "JoinConfiguration"}
    assert {name for name, _ in checked} == set(names)
