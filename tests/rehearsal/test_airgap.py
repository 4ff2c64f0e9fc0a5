"""The README's air-gapped example finishes its first boot where nothing public answers (issue 10).

The sandbox's stand-ins fail every public source: dnf repositories (the stock repo files an install leaves
included) and their keys, curl, image pulls by kubeadm and crictl (after CRI-O's registry mirrors); only the
site's own hosts (`.lan`) answer.
"""

import re

import pytest
import yaml

from tests.support.common import ROOT, need
from tests.support.rehearsal import run_first_boot, run_kickstart_post
from tests.support.sandbox import Sandbox, bwrap_available

from generator.kickstart import render_kickstart
from generator.pipeline import node_from_profile

PUBLIC = ("pkgs.k8s.io", "download.opensuse.org", "registry.k8s.io", "quay.io", "docker.io", "ghcr.io",
          "github.com", "rockylinux.org", "fedoraproject.org")


def readme_example() -> dict:
    """The YAML block under the README's "Mirrors, proxies and air-gapped installs" heading."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Mirrors, proxies and air-gapped installs"):]
    block = re.search(r"\n\n((?:    .*\n)+)", section).group(1)
    return yaml.safe_load("\n".join(line[4:] for line in block.splitlines()))


@pytest.fixture(autouse=True)
def sandbox_available():
    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")


def rehearse(write_profile, tmp_path, base: str, settings: dict):
    node = node_from_profile(write_profile("site.yaml", yaml.safe_dump({"extends": base, **settings})),
                             tmp_path / "secrets")
    box = Sandbox(tmp_path / "box", os_key=node.os.key, reachable=())  # the site's own hosts only
    run_kickstart_post(box, render_kickstart(node), node.os.ks_handler)
    return node, box, run_first_boot(box)


@pytest.mark.parametrize("base", ["profiles/master.yaml", "profiles/worker.yaml"])
@pytest.mark.parametrize("proxied", [True, False])
def test_readme_air_gapped_example_boots_with_nothing_public(write_profile, tmp_path, base, proxied):
    settings = readme_example()
    if not proxied:
        del settings["proxy"]
    node, box, result = rehearse(write_profile, tmp_path, base, settings)
    assert [w for w in node.warnings if w.path == "air_gapped"] == []
    assert result.returncode == 0, result.stderr[-3000:]
    assert box.file("/var/lib/k8s-firstboot/done").exists()
    used = "\n".join(box.command_lines())
    assert not [host for host in PUBLIC if host in used], used


def test_the_air_gap_is_real(write_profile, tmp_path):
    """The same site without its image mirror: kubeadm's pull of registry.k8s.io fails, and so does the boot."""
    settings = readme_example()
    del settings["mirrors"]["images"]
    node, box, result = rehearse(write_profile, tmp_path, "profiles/master.yaml", settings)
    assert any("mirrors.images" in w.message for w in node.warnings)
    assert result.returncode != 0
    assert "lookup registry.k8s.io: no such host" in box.file("/var/lib/k8s-firstboot/images-pull.log").read_text()


def test_strict_validate_names_every_public_source_with_its_key(write_profile, tmp_path):
    """`gen validate --strict` on an air-gapped profile: exit 2, one line per public source and the key that
    replaces it (the air gap warnings become problems)."""
    from tests.support.common import run_gen

    profile = write_profile("a.yaml", "extends: profiles/master.yaml\nair_gapped: true\n")
    result = run_gen("validate", "--strict", str(profile), env={"K8S_FIRSTBOOT_SECRETS_DIR": str(tmp_path / "s")})
    assert result.returncode == 2, result.stdout + result.stderr
    for key in ("os.install_url", "mirrors.kubernetes.baseurl", "mirrors.kubernetes.gpgkey", "mirrors.crio.baseurl",
                "mirrors.crio.gpgkey", "cni.manifest_url", "mirrors.images", "mirrors.registries"):
        assert key in result.stderr, (key, result.stderr)
    readme = write_profile("r.yaml", yaml.safe_dump({"extends": "profiles/master.yaml", **readme_example()}))
    result = run_gen("validate", "--strict", str(readme), env={"K8S_FIRSTBOOT_SECRETS_DIR": str(tmp_path / "s")})
    assert "air_gapped" not in result.stdout + result.stderr, result.stdout + result.stderr
