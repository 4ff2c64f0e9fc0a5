"""The cloud-init carrier: cloud-init's own schema check, one source of truth with Kickstart, size, encodings."""

import re
import shutil
import subprocess

import pytest
import yaml

from tests.support.common import NODE_PROFILES, ROOT, gen_in_process, have, need
from generator import userdata, verify
from generator.cloudinit import HEADER, cloud_config, render_user_data, written_content
from generator.kickstart import render_kickstart
from generator.pipeline import node_from_profile
from generator.render import node_files
from generator import node_paths as paths

EC2_LIMIT = 16384
EXAMPLES = ["profiles/master.yaml", "profiles/worker.yaml"]
# `cat >PATH <<'END'` or `(umask 077 && cat >PATH) <<'END'`, the file's text, then the END line
HEREDOC = re.compile(r"cat >(\S+?)\)? <<'(\w+)'\n(.*?)^\2$", re.S | re.M)


def rendered(profile: str) -> str:
    return render_user_data(node_from_profile(ROOT / profile))


def write_files_of(text: str) -> dict[str, dict]:
    """write_files by path, each content as cloud-init writes it (decoded)."""
    return {f["path"]: {**f, "content": written_content(f)} for f in yaml.safe_load(text)["write_files"]}


@pytest.mark.parametrize("profile", NODE_PROFILES)
def test_cloud_init_schema_accepts_the_user_data(tmp_path, profile):
    need(have("cloud-init"), "cloud-init is not installed (apt-get install cloud-init)")
    path = tmp_path / "user-data"
    path.write_text(rendered(profile))
    result = subprocess.run(["cloud-init", "schema", "--config-file", str(path)], capture_output=True, text=True)
    # 22.4 exits 0 on deprecations: only the one "Valid" line may be said
    assert result.returncode == 0, result.stdout + result.stderr
    assert (result.stdout + result.stderr).strip() == f"Valid cloud-config: {path}"
    assert verify.cloud_init_schema_findings(path.read_text(), "user-data") == []


def test_schema_check_reports_what_cloud_init_rejects():
    need(have("cloud-init"), "cloud-init is not installed (apt-get install cloud-init)")
    findings = verify.cloud_init_schema_findings("#cloud-config\nwrite_files:\n- path: /x\n  permissions: 644\n", "ud")
    assert findings and any("permissions" in f.message for f in findings)


@pytest.mark.parametrize("profile", NODE_PROFILES)
def test_user_data_and_kickstart_carry_byte_identical_files(profile):
    node = node_from_profile(ROOT / profile)
    files = node_files(node)
    written = write_files_of(render_user_data(node, files))
    # the Kickstart's %post as pykickstart hands it to Anaconda: its heredocs are the files
    post = verify.post_scripts(render_kickstart(node, files), node.os.ks_handler)[0].script
    heredocs = {path: body for path, _, body in HEREDOC.findall(post)}
    assert set(heredocs) == {f.path for f in files}
    assert list(written) == [f.path for f in files]
    for f in files:
        assert written[f.path]["content"] == heredocs[f.path] == f.content, f.path
        assert int(written[f.path].get("permissions", "0644"), 8) == f.mode, f.path


@pytest.mark.parametrize("profile", NODE_PROFILES)
def test_cloud_config_shape(profile):
    node = node_from_profile(ROOT / profile)
    text = render_user_data(node)
    assert text.startswith(HEADER + "\n")
    assert yaml.safe_load(text) == cloud_config(node)
    config = cloud_config(node)
    assert config["hostname"] == node.hostname
    # the boot phase is handed to the unit without blocking cloud-final; nothing runs it inside cloud-init
    # (that prepare enables the unit first is checked in the cloud-init rehearsal)
    [line] = config["runcmd"]
    order = ["/usr/local/sbin/k8s-firstboot prepare", "systemctl start --no-block k8s-firstboot.service"]
    positions = [line.find(part) for part in order]
    assert -1 not in positions and positions == sorted(positions), line
    assert "k8s-firstboot boot" not in line
    users = {u["name"]: u for u in config.get("users", [])}
    if node.admin:
        admin = users[node.admin.name]
        assert admin["ssh_authorized_keys"] == list(node.admin.ssh_keys)
        assert admin["passwd"] == node.admin.password_hash and admin["lock_passwd"] is False
    assert users["root"]["lock_passwd"] is node.root_locked
    # small files are literal blocks, readable as they will land; the script travels gzip+base64 (size limits)
    assert "  content: |\n    [Unit]\n" in text
    script = next(f for f in config["write_files"] if f["path"] == paths.SCRIPT_PATH)
    assert script["encoding"] == "gz+b64" and written_content(script).startswith("#!/bin/bash\n")


@pytest.mark.parametrize("profile", EXAMPLES)
def test_example_user_data_fits_ec2_uncompressed(profile):
    size = len(rendered(profile).encode())
    assert size < EC2_LIMIT, f"{profile}: {size} bytes"


def test_gzip_base64_and_mime_decode_to_the_same_cloud_config(tmp_path):
    plain = gen_in_process("cloud-init", "profiles/master.yaml").stdout
    assert plain.startswith("#cloud-config\n")
    for options in (["--gzip"], ["--base64"], ["--gzip", "--base64"]):
        out = tmp_path / "ud"
        assert gen_in_process("cloud-init", "profiles/master.yaml", "-o", str(out), *options).returncode == 0
        assert userdata.decode(out.read_bytes()) == plain, options
    mime = gen_in_process("cloud-init", "profiles/master.yaml", "--mime").stdout
    assert userdata.mime_parts(mime) == [("text/cloud-config", "cloud-config", plain)]
    script = tmp_path / "10-site.sh"
    script.write_text("#!/bin/bash\necho site\n")
    out = tmp_path / "ud.gz"
    assert gen_in_process("cloud-init", "profiles/master.yaml", "--gzip", "--extra-script", str(script), "-o", str(out)).returncode == 0
    assert userdata.mime_parts(userdata.decode(out.read_bytes())) == [
        ("text/cloud-config", "cloud-config", plain), ("text/x-shellscript", "10-site.sh", "#!/bin/bash\necho site\n")]


def test_mime_and_gzip_are_what_cloud_inits_own_parser_reads(tmp_path):
    need(have("cloud-init"), "cloud-init is not installed (apt-get install cloud-init)")
    script = tmp_path / "00-a.sh"
    script.write_text("#!/bin/sh\ntrue\n")
    out = tmp_path / "ud.gz"
    assert gen_in_process("cloud-init", "profiles/worker.yaml", "--gzip", "--extra-script", str(script), "-o", str(out)).returncode == 0
    # cloud-init's python (the interpreter its launcher names), not the venv's
    python = open(shutil.which("cloud-init")).readline()[2:].split()[0]
    probe = ("import sys; from cloudinit import user_data, util; "
             "m = user_data.convert_string(util.decomp_gzip(open(sys.argv[1], 'rb').read())); "
             "print(' '.join(p.get_content_type() for p in m.walk() if not p.is_multipart()))")
    result = subprocess.run([python, "-c", probe, str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["text/cloud-config", "text/x-shellscript"]


def test_same_input_same_bytes(tmp_path):
    script = tmp_path / "50-x.sh"
    script.write_text("#!/bin/sh\n:\n")
    for options in ([], ["--gzip"], ["--mime", "--extra-script", str(script)], ["--gzip", "--base64"]):
        outputs = []
        for n in range(2):
            out = tmp_path / f"ud{n}"
            assert gen_in_process("cloud-init", "profiles/classic/master.yaml", "-o", str(out), *options).returncode == 0
            outputs.append(out.read_bytes())
        assert outputs[0] == outputs[1], options


def test_extra_script_problems_exit_2(tmp_path):
    plain = tmp_path / "no-shebang.sh"
    plain.write_text("echo hi\n")
    named = tmp_path / "runcmd"
    named.write_text("#!/bin/sh\n")
    for path, message in ((plain, "must start with an interpreter line"), (named, "cannot be used"),
                          (tmp_path / "missing.sh", "file not found")):
        out = tmp_path / "ud"
        result = gen_in_process("cloud-init", "profiles/worker.yaml", "--extra-script", str(path), "-o", str(out))
        assert result.returncode == 2 and result.stdout == "" and message in result.stderr, result.stderr
        assert result.stderr.startswith(str(path))
        assert not out.exists()


def test_user_data_file_is_private(tmp_path):
    import stat
    out = tmp_path / "master.user-data"
    result = gen_in_process("cloud-init", "profiles/master.yaml", "-o", str(out))
    # stderr says only that the cluster's secrets were made (the first render of a fresh secrets folder), and the
    # profile's warnings (each with the line it points at)
    assert result.returncode == 0 and result.stdout == ""
    assert [line for line in result.stderr.splitlines() if not line.startswith(("gen: made the secrets", " "))
            and ": warning: " not in line] == []
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_build_writes_user_data_beside_kickstart(tmp_path):
    result = gen_in_process("build", "profiles", "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    for name in ("master", "worker", "classic/master", "classic/worker"):
        assert (tmp_path / "out/http/ks" / f"{name}.ks").exists()
        assert (tmp_path / "out/cloud" / f"{name}.user-data").read_text().startswith("#cloud-config\n")


def test_validate_reports_size_and_the_ca_note():
    result = gen_in_process("validate", "profiles/master.yaml", "profiles/worker.yaml")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^profiles/master.yaml: note: user-data is \d+ bytes \(\d+ with --gzip\)$", result.stderr, re.M)
    assert "profiles/master.yaml: note: its Kickstart and user-data carry the cluster CA keys" in result.stderr
    # the one warning: the default calico manifest has no pinned checksum (docs/security.md says why)
    warnings = [l for l in result.stderr.splitlines() if "warning" in l]
    assert warnings and all("no checksum is pinned" in l for l in warnings), warnings
    assert "PRIVATE" not in result.stdout + result.stderr and "BEGIN" not in result.stdout + result.stderr


def test_size_report_warns_for_ec2_and_errors_when_no_cloud_could_take_it():
    import base64
    import os
    small = "#cloud-config\n" + "a: b\n" * 10
    assert [p.severity for p in userdata.size_report("p", small)] == ["note"]
    big = "#cloud-config\n" + "x: |\n" + "".join(f"  {i:08d} some text that repeats\n" for i in range(800))
    found = userdata.size_report("p", big)
    assert not [p for p in found if p.is_error]
    assert any(p.severity == "warning" and "above the 16384-byte AWS EC2 user data limit; render it with --gzip"
               in p.message for p in found)
    huge = "#cloud-config\nx: " + base64.b64encode(os.urandom(80000)).decode() + "\n"
    found = userdata.size_report("p", huge)
    assert any(p.is_error and "Azure" in p.message for p in found)
    assert any(p.severity == "warning" and "AWS EC2" in p.message for p in found)


def test_profile_cloud_init_settings_reach_the_cloud_config(tmp_path, write_profile):
    write_profile("cluster.yaml", (ROOT / "profiles/cluster.yaml").read_text())
    profile = write_profile("node.yaml", (
        "extends: cluster.yaml\nrole: worker\nhostname: worker9.demo.example\n"
        "cloud_init:\n"
        "  ntp: {servers: [ntp1.example.com], pools: [2.rocky.pool.ntp.org]}\n"
        "  bootcmd: ['echo early >/run/marker', [/usr/bin/systemctl, mask, tmp.mount]]\n"
        "  packages: [vim-enhanced, tmux]\n"
        "  write_files:\n"
        "    - {path: /etc/motd.d/site, content: \"hi\\n\", permissions: '0600', owner: 'ops:ops', defer: true}\n"))
    node = node_from_profile(profile)
    config = cloud_config(node)
    assert (config["hostname"], config["fqdn"], config["prefer_fqdn_over_hostname"]) == (
        "worker9", "worker9.demo.example", True)
    assert config["ntp"] == {"enabled": True, "servers": ["ntp1.example.com"], "pools": ["2.rocky.pool.ntp.org"]}
    # the profile's bootcmd follows ours, which makes the secret folders private before write_files
    assert config["bootcmd"][1:] == ["echo early >/run/marker", ["/usr/bin/systemctl", "mask", "tmp.mount"]]
    assert config["packages"] == ["vim-enhanced", "tmux"]
    assert config["write_files"][-1] == {"path": "/etc/motd.d/site", "permissions": "0600", "owner": "ops:ops",
                                         "defer": True, "content": "hi\n"}
    need(have("cloud-init"), "cloud-init is not installed (apt-get install cloud-init)")
    assert verify.cloud_init_schema_findings(render_user_data(node), "user-data") == []
