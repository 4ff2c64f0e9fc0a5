"""HA: three control planes and two workers from one cluster, rehearsed in their own sandboxes."""

from pathlib import Path

import pytest

from conftest import ROOT, need
from rehearsal import in_order, kubeadm_documents, openssl_ca_hash, run_first_boot, run_kickstart_post
from sandbox import Sandbox, bwrap_available

from generator import verify
from generator.kickstart import render_kickstart
from generator.pipeline import node_from_profile
from generator.render import node_files

NODES = ["cp1", "cp2", "cp3", "worker1", "worker2"]
VIP = "192.168.122.100"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")
    secrets_dir = tmp_path_factory.mktemp("secrets")
    boxes = {}
    # render in a scrambled order, as separate calls would: the values must still match
    for name in ["worker2", "cp3", "cp1", "worker1", "cp2"]:
        node = node_from_profile(ROOT / f"profiles/ha/{name}.yaml", secrets_dir)
        box = Sandbox(tmp_path_factory.mktemp(name))
        run_kickstart_post(box, render_kickstart(node), "RHEL9")
        result = run_first_boot(box)
        assert result.returncode == 0, (name, result.stderr[-3000:])
        boxes[name] = (node, box)
    return boxes


def test_init_on_the_first_control_plane_and_joins_elsewhere(cluster):
    calls = {name: box.command_lines() for name, (_, box) in cluster.items()}
    assert [n for n in NODES if any(c.startswith("kubeadm init") for c in calls[n])] == ["cp1"]
    for name in ("cp2", "cp3"):
        join = kubeadm_documents(cluster[name][1].record / "join-config.yaml")["JoinConfiguration"]
        assert "controlPlane" in join, name
        # keepalived runs before the join, so a control plane can take over the address once it serves
        assert in_order(calls[name], ["systemctl start keepalived.service", "kubeadm join"]) == []
    for name in ("worker1", "worker2"):
        join = kubeadm_documents(cluster[name][1].record / "join-config.yaml")["JoinConfiguration"]
        assert "controlPlane" not in join
        assert not [c for c in calls[name] if "keepalived" in c]
    assert in_order(calls["cp1"], ["systemctl start keepalived.service", "kubeadm init"]) == []


def test_every_node_trusts_the_same_ca(cluster):
    first_ca = cluster["cp1"][1].file("/etc/kubernetes/pki/ca.crt")
    expected = openssl_ca_hash(first_ca)
    for name in NODES[1:]:
        box = cluster[name][1]
        bootstrap = kubeadm_documents(box.record / "join-config.yaml")["JoinConfiguration"]["discovery"]["bootstrapToken"]
        assert bootstrap["caCertHashes"] == [expected], name
        assert bootstrap["apiServerEndpoint"] == f"{VIP}:6443"
    for name in ("cp2", "cp3"):
        box = cluster[name][1]
        for shared in ("ca.crt", "front-proxy-ca.crt", "etcd/ca.crt", "sa.pub"):
            assert box.file(f"/etc/kubernetes/pki/{shared}").read_bytes() == \
                cluster["cp1"][1].file(f"/etc/kubernetes/pki/{shared}").read_bytes(), (name, shared)


def test_keepalived_holds_the_api_address(cluster):
    priorities = {}
    for name in ("cp1", "cp2", "cp3"):
        node, box = cluster[name]
        conf = box.file("/etc/keepalived/keepalived.conf").read_text()
        assert VIP in conf and "interface eth0" in conf and "track_script" in conf
        priorities[name] = int(conf.split("priority ")[1].split()[0])
        check = box.file("/etc/keepalived/check_apiserver.sh")
        assert check.stat().st_mode & 0o111
        if verify.shellcheck_tool():
            assert verify.shellcheck_findings(check.read_text(), "check_apiserver.sh") == []
        assert "firewall-offline-cmd --add-protocol=vrrp" in box.command_lines()
    # cp1 holds the address while it runs kubeadm init
    assert priorities["cp1"] > priorities["cp2"] == priorities["cp3"]


def test_workers_carry_no_cluster_keys(cluster):
    for name in ("worker1", "worker2"):
        node, _ = cluster[name]
        assert not [f.path for f in node_files(node) if f.path.endswith(".key")]
        assert node.pki is None


def test_virtual_ip_needs_matching_endpoint_and_a_first_control_plane(write_profile):
    from generator.errors import ProfileError
    from generator.pipeline import checked_profile
    bad = write_profile("x.yaml", f"extends: profiles/ha/cp2.yaml\nkubernetes: {{control_plane_endpoint: 10.1.1.1:6443}}\n")
    with pytest.raises(ProfileError) as err:
        checked_profile(bad)
    assert "kubernetes.control_plane_endpoint: with cluster.virtual_ip the endpoint must be that address" in str(err.value.problems[0])
