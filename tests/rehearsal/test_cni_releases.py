"""CNI release facts for air-gapped installs: which registries each release pulls from, and how Cilium's CLI finds
its chart offline and from a system unit (issue 10, items 2 and 7)."""

from pathlib import Path

import pytest
import yaml

from tests.support import standin
from tests.support.common import DATA, ROOT, need, run_gen
from tests.support.rehearsal import run_first_boot, run_kickstart_post
from tests.support.sandbox import Sandbox, bwrap_available

from generator import releases, verify
from generator.kickstart import render_kickstart
from generator.pipeline import node_from_profile
from generator.render import node_files


MIRROR = "https://mirror.internal.example"


def registry_of(image: str) -> str:
    """The registry an image reference names; a first part without '.', ':' or 'localhost' is Docker Hub's."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def manifest_images() -> dict:
    return yaml.safe_load((DATA / "cni_release_images.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("plugin", ["calico", "flannel", "cilium"])
def test_each_release_pulls_from_the_registries_its_manifest_names(plugin):
    extracted = manifest_images()[plugin]
    pinned = releases.cni_plugin(plugin)["versions"]
    assert sorted(pinned) == sorted(extracted), "every pinned release needs the image lines of its manifest"
    for version, entry in pinned.items():
        from_manifest = {registry_of(image) for image in extracted[version]["images"]}
        assert set(entry.get("image_registries", ())) == from_manifest, (plugin, version, extracted[version]["source"])


def test_registry_of_follows_docker_reference_rules():
    assert registry_of("calico/node:v3.15.5") == "docker.io"
    assert registry_of("quay.io/calico/node:v3.31.3") == "quay.io"
    assert registry_of("registry.internal:5000/x") == "registry.internal:5000"
    assert registry_of("busybox") == "docker.io"


def air_gapped(write_profile, plugin: str, version: str, minor: str, mirrored: tuple[str, ...],
               name: str = "a.yaml") -> Path:
    registries = [{"prefix": p, "location": f"registry.internal.example:5000/{p}"} for p in mirrored]
    base = "profiles/classic/master.yaml" if releases.minor_key(minor) < (1, 28) else "profiles/master.yaml"
    return write_profile(name, yaml.safe_dump({
        "extends": base, "air_gapped": True,
        "kubernetes": {"version": minor, "pod_cidr": "10.244.0.0/16"}, "cni": {"plugin": plugin, "version": version},
        "mirrors": {"registries": registries}}))


@pytest.mark.parametrize("plugin, version, minor, mirrored, missing", [
    ("calico", "3.31", "1.33", ("docker.io",), "quay.io"),        # Calico moved to quay.io in 3.30
    ("flannel", "0.13", "1.24", ("docker.io", "ghcr.io"), "quay.io"),  # quay.io/coreos/flannel
    ("flannel", "0.26", "1.30", ("ghcr.io",), "docker.io"),
    ("cilium", "1.19", "1.33", ("docker.io",), "quay.io"),
])
def test_air_gapped_profile_is_told_which_cni_registry_it_still_lacks(write_profile, tmp_path, plugin, version,
                                                                      minor, mirrored, missing):
    profile = air_gapped(write_profile, plugin, version, minor, mirrored)
    warnings = [w for w in node_from_profile(profile, tmp_path).warnings if f"{plugin} {version} images come from" in w.message]
    assert [w for w in warnings if missing in w.message and "mirrors.registries" in w.message], warnings
    assert not [w for w in warnings if any(m in w.message for m in mirrored)], warnings
    result = run_gen("validate", str(profile), env={"K8S_FIRSTBOOT_SECRETS_DIR": str(tmp_path)})
    assert result.returncode == 0 and f"images come from {missing}; add it to mirrors.registries" in result.stderr, \
        result.stdout + result.stderr


def test_air_gapped_calico_before_3_30_needs_docker_io_only(write_profile, tmp_path):
    profile = air_gapped(write_profile, "calico", "3.29", "1.31", ("docker.io",))
    assert not [w for w in node_from_profile(profile, tmp_path).warnings if "calico" in w.message and "images come from" in w.message]


def test_pinned_cilium_cli_embeds_the_charts_releases_yaml_says():
    listing = yaml.safe_load((DATA / "cilium_cli_charts.yaml").read_text(encoding="utf-8"))
    cilium = releases.cni_plugin("cilium")
    embedded = set(listing[cilium["cli_version"]])
    for version, entry in cilium["versions"].items():
        assert entry["cli_embeds_chart"] == (entry["release"] in embedded), (version, entry["release"])
    # the stand-in's compact table says the same as the listing read at each tag
    for tag, charts in listing.items():
        table = standin.CILIUM_CLI_CHARTS[tag]
        assert set(charts) == {f"{minor}.{p}" for minor, last in table.items() for p in range(last + 1)}, tag


def test_air_gapped_cilium_names_the_chart_source_unless_mirrored(write_profile, tmp_path):
    profile = air_gapped(write_profile, "cilium", "1.20", "1.33", ("quay.io",))
    warnings = node_from_profile(profile, tmp_path).warnings
    assert [w for w in warnings if "helm.cilium.io" in w.message and "cni.chart_url" in w.message], warnings
    # a release the CLI embeds needs no chart download at all
    embedded = air_gapped(write_profile, "cilium", "1.19", "1.33", ("quay.io",), "embedded.yaml")
    assert not [w for w in node_from_profile(embedded, tmp_path).warnings if "chart" in w.message]
    mirrored = air_gapped(write_profile, "cilium", "1.20", "1.33", ("quay.io",), "mirrored.yaml")
    mirrored.write_text(mirrored.read_text().replace("plugin: cilium", f"plugin: cilium\n  chart_url: {MIRROR}/cilium-1.20.3.tgz"))
    node = node_from_profile(mirrored, tmp_path)
    assert node.cni.chart_url == f"{MIRROR}/cilium-1.20.3.tgz"
    assert not [w for w in node.warnings if "chart" in w.message], node.warnings
    plan = run_gen("plan", str(mirrored), env={"K8S_FIRSTBOOT_SECRETS_DIR": str(tmp_path)})
    assert "install cilium 1.20.3 with the cilium CLI" in plan.stdout and f"chart from {MIRROR}/cilium-1.20.3.tgz" in plan.stdout
    plan = run_gen("plan", str(embedded), env={"K8S_FIRSTBOOT_SECRETS_DIR": str(tmp_path)})
    assert "install cilium 1.19.5 with the cilium CLI" in plan.stdout and "chart built into the CLI" in plan.stdout


def rehearse(write_profile, tmp_path, cni: str) -> Sandbox:
    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")
    profile = write_profile("c.yaml", f"extends: profiles/master.yaml\nkubernetes: {{version: '1.33'}}\n{cni}\n")
    node = node_from_profile(profile, tmp_path / "state")
    if verify.shellcheck_tool():
        script = [f.content for f in node_files(node) if f.path == "/usr/local/sbin/k8s-firstboot"][0]
        assert verify.shellcheck_findings(script, "cni") == []
    box = Sandbox(tmp_path / "box")
    run_kickstart_post(box, render_kickstart(node), "RHEL9")
    result = run_first_boot(box)
    assert result.returncode == 0, result.stderr[-2000:]
    return box


def test_cilium_installs_its_embedded_chart_from_a_system_unit(write_profile, tmp_path):
    box = rehearse(write_profile, tmp_path, "cni: {plugin: cilium, version: '1.18'}")
    calls = box.command_lines()
    assert [c for c in calls if c.startswith("cilium install --version 1.18.11 ")], calls
    assert not [c for c in calls if "helm.cilium.io" in c or "--chart-directory" in c]
    assert box.file("/var/lib/standin-cilium/cli-release").read_text() == "v0.19.7"


def test_cilium_release_without_embedded_chart_installs_from_the_fetched_chart(write_profile, tmp_path):
    box = rehearse(write_profile, tmp_path, f"cni: {{plugin: cilium, version: '1.20', chart_url: '{MIRROR}/c/cilium-1.20.3.tgz'}}")
    calls = box.command_lines()
    assert [c for c in calls if c.startswith("curl ") and c.endswith(f"{MIRROR}/c/cilium-1.20.3.tgz")], calls
    installs = [c for c in calls if c.startswith("cilium install ")]
    assert installs and installs[0].startswith("cilium install --chart-directory /var/lib/k8s-firstboot/cilium-chart/cilium ")
    assert "version: 1.20.3" in box.file("/var/lib/k8s-firstboot/cilium-chart/cilium/Chart.yaml").read_text()


SYSTEMD_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin", "LANG": "C.UTF-8"}


def test_cilium_standin_refuses_what_the_cli_refuses(tmp_path):
    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")
    box = Sandbox(tmp_path / "box")
    box.file("/var/lib/standin-cilium").mkdir(parents=True)
    box.file("/var/lib/standin-cilium/cli-release").write_text("v0.18.9")
    # embedded in v0.18.9: no cache needed, even without $HOME
    assert box.run(["cilium", "install", "--version", "1.18.3"], env=SYSTEMD_ENV).returncode == 0
    # not embedded: the chart goes to os.UserCacheDir(), which needs $XDG_CACHE_HOME or $HOME
    refused = box.run(["cilium", "install", "--version", "1.18.4"], env=SYSTEMD_ENV)
    assert refused.returncode == 1 and "neither $XDG_CACHE_HOME nor $HOME are defined" in refused.stderr
    assert box.run(["cilium", "install", "--version", "1.18.4"], env={**SYSTEMD_ENV, "HOME": "/root"}).returncode == 0
    assert box.file("/root/.cache/cilium-cli/cilium-1.18.4.tgz").exists()
    # another repository bypasses the embedded charts
    other = box.run(["cilium", "install", "--version", "1.18.3", "--repository", f"{MIRROR}/charts"], env=SYSTEMD_ENV)
    assert other.returncode == 1
    # --chart-directory must hold a chart; unknown flags are refused
    empty = box.run(["cilium", "install", "--chart-directory", "/root/none"], env=SYSTEMD_ENV)
    assert empty.returncode == 1 and "failed to load Helm chart directory" in empty.stderr
    assert box.run(["cilium", "install", "--chart", "x"], env=SYSTEMD_ENV).returncode == 1
