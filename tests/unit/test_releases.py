"""Release knowledge checked against upstream facts (kubeadm and kubelet docs, CRI-O and Kubernetes release notes)."""

import pytest

from tests.support.common import ROOT
from generator import releases
from generator.pipeline import node_from_profile

MINORS = [f"1.{n}" for n in range(18, 38)]


def test_every_minor_from_1_18_to_1_37_is_known():
    assert releases.kubernetes_minors() == tuple(MINORS)


@pytest.mark.parametrize("minor", MINORS)
def test_kubeadm_api_by_minor(minor):
    n = int(minor.split(".")[1])
    # v1beta2 until v1beta3 arrived in 1.22 (v1beta2 removed in 1.26); v1beta4 from 1.31
    expected = "v1beta2" if n < 22 else "v1beta3" if n < 31 else "v1beta4"
    assert releases.kube_release(minor)["kubeadm_api"] == expected


@pytest.mark.parametrize("minor", MINORS)
def test_kubelet_flags_by_minor(minor):
    n = int(minor.split(".")[1])
    release = releases.kube_release(minor)
    # --container-runtime was removed in 1.27; containerRuntimeEndpoint joined KubeletConfiguration in 1.27
    assert release["kubelet_container_runtime_flag"] is (n < 27)
    assert release["kubelet_endpoint_in_config"] is (n >= 27)


@pytest.mark.parametrize("minor", MINORS)
def test_repositories_by_era(minor):
    n = int(minor.split(".")[1])
    release = releases.kube_release(minor)
    # pkgs.k8s.io starts at v1.24; the Google repository is frozen and gone
    assert release["kube_repo"] == ("google-legacy" if n < 24 else "pkgs-k8s")
    crio = releases.repo(release["crio_repo"])
    assert "cri-o" in (crio.get("crio") or crio)["baseurl"]  # Kubic: a libcontainers repo beside CRI-O's own
    if n == 18:
        assert release["crio_repo"] == "kubic"
    # control-plane taint: "master" until 1.24 (both in 1.24), "control-plane" from 1.25
    taints = release["control_plane_taints"]
    assert ("node-role.kubernetes.io/master" in taints) is (n <= 24)
    assert ("node-role.kubernetes.io/control-plane" in taints) is (n >= 24)
    # kubeadm 1.24 hands the kubelet its CRI endpoint with a URL scheme (kubernetes#107295); before, a bare path
    assert release["cri_socket"] == ("unix://" if n >= 24 else "") + "/var/run/crio/crio.sock"


def test_unserved_repositories_warn(tmp_path):
    classic = node_from_profile(ROOT / "profiles/classic/worker.yaml", tmp_path)
    assert any("no longer served upstream" in w.message for w in classic.warnings)
    modern = node_from_profile(ROOT / "profiles/worker.yaml", tmp_path)
    # its one warning: the default calico manifest has no pinned checksum (docs/security.md)
    assert [w for w in modern.warnings if "no checksum is pinned" not in w.message] == []


def test_crio_sample_networks_include_every_era():
    files = releases.crio_sample_bridge_files()
    assert "/etc/cni/net.d/100-crio-bridge.conf" in files  # CRI-O 1.18
    assert "/etc/cni/net.d/11-crio-ipv4-bridge.conflist" in files  # newer CRI-O
