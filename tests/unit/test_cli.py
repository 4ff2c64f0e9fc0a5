"""The CLI contract: exit codes, stderr format, nothing on stdout and no file on bad input."""

import re
import stat

import pytest

from tests.support.common import ROOT, gen_in_process, run_gen

LINE = re.compile(r"^[^:\n]+:\d+: error: .+$")
CONTEXT = re.compile(r"^ +(\d+ )?\| ")

BAD_INPUTS = {
    "yaml-syntax": "role: [worker\n",
    "duplicate-key": "role: worker\nrole: master\n",
    "unknown-key": "role: worker\nhostnme: x\n",
    "wrong-type": "role: worker\nhostname: [a]\n",
    "bad-cidr": "kubernetes: {pod_cidr: 10.0.0.0/33}\n",
    "overlap": "kubernetes: {pod_cidr: 10.0.0.0/8, service_cidr: 10.96.0.0/12}\n",
    "bad-hostname": "role: worker\nhostname: -bad-\n",
    "unsupported-version": "kubernetes: {version: '1.99'}\n",
    "plaintext-password": "users: {admin: {name: ops, password_hash: secret123}}\n",
    "empty": "",
    "list": "- role: worker\n",
    "injection": "role: worker\nhostname: '$(reboot)'\n",
    "semicolon": "cni: {manifest_url: 'https://x/;rm -rf /'}\n",
    "ci-relative-path": "role: worker\ncloud_init:\n  write_files:\n    - {path: etc/x.conf, content: x}\n",
    "ci-dotdot-path": "role: worker\ncloud_init:\n  write_files:\n    - {path: /etc/../root/x, content: x}\n",
    "ci-mode-number": "role: worker\ncloud_init:\n  write_files:\n    - {path: /etc/x.conf, content: x, permissions: 0644}\n",
    "ci-mode-not-octal": "role: worker\ncloud_init:\n  write_files:\n    - {path: /etc/x.conf, content: x, permissions: '0988'}\n",
    "ci-own-file": "role: worker\ncloud_init:\n  write_files:\n    - {path: /usr/local/sbin/k8s-firstboot, content: x}\n",
    "ci-twice": "cloud_init:\n  write_files:\n    - {path: /etc/a, content: x}\n    - {path: /etc/a, content: y}\n",
    "ci-unknown-key": "role: worker\ncloud_init:\n  runcmd: [reboot]\n",
    "ci-bootcmd-newline": "role: worker\ncloud_init:\n  bootcmd: [\"echo a\\nreboot\"]\n",
    "ci-bootcmd-type": "role: worker\ncloud_init:\n  bootcmd: [42]\n",
    "ci-package": "role: worker\ncloud_init:\n  packages: ['vim; reboot']\n",
    "ci-ntp": "role: worker\ncloud_init:\n  ntp: {servers: ['$(reboot)']}\n",
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_a_located_message(tmp_path, name):
    profile = tmp_path / "bad.yaml"
    profile.write_text(BAD_INPUTS[name])
    out = tmp_path / "out.ks"
    user_data = tmp_path / "out.user-data"
    for n, args in enumerate((["ks", str(profile)], ["ks", str(profile), "-o", str(out)], ["validate", str(profile)],
                              ["plan", str(profile)], ["cloud-init", str(profile)],
                              ["cloud-init", str(profile), "--gzip", "-o", str(user_data)])):
        result = (run_gen if n == 0 else gen_in_process)(*args)  # the first as a user runs it, the rest quicker
        assert result.returncode == 2, (args, result.stderr)
        assert result.stdout == ""
        assert "Traceback" not in result.stderr
        # each problem is one line; the profile's offending line and a caret under it follow, indented
        lines = [l for l in result.stderr.strip().splitlines() if not CONTEXT.match(l)]
        assert lines and all(LINE.match(l) and l.startswith(str(profile)) for l in lines), result.stderr
        if name.startswith("ci-"):
            assert any(": cloud_init." in l for l in lines), result.stderr
    assert not out.exists() and not user_data.exists()


def test_non_utf8_and_extends_problems(tmp_path):
    (tmp_path / "latin1.yaml").write_bytes(b"hostname: caf\xe9\n")
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    (tmp_path / "c.yaml").write_text("extends: missing.yaml\n")
    for name, message in (("latin1.yaml", "not UTF-8"), ("a.yaml", "extends cycle"), ("c.yaml", "not found")):
        result = gen_in_process("ks", str(tmp_path / name))
        assert result.returncode == 2 and result.stdout == "" and message in result.stderr, result.stderr


def test_missing_profile_file_is_exit_2(tmp_path):
    result = gen_in_process("ks", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "file not found" in result.stderr


def test_shared_profile_cannot_be_rendered():
    result = gen_in_process("ks", "profiles/cluster.yaml")
    assert result.returncode == 2 and "profiles/cluster.yaml:3: error: role: this profile has no role" in result.stderr


def test_ks_writes_a_private_file(tmp_path):
    out = tmp_path / "worker.ks"
    result = gen_in_process("ks", "profiles/worker.yaml", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text().startswith("# Kickstart for worker1")


@pytest.mark.slow  # every example through every real consumer: ~20 s
def test_validate_examples_is_clean():
    result = gen_in_process("validate", *[str(p.relative_to(ROOT)) for p in (ROOT / "profiles").rglob("*.yaml")])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and ": error:" not in result.stderr
    assert "warning: kubernetes.version: the kubic package repository is no longer served upstream" in result.stderr


def test_plan_lists_steps_by_phase():
    result = gen_in_process("plan", "profiles/classic/worker.yaml")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.index("prepare —") < text.index("install CRI-O 1.18") < text.index("boot —") < text.index("kubeadm join")
    assert "kubeadm init" not in text


def test_schema_command_prints_the_schema():
    result = gen_in_process("schema")
    assert result.returncode == 0
    assert '"title": "k8s-firstboot node profile"' in result.stdout


def test_usage_error_is_exit_2():
    result = gen_in_process("ks")
    assert result.returncode == 2
    assert result.stdout == ""



def test_a_reader_that_leaves_early_is_no_internal_error(monkeypatch):
    """`gen validate --format json ... | head`: the pipe closes while gen writes; that ends gen quietly with
    128 + SIGPIPE, as it ends any shell tool, not as an internal error."""
    from generator import cli

    def schema_command():
        """Print the profile JSON Schema (for editors)."""
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "schema_command", schema_command)
    result = gen_in_process("schema")
    assert result.returncode == 141
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
