"""The proxy as each consumer on the node reads it: Go tools, curl/dnf (libcurl) and Anaconda."""

import pytest
import yaml

from tests.support.common import ROOT, run_gen
from generator.cloudinit import render_user_data
from generator.kickstart import render_kickstart
from generator.pipeline import node_from_profile
from generator.proxy import bypasses
from generator.render import PROXY_ENV, node_files

PROXY = "http://proxy.lan:3128"


def proxied(base: str, no_proxy: list[str], **extra) -> str:
    return yaml.safe_dump({"extends": base, "proxy": {"http": PROXY, "https": PROXY, "no_proxy": no_proxy},
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
    warnings = [w for w in node.warnings if w.path.startswith("proxy.no_proxy[") and w.message.startswith("10.20.0.0/16 ")]
    if curl:
        assert len(warnings) == 1 and f"libcurl {curl}" in warnings[0].message, node.warnings
    else:
        assert warnings == [], warnings
    assert not [w for w in node.warnings if "repo.lan" in w.message]


@pytest.mark.parametrize("url, entries, direct", [
    ("http://repo.lan/os/", [".lan"], True),
    ("http://repo.lan/os/", ["lan"], True),
    ("http://a.repo.lan/os/", ["repo.lan"], True),
    ("http://notrepo.lan/os/", ["repo.lan"], False),
    ("http://10.1.2.3/os/", ["10.1.0.0/16"], True),
    ("http://10.2.2.3/os/", ["10.1.0.0/16"], False),
    ("https://mirror.example:8443/x", ["mirror.example"], True),
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
    pinned = write_profile("p.yaml", f"extends: profiles/master.yaml\nkubernetes: {{advertise_address: 10.0.0.7}}\n")
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
    """The bootstrap's environment ends with it: dnf.conf's [main] is where dnf4 and dnf5 read a lasting proxy."""
    from tests.support.common import need
    from tests.support.rehearsal import run_kickstart_post, unit_exec_start
    from tests.support.sandbox import Sandbox, bwrap_available

    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")
    secret_proxy = "http://ops:s3cr%21t@proxy.lan:3128"
    profile = write_profile("p.yaml", yaml.safe_dump({"extends": "profiles/worker.yaml",
                                                      "proxy": {"https": secret_proxy, "http": secret_proxy,
                                                                "no_proxy": [".example"]}}))
    node = node_from_profile(profile, tmp_path)
    box = Sandbox(tmp_path / "box")
    box.file("/etc/dnf/dnf.conf").write_text("[main]\ngpgcheck=1\nproxy=http://old.proxy:1\nbest=True\n")
    run_kickstart_post(box, render_kickstart(node), "RHEL9")
    conf = box.file("/etc/dnf/dnf.conf")
    lines = conf.read_text().splitlines()
    assert lines[:4] == ["[main]", "proxy=http://proxy.lan:3128", "proxy_username=ops", "proxy_password=s3cr!t"], lines
    assert "proxy=http://old.proxy:1" not in lines and "best=True" in lines
    assert conf.stat().st_mode & 0o777 == 0o600  # the proxy's credentials are root's alone
    # the credentials are in no world-readable file and on no command line
    script = box.file("/usr/local/sbin/k8s-firstboot")
    assert "s3cr" not in script.read_text() and "s3cr" not in "\n".join(box.command_lines())
    assert box.file("/etc/k8s-firstboot/dnf-proxy.conf").stat().st_mode & 0o777 == 0o600
    # again (a rerun after a failure): still one set of lines
    assert box.run(["/usr/local/sbin/k8s-firstboot", "prepare"]).returncode == 0
    assert box.run(["bash", "-c", "rm -r /var/lib/k8s-firstboot/steps/dnf_proxy && k8s-firstboot prepare"]).returncode == 0
    assert conf.read_text().count("proxy=") == 1 and conf.read_text().count("proxy_password=") == 1


def test_repositories_no_proxy_names_bypass_dnf_conf_proxy(write_profile, tmp_path):
    # dnf.conf's proxy= has no exception list: a repository on a direct mirror says so itself
    profile = write_profile("m.yaml", yaml.safe_dump({
        "extends": "profiles/worker.yaml", "proxy": {"http": PROXY, "no_proxy": [".lan"]},
        "mirrors": {"kubernetes": {"baseurl": "http://repo.lan/k8s/", "gpgkey": ["http://repo.lan/k8s/key"]}}}))
    files = {f.path: f.content for f in node_files(node_from_profile(profile, tmp_path))}
    kube, crio = files["/etc/yum.repos.d/kubernetes.repo"], files["/etc/yum.repos.d/cri-o.repo"]
    assert "proxy=_none_" in kube and "proxy=_none_" not in crio


def test_cloud_init_packages_get_the_proxy_first(write_profile, tmp_path):
    profile = write_profile("c.yaml", yaml.safe_dump({"extends": "profiles/worker.yaml",
                                                      "proxy": {"http": PROXY}, "cloud_init": {"packages": ["tmux"]}}))
    config = yaml.safe_load(render_user_data(node_from_profile(profile, tmp_path)))
    # write_files runs in cloud-init's init stage, `packages` in its final stage, runcmd's script after that
    appended = [f for f in config["write_files"] if f["path"] == "/etc/dnf/dnf.conf"]
    assert appended == [{"path": "/etc/dnf/dnf.conf", "append": True, "content": f"proxy={PROXY}\n"}]
    assert config["packages"] == ["tmux"]


@pytest.mark.parametrize("entry, message", [("*", "'*'"), ("*.lan", "write .lan")])
def test_no_proxy_wildcards_their_readers_disagree_on_are_refused(write_profile, entry, message):
    profile = write_profile("w.yaml", proxied("profiles/worker.yaml", [entry]))
    result = run_gen("ks", str(profile))
    assert result.returncode == 2 and "proxy.no_proxy[0]" in result.stderr and message in result.stderr, result.stderr


FAKE_IP = """#!/bin/bash
# the routes and addresses of a cloud instance (iproute2's output format)
case "$*" in
  "-4 route show default") echo "default via 10.1.0.1 dev ens5 proto dhcp src 10.1.0.57 metric 100" ;;
  "-4 -o addr show dev ens5 scope global")
    echo "2: ens5    inet 10.1.0.57/20 brd 10.1.15.255 scope global dynamic noprefixroute ens5\\\\       valid_lft 3000sec"
    echo "2: ens5    inet 10.1.0.99/32 scope global ens5\\\\       valid_lft forever" ;;
  *) exit 1 ;;
esac
"""


def test_boot_address_joins_no_proxy_for_kubeadm_crio_and_kubelet(write_profile, tmp_path):
    """A cloud instance learns its address at boot; the static pods (kubeadm) and CRI-O/kubelet must skip the proxy
    for it, and it is the address kubeadm advertises: the first global one of the default route's interface."""
    from tests.support.common import need
    from tests.support.rehearsal import run_first_boot, run_kickstart_post
    from tests.support.sandbox import Sandbox, bwrap_available

    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")
    node = node_from_profile(write_profile("m.yaml", proxied("profiles/master.yaml", [".lan"])), tmp_path)
    box = Sandbox(tmp_path / "box")
    fake = box.file("/usr/local/bin/ip")
    fake.unlink()  # the sandbox's own ip stand-in: this test wants a cloud instance's routes
    fake.write_text(FAKE_IP)
    fake.chmod(0o755)
    run_kickstart_post(box, render_kickstart(node), "RHEL9")
    assert not box.file("/etc/k8s-firstboot/proxy-boot.env").exists()  # prepare: no routes in the installer's chroot
    assert run_first_boot(box).returncode == 0
    boot_env = box.file("/etc/k8s-firstboot/proxy-boot.env").read_text()
    assert boot_env.startswith('NO_PROXY="') and boot_env.split("\n")[0].endswith(',10.1.0.57"'), boot_env
    kubeadm = [line.split("\t") for line in (box.record / "proxied").read_text().splitlines() if line.startswith("kubeadm")]
    assert kubeadm and all(p[2].split(",")[-1] == "10.1.0.57" for p in kubeadm)
    dropin = box.file("/etc/systemd/system/crio.service.d/90-k8s-firstboot-proxy.conf").read_text()
    assert dropin.index("proxy.env") < dropin.index("EnvironmentFile=-/etc/k8s-firstboot/proxy-boot.env")


def test_proxy_credentials_cannot_add_dnf_settings(write_profile):
    # proxy_password is written decoded: %0A would start a new dnf.conf line (e.g. gpgcheck=0)
    profile = write_profile("i.yaml", proxied("profiles/worker.yaml", [], **{}).replace(
        PROXY, "http://u:p%0Agpgcheck=0@proxy.lan:3128", 1))
    result = run_gen("ks", str(profile))
    assert result.returncode == 2 and "proxy.http: the user name or password decodes to a line break" in result.stderr
