"""Someone must be able to log in to a finished node and become root (issue 8, defect 7).

The way in is read back from the rendered Kickstart as pykickstart parses it (rootpw, user, sshkey) and from
the sudoers drop-in the %post writes; `visudo -cf` checks that drop-in where sudo is installed.
"""

import re
import subprocess

import pytest

from tests.support.common import ALL_PROFILES, ROOT, have
from generator.errors import ProfileError
from generator.kickstart import render_kickstart
from generator.pipeline import checked_profile, is_node_profile, node_from_profile
from generator.render import node_files
from generator.verify import parse_kickstart

NODE = """\
role: worker
hostname: node1
os: {distro: rocky, version: "9"}
kubernetes: {version: "1.36", control_plane_endpoint: cp.example:6443}
"""
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL1tgXeSaAhN7vGpjPiXOBDOk+2uzkPC18HSs5CMlMFk ops@demo"
NODE_EXAMPLES = [p for p in ALL_PROFILES if is_node_profile(checked_profile(ROOT / p))]


def ways_in(kickstart: str, handler: str) -> list[str]:
    """Who can log in and become root, judged from the Kickstart alone."""
    ks = parse_kickstart(kickstart, handler).handler
    found = []
    if ks.rootpw.password and not ks.rootpw.lock:
        found.append("root password")
    sudoers = "\n".join(s.script for s in ks.scripts)
    for user in ks.user.userList:
        in_wheel = "wheel" in user.groups
        has_key = any(k.username == user.name for k in ks.sshkey.sshUserList)
        nopasswd = re.search(rf"^{re.escape(user.name)} ALL=\(ALL\) NOPASSWD: ALL$", sudoers, re.M)
        if in_wheel and user.password and not user.lock:
            found.append(f"{user.name}: password and sudo")
        if has_key and nopasswd:
            found.append(f"{user.name}: SSH key and password-less sudo")
    return found


@pytest.mark.parametrize("profile", NODE_EXAMPLES)
def test_every_example_has_a_way_in(profile, tmp_path):
    node = node_from_profile(ROOT / profile, tmp_path)
    assert ways_in(render_kickstart(node), node.os.ks_handler), profile


def test_a_profile_with_no_way_in_is_refused_where_it_says_so(write_profile):
    # the HA example as it was: root locked, an admin with only an SSH key, sudo asking for a password
    path = write_profile("p.yaml", NODE + "users:\n  root: {locked: true}\n  admin:\n    name: ops\n"
                                          f"    ssh_keys: ['{KEY}']\n")
    with pytest.raises(ProfileError) as err:
        checked_profile(path)
    messages = [str(p) for p in err.value.problems]
    line = NODE.count("\n") + 3
    assert any(m.startswith(f"{path}:{line}: error: users.admin: nobody can become root") for m in messages), messages
    no_admin = write_profile("q.yaml", NODE + "users:\n  root: {locked: true}\n")
    with pytest.raises(ProfileError):
        checked_profile(no_admin)
    fixed = write_profile("r.yaml", NODE + "users:\n  root: {locked: true}\n  admin:\n    name: ops\n"
                                           f"    ssh_keys: ['{KEY}']\n    sudo: nopasswd\n")
    checked_profile(fixed)


def test_password_less_sudo_is_a_valid_sudoers_drop_in(tmp_path):
    node = node_from_profile(ROOT / "profiles/ha/cp1.yaml", tmp_path)
    drop_in = next(f for f in node_files(node) if f.path.startswith("/etc/sudoers.d/"))
    assert drop_in.mode == 0o440 and "." not in drop_in.path.rsplit("/", 1)[1]  # sudo skips names with a dot
    assert f"{node.admin.name} ALL=(ALL) NOPASSWD: ALL" in drop_in.content.splitlines()
    if have("visudo"):
        path = tmp_path / "sudoers"
        path.write_text(drop_in.content)
        assert subprocess.run(["visudo", "-cf", str(path)], capture_output=True).returncode == 0
