"""Packages and repositories: the stand-ins behave like a fresh install and like the dnf of the rehearsed OS.

Expectations come from upstream (docs/upstream-contracts.md, section "Packages"): which package ships which
command, dnf4 against dnf5, an unreachable enabled repository failing the command, the OS repositories an
install leaves behind. The first tests pin the stand-ins themselves; the rest rehearse rendered nodes.
"""

import stat
from pathlib import Path

import pytest
import yaml

from tests.support.common import ROOT, need, run_gen
from tests.support.rehearsal import as_a_site_runs_it, run_first_boot, run_kickstart_post
from tests.support.sandbox import SERVING, Sandbox, bwrap_available

from generator.kickstart import render_kickstart
from generator import releases
from generator.pipeline import node_from_profile
from generator.render import node_files
from generator import node_paths as paths

KUBE_REPO = """[kubernetes]
name=Kubernetes
baseurl=https://pkgs.k8s.io/core:/stable:/v{minor}/rpm/
enabled=1
gpgcheck=1
gpgkey=https://pkgs.k8s.io/core:/stable:/v{minor}/rpm/repodata/repomd.xml.key
exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni
"""


@pytest.fixture(autouse=True)
def sandbox_tools():
    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")


def box_with_kube_repo(tmp_path: Path, os_key: str = "rocky-9", minor: str = "1.36") -> Sandbox:
    box = Sandbox(tmp_path / "box", os_key=os_key)
    box.file(paths.KUBE_REPO_PATH).write_text(KUBE_REPO.format(minor=minor))
    return box


def sh(box: Sandbox, line: str):
    return box.run(["bash", "-c", line])


# --- the stand-ins ---------------------------------------------------------------------------------------

def test_a_packaged_command_exists_only_after_its_package_is_installed(tmp_path):
    box = box_with_kube_repo(tmp_path)
    for command in ("kubeadm", "kubectl", "crictl", "firewall-offline-cmd", "keepalived", "tc"):
        result = sh(box, f"{command} --help")
        assert result.returncode == 127 and "command not found" in result.stderr, command
    # the base image's commands are there from the start
    for command in ("curl --version", "tar --version", "systemctl daemon-reload", "modprobe overlay"):
        assert sh(box, command).returncode == 0, command
    assert sh(box, "dnf -y install firewalld iproute-tc").returncode == 0
    assert sh(box, "firewall-offline-cmd --add-port=10250/tcp").returncode == 0
    assert sh(box, "tc -V").returncode == 0


@pytest.mark.parametrize("minor, crictl", [("1.31", True), ("1.32", False), ("1.36", False)])
def test_kubeadm_brings_crictl_only_up_to_1_31(tmp_path, minor, crictl):
    # kubernetes/release#3626, kubernetes#124685: from 1.32 the kubeadm package no longer requires cri-tools
    box = box_with_kube_repo(tmp_path, minor=minor)
    assert sh(box, f"dnf -y install kubeadm-{minor}.1 --setopt=disable_excludes=kubernetes").returncode == 0
    assert sh(box, "kubeadm version").returncode == 0
    assert (sh(box, "crictl --version").returncode == 0) is crictl
    assert sh(box, "dnf -y install cri-tools --setopt=disable_excludes=kubernetes").returncode == 0
    assert sh(box, "crictl --version").returncode == 0


def test_excluded_packages_need_excludes_disabled(tmp_path):
    box = box_with_kube_repo(tmp_path)
    refused = sh(box, "dnf -y install kubeadm-1.36.1")
    assert refused.returncode != 0 and "No match for argument: kubeadm-1.36.1" in refused.stderr
    assert sh(box, "dnf -y install kubeadm-1.36.1 --disableexcludes=kubernetes").returncode == 0  # dnf4


@pytest.mark.parametrize("os_key, flavour", [("fedora-43", "dnf5"), ("fedora-45", "dnf5"), ("rocky-9", "dnf4"),
                                             ("almalinux-10", "dnf4"), ("centos-stream-10", "dnf4")])
def test_dnf5_dropped_disableexcludes(tmp_path, os_key, flavour):
    # dnf5 doc/changes_from_dnf4.7.rst; EL10 keeps dnf4 (dnf-plugins-core#572: dnf5 replaces it from EL11)
    box = box_with_kube_repo(tmp_path, os_key)
    old = sh(box, "dnf -y install kubectl-1.36.1 --disableexcludes=kubernetes")
    assert (old.returncode == 0) is (flavour == "dnf4"), old.stderr
    assert sh(box, "dnf -y install kubectl-1.36.1 --setopt=disable_excludes=kubernetes").returncode == 0
    assert sh(box, "dnf -y install kubectl-1.36.1 --no-such-option").returncode != 0


def test_packages_no_enabled_repository_offers_are_refused(tmp_path):
    box = Sandbox(tmp_path / "box", os_key="rocky-9")
    result = sh(box, "dnf -y install cri-o")  # no CRI-O repository yet
    assert result.returncode != 0 and "No match for argument: cri-o" in result.stderr


@pytest.mark.parametrize("os_key", ["centos-8"])
def test_an_unreachable_enabled_repository_fails_every_command(tmp_path, os_key):
    # CentOS 8's stock files name mirrorlist.centos.org, which has no DNS record since 2024;
    # skip_if_unavailable is False by default (dnf doc/conf_ref.rst since 4.2.7, dnf5 dnf5.conf.5)
    box = Sandbox(tmp_path / "box", os_key=os_key)
    assert sorted(p.name for p in box.file("/etc/yum.repos.d").glob("*.repo")) == [
        "CentOS-Linux-AppStream.repo", "CentOS-Linux-BaseOS.repo", "CentOS-Linux-Extras.repo"]
    for command in ("dnf -y update", "dnf -y install iproute-tc"):
        result = sh(box, command)
        assert result.returncode != 0 and "mirrorlist.centos.org" in result.stderr, command
    # a repository marked skip_if_unavailable does not fail the command
    for repo in box.file("/etc/yum.repos.d").glob("*.repo"):
        repo.write_text(repo.read_text() + "skip_if_unavailable=1\n")
    assert sh(box, "dnf -y update").returncode == 0


def test_rhel_has_no_repositories_until_registered(tmp_path):
    box = Sandbox(tmp_path / "box", os_key="rhel-9")
    assert not list(box.file("/etc/yum.repos.d").glob("*.repo"))
    assert sh(box, "dnf -y install iproute-tc").returncode != 0
    assert sh(box, "subscription-manager register --org=1 --activationkey=k >/dev/null").returncode == 0
    assert sh(box, "dnf -y install iproute-tc").returncode == 0


# --- rendered nodes in the rehearsal -----------------------------------------------------------------------

def matrix_profile(tmp_path: Path, minor: str, os_key: str, role: str, **extra) -> Path:
    distro, _, major = os_key.rpartition("-")
    data = {
        "role": role, "hostname": "node1" if role == "worker" else "cp1", "cluster": {"name": "pkgs"},
        "os": {"distro": distro, "version": major},
        "kubernetes": {"version": minor, "pod_cidr": "10.244.0.0/16", "control_plane_endpoint": "cp1.example:6443"},
        "network": {"bootproto": "static", "address": "192.168.10.5/24", "gateway": "192.168.10.1"},
    }
    for key, value in extra.items():
        data.setdefault(key, {}).update(value)
    path = tmp_path / f"{role}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def rehearse(profile: Path, tmp_path: Path, secrets: Path):
    node = node_from_profile(profile, secrets)
    box = Sandbox(tmp_path / f"box-{node.hostname}", os_key=node.os.key)
    run_kickstart_post(box, render_kickstart(node), node.os.ks_handler)
    return node, box, run_first_boot(box)


def not_found(box: Sandbox) -> str:
    path = box.record / "not-found"
    return path.read_text() if path.exists() else ""


def test_the_default_worker_installs_crictl_and_finishes(tmp_path):
    """Defect 0: profiles/worker.yaml (1.36) pulls with crictl, which only cri-tools ships."""
    node, box, result = rehearse(ROOT / "profiles/worker.yaml", tmp_path, tmp_path / "secrets")
    assert result.returncode == 0, result.stderr[-3000:]
    assert not_found(box) == ""
    pulls = [c for c in box.command_lines() if c.startswith("crictl ") and " pull " in c]
    assert len(pulls) == 2, pulls
    assert box.file(paths.DONE_MARKER).exists()


@pytest.mark.parametrize("os_key, minor", [("fedora-43", "1.33"), ("fedora-44", "1.36"), ("fedora-45", "1.37")])
def test_fedora_workers_finish_with_dnf5(tmp_path, os_key, minor):
    """Defect 2: every dnf call of a Fedora node must be one dnf5 accepts."""
    profile = matrix_profile(tmp_path, minor, os_key, "worker")
    node, box, result = rehearse(profile, tmp_path, tmp_path / "secrets")
    assert result.returncode == 0, result.stderr[-3000:]
    assert [c for c in box.command_lines() if c.startswith("dnf ") and "disable_excludes=kubernetes" in c]


@pytest.mark.parametrize("profile", ["profiles/classic/master.yaml", "profiles/classic/worker.yaml"])
def test_centos_8_uses_the_vault_with_the_stock_files_disabled(tmp_path, profile):
    """Defect 3: the installed CentOS 8 keeps its CentOS-Linux-*.repo (mirrorlist.centos.org) unless replaced."""
    node, box, result = rehearse(as_a_site_runs_it(ROOT / profile, tmp_path / "site"), tmp_path,
                                 tmp_path / "secrets")
    assert result.returncode == 0, result.stderr[-3000:]
    repos = box.file("/etc/yum.repos.d")
    for stock in repos.glob("CentOS-Linux-*.repo"):
        sections = stock.read_text().split("[")[1:]
        assert sections and all("enabled=0" in s and "enabled=1" not in s for s in sections), stock.name
    ours = "".join(p.read_text() for p in repos.glob("*.repo") if not p.name.startswith("CentOS-Linux-"))
    for tree in ("BaseOS", "AppStream", "extras"):
        assert f"https://vault.centos.org/8.5.2111/{tree}/$basearch/os/" in ours
    assert "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-centosofficial" in ours
    assert "dnf -y update" in box.command_lines()


def test_os_mirrors_replace_the_stock_repositories(tmp_path):
    """Issue 10 item 1: mirrors.os.* (or os.install_url) serve the installed system, stock files disabled."""
    mirrors = {"os": {"baseos": {"baseurl": "http://repo.lan/rocky/9/BaseOS/x86_64/os/"},
                      "appstream": {"baseurl": "http://repo.lan/rocky/9/AppStream/x86_64/os/"}}}
    profile = matrix_profile(tmp_path, "1.36", "rocky-9", "worker", mirrors=mirrors)
    # only the site's hosts and pkgs.k8s.io/opensuse answer: the stock rocky mirrorlists would fail dnf
    node = node_from_profile(profile, tmp_path / "secrets")
    box = Sandbox(tmp_path / "box", os_key="rocky-9",
                  reachable=("https://pkgs.k8s.io/", "https://download.opensuse.org/repositories/isv:/cri-o:/",
                             "https://registry.k8s.io/"))
    run_kickstart_post(box, render_kickstart(node), node.os.ks_handler)
    assert run_first_boot(box).returncode == 0
    assert "enabled=1" not in box.file("/etc/yum.repos.d/rocky.repo").read_text()
    ours = box.file(paths.OS_REPO_PATH).read_text()
    assert "baseurl=http://repo.lan/rocky/9/BaseOS/x86_64/os/" in ours
    assert "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9" in ours


def test_rhel_registers_with_a_key_that_is_never_shown_and_then_removed(tmp_path):
    key = "k8s-secret-activation-key-0042"
    profile = matrix_profile(tmp_path, "1.36", "rhel-9", "worker",
                             os={"registration": {"organization": "7654321", "activation_key": key}})
    node, box, result = rehearse(profile, tmp_path, tmp_path / "secrets")
    assert result.returncode == 0, result.stderr[-3000:]
    assert [c for c in box.command_lines() if c.startswith("subscription-manager register")]
    assert not box.file(paths.RHSM_FILE).exists()
    shown = result.stdout + result.stderr + box.console() + box.file("/etc/issue.d/k8s-firstboot.issue").read_text()
    state = box.file(paths.STATE_DIR)
    shown += "".join(p.read_text(errors="replace") for p in state.rglob("*") if p.is_file())
    assert key not in shown
    script = box.file(paths.SCRIPT_PATH).read_text()
    assert key not in script
    files = {f.path: f for f in node_files(node)}
    assert files[paths.RHSM_FILE].mode == 0o600 and files[paths.RHSM_FILE].secret


def test_validate_warns_when_rhel_has_no_registration_nor_mirrors(tmp_path):
    profile = matrix_profile(tmp_path, "1.36", "rhel-9", "worker")
    result = run_gen("validate", str(profile))
    where = f"{profile}:{line_of(profile, 'distro: rhel')}: warning: os.distro"
    assert f"{where}: Red Hat Enterprise Linux 9 has no package repositories until it is registered" in result.stderr
    registered = matrix_profile(tmp_path, "1.36", "rhel-9", "worker",
                                os={"registration": {"organization": "1", "activation_key": "k"}})
    validated = run_gen("validate", str(registered))
    assert validated.returncode == 0 and "until it is registered" not in validated.stderr, validated.stderr
    bad = matrix_profile(tmp_path, "1.36", "rhel-9", "worker",
                         os={"registration": {"organization": "1", "activation_key": "k; reboot"}})
    refused = run_gen("validate", str(bad))
    assert refused.returncode == 2 and "os.registration.activation_key" in refused.stderr


def test_air_gapped_names_the_os_repositories(tmp_path):
    profile = matrix_profile(tmp_path, "1.36", "rocky-9", "worker")
    data = yaml.safe_load(profile.read_text())
    data["air_gapped"] = True
    profile.write_text(yaml.safe_dump(data))
    result = run_gen("validate", str(profile))
    assert "stock repo files (public mirrors); set mirrors.os.baseos and mirrors.os.appstream" in result.stderr
    data["mirrors"] = {"os": {"baseos": {"baseurl": "https://dl.rockylinux.org/pub/rocky/9/BaseOS/x86_64/os/"}}}
    profile.write_text(yaml.safe_dump(data))
    result = run_gen("validate", str(profile))
    assert "stock repo files" not in result.stderr
    assert "dl.rockylinux.org/pub/rocky/9/BaseOS/x86_64/os/ is public; set mirrors.os.baseos.baseurl" in result.stderr


def test_every_pinned_cni_manifest_comes_from_a_url_that_serves():
    """Defect 9: docs.projectcalico.org/archive/... answers 404 since 2023."""
    for plugin in ("calico", "flannel"):
        for version, entry in releases.cni_plugin(plugin)["versions"].items():
            url = entry.get("manifest_archive") or entry["manifest"]
            assert url.startswith(SERVING), f"{plugin} {version}: {url}"
            assert "docs.projectcalico.org" not in url


def test_calico_3_15_manifest_is_taken_from_its_release_tarball(tmp_path):
    node, box, result = rehearse(as_a_site_runs_it(ROOT / "profiles/classic/master.yaml", tmp_path / "site"),
                                 tmp_path, tmp_path / "secrets")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = box.command_lines()
    download = [c for c in lines if c.startswith("curl ") and "release-v3.15.5.tgz" in c]
    assert download and "https://github.com/projectcalico/calico/releases/download/v3.15.5/" in download[0]
    assert "tar -xzf /var/lib/k8s-firstboot/cni-release.tgz -O release-v3.15.5/k8s-manifests/calico.yaml" in lines
    assert [c for c in lines if c.startswith("kubectl ") and "apply -f /var/lib/k8s-firstboot/cni.yaml" in c]


def test_cilium_without_a_version_picks_one_or_says_why(tmp_path):
    """Defect 10: `cni.plugin: cilium` without cni.version was `internal error: KeyError: None`."""
    fits = matrix_profile(tmp_path, "1.33", "rocky-9", "control-plane", cni={"plugin": "cilium"})
    result = run_gen("plan", str(fits))
    assert result.returncode == 0, result.stderr
    assert "install cilium 1.20." in result.stdout
    (tmp_path / "none").mkdir()
    none = matrix_profile(tmp_path / "none", "1.36", "rocky-9", "control-plane", cni={"plugin": "cilium"})
    result = run_gen("validate", str(none))
    assert result.returncode == 2 and "internal error" not in result.stderr
    where = f"{none}:{line_of(none, 'plugin: cilium')}: error: cni.plugin"
    assert f"{where}: no cilium release we know supports Kubernetes 1.36" in result.stderr, result.stderr


# the options a repository section may set, as libdnf5/repo/config_repo.cpp at dnf5 5.4.4.0 binds them
# (`exclude` is its alias of excludepkgs "for compatibility with yum"); dnf4 knows all of those we use too.
# An unknown key is only a warning in both, so a misspelt one would silently do nothing: refuse it here.
DNF5_REPO_KEYS = set("""name enabled cachedir baseurl mirrorlist metalink type mediaid gpgkey excludepkgs exclude
includepkgs fastestmirror proxy_username proxy_password username password protected_packages pkg_gpgcheck gpgcheck
repo_gpgcheck enablegroups retries bandwidth minrate ip_resolve throttle timeout max_parallel_downloads
max_downloads_per_mirror metadata_expire cost priority module_hotfixes sslcacert sslverify sslclientcert sslclientkey
proxy_sslcacert proxy_sslverify proxy_sslclientcert proxy_sslclientkey deltarpm deltarpm_percentage
skip_if_unavailable enabled_metadata user_agent countme build_cache""".split())


@pytest.mark.parametrize("profile", ["profiles/master.yaml", "profiles/classic/worker.yaml"])
def test_every_repo_file_key_is_one_dnf5_knows(profile, tmp_path):
    import configparser
    node = node_from_profile(ROOT / profile, tmp_path / "secrets")
    for f in node_files(node):
        if f.path.startswith("/etc/yum.repos.d/"):
            parser = configparser.ConfigParser(interpolation=None)
            parser.read_string(f.content)
            for section in parser.sections():
                assert set(parser[section]) <= DNF5_REPO_KEYS, (f.path, section, set(parser[section]) - DNF5_REPO_KEYS)
