"""Mirrors, proxies and air gap: every download can be pointed inside, and what is still public is named."""

import pytest
import yaml

from tests.support.common import ROOT, need, run_gen
from tests.support.rehearsal import kubeadm_documents, run_first_boot, run_kickstart_post
from tests.support.sandbox import Sandbox, bwrap_available

from generator import verify
from generator.kickstart import render_kickstart
from generator.pipeline import node_from_profile
from generator.render import node_files

# public hosts a node of the examples downloads from (upstream docs); none may remain once mirrored
PUBLIC = ("pkgs.k8s.io", "download.opensuse.org", "packages.cloud.google.com", "registry.k8s.io", "k8s.gcr.io",
          "raw.githubusercontent.com", "github.com", "docs.projectcalico.org", "dl.rockylinux.org",
          "vault.centos.org", "download.copr.fedorainfracloud.org", "docker.io", "quay.io")
MIRROR = "https://mirror.internal.example"


def mirrored(extends: str) -> str:
    return yaml.safe_dump({
        "extends": extends,  # write_profile puts the examples beside it
        "air_gapped": True,
        "os": {"install_url": f"{MIRROR}/os/BaseOS/", "appstream_url": f"{MIRROR}/os/AppStream/"},
        "cni": {"manifest_url": f"{MIRROR}/cni/calico.yaml"},
        "mirrors": {
            "kubernetes": {"baseurl": f"{MIRROR}/kubernetes/", "gpgkey": [f"{MIRROR}/kubernetes/key.gpg"]},
            "crio": {"baseurl": f"{MIRROR}/crio/", "gpgkey": [f"{MIRROR}/crio/key.gpg"]},
            "libcontainers": {"baseurl": f"{MIRROR}/libcontainers/", "gpgkey": [f"{MIRROR}/libcontainers/key.gpg"]},
            "container_selinux": {"baseurl": f"{MIRROR}/copr/", "gpgkey": [f"{MIRROR}/copr/key.gpg"]},
            "images": "registry.internal.example:5000/k8s",
            "registries": [{"prefix": p, "location": f"registry.internal.example:5000/{p}"}
                           for p in ("docker.io", "quay.io", "ghcr.io")],
        },
        "proxy": {"https": "http://proxy.internal.example:3128", "http": "http://proxy.internal.example:3128",
                  "no_proxy": [".internal.example"]},
    })


@pytest.mark.parametrize("base", ["profiles/master.yaml", "profiles/worker.yaml",
                                  "profiles/classic/master.yaml", "profiles/classic/worker.yaml"])
def test_mirrors_replace_every_public_url(write_profile, tmp_path, base):
    node = node_from_profile(write_profile("m.yaml", mirrored(base)), tmp_path / "state")
    ks = render_kickstart(node)
    # the registry mirror config names the public registries it stands in for, and only there may they appear
    files = {f.path: f.content for f in node_files(node)}
    outside = ks.replace(files["/etc/containers/registries.conf.d/90-k8s-firstboot.conf"], "")
    leftovers = [host for host in PUBLIC if host in outside]
    assert leftovers == [], leftovers
    assert not [w for w in node.warnings if w.path == "air_gapped" or "no longer served" in w.message], node.warnings
    files = {f.path: f.content for f in node_files(node)}
    config = kubeadm_documents_text(files["/etc/k8s-firstboot/kubeadm.yaml"])
    if "ClusterConfiguration" in config:
        assert config["ClusterConfiguration"]["imageRepository"] == "registry.internal.example:5000/k8s"
    assert 'pause_image = "registry.internal.example:5000/k8s/pause:' in files["/etc/crio/crio.conf.d/90-k8s-firstboot.conf"]
    registries = files["/etc/containers/registries.conf.d/90-k8s-firstboot.conf"]
    assert 'prefix = "docker.io"' in registries and 'location = "registry.internal.example:5000/docker.io"' in registries
    verify.parse_kickstart(ks, "RHEL8" if "classic" in base else "RHEL9")
    # the mirrors are inside no_proxy's .internal.example: Anaconda, which reads no exception list, goes direct
    assert "--proxy" not in ks


def kubeadm_documents_text(text: str) -> dict:
    return {d["kind"]: d for d in yaml.safe_load_all(text) if d}


def test_air_gapped_without_mirrors_names_each_public_source(write_profile, tmp_path):
    profile = write_profile("a.yaml", f"extends: profiles/master.yaml\nair_gapped: true\n")
    warnings = [w for w in node_from_profile(profile, tmp_path).warnings if w.path == "air_gapped"]
    text = "\n".join(w.message for w in warnings)
    for key in ("os.install_url", "os.appstream_url", "mirrors.kubernetes.baseurl", "mirrors.kubernetes.gpgkey",
                "mirrors.crio.baseurl", "cni.manifest_url", "mirrors.images", "mirrors.registries"):
        assert key in text, (key, text)
    result = run_gen("validate", str(profile), env={"K8S_FIRSTBOOT_SECRETS_DIR": str(tmp_path)})
    assert result.returncode == 0 and "warning: air_gapped:" in result.stderr and "mirrors.images" in result.stderr, result.stderr


def test_proxy_reaches_dnf_curl_crio_and_kubelet(write_profile, tmp_path):
    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")
    node = node_from_profile(write_profile("p.yaml", mirrored("profiles/master.yaml")), tmp_path / "state")
    files = {f.path: f.content for f in node_files(node)}
    for unit in ("crio", "kubelet"):
        assert "EnvironmentFile=/etc/k8s-firstboot/proxy.env" in \
            files[f"/etc/systemd/system/{unit}.service.d/90-k8s-firstboot-proxy.conf"]
    box = Sandbox(tmp_path / "box")
    run_kickstart_post(box, render_kickstart(node), "RHEL9")
    assert run_first_boot(box).returncode == 0
    proxied = [line.split("\t") for line in (box.record / "proxied").read_text().splitlines()]
    commands = {p[0] for p in proxied}
    assert {"dnf", "curl", "kubeadm"} <= commands
    no_proxy = proxied[0][2].split(",")
    # the cluster's own networks and endpoint never go through the proxy
    for own in ("10.244.0.0/16", "10.96.0.0/12", "192.168.122.10", ".internal.example", "localhost"):
        assert own in no_proxy, no_proxy
    assert kubeadm_documents(box.record / "init-config.yaml")["ClusterConfiguration"]["imageRepository"] \
        == "registry.internal.example:5000/k8s"


def test_proxy_values_cannot_inject(write_profile, tmp_path):
    profile = write_profile("p.yaml", f'extends: profiles/worker.yaml\nproxy: {{https: "http://p:1/\\"; reboot; \\""}}\n')
    result = run_gen("ks", str(profile), env={"K8S_FIRSTBOOT_SECRETS_DIR": str(tmp_path)})
    assert result.returncode == 2 and "proxy.https" in result.stderr


@pytest.mark.parametrize("plugin, version, minor, port", [("flannel", "0.27", "1.34", "8472/udp"),
                                                          ("cilium", "1.18", "1.33", "4240/tcp")])
def test_other_cnis_install(write_profile, tmp_path, plugin, version, minor, port):
    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")
    profile = write_profile("c.yaml", f"extends: profiles/master.yaml\n"
                                      f"kubernetes: {{version: '{minor}'}}\ncni: {{plugin: {plugin}, version: '{version}'}}\n")
    node = node_from_profile(profile, tmp_path / "state")
    assert port in node.firewall_ports
    if verify.shellcheck_tool():
        script = [f.content for f in node_files(node) if f.path == "/usr/local/sbin/k8s-firstboot"][0]
        assert verify.shellcheck_findings(script, plugin) == []
    box = Sandbox(tmp_path / "box")
    run_kickstart_post(box, render_kickstart(node), "RHEL9")
    result = run_first_boot(box)
    assert result.returncode == 0, result.stderr[-2000:]
    calls = box.command_lines()
    if plugin == "flannel":
        assert [c for c in calls if c.startswith("curl ") and "flannel-io/flannel" in c and "kube-flannel.yml" in c]
        assert [c for c in calls if c.startswith("kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f")]
    else:
        assert [c for c in calls if "cilium-cli/releases/download/" in c and c.endswith(".tar.gz.sha256sum")]
        installs = [c for c in calls if c.startswith("cilium install --version 1.18.")]
        assert installs and "clusterPoolIPv4PodCIDRList=10.244.0.0/16" in installs[0]


def test_flannel_needs_its_pod_network_and_cilium_a_new_kernel(write_profile):
    flannel = write_profile("f.yaml", f"extends: profiles/master.yaml\n"
                                      "kubernetes: {pod_cidr: 10.32.0.0/16}\ncni: {plugin: flannel, version: '0.27'}\n")
    result = run_gen("ks", str(flannel))
    assert result.returncode == 2 and "kubernetes.pod_cidr: flannel's manifest assumes the pod network 10.244.0.0/16" in result.stderr
    cilium = write_profile("c.yaml", f"extends: profiles/classic/master.yaml\n"
                                     "kubernetes: {version: '1.33'}\ncni: {plugin: cilium, version: '1.18'}\n")
    result = run_gen("ks", str(cilium))
    assert result.returncode == 2 and "cni.plugin: cilium needs a newer kernel" in result.stderr
