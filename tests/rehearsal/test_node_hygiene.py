"""What the independent review of the upstream sources found the node left behind or got wrong (issue 8)."""

import json

import pytest
import yaml

from tests.support.common import ROOT, need
from tests.support.rehearsal import run_first_boot, run_kickstart_post
from tests.support.sandbox import Sandbox, bwrap_available
from tests.support import standin

from generator.kickstart import render_kickstart
from generator.pipeline import node_from_profile
from generator.plan import plan
from generator.render import node_files
from generator import node_paths as paths


@pytest.fixture
def box(tmp_path):
    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")
    return Sandbox(tmp_path / "box")


def test_the_post_script_deletes_its_own_copy(tmp_path):
    """Anaconda runs %post from /tmp/ks-script-* of the installed system and never deletes it; EL8's /tmp is on
    disk (anaconda 33 pyanaconda/kickstart.py AnacondaKSScript.run; tmpfs from 34.22 on)."""
    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")
    node = node_from_profile(ROOT / "profiles/classic/master.yaml", tmp_path / "secrets")
    box = Sandbox(tmp_path / "box", os_key=node.os.key, reachable=("*",))  # not about the dead repositories
    run_kickstart_post(box, render_kickstart(node), node.os.ks_handler)
    assert not list(box.record.glob("ks-script-*")), "the %post body (token, CA keys) stays on disk"


def test_selinux_off_until_now_gets_a_relabel(box, tmp_path):
    """setenforce cannot leave Disabled; files made meanwhile carry no labels when the next boot enforces."""
    node = node_from_profile(ROOT / "profiles/worker.yaml", tmp_path / "secrets")
    (box.record / "selinux").write_text("Disabled\n")
    run_kickstart_post(box, render_kickstart(node), node.os.ks_handler)
    result = run_first_boot(box)
    assert result.returncode == 0
    # the sandbox's / is bubblewrap's own scratch, gone after the run: the step's word for it is what stays
    assert "SELinux is disabled until the next boot, which relabels the file systems" in result.stderr
    assert "touch /.autorelabel" in box.file(paths.SCRIPT_PATH).read_text()


def test_firewalld_enabled_in_a_running_system_is_started(box, tmp_path):
    """cloud-init prepares a running system: enabling firewalld there starts nothing until a reboot."""
    node = node_from_profile(ROOT / "profiles/worker.yaml", tmp_path / "secrets")
    run_kickstart_post(box, render_kickstart(node), node.os.ks_handler)
    assert not box.file(standin.FIREWALL_RUNTIME).exists()
    assert run_first_boot(box).returncode == 0
    runtime = json.loads(box.file(standin.FIREWALL_RUNTIME).read_text())
    assert "10250/tcp" in runtime["zones"]["public"]["ports"]


def test_pod_network_is_not_a_trusted_source(tmp_path):
    """A trusted source address is accepted on every host port too (firewalld fw_zone.py: zone_trusted_HOST):
    spoofed pod addresses must not open the node. The CNI's tunnels and veths carry pod traffic instead."""
    script = next(f.content for f in node_files(node_from_profile(ROOT / "profiles/master.yaml", tmp_path))
                  if f.path == paths.SCRIPT_PATH)
    assert "--add-source" not in script and "--zone=trusted --add-interface" in script


def test_kubic_and_copr_repositories_are_module_hotfixes(tmp_path):
    """EL8's default container-tools stream hides same-named packages of non-modular repositories."""
    files = {f.path: f.content for f in node_files(node_from_profile(ROOT / "profiles/classic/worker.yaml", tmp_path))}
    for path in (paths.CRIO_REPO_PATH, paths.COPR_REPO_PATH):
        sections = files[path].split("\n\n")
        assert all("module_hotfixes=1" in s for s in sections if s.strip()), path


def test_registration_comes_before_the_os_repositories(write_profile, tmp_path):
    profile = write_profile("r.yaml", yaml.safe_dump({
        "extends": "profiles/worker.yaml", "os": {"distro": "rhel", "version": "9",
                                                               "install_url": "http://repo.lan/rhel9/BaseOS/",
                                                               "registration": {"organization": "1234",
                                                                                "activation_key": "k8s-nodes"}}}))
    names = [s.name for s in plan(node_from_profile(profile, tmp_path))]
    assert names.index("os_register") < names.index("os_repos")


def test_keepalived_is_enabled_only_once_configured(tmp_path):
    node = node_from_profile(ROOT / "profiles/ha/cp1.yaml", tmp_path)
    names = [s.name for s in plan(node)]
    script = next(f.content for f in node_files(node) if f.path == paths.SCRIPT_PATH)
    assert "vip_enable" not in names
    body = script[script.index("step_vip_start()"):]
    assert body.index("@VIP_INTERFACE@") < body.index("systemctl enable keepalived.service")


def test_crio_before_1_21_gets_a_crictl_that_speaks_v1alpha2(tmp_path):
    """Every role of 1.18-1.20 pins cri-tools 1.25: kubeadm's dependency would bring 1.26+, which CRI-O of those
    minors cannot answer (the stand-ins refuse it: tests/support/standin.py crictl_refusal)."""
    for profile in ("profiles/classic/master.yaml", "profiles/classic/worker.yaml"):
        assert "cri-tools-1.25.0" in node_from_profile(ROOT / profile, tmp_path).kube_packages
    assert "cri-tools" in node_from_profile(ROOT / "profiles/worker.yaml", tmp_path).kube_packages


def test_crictl_standin_refuses_a_v1_only_client_for_old_crio(box):
    rpm = box.file("/var/lib/standin-rpm")
    rpm.mkdir(parents=True, exist_ok=True)
    (rpm / "cri-o").write_text("\tdevel_kubic_libcontainers_stable_cri-o_1.18\n")
    (rpm / "cri-tools").write_text("\tdevel_kubic_libcontainers_stable\n")
    assert box.run(["crictl", "pull", "registry.k8s.io/pause:3.2"]).returncode == 1
    (rpm / "cri-tools").write_text("1.25.0\tkubernetes\n")
    assert box.run(["crictl", "pull", "registry.k8s.io/pause:3.2"]).returncode == 0


@pytest.mark.parametrize("matches", [True, False])
def test_a_manifest_from_a_release_tarball_is_checked_too(write_profile, tmp_path, matches):
    """Calico 3.15/3.20 come out of the release tarball: cni.manifest_sha256 must hold there as well
    (before: accepted, silenced `gen validate --strict`, and never checked on the node)."""
    import hashlib

    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")
    member = "release-v3.15.5/k8s-manifests/calico.yaml"
    extracted = f"# stand-in CNI manifest ({member})\nkind: List\n"  # what the tar stand-in's -O writes
    digest = hashlib.sha256(extracted.encode() if matches else b"other bytes").hexdigest()
    profile = write_profile("pin.yaml", yaml.safe_dump({"extends": "profiles/classic/master.yaml",
                                                        "cni": {"manifest_sha256": digest},
                                                        "bootstrap": {"step_timeout": 30, "retry_delay": 1}}))
    node = node_from_profile(profile, tmp_path / "secrets")
    assert node.cni.manifest_archive and node.cni.manifest_sha256 == digest
    box = Sandbox(tmp_path / "box", os_key=node.os.key, reachable=("*",))  # not about the dead repositories
    run_kickstart_post(box, render_kickstart(node), node.os.ks_handler)
    booted = run_first_boot(box)
    applied = [line for line in box.command_lines() if line.startswith("kubectl") and " apply " in line]
    if matches:
        assert booted.returncode == 0 and applied, booted.stderr[-2000:]
    else:
        assert booted.returncode != 0 and not applied


def test_curl_standin_reads_the_url_of_its_config_file(box):
    """curl -K takes its URL from the file (curl docs/cmdline-opts/config.md); none there, no request."""
    config = box.file(paths.REPORT_CURLRC)
    config.parent.mkdir(parents=True, exist_ok=True)
    assert box.run(["curl", "-fsS", "-K", paths.REPORT_CURLRC]).returncode == 2
    config.write_text('url = "https://status.example.com/k8s"\n')
    assert box.run(["curl", "-fsS", "-K", paths.REPORT_CURLRC]).returncode == 22  # public, unreachable
    config.write_text('url = "https://status.lan/k8s"\n')
    assert box.run(["curl", "-fsS", "-K", paths.REPORT_CURLRC]).returncode == 0
