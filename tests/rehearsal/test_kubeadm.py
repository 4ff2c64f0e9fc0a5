"""kubeadm fidelity: the stand-in refuses what real kubeadm refuses, and what we render gets past those refusals.

Expectations come from kubeadm's source at the release tags (docs/upstream-contracts.md, section "kubeadm"),
written here as rules of their own, not read back from the generator's release data.
"""

import datetime
import re
import shutil

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.support.common import ROOT, need, run_gen
from tests.support.rehearsal import in_order, run_first_boot
from tests.support.sandbox import Sandbox, bwrap_available
from tests.support.trees import ha_tree

from generator import secrets
from generator.pipeline import node_from_profile
from generator.render import node_files
from generator.versions import supported_pairs
from generator import node_paths as paths

JOIN_ONLY = "apiVersion: kubeadm.k8s.io/v1beta3\nkind: JoinConfiguration\n"
CLUSTER_ONLY = "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nkubernetesVersion: v1.24.17\n"
TOKEN = "abcdef.0123456789abcdef"
INIT = f"apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\nbootstrapTokens:\n- token: {TOKEN}\n"


@pytest.fixture
def box(tmp_path):
    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")
    return Sandbox(tmp_path / "box")


def with_kubeadm(box: Sandbox, version: str) -> Sandbox:
    """The state `dnf -y install kubeadm-<version>` leaves in the sandbox."""
    package = box.file("/var/lib/standin-rpm/kubeadm")  # the dnf stand-in's record: version, tab, repository
    package.parent.mkdir(parents=True, exist_ok=True)
    package.write_text(f"{version}\tkubernetes\n")
    return box


def put(box: Sandbox, path: str, text: str) -> str:
    target = box.file(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return path


# --- the stand-in's contract ---------------------------------------------------------------------------------

def test_kubeadm_is_missing_until_its_package_is_installed(box):
    assert box.run(["kubeadm", "version"]).returncode == 127


@pytest.mark.parametrize("version", ["1.18.20", "1.24.17", "1.37.0"])
def test_config_images_pull_loads_an_init_configuration(box, version):
    with_kubeadm(box, version)
    refused = box.run(["kubeadm", "config", "images", "pull", "--config", put(box, "/etc/join.yaml", JOIN_ONLY)])
    assert refused.returncode != 0
    assert "no InitConfiguration or ClusterConfiguration kind was found" in refused.stderr
    accepted = box.run(["kubeadm", "config", "images", "pull", "--config", put(box, "/etc/c.yaml", CLUSTER_ONLY)])
    assert accepted.returncode == 0, accepted.stderr
    flags = box.run(["kubeadm", "config", "images", "pull", "--kubernetes-version", "v1.24.17",
                     "--image-repository", "registry.k8s.io", "--cri-socket", "unix:///var/run/crio/crio.sock"])
    assert flags.returncode == 0, flags.stderr


def test_join_needs_a_join_configuration(box):
    with_kubeadm(box, "1.30.14")
    refused = box.run(["kubeadm", "join", "--config", put(box, "/etc/c.yaml", CLUSTER_ONLY)])
    assert refused.returncode != 0 and "JoinConfiguration" in refused.stderr


def test_unknown_flags_are_refused(box):
    with_kubeadm(box, "1.30.14")
    refused = box.run(["kubeadm", "init", "--config", put(box, "/etc/i.yaml", INIT), "--skip-token-printing"])
    assert refused.returncode != 0 and "unknown flag: --skip-token-printing" in refused.stderr


def init_box(box: Sandbox) -> str:
    with_kubeadm(box, "1.34.2")
    put(box, "/etc/kubernetes/pki/ca.key", "key\n")
    return put(box, "/etc/i.yaml", INIT + "---\n" + CLUSTER_ONLY)


def test_init_prints_the_token_unless_told_not_to(box):
    config = init_box(box)
    printed = box.run(["kubeadm", "init", "--config", config])
    assert printed.returncode == 0, printed.stderr
    assert f"--token {TOKEN}" in printed.stdout
    for path in ("/etc/kubernetes/manifests", paths.ADMIN_KUBECONFIG, paths.KUBELET_KUBECONFIG):
        shutil.rmtree(box.file(path), ignore_errors=True) if box.file(path).is_dir() else box.file(path).unlink()
    withheld = box.run(["kubeadm", "init", "--config", config, "--skip-token-print"])
    assert withheld.returncode == 0, withheld.stderr
    assert TOKEN not in withheld.stdout and TOKEN.split(".")[1] not in withheld.stdout
    assert "--token <value withheld>" in withheld.stdout


def pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


# (kubeadm version, sa.key type, joins): RSA only before kubernetes#112508 and its September 2022 backports
SA_KEY_CASES = [
    ("1.21.14", "ecdsa", False), ("1.21.14", "rsa", True),
    ("1.24.4", "ecdsa", False), ("1.24.6", "ecdsa", True),
    ("1.22.14", "ecdsa", False), ("1.22.15", "ecdsa", True),
    ("1.26.0", "ecdsa", True),
]


@pytest.mark.parametrize("version, key_type, joins", SA_KEY_CASES)
def test_control_plane_join_reads_the_shared_sa_key(box, version, key_type, joins):
    with_kubeadm(box, version)
    for shared in ("ca.key", "front-proxy-ca.key", "etcd/ca.key"):
        put(box, f"/etc/kubernetes/pki/{shared}", pem(ec.generate_private_key(ec.SECP256R1())))
    key = ec.generate_private_key(ec.SECP256R1()) if key_type == "ecdsa" else rsa.generate_private_key(65537, 2048)
    put(box, "/etc/kubernetes/pki/sa.key", pem(key))
    config = put(box, "/etc/j.yaml", JOIN_ONLY + "controlPlane:\n  localAPIEndpoint:\n    bindPort: 6443\n")
    result = box.run(["kubeadm", "join", "--config", config])
    assert (result.returncode == 0) is joins, result.stderr
    if not joins:
        assert "isn't in RSA format" in result.stderr


# --- defect 4: HA where kubeadm needs an RSA sa.key is refused at render time ---------------------------------



@pytest.mark.parametrize("version, refused", [("1.21", True), ("1.24.4", True), ("1.22.14", True),
                                              ("1.24.6", False), ("1.24", False), ("1.26.0", False)])
def test_ha_is_refused_where_kubeadm_reads_only_rsa_sa_keys(tmp_path, version, refused):
    tree = ha_tree(tmp_path, version)
    result = run_gen("validate", str(tree / "cp2.yaml"))
    if refused:
        assert result.returncode == 2, result.stderr
        assert "cluster.yaml" in result.stderr and "kubernetes.version" in result.stderr
        assert "RSA" in result.stderr and "Traceback" not in result.stderr
    else:
        assert result.returncode == 0, result.stderr
    # workers never load sa.key, so they stay fine
    assert run_gen("validate", str(tree / "worker1.yaml")).returncode == 0


# --- defect 11: registry.k8s.io, with the coredns path kubeadm computes ---------------------------------------

def kubeadm_default_repositories(minor: str) -> set[str]:
    """kubeadm's own default imageRepository (constants / v1betaX defaults): k8s.gcr.io before 1.25, and
    registry.k8s.io from 1.25 and from the December 2022 patches of 1.22-1.24 (kubernetes#113388 and siblings)."""
    n = int(minor.split(".")[1])
    return {"k8s.gcr.io"} if n < 22 else {"k8s.gcr.io", "registry.k8s.io"} if n < 25 else {"registry.k8s.io"}


def coredns_image(cluster: dict, default_repository: str) -> str:
    """The repository part of images.GetDNSImage: /coredns is added only to kubeadm's default repository."""
    repository = (cluster.get("dns") or {}).get("imageRepository") or cluster["imageRepository"]
    if repository == default_repository:
        repository += "/coredns"
    return f"{repository}/coredns"


MINORS = sorted({m for m, _ in supported_pairs()}, key=lambda m: int(m.split(".")[1]))
FIRST_OS = {m: next(o for mm, o in supported_pairs() if mm == m) for m in MINORS}


@pytest.mark.parametrize("minor", MINORS)
def test_images_come_from_registry_k8s_io_by_paths_that_exist(tmp_path, minor):
    distro, os_version = FIRST_OS[minor].rsplit("-", 1)
    n = int(minor.split(".")[1])
    # CoreDNS 1.8 (Kubernetes 1.21) on is published only as coredns/coredns; the older tags sit beside kube-*
    wanted = "registry.k8s.io/coredns/coredns" if n >= 21 else "registry.k8s.io/coredns"
    profiles = [(ha_tree(tmp_path, minor, distro, os_version, ha=False) / "cp1.yaml", "kubeadm.yaml")]
    if n >= 22:  # HA is refused before (see above); a joining control plane pulls with a config of its own
        profiles.append((ha_tree(tmp_path, minor, distro, os_version) / "cp3.yaml", "kubeadm-images.yaml"))
    for profile, config in profiles:
        node = node_from_profile(profile, tmp_path / "secrets")
        files = {f.path: f.content for f in node_files(node)}
        assert not [p for p, text in files.items() if "k8s.gcr.io" in text], minor
        cluster = next(d for d in yaml.safe_load_all(files[f"/etc/k8s-firstboot/{config}"]) if d
                       and d["kind"] == "ClusterConfiguration")
        assert cluster["imageRepository"] == "registry.k8s.io"
        for default in kubeadm_default_repositories(minor):
            assert coredns_image(cluster, default) == wanted, (minor, default)


# --- defect 13: backdated CAs and a bounded wait for the clock ------------------------------------------------

def test_cas_are_valid_for_a_clock_a_day_behind():
    made = secrets.generate()
    now = datetime.datetime.now(datetime.timezone.utc)
    for pair in (made.ca, made.front_proxy_ca, made.etcd_ca):
        cert = x509.load_pem_x509_certificate(pair.cert.encode())
        assert cert.not_valid_before_utc <= now - datetime.timedelta(days=1, hours=14)


def boot(tmp_path, profile: str, *faults: str):
    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")
    from generator.kickstart import render_kickstart
    from tests.support.rehearsal import run_kickstart_post
    node = node_from_profile(ROOT / profile, tmp_path / "secrets")
    box = Sandbox(tmp_path / "box")
    run_kickstart_post(box, render_kickstart(node), "RHEL9")
    for fault in faults:
        box.inject_fault(fault)
    return box, run_first_boot(box)


def test_the_clock_is_awaited_before_kubeadm(tmp_path):
    box, result = boot(tmp_path, "profiles/master.yaml")
    assert result.returncode == 0, result.stderr[-2000:]
    calls = box.command_lines()
    assert in_order(calls, ["chronyc waitsync", "kubeadm config images pull", "kubeadm init"]) == []
    assert "clock synchronised" in result.stderr


def test_no_ntp_delays_the_boot_a_bounded_time_and_no_more(tmp_path):
    box, result = boot(tmp_path, "profiles/worker.yaml", "always chronyc", "always timedatectl")
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"clock not synchronised after \d+s", result.stderr)
    waits = [c for c in box.command_lines() if c.startswith("chronyc")]
    slept = sum(int(c.split()[1]) for c in box.command_lines() if c.startswith("sleep ") and c.split()[1].isdigit())
    assert 2 <= len(waits) <= 40 and slept <= 200
    assert "kubeadm join" in " ".join(box.command_lines())
