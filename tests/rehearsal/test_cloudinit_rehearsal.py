"""The real cloud-init (Debian's 22.4) boots rendered user-data in a bubblewrap scratch root.

Its three stages run as on a first boot — `cloud-init init` (write_files), `cloud-init modules --mode config`
(runcmd writes its script), `cloud-init modules --mode final` (write_files_deferred, scripts_user runs it) —
from a NoCloud seed, against the stand-in commands of tests/support/standin.py (dnf, systemctl, kubeadm, ... on PATH).
"""

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.common import NODE_PROFILES, ROOT, have, need, run_gen
from generator.pipeline import node_from_profile
from generator.cloudinit import cloud_instance
from generator import node_paths as paths
from generator.node_paths import CONFIG_DIR
from generator.render import node_files
from tests.support.cloud_sandbox import CLOUD_INIT_STATE, UNIT_WANTS, CloudSandbox
from tests.support.rehearsal import as_a_site_runs_it, run_first_boot
from tests.support.sandbox import bwrap_available

DONE = paths.DONE_MARKER
HANDOFF = "systemctl start --no-block k8s-firstboot.service"


@pytest.fixture(autouse=True)
def consumers():
    need(bwrap_available(), "bubblewrap (bwrap) cannot run here")
    need(have("cloud-init"), "cloud-init is not installed (apt-get install cloud-init)")


def user_data(tmp_path: Path, profile: str, *options: str) -> bytes:
    out = tmp_path / (Path(profile).stem + ".user-data")
    result = run_gen("cloud-init", profile, "-o", str(out), *options)
    assert result.returncode == 0, result.stderr
    return out.read_bytes()


def boot_node(tmp_path: Path, profile: str, *options: str) -> tuple[CloudSandbox, object]:
    site = as_a_site_runs_it(ROOT / profile, tmp_path / f"site-{Path(profile).parent.name}")
    node = node_from_profile(site)
    box = CloudSandbox(tmp_path / f"box-{node.hostname}-{Path(profile).parent.name}",
                       user_data(tmp_path, str(site), *options), node.hostname, node.os.key)
    return box, node


def ca_hash(cert: Path) -> str:
    """kubeadm's discovery hash the way its docs compute it, with openssl."""
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", str(cert)], capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub, capture_output=True, check=True).stdout
    return "sha256:" + hashlib.sha256(der).hexdigest()


@pytest.mark.parametrize("profile", NODE_PROFILES)
def test_first_boot_runs_the_bootstrap_and_a_second_run_changes_nothing(tmp_path, profile):
    box, node = boot_node(tmp_path, profile)

    box.cloud_init("init")  # write_files: every file of node_files() of the node as a cloud instance, bytes, mode, owner
    for f in node_files(cloud_instance(node)):
        target = box.file(f.path)
        assert target.read_text() == f.content, f.path
        st = target.stat()
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (f.mode, 0, 0), f.path
    assert not box.calls(), "nothing runs before runcmd"

    box.cloud_init("modules", "--mode", "config")  # runcmd only writes its script
    assert not box.calls()
    box.cloud_init("modules", "--mode", "final")  # scripts_user runs it: enable the unit, prepare, hand over
    lines = box.command_lines()
    assert lines.index("systemctl enable k8s-firstboot.service") < lines.index("systemctl enable crio.service")
    assert lines[-1] == HANDOFF and not box.file(DONE).exists()  # cloud-final ends: the bootstrap is the unit's
    status = yaml.safe_load(box.file("/var/lib/k8s-firstboot/status.json").read_text())
    assert status["state"] == "done"
    box.systemd_starts_units()  # systemd runs the queued job
    assert box.unit_result.returncode == 0, box.unit_result.stderr[-3000:]

    lines = box.command_lines()
    action = "kubeadm init --config" if node.action == "init" else "kubeadm join --config"
    assert any(line.startswith(action) for line in lines), lines
    other = "kubeadm join" if node.action == "init" else "kubeadm init"
    assert not any(line.startswith(other) for line in lines)
    assert lines.index("systemctl enable k8s-firstboot.service") < lines.index("systemctl start crio.service")
    assert box.file(DONE).exists()
    assert os.stat(box.file(CONFIG_DIR)).st_mode & 0o777 == 0o700
    assert not box.file(f"{CONFIG_DIR}/kubeadm.yaml").exists(), "the bootstrap token is cleaned up"
    if node.pki:
        assert box.file("/etc/kubernetes/pki/ca.key").exists()
        assert not box.file(f"{CONFIG_DIR}/pki").exists()
    for name, pem in (node.pki.files if node.pki else ()):
        if name.endswith(".key"):
            assert pem.strip().splitlines()[1] not in box.output, f"{name} leaked into cloud-init's output"
    assert node.join.token not in box.output

    # a reboot: cloud-init's per-instance modules stay done; forcing scripts_user again reruns the script,
    # which finds the done-marker. Nothing outside cloud-init's own bookkeeping changes, nothing is called.
    before, calls = box.state(), box.calls()
    box.boot()
    box.cloud_init("single", "--name", "scripts_user", "--frequency", "always")
    assert box.state() == before
    assert box.calls() == calls


def test_worker_discovers_the_control_plane_by_its_ca_hash(tmp_path):
    master, _ = boot_node(tmp_path, "profiles/master.yaml")
    master.boot()
    worker, _ = boot_node(tmp_path, "profiles/worker.yaml")
    worker.boot()
    expected = ca_hash(master.file("/etc/kubernetes/pki/ca.crt"))
    join = yaml.safe_load(worker.file("/opt/record/join-config.yaml").read_text())
    assert join["discovery"]["bootstrapToken"]["caCertHashes"] == [expected]
    init = list(yaml.safe_load_all(master.file("/opt/record/init-config.yaml").read_text()))
    assert init[0]["bootstrapTokens"][0]["token"] == join["discovery"]["bootstrapToken"]["token"]


def test_gzip_mime_user_data_with_an_extra_script_and_profile_settings(tmp_path, write_profile):
    """cloud-init itself unpacks --gzip --mime, runs the extra script in name order beside runcmd,
    and writes the profile's cloud_init.write_files (a deferred one owned by the admin)."""
    profile = write_profile("profiles/worker.yaml", (ROOT / "profiles/worker.yaml").read_text() + (
        "cloud_init:\n"
        "  write_files:\n"
        "    - path: /etc/motd.d/site\n"
        "      content: \"welcome\\n\"\n"
        "    - path: /home/ops/notes.txt\n"
        "      content: \"hello\\n\"\n"
        "      permissions: \"0640\"\n"
        "      owner: ops:ops\n"
        "      defer: true\n"))
    (profile.parent / "cluster.yaml").write_text((ROOT / "profiles/cluster.yaml").read_text())
    before = tmp_path / "00-before.sh"
    before.write_text("#!/bin/sh\ntest ! -e /var/lib/k8s-firstboot/done && echo before >/root/order\n")
    after = tmp_path / "zz-after.sh"
    # runcmd's script (between them) prepares and hands the boot phase to the unit, which runs after cloud-final
    after.write_text("#!/bin/sh\ntest -e /var/lib/k8s-firstboot/steps/kubelet_enable && echo after >>/root/order\n")
    out = tmp_path / "worker.user-data.gz"
    result = run_gen("cloud-init", str(profile), "--gzip", "--mime", "--extra-script", str(before),
                     "--extra-script", str(after), "-o", str(out))
    assert result.returncode == 0, result.stderr
    box = CloudSandbox(tmp_path / "box", out.read_bytes(), "worker1")
    box.boot()
    assert box.file("/root/order").read_text() == "before\nafter\n"
    assert box.file(DONE).exists()
    assert any(line.startswith("kubeadm join") for line in box.command_lines())
    assert box.file("/etc/motd.d/site").read_text() == "welcome\n"
    notes = box.file("/home/ops/notes.txt")
    st = notes.stat()
    assert (notes.read_text(), st.st_mode & 0o777, st.st_uid, st.st_gid) == ("hello\n", 0o640, 1000, 1000)


def test_a_failed_prepare_resumes_from_the_unit_at_the_next_boot(tmp_path):
    """runcmd runs once per instance: the unit, enabled before prepare, must finish a prepare that failed."""
    box, node = boot_node(tmp_path, "profiles/worker.yaml")
    box.inject_fault("1 systemctl crio.service")  # prepare's crio_enable step fails once
    box.cloud_init("init")
    box.cloud_init("modules", "--mode", "config")
    box.run(["cloud-init", "modules", "--mode", "final"], timeout=300)  # runcmd fails: cloud-init reports it
    lines = box.command_lines()
    assert HANDOFF not in lines and not box.file(DONE).exists()
    status = yaml.safe_load(box.file("/var/lib/k8s-firstboot/status.json").read_text())
    assert (status["step"], status["state"]) == ("crio_enable", "failed")
    assert box.file(UNIT_WANTS).exists(), "the unit must be enabled before prepare can fail"

    box.boot()  # the reboot: cloud-init does not rerun runcmd; systemd starts the enabled unit
    assert box.unit_result.returncode == 0, box.unit_result.stderr[-3000:]
    after = box.command_lines()[len(lines):]
    assert not [c for c in after if c.startswith("dnf -y install cri-o")], "finished prepare steps are not redone"
    assert after.index("systemctl enable crio.service") < after.index("systemctl start crio.service")
    assert any(c.startswith("kubeadm join") for c in after)
    assert box.file(DONE).exists()
