"""`gen build` on an inventory hands back a tree ready to serve (issue 12), checked by the tools that read it:
dnsmasq --test on the snippet, grub-script-check on every GRUB file, pykickstart on every Kickstart, the ISOs
read back with pycdlib and Debian's cloud-init 22.4 reading a cidata seed. Rebuilding gives the same bytes; a
failed build leaves nothing behind."""

import base64
import gzip
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys

import pytest

from generator import verify
from tests.support.common import ROOT, gen_in_process, need
from tests.unit.test_bootmedia import cloud_init_reads, read_back

HANDLER = "RHEL9"  # profiles/fleet is Rocky Linux 9


def build_fleet(tmp_path, *extra: str, out_name: str = "out"):
    out = tmp_path / out_name
    result = gen_in_process("build", "profiles/fleet", "-o", str(out), "--secrets-dir", str(tmp_path / "state"), *extra)
    assert result.returncode == 0, result.stderr
    return out, result


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """profiles/fleet built once with --media, for the read-only checks below."""
    tmp_path = tmp_path_factory.mktemp("fleet")
    out, result = build_fleet(tmp_path, "--media")
    return out, result, json.loads((out / "manifest.json").read_text())


def files_on_disk(out) -> set[str]:
    return {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}


# --- the layout and the manifest --------------------------------------------------------------------------------

def test_the_tree_has_every_part(fleet):
    out, result, manifest = fleet
    hosts = [node["hostname"] for node in manifest["nodes"]]
    assert len(hosts) == 23 and len(set(hosts)) == 23
    on_disk = files_on_disk(out)
    for host in hosts:
        mac = next(n["mac"] for n in manifest["nodes"] if n["hostname"] == host).replace(":", "-")
        assert {f"http/ks/{host}.ks", f"cloud/{host}.user-data", f"cloud/{host}.network-config",
                f"media/{host}-cidata.iso", f"media/{host}-oemdrv.iso", f"tftp/pxelinux.cfg/01-{mac}",
                f"tftp/grub.cfg-01-{mac}", f"tftp/ipxe/{mac}.ipxe"} <= on_disk, host
    assert {"tftp/grub.cfg", "tftp/boot.ipxe", "dnsmasq/k8s-firstboot-pxe.conf", "README.txt",
            "manifest.json"} <= on_disk
    assert "23 node(s) (3 control-plane, 20 worker)" in result.stdout


def test_the_manifest_lists_every_file_with_its_hash(fleet):
    out, _, manifest = fleet
    listed = [f for node in manifest["nodes"] for f in node["files"]] + manifest["shared"]
    assert sorted(f["path"] for f in listed) == sorted(files_on_disk(out) - {"manifest.json"})
    for entry in listed:
        data = (out / entry["path"]).read_bytes()
        assert entry["size"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest(), entry["path"]
        assert entry["purpose"]
    roles = [node["role"] for node in manifest["nodes"]]
    assert (roles.count("control-plane"), roles.count("worker")) == (3, 20)
    cp = next(n for n in manifest["nodes"] if n["hostname"] == "k8s-cp-01")
    assert any(f["path"] == "tftp/grub.cfg-01-52-54-00-24-00-01" for f in cp["files"])  # per-MAC files: their node's


def test_the_manifest_written_node_by_node_is_what_json_writes_for_the_whole(fleet, tmp_path):
    out, _, manifest = fleet
    assert (out / "manifest.json").read_text() == json.dumps(manifest, indent=1) + "\n"
    (tmp_path / "shared.yaml").write_text((ROOT / "profiles/ha/cluster.yaml").read_text())  # no node in it
    result = gen_in_process("build", str(tmp_path / "shared.yaml"), "-o", str(tmp_path / "none"))
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "none/manifest.json").read_text()
    assert json.loads(text)["nodes"] == [] and text == json.dumps(json.loads(text), indent=1) + "\n"


def test_files_with_secrets_are_private(fleet):
    out, _, manifest = fleet
    for node in manifest["nodes"]:
        for entry in node["files"]:
            mode = stat.S_IMODE((out / entry["path"]).stat().st_mode)
            carries_secrets = entry["path"].endswith((".ks", ".user-data", ".iso"))
            assert entry["secret"] == carries_secrets and mode == (0o600 if carries_secrets else 0o644), entry
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


# --- the real consumers -------------------------------------------------------------------------------------------

def test_pykickstart_reads_every_kickstart(fleet):
    out, _, _ = fleet
    kickstarts = sorted((out / "http/ks").iterdir())
    assert len(kickstarts) == 23
    for path in kickstarts:
        assert verify.kickstart_findings(path.read_text(), HANDLER, path.name) == []


def test_dnsmasq_accepts_the_snippet(fleet):
    need(shutil.which("dnsmasq") is not None, "dnsmasq is not installed (apt-get install dnsmasq-base)")
    out, _, _ = fleet
    snippet = out / "dnsmasq/k8s-firstboot-pxe.conf"
    result = subprocess.run(["dnsmasq", "--test", f"--conf-file={snippet}"], capture_output=True, text=True)
    assert result.returncode == 0 and "syntax check OK" in result.stderr + result.stdout, result.stderr
    assert len(re.findall(r"^dhcp-host=", snippet.read_text(), re.M)) == 23


def test_grub_script_check_accepts_every_grub_file(fleet):
    need(shutil.which("grub-script-check") is not None, "grub-script-check is not installed (grub-common)")
    out, _, _ = fleet
    grub_files = sorted(out.glob("tftp/grub.cfg*"))
    assert len(grub_files) == 1 + 23
    for path in grub_files:
        result = subprocess.run(["grub-script-check", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, f"{path.name}: {result.stdout}{result.stderr}"


def test_every_loader_boots_the_kickstart_the_tree_serves(fleet):
    """inst.ks= is <pxe.http_url>/ks/<host>.ks, the file under http/; inst.repo= is os.install_url's tree."""
    out, _, _ = fleet
    for name in ("tftp/pxelinux.cfg/01-52-54-00-24-01-06", "tftp/grub.cfg-01-52-54-00-24-01-06",
                 "tftp/ipxe/52-54-00-24-01-06.ipxe"):
        text = (out / name).read_text()
        assert "inst.ks=http://192.168.124.1/k8s/ks/k8s-w-06.ks" in text, name
        assert "inst.repo=https://dl.rockylinux.org/pub/rocky/9/BaseOS/x86_64/os/" in text, name
        assert "rocky-9/vmlinuz" in text and "rocky-9/initrd.img" in text, name
    assert "k8s-w-06" in (out / "http/ks/k8s-w-06.ks").read_text().splitlines()[0]


def test_the_isos_read_back(fleet):
    out, _, _ = fleet
    kickstart = (out / "http/ks/k8s-w-gpu.ks").read_bytes()
    label, rock_ridge, joliet = read_back((out / "media/k8s-w-gpu-oemdrv.iso").read_bytes())
    assert label == "OEMDRV" and rock_ridge == joliet == {"ks.cfg": kickstart}
    label, rock_ridge, joliet = read_back((out / "media/k8s-w-gpu-cidata.iso").read_bytes())
    assert label == "cidata" and rock_ridge == joliet
    assert rock_ridge["user-data"] == (out / "cloud/k8s-w-gpu.user-data").read_bytes()
    assert rock_ridge["network-config"] == (out / "cloud/k8s-w-gpu.network-config").read_bytes()
    assert sorted(rock_ridge) == ["meta-data", "network-config", "user-data"]


def test_cloud_init_reads_a_cidata_seed(fleet, tmp_path):
    out, _, _ = fleet
    data = cloud_init_reads(tmp_path, (out / "media/k8s-cp-02-cidata.iso").read_bytes())
    assert data["local_hostname"] == "k8s-cp-02"
    assert data["instance_id"] and "k8s-cp-02" in data["instance_id"]
    assert data["user_data"] == (out / "cloud/k8s-cp-02.user-data").read_text()
    (interface,) = data["network_config"]["ethernets"].values()
    assert interface["match"]["macaddress"] == "52:54:00:24:00:02"
    assert interface["addresses"] == ["192.168.124.12/24"]


# --- what gen build says --------------------------------------------------------------------------------------


@pytest.mark.slow  # gen validate on the 23-node fleet: ~15 s
def test_warnings_are_printed_once_for_the_fleet(fleet):
    _, result, _ = fleet
    validate = gen_in_process("validate", "profiles/fleet/cluster.yaml")
    warnings = {line for line in validate.stdout.splitlines() + validate.stderr.splitlines() if ": warning: " in line}
    assert warnings, "the example has a warning to show (the calico manifest's checksum)"
    for warning in warnings:  # the same line, once for the 23 nodes that inherit it
        assert result.stderr.splitlines().count(warning) == 1, warning
    # the OEMDRV image of a node whose Kickstart names its disk by a kernel name (os.disk: sda), once
    (oemdrv,) = [line for line in result.stderr.splitlines() if "OEMDRV image" in line]
    assert re.fullmatch(r".*/http/ks/k8s-cp-01\.ks:\d+: warning: OEMDRV image: disk 'sda' is a kernel name.*"
                        r"\(also in 21 other node\(s\)' Kickstarts\)", oemdrv)


def test_without_pxe_settings_one_note_says_what_is_missing(tmp_path):
    out = tmp_path / "out"
    result = gen_in_process("build", "profiles/ha", "-o", str(out), "--secrets-dir", str(tmp_path / "state"))
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if ": note: " in line]
    assert len(notes) == 1 and notes[0].startswith(f"{out}: note: pxe: no PXE tree: ") and "network.mac" in notes[0]
    assert not (out / "tftp").exists() and not (out / "media").exists() and (out / "http/ks").is_dir()


def test_gzip_and_base64_user_data(tmp_path):
    plain, _ = build_fleet(tmp_path, out_name="plain")
    packed, _ = build_fleet(tmp_path, "--gzip", "--base64", out_name="packed")
    text = (plain / "cloud/k8s-w-01.user-data").read_bytes()
    assert gzip.decompress(base64.b64decode((packed / "cloud/k8s-w-01.user-data").read_bytes())) == text
    assert (packed / "http/ks/k8s-w-01.ks").read_bytes() == (plain / "http/ks/k8s-w-01.ks").read_bytes()


def test_user_data_above_a_clouds_limit_is_announced(write_profile, tmp_path):
    big = "\n".join(f"        line {hashlib.sha256(str(i).encode()).hexdigest()}" for i in range(400))
    path = write_profile("big.yaml", "extends: profiles/worker.yaml\ncloud_init:\n  write_files:\n"
                                     "    - path: /etc/big.conf\n      content: |\n" + big + "\n")
    out = tmp_path / "out"
    result = gen_in_process("build", str(path), "-o", str(out), "--secrets-dir", str(tmp_path / "state"))
    assert result.returncode == 0, result.stderr
    size = len((out / "cloud/big.user-data").read_bytes())
    assert size > 16384
    assert (f"{out}/cloud/big.user-data: warning: user-data: {size} bytes, above the 16384-byte AWS EC2 user data "
            f"limit; build with --gzip") in result.stderr


# --- rebuilding, failing ----------------------------------------------------------------------------------------

def test_a_rebuild_gives_the_same_bytes_and_replaces_the_tree(tmp_path):
    out, _ = build_fleet(tmp_path, "--media")
    first = {name: (out / name).read_bytes() for name in files_on_disk(out)}
    (out / "http/ks/stale.ks").write_text("left from an older build\n")
    out, _ = build_fleet(tmp_path, "--media")
    assert {name: (out / name).read_bytes() for name in files_on_disk(out)} == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "state"]  # no staging folder left


def test_a_failed_build_leaves_no_tree_and_no_partial_files(write_profile, tmp_path):
    cluster = (ROOT / "profiles/fleet/cluster.yaml").read_text()
    write_profile("fleet/workers.csv", (ROOT / "profiles/fleet/workers.csv").read_text())
    path = write_profile("fleet/cluster.yaml", cluster.replace("http://192.168.124.1/k8s", "http://192.168.124.1/k8s$x"))
    result = gen_in_process("build", str(path), "-o", str(tmp_path / "out"), "--secrets-dir", str(tmp_path / "state"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
    deeper = tmp_path / "new/deeper/out"  # nor the folders made to hold it
    result = gen_in_process("build", str(path), "-o", str(deeper), "--secrets-dir", str(tmp_path / "state"))
    assert result.returncode == 2 and not (tmp_path / "new").exists()


def test_the_folders_made_for_a_build_are_0755_whatever_the_umask(tmp_path):
    """A group-writable folder is refused as the place to rename the build into; with umask 002 (common),
    the folders gen makes itself must not be."""
    previous = os.umask(0o002)
    try:
        result = gen_in_process("build", "profiles/master.yaml", "-o", str(tmp_path / "x/a/out"),
                                "--secrets-dir", str(tmp_path / "state"))
    finally:
        os.umask(previous)
    assert result.returncode == 0, result.stderr
    assert {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "x", tmp_path / "x/a")} == {0o755}


def test_a_failure_while_writing_keeps_the_previous_build(tmp_path, monkeypatch):
    from generator import build as build_module

    out, _ = build_fleet(tmp_path)
    before = {name: (out / name).read_bytes() for name in files_on_disk(out)}
    calls = []

    def fail_on_the_fifth(*args, **kwargs):
        calls.append(args)
        if len(calls) == 5:
            raise OSError(28, "No space left on device")
        return write(*args, **kwargs)

    write = build_module.write_new
    monkeypatch.setattr(build_module, "write_new", fail_on_the_fifth)
    with pytest.raises(OSError):
        build_module.build([ROOT / "profiles/fleet"], out, tmp_path / "state")
    assert {name: (out / name).read_bytes() for name in files_on_disk(out)} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "state"]


def test_a_folder_that_is_not_a_build_is_not_replaced(tmp_path):
    out = tmp_path / "home"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work\n")
    result = gen_in_process("build", "profiles/fleet", "-o", str(out), "--secrets-dir", str(tmp_path / "state"))
    assert result.returncode == 2 and "no manifest.json" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]


@pytest.mark.parametrize("key, bad, expected", [
    ("mac", '"52:54:00:24:01:05"', "nodes[7].mac: \"52:54:00:24:01:5\" is not valid"),
    ("http_url", "http://192.168.124.1/k8s", 'pxe.http_url: "http://192.168.124.1/k8s x" is not valid'),
])
def test_a_bad_mac_or_url_is_refused_at_its_line(write_profile, tmp_path, key, bad, expected):
    cluster = (ROOT / "profiles/fleet/cluster.yaml").read_text()
    write_profile("fleet/workers.csv", (ROOT / "profiles/fleet/workers.csv").read_text())
    wrong = {"mac": '"52:54:00:24:01:5"', "http_url": "'http://192.168.124.1/k8s x'"}[key]
    assert cluster.count(bad) == 1
    path = write_profile("fleet/cluster.yaml", cluster.replace(bad, wrong))
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if wrong in text)
    result = gen_in_process("build", str(path), "-o", str(tmp_path / "out"), "--secrets-dir", str(tmp_path / "state"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert any(l.startswith(f"{path}:{line}: error: {expected}") for l in result.stderr.splitlines()), result.stderr
    assert not (tmp_path / "out").exists()


def test_a_value_only_the_pxe_files_refuse_becomes_a_problem_at_its_line(write_profile, tmp_path):
    """os.install_url may hold a # (the schema's URL), which GRUB and iPXE would read as a comment."""
    cluster = (ROOT / "profiles/fleet/cluster.yaml").read_text()
    write_profile("fleet/workers.csv", (ROOT / "profiles/fleet/workers.csv").read_text())
    path = write_profile("fleet/cluster.yaml", cluster.replace(
        "  disk: sda\n", "  disk: sda\n  install_url: http://mirror.lab.example/rocky/9/BaseOS/x86_64/os/#top\n"))
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "install_url" in text)
    result = gen_in_process("build", str(path), "-o", str(tmp_path / "out"), "--secrets-dir", str(tmp_path / "state"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    # every node inherits the one value: one problem, at its line
    (problem,) = [l for l in result.stderr.splitlines() if ": error: " in l]
    assert problem.startswith(f"{path}:{line}: error: os.install_url: ") and "an http, https or ftp URL" in problem


def test_a_refused_pxe_value_hides_no_other_problem(write_profile, tmp_path):
    """The node with the bad kernel path still takes part in the checks across the fleet."""
    cluster = (ROOT / "profiles/fleet/cluster.yaml").read_text()
    write_profile("fleet/workers.csv", (ROOT / "profiles/fleet/workers.csv").read_text())
    path = write_profile("fleet/cluster.yaml", cluster.replace("first_control_plane: k8s-cp-01", "first_control_plane: k8s-cp-1")
                         .replace("    address: 192.168.124.150/24\n", "    address: 192.168.124.105/24\n    pxe:\n      kernel: ../vmlinuz\n"))
    result = gen_in_process("build", str(path), "-o", str(tmp_path / "out"), "--secrets-dir", str(tmp_path / "state"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    said = [l.split(": error: ")[1].split(":")[0] for l in result.stderr.splitlines() if ": error: " in l]
    assert sorted(said) == ["cluster.first_control_plane", "network.address", "pxe.kernel"], result.stderr
    assert not (tmp_path / "out").exists()


def test_one_pxe_tree_boots_each_host_name_once(write_profile, tmp_path):
    """Two clusters in folders of their own, with the same host names, on one boot network."""
    for name, octet in (("a", "24"), ("b", "25")):
        text = (ROOT / "profiles/fleet/cluster.yaml").read_text().replace("name: fleet", f"name: fleet-{name}")
        text = text.replace('"52:54:00:24:', f'"52:54:00:{octet}:').replace("nodes_csv: workers.csv\n", "")
        write_profile(f"two/{name}/cluster.yaml", text.replace("192.168.124.", f"192.168.{octet}.")
                      .replace(f"proxy_subnet: 192.168.{octet}.0/24", "proxy_subnet: 192.168.124.0/24")
                      .replace(f"http_url: http://192.168.{octet}.1/k8s", "http_url: http://192.168.124.1/k8s"))
    result = gen_in_process("build", str(tmp_path / "two"), "-o", str(tmp_path / "out"),
                            "--secrets-dir", str(tmp_path / "state"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    errors = [l for l in result.stderr.splitlines() if ": error: " in l]
    assert errors and all(l.startswith(f"{tmp_path}/two/b/cluster.yaml:") and ": error: hostname: " in l
                          and "that this PXE tree boots on 192.168.124.0/24" in l for l in errors), result.stderr


def _worker(write_profile, path: str, hostname: str) -> None:
    """A worker profile at `path`, with the example settings beside it as the cluster.yaml it extends."""
    write_profile(f"{path.rsplit('/', 1)[0]}/cluster.yaml", (ROOT / "profiles/cluster.yaml").read_text())
    write_profile(path, f"extends: cluster.yaml\nrole: worker\nhostname: {hostname}\n")


def test_a_node_whose_artifact_would_be_another_nodes_folder(write_profile, tmp_path):
    _worker(write_profile, "r1/site.yaml", "w1")
    _worker(write_profile, "r2/site.ks/sub/w.yaml", "w9")
    result = gen_in_process("build", str(tmp_path / "r1"), str(tmp_path / "r2"), "-o", str(tmp_path / "out"),
                            "--secrets-dir", str(tmp_path / "state"))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    (error,) = [l for l in result.stderr.splitlines() if ": error: " in l]
    assert error.startswith(f"{tmp_path}/r1/site.yaml:") and "would take the name of a folder that holds those of w9" in error


def test_a_folder_named_like_an_artifact_this_build_does_not_write(write_profile, tmp_path):
    """master-cidata.iso/ is a name only --media would write: without it, both build."""
    _worker(write_profile, "site/master.yaml", "w1")
    _worker(write_profile, "site/master-cidata.iso/w.yaml", "w9")
    result = gen_in_process("build", str(tmp_path / "site"), "-o", str(tmp_path / "out"), "--secrets-dir",
                            str(tmp_path / "state"))
    assert result.returncode == 0, result.stderr
    result = gen_in_process("build", str(tmp_path / "site"), "-o", str(tmp_path / "out"), "--media", "--secrets-dir",
                            str(tmp_path / "state"))
    assert result.returncode == 2 and "would take the name of a folder" in result.stderr


def test_a_progress_bar_only_on_a_terminal():
    import io

    from generator.progress import Progress

    quiet = io.StringIO()
    bar = Progress(10, "nodes", stream=quiet)  # StringIO is no terminal
    for done in range(1, 11):
        bar.update(done)
    bar.close()
    assert quiet.getvalue() == ""
    shown = io.StringIO()
    bar = Progress(10, "nodes", stream=shown, force=True)
    bar.start -= 1  # as if the build had run for a second
    bar.update(10)
    bar.close()
    assert "10/10 nodes" in shown.getvalue() and shown.getvalue().endswith("\r\033[K")


def test_the_example_profiles_still_build(tmp_path):
    result = gen_in_process("build", "profiles", "-o", str(tmp_path / "out"), "--secrets-dir", str(tmp_path / "state"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out/http/ks/fleet/k8s-cp-01.ks").exists() and (tmp_path / "out/http/ks/master.ks").exists()
    assert "inst.ks=http://192.168.124.1/k8s/ks/fleet/k8s-cp-01.ks" in (
        tmp_path / "out/tftp/pxelinux.cfg/01-52-54-00-24-00-01").read_text()


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two renames"])
def test_the_new_tree_replaces_the_previous_one(tmp_path, monkeypatch, exchange):
    from generator import outtree

    target = tmp_path / "out"
    target.mkdir()
    (target / "manifest.json").write_text("{}\n")
    (target / "old.ks").write_text("old\n")
    if not exchange:  # a file system without RENAME_EXCHANGE
        monkeypatch.setattr(outtree, "_exchange", lambda a, b: False)
    with outtree.new_tree(target) as staging:
        assert staging.parent == tmp_path and stat.S_IMODE(staging.stat().st_mode) == 0o700
        (staging / "new.ks").write_text("new\n")
        assert (target / "old.ks").exists()  # the previous build stays whole until the new one is complete
    assert sorted(p.name for p in target.iterdir()) == ["new.ks"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_an_interrupt_while_the_tree_is_swapped_in_waits_for_it(tmp_path):
    """Ctrl-C while the previous build is being removed: the new tree is whole in place and nothing is left
    aside (in a fresh interpreter: the signal goes to its main thread)."""
    script = f"""
import json, os, shutil, signal, sys
from pathlib import Path
from generator import outtree
from generator.build import build
out, state = Path({str(tmp_path / "out")!r}), Path({str(tmp_path / "state")!r})
build([Path("profiles/master.yaml")], out, state)
real = shutil.rmtree
def interrupted(path, *args, **kwargs):
    os.kill(os.getpid(), signal.SIGINT)  # in the middle of putting the new tree in place
    real(path, *args, **kwargs)
outtree.shutil.rmtree = interrupted
try:
    build([Path("profiles/worker.yaml")], out, state)
    said = "not interrupted"
except KeyboardInterrupt:
    said = "interrupted"
print(json.dumps([said, sorted(p.name for p in out.parent.iterdir()), sorted(p.name for p in (out / "http/ks").iterdir())]))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    said, beside, kickstarts = json.loads(result.stdout.splitlines()[-1])
    assert said == "interrupted" and beside == ["out", "state"] and kickstarts == ["worker.ks"]


def test_a_link_as_the_target_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out").symlink_to(tmp_path / "elsewhere")
    result = gen_in_process("build", "profiles/fleet", "-o", str(tmp_path / "out"), "--secrets-dir", str(tmp_path / "state"))
    assert result.returncode == 2 and "a symbolic link" in result.stderr
    assert list((tmp_path / "elsewhere").iterdir()) == []
