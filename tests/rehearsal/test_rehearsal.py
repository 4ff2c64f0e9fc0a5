"""Sandbox rehearsal of the Kickstart carrier: %post as Anaconda runs it, then the first-boot unit.

Expectations are written from the classic recipe (profiles/classic) and kubeadm's documentation, not read from the
generator: the order a human follows, the files a finished node has, the CA hash kubeadm checks.
"""

import stat
from pathlib import Path

import pytest
import yaml

from tests.support.common import ROOT, need
from tests.support.rehearsal import (DONE, as_a_site_runs_it, in_order, kubeadm_documents, openssl_ca_hash, run_first_boot,
                                     once_per_profile, run_kickstart_post, unit_exec_start)
from tests.support.sandbox import Sandbox, bwrap_available

from generator.kickstart import render_kickstart
from generator.pipeline import node_from_profile
from generator.secrets import load, secrets_path
from generator import node_paths as paths

# the classic recipe's order: update, firewall, packages, CRI-O, Kubernetes packages, then the running system
PREPARE_ORDER = [
    "systemctl enable k8s-firstboot.service",  # first: an unfinished prepare is finished by the unit
    "dnf -y update",
    "systemctl enable firewalld.service",
    "dnf -y install iproute-tc container-selinux",
    "dnf -y install cri-o",
    "systemctl enable crio.service",
    "dnf -y install kubelet-",
    "systemctl enable kubelet.service",
]
BOOT_ORDER = ["modprobe overlay", "modprobe br_netfilter", "sysctl --system", "swapoff -a",
              "systemctl start crio.service"]
CONTROL_PLANE_BOOT = ["kubeadm config images pull", "kubeadm init --config /etc/k8s-firstboot/kubeadm.yaml",
                      "curl ", "kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f ",
                      "kubectl --kubeconfig /etc/kubernetes/admin.conf get node {hostname}"]
WORKER_BOOT = ["curl -ksf --max-time 10 https://{endpoint}/readyz",
               "kubeadm join --config /etc/k8s-firstboot/kubeadm.yaml",
               "kubectl --kubeconfig /etc/kubernetes/kubelet.conf get node {hostname}"]
# kubeadm's "Ports and Protocols" page: API server, etcd, kubelet, scheduler, controller manager; NodePorts
CONTROL_PLANE_PORTS = {"6443/tcp", "2379-2380/tcp", "10250/tcp", "10259/tcp", "10257/tcp"}
WORKER_PORTS = {"10250/tcp", "30000-32767/tcp"}
CALICO_BGP = "179/tcp"


def profile_value(path: str, *keys):
    """A value straight from the profile files (following extends), independent of the generator."""
    data = yaml.safe_load((ROOT / path).read_text())
    for key in keys:
        if isinstance(data, dict) and key in data:
            data = data[key]
        elif isinstance(data, dict) and "extends" in yaml.safe_load((ROOT / path).read_text()):
            parent = str(Path(path).parent / yaml.safe_load((ROOT / path).read_text())["extends"])
            return profile_value(parent, *keys)
        else:
            return None
    return data


class Rehearsal:
    """One node installed from its Kickstart and booted once, in its own sandbox."""

    def __init__(self, profile: str, base: Path, secrets_dir: Path):
        self.profile = profile
        self.node = node_from_profile(as_a_site_runs_it(ROOT / profile, base / "site"), secrets_dir)
        self.box = Sandbox(base, os_key=self.node.os.key)
        run_kickstart_post(self.box, render_kickstart(self.node), self.node.os.ks_handler)
        self.after_post = self.box.command_lines()
        self.first_boot = run_first_boot(self.box)
        self.calls = self.box.command_lines()
        self.boot_calls = self.calls[len(self.after_post):]


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory):
    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")
    return once_per_profile(tmp_path_factory, Rehearsal)


def version_of(r: Rehearsal) -> str:
    return str(profile_value(r.profile, "kubernetes", "version"))


@pytest.mark.parametrize("profile", ["profiles/master.yaml", "profiles/classic/master.yaml"])
def test_control_plane_installs_and_initializes(rehearsed, profile):
    r = rehearsed(profile)
    assert r.first_boot.returncode == 0, r.first_boot.stderr[-3000:]
    assert in_order(r.after_post, PREPARE_ORDER) == [], r.after_post
    # kubelet, kubeadm and kubectl pinned to one patch release of the profile's minor
    install = [c for c in r.after_post if c.startswith("dnf -y install kubelet-")][0].split()
    pins = {p.split("-", 1)[0]: p.split("-", 1)[1] for p in install[3:6]}
    assert set(pins) == {"kubelet", "kubeadm", "kubectl"} and len(set(pins.values())) == 1, install
    assert pins["kubeadm"].startswith(version_of(r) + "."), install
    # nothing that needs a running system happens inside the installer
    assert not [c for c in r.after_post if c.startswith(("kubeadm", "modprobe", "systemctl start", "swapoff"))]
    hostname = profile_value(profile, "hostname")
    assert in_order(r.boot_calls, BOOT_ORDER + [c.format(hostname=hostname) for c in CONTROL_PLANE_BOOT]) == [], \
        r.boot_calls

    box = r.box
    secrets = load(secrets_path(profile_value(profile, "cluster", "name"), rehearsed.secrets_dir))
    # kubeadm init found the cluster CA made at render time instead of making its own
    assert box.file("/etc/kubernetes/pki/ca.crt").read_text() == secrets.ca.cert
    assert stat.S_IMODE(box.file("/etc/kubernetes/pki/ca.key").stat().st_mode) == 0o600
    for kubeconfig in ("/root/.kube/config", "/home/ops/.kube/config"):
        if box.file(kubeconfig).exists() or kubeconfig.startswith("/root"):
            assert stat.S_IMODE(box.file(kubeconfig).stat().st_mode) == 0o600, kubeconfig

    init = kubeadm_documents(box.record / "init-config.yaml")
    cluster = init["ClusterConfiguration"]
    assert cluster["networking"]["podSubnet"] == profile_value(profile, "kubernetes", "pod_cidr")
    assert cluster["controlPlaneEndpoint"] == profile_value(profile, "kubernetes", "control_plane_endpoint")
    tokens = [t["token"] for t in init["InitConfiguration"]["bootstrapTokens"]]
    assert tokens == [secrets.token]
    assert "crio.sock" in init["InitConfiguration"]["nodeRegistration"]["criSocket"]
    assert init["KubeletConfiguration"]["cgroupDriver"] == "systemd"
    manifest = [c for c in r.boot_calls if c.startswith("curl ")][0]
    assert f"v{profile_value(profile, 'cni', 'version')}" in manifest and "calico" in manifest


def test_modern_control_plane_firewall_and_api(rehearsed):
    r = rehearsed("profiles/master.yaml")
    opened = {c.split("=", 1)[1] for c in r.after_post if c.startswith("firewall-offline-cmd --add-port=")}
    assert CONTROL_PLANE_PORTS | {CALICO_BGP} <= opened
    # kubeadm's config API: v1beta4 is served from 1.31 on (v1beta3 is deprecated there)
    init = kubeadm_documents(r.box.record / "init-config.yaml")
    assert init["ClusterConfiguration"]["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    # 1.27 removed --container-runtime; the endpoint lives in KubeletConfiguration
    assert "--container-runtime" not in r.box.file(paths.KUBELET_SYSCONFIG_PATH).read_text()
    assert init["KubeletConfiguration"]["containerRuntimeEndpoint"] == "unix:///var/run/crio/crio.sock"
    assert r.box.file("/etc/selinux/config").read_text().startswith("SELINUX=enforcing")


@pytest.mark.parametrize("profile", ["profiles/master.yaml", "profiles/worker.yaml",
                                     "profiles/classic/master.yaml", "profiles/classic/worker.yaml"])
def test_a_finished_node_is_set_for_kubernetes(rehearsed, profile):
    r = rehearsed(profile)
    assert r.first_boot.returncode == 0, r.first_boot.stderr[-3000:]
    box = r.box
    assert box.file(DONE).exists()
    status = yaml.safe_load(box.file("/var/lib/k8s-firstboot/status.json").read_text())
    assert status["state"] == "done" and status["node"] == profile_value(profile, "hostname")
    assert "Ready" in box.file("/etc/issue.d/k8s-firstboot.issue").read_text()
    # secrets the bootstrap carried are gone once kubeadm has what it needs
    assert not box.file(paths.KUBEADM_CONFIG).exists()
    assert not box.file(paths.PKI_DIR).exists()
    # overlay and br_netfilter at every boot, the three sysctls of the recipe
    modules = "".join(p.read_text() for p in box.file("/etc/modules-load.d").glob("*.conf")).split()
    assert {"overlay", "br_netfilter"} <= set(modules)
    sysctls = "".join(p.read_text() for p in box.file("/etc/sysctl.d").glob("*.conf"))
    settings = {k.strip(): v.strip() for k, v in (l.split("=") for l in sysctls.splitlines() if "=" in l)}
    for key in ("net.bridge.bridge-nf-call-iptables", "net.ipv4.ip_forward", "net.bridge.bridge-nf-call-ip6tables"):
        assert settings.get(key) == "1", key
    # swap off for good: the swap line is commented out, the root line is untouched
    fstab = box.file("/etc/fstab").read_text().splitlines()
    assert "/dev/mapper/rl-root / xfs defaults 0 0" in fstab
    assert not [l for l in fstab if " swap " in l and not l.startswith("#")]
    assert [c for c in r.boot_calls if c == "swapoff -a"]
    # Kubernetes packages pinned and excluded from later `dnf update`
    repo = box.file(paths.KUBE_REPO_PATH).read_text()
    assert "exclude=kubelet kubeadm kubectl" in repo.replace("\n", " ") or "exclude=kubelet" in repo
    # CRI-O's sample bridge network must not race the CNI
    assert not list(box.file("/etc/cni/net.d").glob("*crio*bridge*"))
    assert box.file("/etc/systemd/system/multi-user.target.wants/kubelet.service").exists()
    assert box.file("/etc/systemd/system/multi-user.target.wants/crio.service").exists()


@pytest.mark.parametrize("profile", ["profiles/worker.yaml", "profiles/classic/worker.yaml"])
def test_worker_joins_the_control_plane_of_its_cluster(rehearsed, profile):
    master = rehearsed(str(Path(profile).parent / "master.yaml"))
    worker = rehearsed(profile)
    assert worker.first_boot.returncode == 0, worker.first_boot.stderr[-3000:]
    endpoint = profile_value(profile, "kubernetes", "control_plane_endpoint")
    hostname = profile_value(profile, "hostname")
    assert in_order(worker.boot_calls, BOOT_ORDER + [c.format(endpoint=endpoint, hostname=hostname)
                                                     for c in WORKER_BOOT]) == [], worker.boot_calls
    assert not [c for c in worker.calls if c.startswith("kubeadm init")]
    join = kubeadm_documents(worker.box.record / "join-config.yaml")["JoinConfiguration"]
    token = join["discovery"]["bootstrapToken"]
    # the hash the worker checks is the hash of the CA the control plane really runs with
    assert token["caCertHashes"] == [openssl_ca_hash(master.box.file("/etc/kubernetes/pki/ca.crt"))]
    assert token["apiServerEndpoint"] == endpoint
    init = kubeadm_documents(master.box.record / "init-config.yaml")["InitConfiguration"]
    assert token["token"] == init["bootstrapTokens"][0]["token"]
    assert "controlPlane" not in join
    # workers carry no CA keys at all
    assert not [p for p in worker.box.snapshot() if p.endswith(".key")]


def test_classic_recipe_specifics(rehearsed):
    master, worker = rehearsed("profiles/classic/master.yaml"), rehearsed("profiles/classic/worker.yaml")
    for r in (master, worker):
        box = r.box
        # CRI-O 1.18 from Kubic points conmon at /usr/libexec/crio/conmon; the recipe fixes it to /usr/bin/conmon
        assert 'conmon = "/usr/bin/conmon"' in box.file("/etc/crio/crio.conf").read_text()
        # Kubernetes 1.18 still needs --container-runtime=remote with a CRI socket
        kubelet = box.file(paths.KUBELET_SYSCONFIG_PATH).read_text()
        assert "--container-runtime=remote" in kubelet and "crio.sock" in kubelet
        assert "firewall-offline-cmd --set-default-zone=trusted" in r.after_post
        assert box.file("/etc/selinux/config").read_text().startswith("SELINUX=permissive")
        assert "setenforce 0" in r.boot_calls
        repos = "".join(p.read_text() for p in box.file("/etc/yum.repos.d").glob("*.repo"))
        # CRI-O 1.18 from (a mirror of) Kubic's per-minor repository
        assert "[devel_kubic_libcontainers_stable_cri-o_1.18]" in repos
        hosts = box.file("/etc/hosts").read_text()
        assert "127.0.0.1 localhost" in hosts and "10.0.0.10 master.classic.example master" in hosts
    assert kubeadm_documents(master.box.record / "init-config.yaml")["ClusterConfiguration"]["apiVersion"] \
        == "kubeadm.k8s.io/v1beta2"


@pytest.mark.parametrize("profile", ["profiles/master.yaml", "profiles/worker.yaml"])
def test_a_second_run_changes_nothing(rehearsed, profile):
    box = rehearsed(profile).box
    before, calls = box.snapshot(), box.calls()
    assert run_first_boot(box).returncode == 0          # systemd skips the unit: the done-marker is there
    for phase in ("prepare", "boot"):                 # and the script itself refuses to redo anything
        result = box.run([unit_exec_start(box)[0], phase])
        assert result.returncode == 0 and "already bootstrapped" in result.stderr
    assert box.calls() == calls
    assert box.snapshot() == before


def test_status_reaches_banner_console_and_phone_home(tmp_path, write_profile):
    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")
    profile = write_profile("w.yaml", f"extends: profiles/worker.yaml\n"
                                      "bootstrap: {report_url: 'https://status.example/k8s'}\n")
    node = node_from_profile(profile, tmp_path / "state")
    box = Sandbox(tmp_path / "box")
    run_kickstart_post(box, render_kickstart(node), "RHEL9")
    box.inject_fault("always modprobe")
    failed = run_first_boot(box)
    assert failed.returncode != 0
    status = yaml.safe_load(box.file("/var/lib/k8s-firstboot/status.json").read_text())
    assert status["state"] == "failed" and status["step"] == "kernel_modules" and status["error"]
    assert "failed at step kernel_modules" in box.file("/etc/issue.d/k8s-firstboot.issue").read_text()
    assert "FAILED" in box.console()
    # the URL reaches curl through a 0600 config file (-K), never its command line
    posts = [c for c in box.command_lines() if c.startswith("curl ") and "-K /etc/k8s-firstboot/report.curlrc" in c]
    assert posts and all("--data-binary @/var/lib/k8s-firstboot/status.json" in c for c in posts)
    assert not [c for c in box.command_lines() if "status.example" in c]
    curlrc = box.file(paths.REPORT_CURLRC)
    assert 'url = "https://status.example/k8s"' in curlrc.read_text() and curlrc.stat().st_mode & 0o777 == 0o600
    # the monitoring endpoint being down never stops the node
    (box.record / "faults").write_text("always curl /etc/k8s-firstboot/report.curlrc\n")
    assert run_first_boot(box).returncode == 0
    assert "Ready" in box.file("/etc/issue.d/k8s-firstboot.issue").read_text()


def test_a_missing_node_name_stops_the_bootstrap_before_any_step_and_status_still_answers(tmp_path):
    """The script reads the host name from node-name (the one per-host value, so the script is the same on
    every node of one kind): without it no step runs, the reason is on the console, and `status` needs none."""
    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")
    node = node_from_profile(ROOT / "profiles/worker.yaml", tmp_path / "state")
    box = Sandbox(tmp_path / "box")
    run_kickstart_post(box, render_kickstart(node), "RHEL9")
    assert box.file(paths.NODE_NAME_FILE).read_text() == node.hostname + "\n"
    box.file(paths.NODE_NAME_FILE).unlink()
    done_before = sorted(p.name for p in box.file("/var/lib/k8s-firstboot/steps").iterdir())
    failed = run_first_boot(box)
    assert failed.returncode == 1
    assert f"{paths.NODE_NAME_FILE} is missing or empty" in box.console()
    assert sorted(p.name for p in box.file("/var/lib/k8s-firstboot/steps").iterdir()) == done_before
    status = box.run([paths.SCRIPT_PATH, "status"])  # what prepare recorded, under the name it read then
    assert status.returncode == 0 and yaml.safe_load(status.stdout)["node"] == node.hostname


@pytest.mark.parametrize("profile", ["profiles/master.yaml", "profiles/worker.yaml"])
def test_no_token_or_key_is_left_outside_kubeadms_own_files(rehearsed, profile):
    """After the bootstrap, the token and the CA keys live only where kubeadm keeps them (/etc/kubernetes):
    not in the bootstrap's files, not in Anaconda's Kickstart copies in /root, not in a log."""
    r = rehearsed(profile)
    assert r.first_boot.returncode == 0, r.first_boot.stderr[-3000:]
    s = load(secrets_path(profile_value(profile, "cluster", "name"), rehearsed.secrets_dir))
    token_secret = s.token.split(".")[1]
    key_lines = {line for pair in (s.ca, s.front_proxy_ca, s.etcd_ca, s.service_account)
                 for line in pair.key.splitlines()[1:-1] if len(line) > 40}
    # Anaconda's copies are there, as on a real host, and they did carry the secrets before the bootstrap
    copies = [r.box.file("/root/anaconda-ks.cfg"), r.box.file("/root/original-ks.cfg")]
    assert all(c.exists() for c in copies)
    leaks = []
    for path, (_, content) in r.box.snapshot().items():
        if path.startswith("/etc/kubernetes/"):
            continue
        text = content.decode(errors="replace")
        if token_secret in text or any(line in text for line in key_lines):
            leaks.append(path)
    assert leaks == [], leaks
    for copy in copies:  # scrubbed, not deleted: the install record stays
        assert copy.stat().st_mode & 0o777 == 0o600
        assert "%packages" in copy.read_text() and "k8s-firstboot prepare" not in copy.read_text()
