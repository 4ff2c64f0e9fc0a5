"""The bootstrap sequence (generator.plan): which steps each kind of node runs, in which phase and order.

The order constraints are the classic recipe's (profiles/classic) and the tools': kubeadm needs CRI-O running and the images
pulled; the token and CA copies go only after kubeadm used them; a join waits for the API server.
"""

import pytest

from generator import TEMPLATES_DIR
from generator.pipeline import is_node_profile, node_from_profile
from generator.load import load_profile
from generator.plan import BOOT, PREPARE, plan
from tests.support.common import ALL_PROFILES, ROOT

NODE_PROFILES = [p for p in ALL_PROFILES if is_node_profile(load_profile(ROOT / p))]


def step_names(profile: str) -> list[str]:
    return [s.name for s in plan(node_from_profile(ROOT / profile))]


def before(names: list[str], first: str, then: str) -> bool:
    return names.index(first) < names.index(then)


@pytest.mark.parametrize("profile", NODE_PROFILES)
def test_every_plan_is_two_phases_with_each_step_once(profile):
    steps = plan(node_from_profile(ROOT / profile))
    phases = [s.phase for s in steps]
    assert phases == sorted(phases, key=[PREPARE, BOOT].index), "no prepare step may follow a boot step"
    names = [s.name for s in steps]
    assert len(names) == len(set(names)), names
    assert names[0] == "firstboot_enable" and names[-1] == "finish"
    assert all(s.title and "\n" not in s.title for s in steps)


@pytest.mark.parametrize("profile", NODE_PROFILES)
def test_steps_follow_what_each_tool_needs(profile):
    names = step_names(profile)
    kubeadm = "kubeadm_init" if "kubeadm_init" in names else "kubeadm_join"
    for first, then in [("crio_install", "crio_enable"), ("kube_install", "kubelet_enable"),
                        ("kernel_modules", "sysctl"),  # the bridge sysctls exist only once br_netfilter is loaded
                        ("swap_off", kubeadm), ("crio_start", "images_pull"), ("images_pull", "images_wait"),
                        ("images_wait", kubeadm), ("time_sync", kubeadm), (kubeadm, "node_ready"),
                        (kubeadm, "cleanup_secrets"), ("installer_copies_scrub", kubeadm)]:
        assert before(names, first, then), f"{first} must run before {then}"
    if "os_register" in names:
        assert before(names, "os_register", "os_repos")
    if "os_repos" in names:
        assert before(names, "os_repos", "os_update")


def test_each_role_runs_its_own_kubeadm_steps():
    first = step_names("profiles/ha/cp1.yaml")
    joining_cp = step_names("profiles/ha/cp2.yaml")
    worker = step_names("profiles/ha/worker1.yaml")
    assert {"kubeadm_init", "cni_apply", "pki_install", "admin_kubeconfig"} <= set(first)
    assert not {"kubeadm_join", "api_wait"} & set(first)
    assert {"api_wait", "kubeadm_join", "pki_install", "admin_kubeconfig", "vip_start"} <= set(joining_cp)
    assert not {"kubeadm_init", "cni_apply"} & set(joining_cp)  # the CNI is applied once, by the first
    assert {"api_wait", "kubeadm_join"} <= set(worker)
    assert not {"kubeadm_init", "cni_apply", "pki_install", "admin_kubeconfig", "vip_start"} & set(worker)
    assert before(joining_cp, "api_wait", "kubeadm_join")


def test_optional_steps_follow_the_profile(write_profile):
    plain = step_names("profiles/worker.yaml")
    assert "dnf_proxy" not in plain
    proxied = write_profile("w.yaml", "extends: profiles/worker.yaml\nproxy:\n  http: http://proxy.lab.example:3128\n")
    assert "dnf_proxy" in [s.name for s in plan(node_from_profile(proxied))]
    off = write_profile("off.yaml", "extends: profiles/worker.yaml\nos:\n  firewall: disabled\n")
    assert "firewall_start" not in [s.name for s in plan(node_from_profile(off))]
    assert "firewall_start" in plain


def test_every_step_has_a_template_and_every_template_a_step():
    used = {name for profile in NODE_PROFILES for name in step_names(profile)}
    templates = {p.name.removesuffix(".sh.j2") for p in (TEMPLATES_DIR / "steps").glob("*.sh.j2")}
    assert used <= templates, used - templates
    # a template no example plans is either dead or untested: name the profile option that plans it here
    planned_elsewhere = {"dnf_proxy", "os_register"}
    assert templates - used <= planned_elsewhere, templates - used - planned_elsewhere
