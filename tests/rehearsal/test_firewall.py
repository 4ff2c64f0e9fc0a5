"""firewalld must let pod traffic between nodes through its forward chain (issue 8, defect 6).

A node's prepare phase runs in the sandbox against the firewall-offline-cmd stand-in, which keeps the zones the
way firewalld of that OS release would (and refuses what that release refuses); standin.firewall_forwards then
judges forwarded packets by firewalld's nftables rules (docs/upstream-contracts.md, firewalld).
"""

import pytest

from tests.support.common import need
from tests.support.rehearsal import run_kickstart_post
from tests.support.sandbox import Sandbox, bwrap_available
from tests.support import standin

from generator.kickstart import render_kickstart
from generator.pipeline import node_from_profile

PROFILE = """\
role: worker
hostname: worker1
os: {{distro: {distro}, version: "{version}", firewall: ports}}
kubernetes: {{version: "{kube}", pod_cidr: 10.244.0.0/16, control_plane_endpoint: 192.168.122.10:6443}}
cni: {{plugin: {cni}}}
users: {{root: {{password_hash: "$6$k8sfirstboot$B.1JteR1gldw1SouvTiglJgGOoRZwvLdzjgxoeDYiZ9Kh6oEsn984RLWAdI/dJ19WuFF9yeNn2GPdCIM3Wqs//"}}}}
"""
REMOTE_POD, LOCAL_POD = "10.244.1.5", "10.244.2.7"
# (CNI, the interface a remote pod's packet arrives on once decapsulated, the local pod's veth)
PATHS = {
    "calico": [("tunl0", "cali0123456789a"), ("vxlan.calico", "cali0123456789a")],   # IPIP, VXLAN
    "flannel": [("flannel.1", "cni0")],
    "cilium": [("cilium_vxlan", "lxc0a1b2c3d4e5f")],
}
NODES = [("rocky", "9", "1.34", "calico"), ("rocky", "9", "1.34", "flannel"), ("rocky", "9", "1.34", "cilium"),
         ("almalinux", "8", "1.30", "calico"), ("centos-stream", "10", "1.34", "flannel"),
         ("fedora", "43", "1.34", "calico")]


@pytest.fixture(autouse=True)
def sandbox_available():
    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")


@pytest.mark.parametrize("distro,version,kube,cni", NODES)
def test_forwarded_pod_traffic_passes_the_firewall(tmp_path, write_profile, distro, version, kube, cni):
    node = node_from_profile(write_profile("w.yaml", PROFILE.format(distro=distro, version=version, kube=kube,
                                                                   cni=cni)), tmp_path / "secrets")
    box = Sandbox(tmp_path / "box", os_key=node.os.key)
    run_kickstart_post(box, render_kickstart(node), node.os.ks_handler)
    for tunnel, veth in PATHS[cni]:
        assert standin.firewall_forwards(box.root, REMOTE_POD, tunnel, LOCAL_POD, veth), (cni, tunnel, "in")
        assert standin.firewall_forwards(box.root, LOCAL_POD, veth, REMOTE_POD, tunnel), (cni, tunnel, "out")
    # the host's own ports stay as the role needs: the default zone is not opened wholesale
    state = box.file(standin.FIREWALL_STATE).read_text()
    assert '"default": "public"' in state


def test_the_forward_model_rejects_what_no_zone_accepts():
    """Without our rules a fresh firewalld rejects pod traffic, on every release we support."""
    for version in [(0, 8), (0, 9), (1, 3), (2, 3)]:
        state = standin.firewall_initial(version)
        for args in (["--add-port=10250/tcp"], ["--add-protocol=ipencap"], ["--add-port=8472/udp"]):
            assert standin.firewall_apply(state, args, version) is None
        root_state = {"zones": state["zones"], "default": state["default"]}
        ingress = standin._zone_of(root_state, REMOTE_POD, "tunl0")
        zone = root_state["zones"][ingress]
        assert zone["target"] != "ACCEPT" and "tunl0" not in zone["interfaces"], version


def test_the_stand_in_refuses_what_that_firewalld_refuses():
    old, new = (0, 8), (1, 3)
    assert "unrecognized arguments: --add-forward" in standin.firewall_apply(standin.firewall_initial(old),
                                                                              ["--add-forward"], old)
    assert "unrecognized arguments: --new-policy" in standin.firewall_apply(standin.firewall_initial(old),
                                                                             ["--new-policy=pods"], old)
    state = standin.firewall_initial(new)
    assert "INVALID_INTERFACE" in standin.firewall_apply(state, ["--zone=trusted", "--add-interface=cali*"], new)
    assert "INVALID_ZONE" in standin.firewall_apply(state, ["--zone=pods", "--add-source=10.244.0.0/16"], new)
    assert "INVALID_ADDR" in standin.firewall_apply(state, ["--zone=trusted", "--add-source=10.244.0.0/33"], new)
    assert standin.firewall_apply(state, ["--add-interface=eth0"], new) is None
    assert "ZONE_CONFLICT" in standin.firewall_apply(state, ["--zone=trusted", "--add-interface=eth0"], new)
    assert "unrecognized" in standin.firewall_apply(state, ["--remove-port=1/tcp"], new)


@pytest.mark.parametrize("mode", ["ports", "trusted"])
def test_a_running_firewalld_applies_the_rules_now(tmp_path, write_profile, mode):
    """Cloud images often run firewalld when cloud-init's runcmd prepares the node: firewall-offline-cmd would
    only edit the files, and the ports and the pod network stay closed until a reload (issue 10, item 9)."""
    import json

    text = PROFILE.format(distro="rocky", version="9", kube="1.34", cni="calico").replace("firewall: ports",
                                                                                           f"firewall: {mode}")
    node = node_from_profile(write_profile("w.yaml", text), tmp_path / "secrets")
    box = Sandbox(tmp_path / "box", os_key=node.os.key)
    runtime = box.file(standin.FIREWALL_RUNTIME)
    runtime.parent.mkdir(parents=True)
    runtime.write_text(json.dumps(standin.firewall_initial(standin.FIREWALLD_BY_EL_MAJOR["9"])))
    run_kickstart_post(box, render_kickstart(node), node.os.ks_handler)
    now = json.loads(runtime.read_text())
    assert standin.firewall_forwards(box.root, REMOTE_POD, "tunl0", LOCAL_POD, "cali0123456789a")
    if mode == "ports":
        assert "10250/tcp" in now["zones"]["public"]["ports"]
    else:
        assert now["default"] == "trusted"
    assert json.loads(box.file(standin.FIREWALL_STATE).read_text()) == now  # and the next boot keeps them
