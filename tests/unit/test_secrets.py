"""Cluster secrets: made once, kept private, the same for every node of a cluster whatever the order."""

import os
import re
import stat
import subprocess
import sys

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.support.common import ROOT, gen_in_process
from tests.support.rehearsal import openssl_ca_hash

from generator import secrets
from generator.errors import ProfileError
from generator.kickstart import render_kickstart
from generator.pipeline import node_from_profile
from generator import node_paths as paths

# kubeadm's bootstrap token format (kubeadm docs, "Authenticating with Bootstrap Tokens")
TOKEN = re.compile(r"^[a-z0-9]{6}\.[a-z0-9]{16}$")


def test_a_cluster_gets_its_secrets_once_in_a_private_file(tmp_path):
    made = secrets.load_or_create("c1", tmp_path)
    path = secrets.secrets_path("c1", tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert TOKEN.match(made.token)
    again = secrets.load_or_create("c1", tmp_path)
    assert again == made
    assert secrets.load_or_create("c2", tmp_path).ca.cert != made.ca.cert


def test_ca_hash_is_the_one_openssl_computes(tmp_path):
    made = secrets.load_or_create("c1", tmp_path)
    cert = tmp_path / "ca.crt"
    cert.write_text(made.ca.cert)
    assert made.ca_cert_hash == openssl_ca_hash(cert)


def test_cas_are_cas_with_kubeadm_names(tmp_path):
    made = secrets.load_or_create("c1", tmp_path)
    for pair, name in ((made.ca, "kubernetes"), (made.front_proxy_ca, "front-proxy-ca"), (made.etcd_ca, "etcd-ca")):
        cert = x509.load_pem_x509_certificate(pair.cert.encode())
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert cert.subject.rfc4514_string() == f"CN={name}"
        # the key in the pair is the certificate's key (openssl agrees)
        check = subprocess.run(["openssl", "pkey", "-pubout"], input=pair.key.encode(), capture_output=True)
        assert check.returncode == 0
        assert check.stdout.decode() == cert.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _rewrite(path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(secrets.FILE_HEADER + yaml.safe_dump(data))


def test_a_file_whose_checksum_does_not_match_has_every_key_checked(tmp_path):
    """The checksum lets a render skip parsing the keys gen wrote itself; any other file is parsed and matched."""
    made = secrets.load_or_create("c1", tmp_path)
    path = secrets.secrets_path("c1", tmp_path)
    cert = tmp_path / "ca.crt"
    cert.write_text(made.ca.cert)
    # an older gen's file: neither hash nor checksum
    _rewrite(path, lambda d: (d.pop("checked"), d.pop("ca_cert_hash")))
    assert secrets.load(path).ca_cert_hash == openssl_ca_hash(cert)
    # a hash edited by hand: recomputed from the certificate, not believed
    _rewrite(path, lambda d: d.update(ca_cert_hash="sha256:" + "0" * 64, checked="sha256:" + "1" * 64))
    assert secrets.load(path).ca_cert_hash == openssl_ca_hash(cert)
    # another cluster's CA key pasted in, checksum and all: refused
    other = secrets._to_data(secrets.generate())
    _rewrite(path, lambda d: d.update(ca={"cert": d["ca"]["cert"], "key": other["ca"]["key"]}, checked=other["checked"]))
    with pytest.raises(ProfileError, match="ca: the key does not belong to its certificate"):
        secrets.load(path)


def _imported_modules(*gen_args: str, env: dict) -> set[str]:
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "generator", *gen_args], cwd=ROOT,
                            capture_output=True, text=True, env={**os.environ, **env})
    assert result.returncode == 0, result.stderr[-2000:]
    return {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}


def test_rendering_with_secrets_gen_wrote_parses_no_keys(tmp_path):
    """cryptography costs more than the rest of a render: it is imported to make or check keys, not to read them."""
    env = {"K8S_FIRSTBOOT_SECRETS_DIR": str(tmp_path)}
    making = _imported_modules("ks", "profiles/master.yaml", "-o", str(tmp_path / "1.ks"), env=env)
    reading = _imported_modules("ks", "profiles/master.yaml", "-o", str(tmp_path / "2.ks"), env=env)
    assert "cryptography" in making
    assert "generator.resolve" in reading and not [m for m in reading if m.startswith("cryptography")]


def test_within_one_reading_a_file_is_read_once_and_outside_again(tmp_path):
    with secrets.one_reading():
        made = secrets.load_or_create("c1", tmp_path)
        secrets.renew_token("c1", tmp_path)  # the file changes under a running build
        assert secrets.load_or_create("c1", tmp_path) is made
        assert secrets.load_or_create("c2", tmp_path).ca != made.ca
    renewed = secrets.load_or_create("c1", tmp_path)
    assert renewed.token != made.token and renewed.ca == made.ca


def test_a_secrets_folder_that_cannot_be_made_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("")
    result = gen_in_process("ks", "profiles/master.yaml", "--secrets-dir", str(tmp_path / "file/state"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"{tmp_path}/file/state: error: secrets: cannot make the cluster secrets folder: ")


def test_without_hard_links_the_file_is_still_made_whole_and_once(tmp_path, monkeypatch):
    from generator import private

    def no_links(source, target):
        raise PermissionError(1, "Operation not permitted")  # what link(2) says on vfat and the like

    monkeypatch.setattr(private.os, "link", no_links)
    assert private.create_exclusively(tmp_path / "a", b"whole")
    assert not private.create_exclusively(tmp_path / "a", b"other")
    assert (tmp_path / "a").read_bytes() == b"whole" and sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_renewing_the_token_keeps_the_cas(tmp_path):
    made = secrets.load_or_create("c1", tmp_path)
    renewed = secrets.renew_token("c1", tmp_path)
    assert renewed.token != made.token and TOKEN.match(renewed.token)
    assert renewed.ca == made.ca and secrets.load_or_create("c1", tmp_path) == renewed
    assert stat.S_IMODE(secrets.secrets_path("c1", tmp_path).stat().st_mode) == 0o600


def test_damaged_secrets_file_is_a_clear_error(tmp_path):
    path = secrets.secrets_path("c1", tmp_path)
    path.write_text("token: [\n")
    path.chmod(0o600)
    try:
        secrets.load_or_create("c1", tmp_path)
    except ProfileError as exc:
        assert "damaged cluster secrets file" in str(exc)
    else:
        raise AssertionError("a damaged file was accepted")


def _kickstart_config(ks: str) -> dict:
    """The kubeadm config a Kickstart carries, cut from its heredoc."""
    body = ks.split(f"cat >{paths.KUBEADM_CONFIG})", 1)[1]  # its heredoc (written with umask 077)
    body = body.split("\n", 1)[1]
    delimiter = re_delimiter(ks)
    text = body.split("\n" + delimiter + "\n", 1)[0]
    return {d["kind"]: d for d in yaml.safe_load_all(text) if d}


def re_delimiter(ks: str) -> str:
    return re.search(r"<<'(K8S_FIRSTBOOT_EOF[_0-9]*)'", ks).group(1)


def test_worker_then_master_in_separate_runs_agree(tmp_path):
    """Separate processes, worker first: the worker's token and hash match what the master carries."""
    env = {"K8S_FIRSTBOOT_SECRETS_DIR": str(tmp_path / "state")}
    worker = gen_in_process("ks", "profiles/worker.yaml", env=env)
    master = gen_in_process("ks", "profiles/master.yaml", env=env)
    assert worker.returncode == 0 and master.returncode == 0, worker.stderr + master.stderr
    join = _kickstart_config(worker.stdout)["JoinConfiguration"]["discovery"]["bootstrapToken"]
    init = _kickstart_config(master.stdout)["InitConfiguration"]
    assert join["token"] == init["bootstrapTokens"][0]["token"]
    ca_pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", master.stdout, re.S).group(0)
    cert = tmp_path / "ca.crt"
    cert.write_text(ca_pem)
    assert join["caCertHashes"] == [openssl_ca_hash(cert)]
    assert stat.S_IMODE((tmp_path / "state" / "demo.secrets.yaml").stat().st_mode) == 0o600


def test_existing_cluster_join_uses_given_values(write_profile, tmp_path):
    token, digest = "abcdef.0123456789abcdef", "sha256:" + "ab" * 32
    profile = write_profile("w.yaml", f"""
extends: profiles/cluster.yaml
role: worker
hostname: w9
cluster: {{name: other, join: {{token: {token}, ca_cert_hash: "{digest}"}}}}
""")
    node = node_from_profile(profile, tmp_path / "state")
    ks = render_kickstart(node)
    join = _kickstart_config(ks)["JoinConfiguration"]["discovery"]["bootstrapToken"]
    assert join["token"] == token and join["caCertHashes"] == [digest]
    assert not (tmp_path / "state" / "other.secrets.yaml").exists()  # nothing made for a cluster we only join


def test_secrets_never_reach_stderr_or_the_post_log(tmp_path):
    env = {"K8S_FIRSTBOOT_SECRETS_DIR": str(tmp_path)}
    result = gen_in_process("ks", "profiles/master.yaml", env=env)
    made = secrets.load(tmp_path / "demo.secrets.yaml")
    assert made.token not in result.stderr and "PRIVATE KEY" not in result.stderr
    # the %post runs without xtrace, so its log holds no heredoc bodies or tokens
    assert "set -x" not in result.stdout and "bash -x" not in result.stdout


def test_token_renew_command_rerenders_with_the_new_token(tmp_path):
    env = {"K8S_FIRSTBOOT_SECRETS_DIR": str(tmp_path)}
    before = _kickstart_config(gen_in_process("ks", "profiles/worker.yaml", env=env).stdout)["JoinConfiguration"]
    result = gen_in_process("token", "renew", "profiles/worker.yaml", env=env)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    renewed = secrets.load(tmp_path / "demo.secrets.yaml")
    assert f"kubeadm token create {renewed.token} --ttl 24h" in result.stdout
    after = _kickstart_config(gen_in_process("ks", "profiles/worker.yaml", env=env).stdout)["JoinConfiguration"]
    assert after["discovery"]["bootstrapToken"]["token"] == renewed.token != before["discovery"]["bootstrapToken"]["token"]
    assert after["discovery"]["bootstrapToken"]["caCertHashes"] == before["discovery"]["bootstrapToken"]["caCertHashes"]


def test_token_renew_without_secrets_is_exit_2(tmp_path):
    result = gen_in_process("token", "renew", "profiles/worker.yaml", env={"K8S_FIRSTBOOT_SECRETS_DIR": str(tmp_path)})
    assert result.returncode == 2 and "has no secrets file yet" in result.stderr and result.stdout == ""


def test_plan_makes_no_secrets_and_rendering_says_when_it_does(tmp_path):
    """`gen plan` reads like a dry run: it makes nothing. The render that makes a cluster's CA says so, with the
    path: a render against another secrets folder would otherwise make a second CA without a word."""
    folder = tmp_path / "state"
    env = {"K8S_FIRSTBOOT_SECRETS_DIR": str(folder)}
    planned = gen_in_process("plan", "profiles/worker.yaml", env=env)
    assert planned.returncode == 0, planned.stderr
    assert not list(folder.glob("*.secrets.yaml")) if folder.exists() else True
    assert "profiles/worker.yaml: note: cluster demo has no secrets yet" in planned.stderr
    assert "nothing was made" in planned.stderr
    made = gen_in_process("ks", "profiles/worker.yaml", "-o", str(tmp_path / "w.ks"), env=env)
    assert made.returncode == 0, made.stderr
    assert f"made the secrets of cluster demo (CAs, bootstrap token) in {folder / 'demo.secrets.yaml'}" in made.stderr
    again = gen_in_process("ks", "profiles/worker.yaml", "-o", str(tmp_path / "w2.ks"), env=env)
    assert "made the secrets" not in again.stderr
