"""Checks across the nodes of a build (generator/fleet.py): each mistake that used to pass `gen build` and
`gen validate` silently, with the exact message at the file and line of the value to change."""

from tests.support.common import ROOT, gen_in_process

from generator import verify
from generator.kickstart import render_kickstart
from generator.pipeline import node_from_profile
from generator.render import node_files

CP1 = '{hostname: cp1, role: control-plane, mac: "52:54:00:00:00:01", address: 192.168.122.11/24}'
CP2 = '{hostname: cp2, role: control-plane, mac: "52:54:00:00:00:02", address: 192.168.122.12/24}'
W1 = '{hostname: w1, mac: "52:54:00:00:00:03", address: 192.168.122.21/24}'


def inventory(write_profile, *entries: str, settings: str = "", base: str = "profiles/ha/cluster.yaml"):
    """A cluster file extending an example's settings, one node per line (line 3 on, after `settings`)."""
    text = f"extends: {base}\n{settings}nodes:\n" + "".join(f"  - {entry}\n" for entry in entries)
    return write_profile("cluster.yaml", text)


def problems(*args: str) -> list[str]:
    """The errors a command that must refuse its input prints (not the notes, nor the lines shown under them)."""
    result = gen_in_process(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return [line for line in result.stderr.splitlines() if ": error: " in line]  # the problems, not their context


def build(path, tmp_path) -> list[str]:
    return problems("build", str(path), "-o", str(tmp_path / "out"))


def build_many(paths, tmp_path) -> list[str]:
    return problems("build", *map(str, paths), "-o", str(tmp_path / "out"))


def test_a_sound_inventory_builds(write_profile, tmp_path):
    path = inventory(write_profile, CP1, CP2, W1)
    result = gen_in_process("build", str(path), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    assert sorted(p.name for p in (out / "http/ks").iterdir()) == ["cp1.ks", "cp2.ks", "w1.ks"]
    assert sorted(p.name for p in (out / "cloud").iterdir()) == sorted(
        f"{host}.{kind}" for host in ("cp1", "cp2", "w1") for kind in ("user-data", "network-config"))


def test_two_nodes_on_one_address_a_worker_on_a_control_planes(write_profile, tmp_path):
    path = inventory(write_profile, CP1, CP2, W1.replace("192.168.122.21", "192.168.122.12"))
    assert build(path, tmp_path) == [
        f"{path}:5: error: network.address: address 192.168.122.12 is also cp2's (control-plane, {path}:4); "
        f"every node needs its own"]


def test_the_same_host_name_twice(write_profile, tmp_path):
    path = inventory(write_profile, CP1, CP2, W1, W1.replace("00:03", "00:04").replace(".21/", ".22/"))
    assert build(path, tmp_path) == [
        f"{path}:6: error: hostname: host name w1 is also w1's (worker, {path}:5); every node needs its own"]


def test_duplicate_macs_and_every_problem_at_once(write_profile, tmp_path):
    path = inventory(write_profile, CP1, CP2.replace("00:02", "00:01"), W1, W1.replace(".21/", ".22/"))
    assert build(path, tmp_path) == [
        f"{path}:4: error: network.mac: MAC address 52:54:00:00:00:01 is also cp1's (control-plane, {path}:3); "
        f"every node needs its own",
        f"{path}:6: error: hostname: host name w1 is also w1's (worker, {path}:5); every node needs its own",
        f"{path}:6: error: network.mac: MAC address 52:54:00:00:00:03 is also w1's (worker, {path}:5); "
        f"every node needs its own",
    ]


def test_duplicates_across_separate_node_profiles_too(write_profile, tmp_path):
    """Per-node files in one build are one fleet: `gen validate a.yaml b.yaml` and `gen build` compare them."""
    a = write_profile("a.yaml", "extends: profiles/worker.yaml\nhostname: worker7\n")
    b = write_profile("b.yaml", "extends: profiles/worker.yaml\nhostname: worker8\n")
    worker = tmp_path / "profiles/worker.yaml"
    expected = [f"{worker}:8: error: network.address: address 192.168.122.21 is also worker7's (worker, {a}:2); "
                f"every node needs its own"]
    assert problems("validate", str(a), str(b)) == expected


def test_a_hosts_entry_that_disagrees_with_the_nodes_address(write_profile, tmp_path):
    path = inventory(write_profile, CP1, CP2, W1,
                     settings="hosts:\n  - {ip: 192.168.122.99, names: [cp2.ha.example, cp2]}\n")
    assert build(path, tmp_path) == [
        f"{path}:3: error: hosts[0].ip: 192.168.122.99 is given for cp2, but this node's address is 192.168.122.12 "
        f"({path}:6)"]


def test_first_control_plane_by_its_short_name_fails_alone(write_profile):
    """The only control plane would join its own API and wait forever: caught with the node rendered alone."""
    path = write_profile("cp.yaml", (
        "extends: profiles/master.yaml\n"
        "hostname: k8s-cp-01.lab.example\n"
        "cluster:\n  first_control_plane: k8s-cp-01\n"))
    assert problems("ks", str(path)) == [
        f"{path}:4: error: cluster.first_control_plane: 'k8s-cp-01' is not this host's name 'k8s-cp-01.lab.example', "
        f"only another form of it: the names must match exactly, or this control plane joins a cluster that "
        f"never starts; write first_control_plane: k8s-cp-01.lab.example"]


def test_a_lone_control_plane_naming_another_first_joins_itself(write_profile):
    path = write_profile("cp.yaml", "extends: profiles/master.yaml\ncluster:\n  first_control_plane: cp01\n")
    assert problems("ks", str(path)) == [
        f"{path}:3: error: cluster.first_control_plane: names 'cp01', not this control plane 'cp1', so it would join "
        f"the cluster at 192.168.122.10:6443 - its own address - and wait forever for an API that only it could "
        f"start; write first_control_plane: cp1 if it is the first, or point control_plane_endpoint at the first"]


def test_first_control_plane_with_a_typo_in_the_fleet(write_profile, tmp_path):
    path = inventory(write_profile, CP1, CP2, W1, settings="cluster:\n  first_control_plane: cp-1\n")
    assert build(path, tmp_path) == [
        f"{path}:3: error: cluster.first_control_plane: no control plane of cluster ha is called 'cp-1' "
        f"(they are cp1, cp2); did you mean 'cp1'?"]


def test_first_control_plane_naming_a_worker(write_profile, tmp_path):
    cp2_worker = CP2.replace("role: control-plane", "role: worker")
    path = inventory(write_profile, CP1, cp2_worker, W1, settings="cluster:\n  first_control_plane: cp2\n")
    assert build(path, tmp_path) == [
        f"{path}:3: error: cluster.first_control_plane: names this node, a worker: name the control plane that runs "
        f"kubeadm init"]


def test_first_control_plane_naming_a_worker_in_another_file(write_profile, tmp_path):
    """Only the fleet sees it when the worker's own profile names another first control plane."""
    cp = write_profile("cpa.yaml", "extends: profiles/ha/cp1.yaml\nhostname: cpa\n"
                                         "cluster:\n  first_control_plane: wa\n")
    worker = write_profile("wa.yaml", "extends: profiles/ha/worker1.yaml\nhostname: wa\n")
    cluster = tmp_path / "profiles/ha/cluster.yaml"
    assert problems("validate", str(cp), str(worker)) == [
        f"{cp}:4: error: cluster.first_control_plane: names wa, a worker ({worker}:2); name the control plane that runs "
        f"kubeadm init",
        f"{cluster}:7: error: cluster.first_control_plane: no control plane of cluster ha is called 'cp1' (they are cpa); "
        f"did you mean 'cpa'?"]


def test_two_control_planes_without_a_first_one(write_profile, tmp_path):
    path = inventory(write_profile, '{hostname: cp1, role: control-plane, address: 192.168.122.10/24}',
                     '{hostname: cp2, role: control-plane, address: 192.168.122.11/24}', base="profiles/cluster.yaml")
    cluster = tmp_path / "profiles/cluster.yaml"
    assert build(path, tmp_path) == [
        f"{cluster}:3: error: cluster: cluster demo has 2 control planes (cp1, cp2) and no cluster.first_control_plane: "
        f"each would run kubeadm init and start a cluster of its own; name the first one"]


def test_a_virtual_ip_on_a_nodes_address(write_profile, tmp_path):
    path = inventory(write_profile, CP1, CP2, W1.replace("192.168.122.21", "192.168.122.100"))
    cluster = tmp_path / "profiles/ha/cluster.yaml"
    assert build(path, tmp_path) == [
        f"{cluster}:9: error: cluster.virtual_ip.address: 192.168.122.100 is this node's own address ({path}:5); "
        f"the virtual IP must be a free address of the control planes' network"]


def test_a_virtual_ip_outside_the_control_planes_network(write_profile, tmp_path):
    path = inventory(write_profile, CP1.replace("192.168.122.11/24", "10.1.0.11/24"), CP2, W1)
    cluster = tmp_path / "profiles/ha/cluster.yaml"
    assert build(path, tmp_path) == [
        f"{cluster}:9: error: cluster.virtual_ip.address: 192.168.122.100 lies outside this control plane's network "
        f"10.1.0.0/24 ({path}:3); keepalived can hold only an address of that network"]


def test_a_gateway_outside_the_subnet(write_profile, tmp_path):
    path = inventory(write_profile, CP1, CP2, W1, settings="network:\n  gateway: 192.168.1.1\n")
    assert build(path, tmp_path) == [
        f"{path}:3: error: network.gateway: 192.168.1.1 lies outside the node's network 192.168.122.0/24; "
        f"the gateway must be reachable on it"]


def test_an_endpoint_with_nothing_behind_it(write_profile, tmp_path):
    path = inventory(write_profile, '{hostname: cp1, role: control-plane, address: 192.168.122.10/24}',
                     '{hostname: worker1, address: 192.168.122.21/24}', base="profiles/cluster.yaml",
                     settings="kubernetes:\n  control_plane_endpoint: 192.168.122.50:6443\n")
    assert build(path, tmp_path) == [
        f"{path}:3: error: kubernetes.control_plane_endpoint: nothing of cluster demo answers on 192.168.122.50: it is "
        f"no control plane's address and not cluster.virtual_ip; for a load balancer, name it in hosts: "
        f"(ip and names)"]


def test_a_load_balancer_named_in_hosts_is_an_endpoint(write_profile, tmp_path):
    path = inventory(write_profile, '{hostname: cp1, role: control-plane, address: 192.168.122.10/24}',
                     base="profiles/cluster.yaml",
                     settings="kubernetes:\n  control_plane_endpoint: 192.168.122.50:6443\n"
                              "hosts:\n  - {ip: 192.168.122.50, names: [api.demo.example]}\n")
    result = gen_in_process("build", str(path), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr


def test_pod_and_service_networks_overlapping_the_node_network(write_profile, tmp_path):
    path = inventory(write_profile, '{hostname: cp9, role: control-plane, address: 10.1.2.3/8}',
                     base="profiles/cluster.yaml")
    cluster = tmp_path / "profiles/cluster.yaml"
    assert build(path, tmp_path) == [
        f"{cluster}:13: error: kubernetes.pod_cidr: 10.244.0.0/16 overlaps the node network 10.0.0.0/8 ({path}:3); "
        f"pod and service ranges must be apart from the nodes' addresses",
        f"{cluster}:14: error: kubernetes.service_cidr: 10.96.0.0/12 overlaps the node network 10.0.0.0/8 ({path}:3); "
        f"pod and service ranges must be apart from the nodes' addresses"]


def test_every_example_still_builds(tmp_path):
    result = gen_in_process("build", "profiles", "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr


def test_a_lone_control_plane_carries_every_shared_key():
    """Growing a cluster is safe: control planes added later join one that already uses the shared keys."""
    node = node_from_profile(ROOT / "profiles/master.yaml")
    assert node.cluster and node.action == "init" and not node.virtual_ip
    names = {name for name, _ in node.pki.files}
    assert names == {"ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key", "etcd/ca.crt", "etcd/ca.key",
                     "sa.pub", "sa.key"}
    kickstart = render_kickstart(node, node_files(node))
    assert verify.kickstart_findings(kickstart, node.os.ks_handler, "kickstart") == []
    assert "BEGIN EC PRIVATE KEY" in kickstart or "BEGIN PRIVATE KEY" in kickstart


def test_where_kubeadm_reads_no_ecdsa_sa_key_a_lone_control_plane_keeps_the_ca_only():
    node = node_from_profile(ROOT / "profiles/classic/master.yaml")
    assert {name for name, _ in node.pki.files} == {"ca.crt", "ca.key"}


def test_a_node_profile_named_like_a_listed_host_beside_it(write_profile, tmp_path):
    """Same cluster, other host names, one artifact name: w1.yaml would write w1.ks as the listed w1 does."""
    listed = inventory(write_profile, CP1, W1)
    alone = write_profile("w1.yaml", "extends: profiles/ha/cluster.yaml\nrole: worker\nhostname: w9\n")
    assert build_many([listed, alone], tmp_path) == [
        f"{alone}:3: error: hostname: its artifacts would be w1.* like those of w1 ({listed}:4) of cluster ha; "
        f"rename the profile or build it into another folder"]
    assert not (tmp_path / "out").exists()


def test_two_clusters_cannot_write_one_hosts_artifacts(write_profile, tmp_path):
    a = write_profile("a.yaml", f"extends: profiles/ha/cluster.yaml\nnodes:\n  - {CP1}\n  - {W1}\n")
    b = write_profile("b.yaml", "extends: profiles/cluster.yaml\nnodes:\n"
                                "  - {hostname: cp1, role: control-plane, address: 192.168.122.10/24}\n")
    assert build_many([a, b], tmp_path) == [
        f"{b}:3: error: hostname: its artifacts would be cp1.* like those of cp1 ({a}:3) of cluster ha; "
        f"build the clusters into separate folders"]
