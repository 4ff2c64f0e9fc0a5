"""The config files a node gets (generator.configs), read back the way their consumers read them."""

import configparser
import hashlib
import tomllib

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from generator import configs
from generator.pipeline import node_from_profile
from tests.support.common import ROOT


def documents(text: str) -> dict[str, dict]:
    return {d["kind"]: d for d in yaml.safe_load_all(text) if d}


def test_the_first_control_plane_inits_the_cluster_its_profile_describes():
    node = node_from_profile(ROOT / "profiles/ha/cp1.yaml")
    profile = yaml.safe_load((ROOT / "profiles/ha/cluster.yaml").read_text())
    docs = documents(configs.kubeadm_config(node))
    assert set(docs) == {"InitConfiguration", "ClusterConfiguration", "KubeletConfiguration"}
    cluster = docs["ClusterConfiguration"]
    assert cluster["controlPlaneEndpoint"].split(":")[0] == profile["cluster"]["virtual_ip"]["address"]
    assert docs["KubeletConfiguration"]["cgroupDriver"] == "systemd"  # CRI-O's cgroup_manager below is the same
    crio = tomllib.loads(configs.crio_dropin(node))
    assert crio["crio"]["runtime"]["cgroup_manager"] == "systemd"
    token = docs["InitConfiguration"]["bootstrapTokens"][0]["token"]
    assert len(token) == 23 and token[6] == "."  # kubeadm's [a-z0-9]{6}.[a-z0-9]{16}


def spki_sha256(ca_pem: str) -> str:
    """kubeadm's CA pin: sha256 of the DER SubjectPublicKeyInfo (cmd/kubeadm/app/util/pubkeypin)."""
    public = x509.load_pem_x509_certificate(ca_pem.encode()).public_key()
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


@pytest.mark.parametrize("joining", ["worker1", "cp2"])
def test_a_joining_node_pins_the_ca_the_first_one_installs(joining):
    first = node_from_profile(ROOT / "profiles/ha/cp1.yaml")
    ca = dict(first.pki.files)["ca.crt"]
    node = node_from_profile(ROOT / f"profiles/ha/{joining}.yaml")
    join = documents(configs.kubeadm_config(node))["JoinConfiguration"]
    assert join["discovery"]["bootstrapToken"]["caCertHashes"] == [spki_sha256(ca)]
    init = documents(configs.kubeadm_config(first))["InitConfiguration"]
    assert join["discovery"]["bootstrapToken"]["token"] == init["bootstrapTokens"][0]["token"]
    assert ("controlPlane" in join) == (joining == "cp2")


def test_kernel_settings_are_the_recipes():
    sysctls = {}
    for line in configs.sysctl_conf().splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = (part.strip() for part in line.split("=", 1))
            sysctls[key] = value
    # the classic recipe (profiles/classic) and kubeadm's preflight (bridge-nf-call-iptables, ip_forward)
    assert sysctls == {"net.bridge.bridge-nf-call-iptables": "1", "net.bridge.bridge-nf-call-ip6tables": "1",
                       "net.ipv4.ip_forward": "1"}
    modules = [line for line in configs.modules_load().splitlines() if line and not line.startswith("#")]
    assert sorted(modules) == ["br_netfilter", "overlay"]


@pytest.mark.parametrize("profile", ["profiles/master.yaml", "profiles/classic/master.yaml"])
def test_repo_files_are_what_dnf_reads(profile):
    node = node_from_profile(ROOT / profile)
    assert node.repo_files
    for repo_file in node.repo_files:
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(configs.repo_file(repo_file))
        assert parser.sections(), repo_file.path
        for section in parser.sections():
            repo = parser[section]
            assert repo.get("baseurl") or repo.get("mirrorlist") or repo.get("metalink"), (repo_file.path, section)
            if repo.get("gpgcheck") == "1":
                assert repo.get("gpgkey"), (repo_file.path, section)


def test_keepalived_puts_the_virtual_ip_on_the_first_control_plane_first():
    priorities = {}
    for name in ("cp1", "cp2", "cp3"):
        node = node_from_profile(ROOT / f"profiles/ha/{name}.yaml")
        text = configs.keepalived_conf(node)
        assert node.virtual_ip.address in text
        assert configs.KEEPALIVED_CHECK in text
        priorities[name] = next(int(line.split()[1]) for line in text.splitlines()
                                if line.strip().startswith("priority"))
    # only the first control plane has an API server before the others join through the virtual IP
    assert priorities["cp1"] > max(priorities["cp2"], priorities["cp3"])


def test_registry_mirrors_are_valid_toml(write_profile):
    path = write_profile("w.yaml", "extends: profiles/worker.yaml\nmirrors:\n  registries:\n"
                                  "  - prefix: registry.k8s.io\n    location: mirror.lab.example/k8s\n")
    node = node_from_profile(path)
    parsed = tomllib.loads(configs.registries_conf(node))
    entry = next(r for r in parsed["registry"] if r["prefix"] == "registry.k8s.io")
    assert [m["location"] for m in entry["mirror"]] == ["mirror.lab.example/k8s"]


def test_the_profiles_networks_reach_kubeadm(write_profile):
    path = write_profile("m.yaml", "extends: profiles/master.yaml\nkubernetes:\n  pod_cidr: 10.50.0.0/16\n"
                                  "  service_cidr: 10.60.0.0/16\n")
    networking = documents(configs.kubeadm_config(node_from_profile(path)))["ClusterConfiguration"]["networking"]
    assert networking == {"podSubnet": "10.50.0.0/16", "serviceSubnet": "10.60.0.0/16"}
