"""One inventory: nodes listed in a cluster file and in a CSV file, network.mac, the Kubespray import and the
example fleet, checked by their real consumers (pykickstart, cloud-init 22.4)."""

import json
import subprocess
from pathlib import Path

import yaml

from tests.support.common import ROOT, gen_in_process, need

from generator import verify
from generator.inventory import build_documents
from generator.kickstart import render_kickstart
from generator.resolve import resolve

SETTINGS = "extends: profiles/ha/cluster.yaml\nnetwork:\n  gateway: 192.168.122.1\n"
CLOUD_INIT_PYTHON = "/usr/bin/python3"  # Debian's cloud-init 22.4 lives in the system Python


def refused(*args: str) -> list[str]:
    result = gen_in_process(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return [line for line in result.stderr.splitlines() if ": error: " in line]  # the problems, not their context


def test_nodes_inherit_the_cluster_settings_and_keep_their_lines(write_profile):
    path = write_profile("cluster.yaml", SETTINGS + (
        "nodes:\n"
        "  - hostname: cp1\n"
        "    role: control-plane\n"
        "    mac: 52:54:00:AB:CD:01\n"
        "    address: 192.168.122.11/24\n"
        "  - hostname: gpu1\n"
        "    address: 192.168.122.31/24\n"
        "    os:\n"
        "      disk: nvme0n1\n"))
    entries, problems = build_documents(path, Path("cluster.yaml"))
    assert problems == []
    assert [e.name for e in entries] == ["cp1", "gpu1"]
    cp, gpu = (e.doc for e in entries)
    assert cp.locate(("network", "mac")) == (str(path), 7)
    assert cp.locate(("network", "gateway")) == (str(path), 3)
    assert cp.locate(("os", "distro")) == (str(tmp := path.parent / "profiles/ha/cluster.yaml"), 12)
    assert gpu.locate(("os", "disk")) == (str(path), 12)
    cp_node, gpu_node = (resolve(doc, create_secrets=False) for doc in (cp, gpu))
    assert (cp_node.role, cp_node.network.mac, cp_node.network.bootproto) == ("control-plane", "52:54:00:ab:cd:01", "static")
    assert (gpu_node.role, gpu_node.os.disk, gpu_node.os.distro) == ("worker", "nvme0n1", "almalinux")
    assert gpu_node.network.gateway == "192.168.122.1" and tmp.exists()


def test_the_kickstart_picks_the_interface_by_mac(write_profile):
    """pykickstart reads --device=<MAC> --bindto=mac: Anaconda configures the port with that address."""
    path = write_profile("cluster.yaml", SETTINGS + "nodes:\n  - {hostname: w1, mac: '52:54:00:AB:CD:02', "
                                                    "address: 192.168.122.21/24}\n")
    (entry,), _ = build_documents(path, Path("cluster.yaml"))
    node = resolve(entry.doc, create_secrets=False)
    kickstart = render_kickstart(node)
    assert verify.kickstart_findings(kickstart, node.os.ks_handler, "kickstart") == []
    (network,) = verify.parse_kickstart(kickstart, node.os.ks_handler).handler.network.network
    assert (network.device, network.bindto, network.ip, network.gateway) == (
        "52:54:00:ab:cd:02", "mac", "192.168.122.21", "192.168.122.1")


def test_cloud_init_reads_the_network_config(write_profile, tmp_path):
    """Debian's cloud-init 22.4 parses the network-config and renders it as EL's ifcfg files."""
    need(Path(CLOUD_INIT_PYTHON).exists() and subprocess.run(
        [CLOUD_INIT_PYTHON, "-c", "import cloudinit"], capture_output=True).returncode == 0, "cloud-init is not installed")
    path = write_profile("cluster.yaml", SETTINGS + "  nameservers: [192.168.122.1]\nnodes:\n"
                         "  - {hostname: w1, mac: '52:54:00:ab:cd:03', network: {device: enp1s0}, address: 192.168.122.21/24}\n")
    assert gen_in_process("build", str(path), "-o", str(tmp_path / "out")).returncode == 0
    config = tmp_path / "out/cloud/w1.network-config"
    program = (
        "import json, os, sys, yaml\n"
        "from cloudinit.net import network_state, sysconfig\n"
        "from cloudinit.distros.rhel import Distro\n"
        "state = network_state.parse_net_config_data(yaml.safe_load(open(sys.argv[1])), skip_broken=False)\n"
        "sysconfig.Renderer(config=Distro.renderer_configs['sysconfig']).render_network_state(state, target=sys.argv[2])\n"
        "print(json.dumps(open(os.path.join(sys.argv[2], 'etc/sysconfig/network-scripts/ifcfg-enp1s0')).read()))\n")
    result = subprocess.run([CLOUD_INIT_PYTHON, "-c", program, str(config), str(tmp_path / "root")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    ifcfg = dict(line.split("=", 1) for line in json.loads(result.stdout).splitlines() if "=" in line)
    assert {k: ifcfg[k] for k in ("DEVICE", "HWADDR", "IPADDR", "NETMASK", "GATEWAY", "DNS1")} == {
        "DEVICE": "enp1s0", "HWADDR": "52:54:00:ab:cd:03", "IPADDR": "192.168.122.21", "NETMASK": "255.255.255.0",
        "GATEWAY": "192.168.122.1", "DNS1": "192.168.122.1"}


def test_no_mac_no_network_config(tmp_path):
    assert gen_in_process("build", "profiles/worker.yaml", "-o", str(tmp_path)).returncode == 0
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [
        "cloud/worker.user-data", "http/ks/worker.ks", "manifest.json"]


def test_a_mac_in_another_form_is_refused(write_profile):
    path = write_profile("cluster.yaml", SETTINGS + "nodes:\n  - {hostname: w1, mac: 52-54-00-ab-cd-03}\n"
                                                    "  - {hostname: w2, mac: 52:54:00:12:34:56}\n")
    assert refused("validate", str(path)) == [
        f'{path}:5: error: nodes[0].mac: "52-54-00-ab-cd-03" is not valid: six hex pairs separated by colons, '
        f'such as 52:54:00:12:34:56',
        f"{path}:6: error: nodes[1].mac: must be text: put the value in quotes "
        f"(YAML read {yaml.safe_load('52:54:00:12:34:56')} as a number)"]


def test_mac_given_twice_in_one_entry(write_profile):
    path = write_profile("cluster.yaml", SETTINGS + "nodes:\n  - hostname: w1\n    mac: '52:54:00:ab:cd:03'\n"
                                                    "    network: {mac: '52:54:00:ab:cd:04'}\n")
    assert refused("validate", str(path)) == [
        f"{path}:6: error: nodes[0].mac: also set as network.mac in this entry; keep one"]


CSV_SETTINGS = SETTINGS + "nodes_csv: workers.csv\n"


def test_workers_from_csv(write_profile, tmp_path):
    path = write_profile("cluster.yaml", CSV_SETTINGS + "nodes:\n  - {hostname: cp1, role: control-plane, "
                                                        "address: 192.168.122.11/24}\n")
    write_profile("workers.csv", "# the racks\nhostname,role,mac,address\n"
                                 "w1,worker,52:54:00:AB:CD:01,192.168.122.21/24\n\n"
                                 "w2,,52:54:00:ab:cd:02,192.168.122.22/24\n")
    entries, problems = build_documents(path, Path("cluster.yaml"))
    assert problems == []
    assert [e.name for e in entries] == ["cp1", "w1", "w2"]
    w1, w2 = (e.doc for e in entries[1:])
    assert w1.locate(("network", "mac")) == (str(tmp_path / "workers.csv"), 3)
    assert w2.locate(("hostname",)) == (str(tmp_path / "workers.csv"), 5)
    node = resolve(w1, create_secrets=False)
    assert (node.role, node.network.mac, node.network.address) == ("worker", "52:54:00:ab:cd:01", "192.168.122.21/24")
    assert resolve(w2, create_secrets=False).role == "worker"


def test_csv_mistakes_each_on_its_line(write_profile, tmp_path):
    path = write_profile("cluster.yaml", CSV_SETTINGS)
    csv = write_profile("workers.csv", "hostname,role,mac,address\n"
                                       "w1,worker,52:54:00:ab:cd:01\n"
                                       "w2,worker,52:54:00:ab:cd,192.168.122.22/24\n"
                                       "w3,wrker,52:54:00:ab:cd:03,192.168.122.23/24\n"
                                       "w4,worker,52:54:00:ab:cd:04,192.168.122.24\n"
                                       ",worker,52:54:00:ab:cd:06,192.168.122.26/24\n")
    assert refused("build", str(path), "-o", str(tmp_path / "out")) == [
        f"{csv}:2: error: row: 3 fields, but the header has 4 (hostname,role,mac,address)",
        f'{csv}:3: error: network.mac: "52:54:00:ab:cd" is not valid: six hex pairs separated by colons, '
        f'such as 52:54:00:12:34:56',
        f'{csv}:4: error: role: "wrker" is not one of "control-plane", "master", "worker"; did you mean \'worker\'?',
        f'{csv}:5: error: network.address: "192.168.122.24" has no prefix length; add it, e.g. '
        f'"192.168.122.24/24" (/24 is a 255.255.255.0 netmask)',
        f"{csv}:6: error: hostname is required for a node profile (set it here or in the file this one extends)"]
    assert not (tmp_path / "out").exists()


def test_csv_header_mistakes(write_profile, tmp_path):
    path = write_profile("cluster.yaml", CSV_SETTINGS)
    csv = write_profile("workers.csv", "name,role,rack\nw1,worker,a\n")
    assert refused("build", str(path), "-o", str(tmp_path / "out")) == [
        f"{csv}:1: error: header: no hostname column; the first row names the columns, such as hostname,role,mac,address",
        f"{csv}:1: error: header: unknown column 'name'; the columns are hostname, role, mac, address, device, gateway, disk",
        f"{csv}:1: error: header: unknown column 'rack'; the columns are hostname, role, mac, address, device, gateway, disk"]


def test_a_csv_outside_the_folder_is_not_read(write_profile, tmp_path):
    path = write_profile("inner/cluster.yaml", "extends: cluster-settings.yaml\nnodes_csv: ../workers.csv\n")
    write_profile("inner/cluster-settings.yaml", (ROOT / "profiles/ha/cluster.yaml").read_text())
    write_profile("workers.csv", "hostname\nw1\n")
    assert refused("validate", str(path)) == [
        f"{path}:2: error: nodes_csv: must stay inside {path.parent}/ (no `..` or links out of it)"]


def test_the_example_fleet(tmp_path):
    """profiles/fleet: 3 control planes behind a virtual IP and 20 workers, some from CSV; pykickstart reads
    every Kickstart."""
    result = gen_in_process("build", "profiles/fleet", "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    kickstarts = sorted(tmp_path.glob("http/ks/*.ks"))
    roles = [ks.read_text().splitlines()[0].split(": ")[1].split(" ")[0] for ks in kickstarts]
    assert (roles.count("control-plane"), roles.count("worker")) == (3, 20)
    assert len(list(tmp_path.glob("cloud/*.network-config"))) == 23
    from_csv = [ks for ks in kickstarts if "from workers.csv" in ks.read_text()]
    assert 0 < len(from_csv) < 20
    handler = "RHEL9"
    for ks in kickstarts:
        assert verify.kickstart_findings(ks.read_text(), handler, ks.name) == []
    assert "--drives=nvme0n1" in (tmp_path / "http/ks/k8s-w-gpu.ks").read_text()


def test_one_node_of_a_list_renders_as_the_build_renders_it(tmp_path):
    """gen ks/cloud-init/plan --node HOST: one node of a cluster file, the same bytes gen build writes for it."""
    assert gen_in_process("build", "profiles/fleet", "-o", str(tmp_path / "out")).returncode == 0
    for host in ("k8s-cp-02", "k8s-w-12"):  # a listed control plane, a worker from workers.csv
        alone = gen_in_process("ks", "profiles/fleet/cluster.yaml", "--node", host, "-o", str(tmp_path / f"{host}.ks"))
        assert alone.returncode == 0, alone.stderr
        assert (tmp_path / f"{host}.ks").read_bytes() == (tmp_path / f"out/http/ks/{host}.ks").read_bytes()
    planned = gen_in_process("plan", "profiles/fleet/cluster.yaml", "--node", "k8s-cp-02")
    assert planned.stdout.startswith("k8s-cp-02: control-plane (join-control-plane) of cluster fleet")


def test_a_list_without_node_or_with_an_unknown_one_says_which_to_name():
    cluster = "profiles/fleet/cluster.yaml"
    line = next(n for n, text in enumerate((ROOT / cluster).read_text().splitlines(), 1) if text == "nodes:")
    bare = gen_in_process("cloud-init", cluster)
    assert bare.returncode == 2 and bare.stdout == ""
    assert bare.stderr.splitlines()[0] == (f"{cluster}:{line}: error: nodes: this cluster file lists its nodes: name one "
                                           f"with --node HOST, or render them all with gen build")
    typo = gen_in_process("ks", cluster, "--node", "k8s-cp-1")
    assert typo.returncode == 2 and f"{cluster}:{line}: error: nodes: no node k8s-cp-1 in this list; did you mean " \
        in typo.stderr
    lone = gen_in_process("ks", "profiles/worker.yaml", "--node", "worker1")
    assert lone.returncode == 2 and "--node picks one node of a cluster file that lists them" in lone.stderr


KUBESPRAY_HOSTS = """\
all:
  hosts:
    node1:
      ansible_host: 95.54.0.12
      ip: 192.168.122.11
      access_ip: 192.168.122.11
      mac: "52:54:00:AA:00:01"
    node2:
      ansible_host: 192.168.122.12
      ip: 192.168.122.12
    node3:
      ansible_host: 192.168.122.21
      mac: "52:54:00:aa:00:03"
    etcd4:
      ip: 192.168.122.40
  children:
    kube_control_plane:
      hosts:
        node1:
        node2:
    kube_node:
      hosts:
        node2:
        node3:
    etcd:
      hosts:
        node1:
        etcd4:
    k8s_cluster:
      children:
        kube_control_plane:
        kube_node:
    calico_rr:
      hosts: {}
"""


def test_import_a_kubespray_inventory(write_profile, tmp_path):
    """The shape Kubespray's contrib/inventory_builder writes: ip/access_ip/ansible_host, group children."""
    hosts = write_profile("hosts.yaml", KUBESPRAY_HOSTS)
    write_profile("settings.yaml", (ROOT / "profiles/ha/cluster.yaml").read_text())
    out = tmp_path / "cluster.yaml"
    result = gen_in_process("import", "kubespray", str(hosts), "--prefix", "24", "--extends", "settings.yaml", "-o", str(out))
    assert result.returncode == 0, result.stderr
    imported = yaml.safe_load(out.read_text())
    assert imported["cluster"] == {"first_control_plane": "node1"}
    assert imported["nodes"] == [
        {"hostname": "node1", "role": "control-plane", "address": "192.168.122.11/24", "mac": "52:54:00:aa:00:01"},
        {"hostname": "node2", "role": "control-plane", "address": "192.168.122.12/24"},
        {"hostname": "node3", "role": "worker", "address": "192.168.122.21/24", "mac": "52:54:00:aa:00:03"},
    ]
    built = gen_in_process("build", str(out), "-o", str(tmp_path / "out"))
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "out/cloud/node3.network-config").exists()


def test_import_names_an_ini_inventory_and_the_conversion(write_profile):
    """Kubespray's sample has been inventory.ini since the YAML-writing inventory builder went (v2.27.0)."""
    ini = write_profile("inventory.ini", "# HA, stacked etcd\n[kube_control_plane]\n"
                                         "node1 ansible_host=192.168.122.11 ip=192.168.122.11\n\n"
                                         "[etcd:children]\nkube_control_plane\n\n[kube_node]\nnode4 ip=192.168.122.21\n")
    [problem] = refused("import", "kubespray", str(ini), "--prefix", "24")
    assert problem.startswith(f"{ini}:2: ") and "INI inventory" in problem
    assert "ansible-inventory -i inventory.ini --list --yaml" in problem


def test_import_refuses_an_unquoted_all_digit_mac(write_profile):
    hosts = write_profile("hosts.yaml", KUBESPRAY_HOSTS.replace('"52:54:00:aa:00:03"', "52:54:00:12:00:03"))
    assert refused("import", "kubespray", str(hosts), "--prefix", "24") == [
        f"{hosts}:13: error: all.hosts.node3.mac: not text: put the MAC address in quotes"]


def test_import_without_kubernetes_hosts(write_profile):
    hosts = write_profile("hosts.yaml", "all:\n  hosts:\n    etcd1: {ip: 10.0.0.1}\n  children:\n    etcd:\n"
                                        "      hosts:\n        etcd1:\n")
    assert refused("import", "kubespray", str(hosts), "--prefix", "24") == [
        f"{hosts}:1: error: all.children: no host in kube_control_plane or kube_node: nothing to import"]


def test_an_entry_cannot_extend_or_list_nodes(write_profile):
    path = write_profile("cluster.yaml", SETTINGS + "nodes:\n  - {hostname: w1, extends: other.yaml}\n")
    assert refused("validate", str(path)) == [
        f"{path}:5: error: nodes[0].extends: a node entry inherits this file's settings and lists no nodes; extends "
        f"belongs at the top of the file"]


def test_a_missing_csv_is_named_at_its_line(write_profile):
    path = write_profile("cluster.yaml", CSV_SETTINGS)
    assert refused("validate", str(path)) == [
        f"{path}:4: error: nodes_csv: file 'workers.csv' not found (looked in {path.parent}/)"]


def test_a_node_profile_lists_no_nodes(write_profile):
    path = write_profile("w.yaml", "extends: profiles/worker.yaml\nnodes_csv: workers.csv\n")
    assert refused("validate", str(path)) == [
        f"{path}:2: error: nodes_csv: a node profile (it has a role) lists no nodes; list them in a cluster file without "
        f"role and hostname"]
