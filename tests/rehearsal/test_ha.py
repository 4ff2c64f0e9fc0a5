"""HA: three control planes and two workers from one cluster, rehearsed in their own sandboxes."""

import re
from pathlib import Path

import pytest

from tests.support.common import ROOT, need
from tests.support.rehearsal import in_order, kubeadm_documents, openssl_ca_hash, run_first_boot, run_kickstart_post
from tests.support.sandbox import Sandbox, bwrap_available
from tests.support import standin

from generator import verify
from generator.kickstart import render_kickstart
from generator.pipeline import node_from_profile
from generator.render import node_files
from generator import node_paths as paths

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
        conf = box.file(paths.KEEPALIVED_CONF).read_text()
        assert VIP in conf and "track_script" in conf
        priorities[name] = int(conf.split("priority ")[1].split()[0])
        check = box.file(keepalived_script(conf))
        assert check.stat().st_mode & 0o111
        if verify.shellcheck_tool():
            assert verify.shellcheck_findings(check.read_text(), "check_apiserver.sh") == []
        assert "firewall-offline-cmd --add-protocol=vrrp" in box.command_lines()
    # cp1 holds the address while it runs kubeadm init
    assert priorities["cp1"] > priorities["cp2"] == priorities["cp3"]


def keepalived_script(conf: str) -> str:
    return re.search(r'^\s*script\s+"?([^"\s]+)', conf, re.M).group(1)


def test_keepalived_uses_the_interface_this_machine_has(cluster):
    """EL9 names a VM's interface enp1s0, not eth0: neither the Kickstart nor keepalived may assume a name."""
    for name in ("cp1", "cp2", "cp3"):
        node, box = cluster[name]
        network = [line for line in render_kickstart(node).splitlines() if line.startswith("network ")]
        assert network and "eth0" not in network[0], network
        conf = box.file(paths.KEEPALIVED_CONF).read_text()
        assert re.search(rf"^\s*interface {standin.INTERFACE}$", conf, re.M), conf


def test_keepalived_health_check_reaches_the_api_server_under_selinux(cluster):
    """keepalived_t may not connect to 6443; only a relabelled script under /usr/libexec/keepalived runs
    unconfined (selinux-policy keepalived.te and .fc), and the boolean keepalived_connect_any stays off."""
    for name in ("cp1", "cp2", "cp3"):
        node, box = cluster[name]
        assert node.os.selinux == "enforcing"
        script = keepalived_script(box.file(paths.KEEPALIVED_CONF).read_text())
        domain = standin.keepalived_script_domain(box.root, script)
        assert standin.keepalived_may_connect(domain, 6443), (name, script, domain)
        calls = box.command_lines()
        relabel = [i for i, c in enumerate(calls) if c.startswith("restorecon")]
        assert relabel and relabel[0] < calls.index("systemctl start keepalived.service"), calls


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


def test_a_mac_address_names_the_interface_and_a_named_interface_is_kept(tmp_path, write_profile):
    """Where names are unknown in advance, network.device takes a MAC (Anaconda matches it); a profile that
    names keepalived's interface gets exactly that one, with no lookup at boot."""
    from generator.verify import parse_kickstart
    profile = ("role: control-plane\nhostname: cp1\n"
               "cluster: {name: ha, first_control_plane: cp1, virtual_ip: {address: 192.168.122.100, interface: ens3}}\n"
               "os: {distro: almalinux, version: '9'}\n"
               "kubernetes: {version: '1.36', control_plane_endpoint: '192.168.122.100:6443'}\n"
               "network: {bootproto: static, device: '52:54:00:12:34:56', address: 192.168.122.11/24}\n"
               "users: {admin: {name: ops, password_hash: '$6$k8sfirstboot$B.1JteR1gldw1SouvTiglJgGOoRZwvLdzjgxoeDYiZ9Kh6oEsn984RLWAdI/dJ19WuFF9yeNn2GPdCIM3Wqs//'}}\n")
    node = node_from_profile(write_profile("cp1.yaml", profile), tmp_path / "secrets")
    ks = parse_kickstart(render_kickstart(node), node.os.ks_handler).handler
    assert ks.network.network[0].device == "52:54:00:12:34:56"
    conf = next(f.content for f in node_files(node) if f.path == paths.KEEPALIVED_CONF)
    assert re.search(r"^\s*interface ens3$", conf, re.M)
    assert "ip -o route get" not in next(f.content for f in node_files(node) if f.path == paths.SCRIPT_PATH)
