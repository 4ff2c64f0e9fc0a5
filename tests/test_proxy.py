"""The proxy as each consumer on the node reads it: Go tools, curl/dnf (libcurl) and Anaconda."""

import pytest
import yaml

from conftest import ROOT, run_gen
from generator.cloudinit import render_user_data
from generator.kickstart import render_kickstart
from generator.pipeline import node_from_profile
from generator.proxy import bypasses
from generator.render import PROXY_ENV, node_files

PROXY = "http://proxy.lan:3128"


def proxied(base: str, no_proxy: list[str], **extra) -> str:
    return yaml.safe_dump({"extends": str(ROOT / base), "proxy": {"http": PROXY, "https": PROXY, "no_proxy": no_proxy},
                           **extra})


def no_proxy_of(node) -> list[str]:
    env = next(f.content for f in node_files(node) if f.path == PROXY_ENV)
    line = next(line for line in env.splitlines() if line.startswith("NO_PROXY="))
    return line.split("=", 1)[1].strip('"').split(",")


def test_no_proxy_names_every_node_of_the_cluster(write_profile, tmp_path):
    # kubeadm copies NO_PROXY into the API server's pod, which reaches every node's kubelet (logs, exec)
    node = node_from_profile(write_profile("m.yaml", proxied("profiles/master.yaml", [".lan"])), tmp_path)
    entries = no_proxy_of(node)
    for own in ("192.168.122.10", "cp1.demo.example", "cp1", "192.168.122.21", "worker1.demo.example", "worker1",
                "10.244.0.0/16", "10.96.0.0/12", ".svc", ".cluster.local", "localhost", ".lan"):
        assert own in entries, (own, entries)
    assert len(entries) == len(set(entries))


def test_no_proxy_names_the_virtual_ip(write_profile, tmp_path):
    node = node_from_profile(write_profile("h.yaml", proxied("profiles/ha/cp2.yaml", [])), tmp_path)
    assert "192.168.122.100" in no_proxy_of(node)


@pytest.mark.parametrize("version, curl", [("8", "7.61.1"), ("9", "7.76.1"), ("10", None)])
def test_cidr_no_proxy_entries_warn_where_curl_ignores_them(write_profile, tmp_path, version, curl):
    text = proxied("profiles/master.yaml", ["10.20.0.0/16", "repo.lan"],
                   os={"distro": "rocky", "version": version}, kubernetes={"version": "1.33"},
                   cni={"plugin": "calico", "version": "3.31"})
    node = node_from_profile(write_profile("c.yaml", text), tmp_path)
    warnings = [w for w in node.warnings if w.startswith("proxy.no_proxy: 10.20.0.0/16")]
    if curl:
        assert len(warnings) == 1 and f"libcurl {curl}" in warnings[0], node.warnings
    else:
        assert warnings == [], warnings
    assert not [w for w in node.warnings if "repo.lan" in w]


@pytest.mark.parametrize("url, entries, direct", [
    ("http://repo.lan/os/", [".lan"], True),
    ("http://repo.lan/os/", ["lan"], True),
    ("http://a.repo.lan/os/", ["repo.lan"], True),
    ("http://notrepo.lan/os/", ["repo.lan"], False),
    ("http://10.1.2.3/os/", ["10.1.0.0/16"], True),
    ("http://10.2.2.3/os/", ["10.1.0.0/16"], False),
    ("https://mirror.example:8443/x", ["mirror.example"], True),
    ("http://anything/", ["*"], True),
    ("http://repo.lan/", [], False),
])
def test_bypass_matches_names_like_curl(url, entries, direct):
    assert bypasses(url, tuple(entries)) is direct


def test_anaconda_gets_no_proxy_for_a_direct_mirror(write_profile, tmp_path):
    # Anaconda has no exception list: the README's own example must not send repo.lan through the proxy
    direct = proxied("profiles/master.yaml", [".lan"], os={"install_url": "http://repo.lan/rocky/9/BaseOS/x86_64/os/",
                                                          "appstream_url": "http://repo.lan/rocky/9/AppStream/x86_64/os/"})
    ks = render_kickstart(node_from_profile(write_profile("d.yaml", direct), tmp_path))
    assert "url --url=http://repo.lan/rocky/9/BaseOS/x86_64/os/\n" in ks
    assert "repo --name=AppStream --baseurl=http://repo.lan/rocky/9/AppStream/x86_64/os/\n" in ks
    far = proxied("profiles/master.yaml", [".lan"])  # the distribution's public mirror: through the proxy
    ks = render_kickstart(node_from_profile(write_profile("f.yaml", far), tmp_path))
    assert f"url --url=https://dl.rockylinux.org/pub/rocky/9/BaseOS/x86_64/os/ --proxy={PROXY}\n" in ks


def kubeadm_config_in(user_data: str) -> list[dict]:
    files = {f["path"]: f["content"] for f in yaml.safe_load(user_data)["write_files"]}
    return [d for d in yaml.safe_load_all(files["/etc/k8s-firstboot/kubeadm.yaml"]) if d]


def test_cloud_instance_advertises_its_boot_address_unless_pinned(write_profile, tmp_path):
    # cloud-init applies no static network: a pinned network.address would not exist and etcd could not bind it
    node = node_from_profile(ROOT / "profiles/master.yaml", tmp_path)
    init = next(d for d in kubeadm_config_in(render_user_data(node)) if d["kind"] == "InitConfiguration")
    assert "localAPIEndpoint" not in init
    ks_config = next(f.content for f in node_files(node) if f.path == "/etc/k8s-firstboot/kubeadm.yaml")
    assert "advertiseAddress: 192.168.122.10" in ks_config  # the Kickstart applies the static address
    pinned = write_profile("p.yaml", f"extends: {ROOT}/profiles/master.yaml\nkubernetes: {{advertise_address: 10.0.0.7}}\n")
    init = next(d for d in kubeadm_config_in(render_user_data(node_from_profile(pinned, tmp_path)))
                if d["kind"] == "InitConfiguration")
    assert init["localAPIEndpoint"] == {"advertiseAddress": "10.0.0.7"}
    joining = node_from_profile(ROOT / "profiles/ha/cp2.yaml", tmp_path)
    join = kubeadm_config_in(render_user_data(joining))[0]
    assert "advertiseAddress" not in join["controlPlane"]["localAPIEndpoint"]
    plan = run_gen("plan", "profiles/master.yaml", env={"K8S_FIRSTBOOT_SECRETS_DIR": str(tmp_path)})
    assert "API server advertises: 192.168.122.10 (Kickstart); the default route's address at boot (cloud-init)" \
        in plan.stdout, plan.stdout + plan.stderr


def test_dnf_keeps_the_proxy_after_the_bootstrap(write_profile, tmp_path):
    """The bootstrap's environment ends with it: dnf.conf is where dnf4 and dnf5 read a lasting proxy."""
    from conftest import need
    from rehearsal import run_kickstart_post
    from sandbox import Sandbox, bwrap_available

    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")
    secret_proxy = "http://ops:s3cret@proxy.lan:3128"
    profile = write_profile("p.yaml", yaml.safe_dump({"extends": str(ROOT / "profiles/worker.yaml"),
                                                      "proxy": {"https": secret_proxy, "http": secret_proxy}}))
    node = node_from_profile(profile, tmp_path)
    box = Sandbox(tmp_path / "box")
    run_kickstart_post(box, render_kickstart(node), "RHEL9")
    conf = box.file("/etc/dnf/dnf.conf")
    lines = conf.read_text().splitlines()
    assert lines[:2] == ["[main]", f"proxy={secret_proxy}"] and "best=True" in lines
    assert conf.stat().st_mode & 0o777 == 0o600  # the proxy's credentials are root's alone
    # again, as after a reboot into a failed prepare: still one proxy line
    for argv in yaml.safe_load(render_user_data(node))["bootcmd"]:
        assert box.run(argv).returncode == 0
    assert conf.read_text().count("proxy=") == 1


def test_cloud_init_packages_get_the_proxy_first(write_profile, tmp_path):
    profile = write_profile("c.yaml", yaml.safe_dump({"extends": str(ROOT / "profiles/worker.yaml"),
                                                      "proxy": {"http": PROXY}, "cloud_init": {"packages": ["tmux"]}}))
    config = yaml.safe_load(render_user_data(node_from_profile(profile, tmp_path)))
    # cloud-init runs bootcmd in its init stage, `packages` in its final stage, runcmd's script after that
    assert config["bootcmd"][0][:2] == ["sed", "-i"] and f"/^\\[main\\]/a proxy={PROXY}" in config["bootcmd"][0]
    assert config["packages"] == ["tmux"]
