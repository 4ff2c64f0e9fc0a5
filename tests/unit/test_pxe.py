"""The PXE tree (issue 12): checked by the real consumers where there are some (dnsmasq --test on the snippet,
grub-script-check on every GRUB file) and by parsing the kernel command lines the three boot loaders pass."""

import csv
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from generator.pxe import BootEntry, PxeError, StaticAddress, pxe_tree
from tests.support.common import need

TREE_URL = "http://192.168.122.1/rocky/9/BaseOS/x86_64/os"
STATIC = BootEntry(
    hostname="cp1.lab.example", mac="52:54:00:AA:00:01", kickstart_url="http://192.168.122.1/ks/cp1.lab.example.ks",
    install_url=TREE_URL, kernel="rocky9/vmlinuz", initrd="rocky9/initrd.img",
    static=StaticAddress(address="192.168.122.11", prefix=20, interface="enp1s0", gateway="192.168.112.1",
                         nameservers=("192.168.122.1", "9.9.9.9")),
    extra_args=("console=ttyS0,115200n8", "inst.text"))
DHCP = BootEntry(
    hostname="w1", mac="52-54-00-aa-00-02", kickstart_url="https://boot.lab.example:8443/ks/w1.ks?v=2",
    install_url="http://192.168.122.1/rocky/9/os", kernel="rocky9/vmlinuz", initrd="rocky9/initrd.img",
    stage2_only=True)
ENTRIES = [STATIC, DHCP]
TFTP_ROOT = "/srv/k8s-firstboot/tftp"


@pytest.fixture
def tree(tmp_path) -> tuple[dict[str, str], Path]:
    files = pxe_tree(ENTRIES, proxy_subnet="192.168.122.0/24", tftp_root=str(tmp_path / "tree" / "tftp"))
    for name, text in files.items():
        path = tmp_path / "tree" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return files, tmp_path / "tree"


def test_the_tree_has_a_file_per_mac_and_loader(tree):
    files, _ = tree
    for dashed in ("52-54-00-aa-00-01", "52-54-00-aa-00-02"):  # lower case, dashes, whatever form came in
        assert f"tftp/pxelinux.cfg/01-{dashed}" in files
        assert f"tftp/grub.cfg-01-{dashed}" in files
        assert f"tftp/ipxe/{dashed}.ipxe" in files
    assert {"tftp/grub.cfg", "tftp/boot.ipxe", "README.txt", "dnsmasq/k8s-firstboot-pxe.conf"} <= set(files)
    assert len(files) == 4 + 3 * len(ENTRIES)


def test_the_same_entries_give_the_same_tree():
    assert pxe_tree(ENTRIES, proxy_subnet="192.168.122.0/24", tftp_root=TFTP_ROOT) == pxe_tree(ENTRIES, proxy_subnet="192.168.122.0/24", tftp_root=TFTP_ROOT)


# --- the real consumers ---------------------------------------------------------------------------------------

def test_dnsmasq_accepts_the_snippet(tree):
    need(shutil.which("dnsmasq") is not None, "dnsmasq is not installed (apt-get install dnsmasq-base)")
    _, root = tree
    result = subprocess.run(["dnsmasq", "--test", f"--conf-file={root / 'dnsmasq/k8s-firstboot-pxe.conf'}"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "syntax check OK" in result.stderr + result.stdout


def test_dnsmasq_refuses_a_broken_snippet(tmp_path):
    """The check above can fail: dnsmasq --test does refuse what it cannot read."""
    need(shutil.which("dnsmasq") is not None, "dnsmasq is not installed (apt-get install dnsmasq-base)")
    text = pxe_tree(ENTRIES, proxy_subnet="192.168.122.0/24", tftp_root=TFTP_ROOT)["dnsmasq/k8s-firstboot-pxe.conf"]
    broken = tmp_path / "broken.conf"
    broken.write_text(text.replace(",proxy,", ",proxi,"))
    assert subprocess.run(["dnsmasq", "--test", f"--conf-file={broken}"], capture_output=True).returncode != 0


def test_the_snippet_is_proxy_dhcp_with_tftp_for_the_fleets_macs_only(tree):
    files, root = tree
    options = [line.split("=", 1) for line in files["dnsmasq/k8s-firstboot-pxe.conf"].splitlines()
               if line and not line.startswith("#")]
    values = {}
    for key, *value in options:
        values.setdefault(key, []).append(value[0] if value else "")
    assert values["dhcp-range"] == ["192.168.122.0,proxy,255.255.255.0"]
    assert values["tftp-root"] == [str(root / "tftp")]
    assert "enable-tftp" in values and values["port"] == ["0"]
    assert sorted(values["dhcp-host"]) == ["52:54:00:aa:00:01,set:k8s-fleet", "52:54:00:aa:00:02,set:k8s-fleet"]
    boot_files = {}
    for service in values["pxe-service"]:
        tag, csa, _menu, basename = next(csv.reader([service]))
        boot_files.setdefault(tag, {})[csa] = basename
    assert boot_files["tag:k8s-pxe"] == {"x86PC": "pxelinux", "X86-64_EFI": "shimx64.efi", "BC_EFI": "shimx64.efi"}
    assert set(boot_files["tag:k8s-ipxe"].values()) == {"boot.ipxe"}


def test_the_snippet_ignores_machines_outside_the_fleet(tree):
    """In proxy mode dnsmasq 2.90 answers every PXE client (an empty menu when no pxe-service matches) unless
    a dhcp-ignore whose tags all hold drops it (src/rfc2131.c dhcp_reply); dhcp-host's set: tag is added
    before. So every MAC of the fleet carries the tag, and a client without it is ignored."""
    files, _ = tree
    lines = files["dnsmasq/k8s-firstboot-pxe.conf"].splitlines()
    [ignore] = [line.split("=", 1)[1] for line in lines if line.startswith("dhcp-ignore=")]
    assert re.fullmatch(r"tag:!([\w-]+)", ignore)
    fleet_tag = ignore.removeprefix("tag:!")
    tagged = {line.split("=", 1)[1].split(",")[0] for line in lines
              if line.startswith("dhcp-host=") and f"set:{fleet_tag}" in line.split(",")[1:]}
    assert tagged == {"52:54:00:aa:00:01", "52:54:00:aa:00:02"}


def test_grub_script_check_accepts_every_grub_file(tree):
    need(shutil.which("grub-script-check") is not None, "grub-script-check is not installed (grub-common)")
    files, root = tree
    grub_files = [name for name in files if re.fullmatch(r"tftp/grub\.cfg(-01-[0-9a-f-]{17})?", name)]
    assert len(grub_files) == 1 + len(ENTRIES)
    for name in grub_files:
        result = subprocess.run(["grub-script-check", str(root / name)], capture_output=True, text=True)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"


def test_grub_script_check_refuses_a_broken_file(tmp_path):
    need(shutil.which("grub-script-check") is not None, "grub-script-check is not installed (grub-common)")
    text = pxe_tree(ENTRIES, proxy_subnet="192.168.122.0/24", tftp_root=TFTP_ROOT)["tftp/grub.cfg-01-52-54-00-aa-00-02"]
    broken = tmp_path / "grub.cfg"
    broken.write_text(text.replace("'inst.ks=", "'inst.ks=\\'", 1).replace("\n}\n", "\n"))
    assert subprocess.run(["grub-script-check", str(broken)], capture_output=True).returncode != 0


# --- the kernel command lines ---------------------------------------------------------------------------------

def command_lines(files: dict[str, str], dashed: str) -> dict[str, list[str]]:
    """The kernel arguments each loader passes for one MAC (initrd= of pxelinux and iPXE set aside)."""
    pxelinux = files[f"tftp/pxelinux.cfg/01-{dashed}"]
    [append] = [line.split(None, 1)[1] for line in pxelinux.splitlines() if line.strip().startswith("APPEND ")]
    [kernel] = [line.split()[1] for line in pxelinux.splitlines() if line.strip().startswith("KERNEL ")]
    grub = files[f"tftp/grub.cfg-01-{dashed}"]
    [linux] = [shlex.split(line)[1:] for line in grub.splitlines() if line.strip().startswith("linux ")]
    ipxe = files[f"tftp/ipxe/{dashed}.ipxe"]
    [ipxe_kernel] = [line.split()[1:] for line in ipxe.splitlines() if line.startswith("kernel ")]
    assert kernel == "rocky9/vmlinuz" and linux[0] == "/rocky9/vmlinuz" and ipxe_kernel[0] == "/rocky9/vmlinuz"
    return {"pxelinux": [a for a in append.split() if not a.startswith("initrd=")], "grub": linux[1:],
            "ipxe": [a for a in ipxe_kernel[1:] if not a.startswith("initrd=")]}


def test_every_loader_passes_the_same_arguments(tree):
    files, _ = tree
    for dashed in ("52-54-00-aa-00-01", "52-54-00-aa-00-02"):
        lines = command_lines(files, dashed)
        assert lines["pxelinux"] == lines["grub"] == lines["ipxe"]


def test_static_node_arguments(tree):
    files, _ = tree
    args = command_lines(files, "52-54-00-aa-00-01")["grub"]
    assert f"inst.ks={STATIC.kickstart_url}" in args
    assert f"inst.repo={TREE_URL}" in args and not any(a.startswith("inst.stage2=") for a in args)
    assert "BOOTIF=01-52-54-00-aa-00-01" in args
    assert ["nameserver=192.168.122.1", "nameserver=9.9.9.9"] == [a for a in args if a.startswith("nameserver=")]
    assert {"console=ttyS0,115200n8", "inst.text"} <= set(args)
    [ip] = [a[len("ip="):] for a in args if a.startswith("ip=")]
    # dracut.cmdline(7): <client-IP>:[<peer>]:<gateway-IP>:<netmask>:<client_hostname>:<interface>:none
    client, peer, gateway, netmask, hostname, interface, autoconf = ip.split(":")
    assert (client, peer, gateway, netmask, hostname, interface, autoconf) == (
        "192.168.122.11", "", "192.168.112.1", "255.255.240.0", "cp1.lab.example", "enp1s0", "none")


def test_dhcp_node_arguments(tree):
    files, _ = tree
    args = command_lines(files, "52-54-00-aa-00-02")["ipxe"]
    assert args == [f"inst.ks={DHCP.kickstart_url}", f"inst.stage2={DHCP.install_url}", "BOOTIF=01-52-54-00-aa-00-02"]


# What rhboot/grub2 sets when shim loaded grubx64.efi from the TFTP root of 192.168.122.1: prefix is the
# folder built into the distributions' grubx64.efi (grub2-mkimage -p /EFI/<vendor>) on the boot device;
# config_directory is the folder of the grub.cfg it read (normal/main.c read_config_file), here fw_path,
# the boot file's TFTP folder (kern/main.c grub_set_prefix_and_root)
GRUB_VARIABLES = {"prefix": "(tftp,192.168.122.1)/EFI/redhat", "config_directory": "(tftp,192.168.122.1)"}


def test_grub_fallback_finds_the_per_mac_file(tree):
    """GRUB's net_default_mac is lower-case hex with colons; the fallback's pattern turns it into the path of
    a file of this tree, next to the fallback itself."""
    files, _ = tree
    fallback = files["tftp/grub.cfg"]
    [pattern] = re.findall(r"regexp [^']*'([^']+)'", fallback)
    [target] = re.findall(r'configfile "([^"]+)"', fallback)
    for mac in ("52:54:00:aa:00:01", "52:54:00:aa:00:02"):
        groups = re.fullmatch(pattern, mac).groups()
        variables = GRUB_VARIABLES | {f"m{n}": group for n, group in enumerate(groups, start=1)}
        path = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: variables[m.group(1)], target)
        folder = GRUB_VARIABLES["config_directory"]
        assert path.startswith(folder + "/") and f"tftp/{path[len(folder) + 1:]}" in files, path
    assert re.fullmatch(pattern, "52:54:00:aa:00") is None


def test_ipxe_dispatch_finds_the_per_mac_script(tree):
    files, _ = tree
    [target] = re.findall(r"chain \S* ?(ipxe/\$\{mac:hexhyp\}\.ipxe)", files["tftp/boot.ipxe"])
    assert f"tftp/{target.replace('${mac:hexhyp}', '52-54-00-aa-00-02')}" in files


def test_readme_names_every_file_to_copy_in(tree):
    files, _ = tree
    readme = files["README.txt"]
    for name in ("tftp/rocky9/vmlinuz", "tftp/rocky9/initrd.img", "tftp/shimx64.efi", "tftp/grubx64.efi",
                 "tftp/pxelinux.0", "tftp/ldlinux.c32"):
        assert name in readme
    assert "BOOTX64.EFI" in readme and "BMC" in readme and "boot order" in readme


# --- refused values -------------------------------------------------------------------------------------------

def entry(**changes) -> BootEntry:
    values = {**DHCP.__dict__, **changes}
    return BootEntry(**values)


@pytest.mark.parametrize("changes, field", [
    ({"mac": "52:54:00:aa:00"}, "mac"),
    ({"mac": "52:54:00:aa:00:0g"}, "mac"),
    ({"mac": "5254.00aa.0002"}, "mac"),
    ({"mac": "52:54-00:aa:00:02"}, "mac"),
    ({"hostname": "W1"}, "hostname"),
    ({"hostname": "w1 x"}, "hostname"),
    ({"kickstart_url": "http://h/ks file.ks"}, "kickstart_url"),
    ({"kickstart_url": "http://h/ks'.ks"}, "kickstart_url"),
    ({"kickstart_url": "http://h/${x}.ks"}, "kickstart_url"),
    ({"kickstart_url": "http://h/a.ks;reboot"}, "kickstart_url"),
    ({"kickstart_url": "nfs:h:/ks"}, "kickstart_url"),
    ({"install_url": 'http://h/"os'}, "install_url"),
    ({"install_url": "http://h/os || shell"}, "install_url"),
    ({"kernel": "/rocky9/vmlinuz"}, "kernel"),
    ({"initrd": "../etc/passwd"}, "initrd"),
    ({"extra_args": ("console=tty0 rd.break",)}, "extra kernel argument"),
    ({"static": StaticAddress("192.168.122.300", 24, "enp1s0")}, "static.address"),
    ({"static": StaticAddress("192.168.122.21", 33, "enp1s0")}, "static.prefix"),
    ({"static": StaticAddress("192.168.122.21", 24, "enp1s0", gateway="10.0.0.1")}, "static.gateway"),
    ({"static": StaticAddress("192.168.122.21", 24, "enp1s0:x")}, "static.interface"),
    ({"static": StaticAddress("192.168.122.21", 24, "enp1s0", nameservers=("dns1",))}, "static.nameservers"),
])
def test_bad_values_are_refused_with_the_field(changes, field):
    with pytest.raises(PxeError, match=re.escape(field)):
        pxe_tree([entry(**changes)], proxy_subnet="192.168.122.0/24", tftp_root=TFTP_ROOT)


def test_duplicates_are_refused():
    with pytest.raises(PxeError, match="mac 52:54:00:aa:00:02"):
        pxe_tree([DHCP, entry(hostname="w2", mac="52:54:00:AA:00:02")], proxy_subnet="192.168.122.0/24", tftp_root=TFTP_ROOT)
    with pytest.raises(PxeError, match="hostname w1"):
        pxe_tree([DHCP, entry(mac="52:54:00:aa:00:03")], proxy_subnet="192.168.122.0/24", tftp_root=TFTP_ROOT)


@pytest.mark.parametrize("kwargs, message", [
    ({"proxy_subnet": "192.168.122.0/40", "tftp_root": TFTP_ROOT}, "proxy_subnet"),
    ({"proxy_subnet": "192.168.122.0/24", "tftp_root": "srv/tftp"}, "tftp_root"),
    ({"proxy_subnet": "192.168.122.0/24", "tftp_root": "/srv/../etc"}, "tftp_root"),
    ({"proxy_subnet": "192.168.122.0/24", "tftp_root": "/srv/tftp dir"}, "tftp_root"),
])
def test_bad_tree_settings_are_refused(kwargs, message):
    with pytest.raises(PxeError, match=message):
        pxe_tree(ENTRIES, **kwargs)


def test_no_entries_is_refused():
    with pytest.raises(PxeError, match="at least one"):
        pxe_tree([], proxy_subnet="192.168.122.0/24", tftp_root=TFTP_ROOT)
