"""First boot that survives (issue 5): transient and permanent failures, crashes, a late control plane.

Which command each step runs is written here by hand from the templates' intent (the recipe), not read
from the generator's plan, so a step that stops calling its command, stops retrying it, or re-runs after
it finished makes these tests fail.
"""

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from generator.pipeline import node_from_profile
from generator.plan import plan
from tests.support.common import ROOT, need
from tests.support.rehearsal import DONE, once_per_profile
from tests.support.resilience import (STATUS, clear_faults, clone, boot, fast_profile, kickstart_for, normalized_snapshot,
                        rerun, run_post, status)
from tests.support.sandbox import Sandbox, bwrap_available

MASTER, WORKER = "profiles/master.yaml", "profiles/worker.yaml"
ENDPOINT = "192.168.122.10:6443"   # profiles/cluster.yaml's control_plane_endpoint

# step -> every stand-in call it makes, as command-line prefixes (for "was it run again?")
PREPARE_CALLS = {
    "hosts": [], "os_update": ["dnf -y update"],
    "firewall": ["dnf -y install firewalld", "firewall-offline-cmd", "systemctl enable firewalld.service"],
    "selinux_config": [], "base_packages": ["dnf -y install iproute-tc"], "crio_install": ["dnf -y install cri-o"],
    "crio_bridge_cni_remove": [], "crio_enable": ["systemctl enable crio.service"],
    "kube_install": ["dnf -y install kubelet-"], "swap_fstab": [], "kubelet_enable": ["systemctl enable kubelet.service"],
    "firstboot_enable": ["systemctl enable k8s-firstboot.service"],
}
# images_pull starts the pull in the background and images_wait waits for it, pulling again when the pull
# failed or belonged to an earlier run: the pull's commands are counted as images_wait's
BOOT_CALLS = {
    MASTER: {
        "installer_copies_scrub": [], "firewall_start": ["systemctl is-active", "systemctl start firewalld.service"],
        "kernel_modules": ["modprobe "], "sysctl": ["sysctl "], "selinux_apply": ["getenforce", "setenforce"],
        "swap_off": ["swapoff"], "crio_start": ["systemctl start crio.service"], "images_pull": [],
        "pki_install": [], "images_wait": ["kubeadm config images pull"],
        "kubeadm_init": ["kubeadm init", "kubeadm reset"],
        "admin_kubeconfig": [],
        "cni_apply": ["curl -fsSL", "kubectl --kubeconfig /etc/kubernetes/admin.conf apply"],
        "node_ready": ["kubectl --kubeconfig /etc/kubernetes/admin.conf get node"],
        "cleanup_secrets": [], "finish": [],
    },
    WORKER: {
        "installer_copies_scrub": [], "firewall_start": ["systemctl is-active", "systemctl start firewalld.service"],
        "kernel_modules": ["modprobe "], "sysctl": ["sysctl "], "selinux_apply": ["getenforce", "setenforce"],
        "swap_off": ["swapoff"], "crio_start": ["systemctl start crio.service"], "images_pull": [],
        "api_wait": ["curl -ksf"], "images_wait": ["crictl "], "kubeadm_join": ["kubeadm join", "kubeadm reset"],
        "node_ready": ["kubectl --kubeconfig /etc/kubernetes/kubelet.conf get node"],
        "cleanup_secrets": [], "finish": [],
    },
}

# steps with no crash case: time_sync only waits (bounded) for the clock and never fails; a rerun waits again
NOT_CRASHED = {"time_sync"}


@pytest.mark.parametrize("profile", [MASTER, WORKER])
def test_the_crash_tables_hold_every_step_the_plan_has(profile):
    """A new step gets a crash case, or a line above saying why not."""
    steps = plan(node_from_profile(ROOT / profile))
    assert {s.name for s in steps if s.phase == "prepare"} == set(PREPARE_CALLS)
    assert {s.name for s in steps if s.phase == "boot"} - NOT_CRASHED == set(BOOT_CALLS[profile])


# (step, command, an argument that picks the call out) for every call that can fail for a passing reason:
# the network steps of prepare and every boot step that runs a stand-in. selinux_apply is left out on
# purpose: its getenforce only asks, and when it cannot answer the step leaves SELinux alone.
PREPARE_FAULTS = [("os_update", "dnf", "update"), ("firewall", "dnf", "firewalld"),
                  ("base_packages", "dnf", "iproute-tc"), ("crio_install", "dnf", "cri-o"),
                  ("kube_install", "dnf", "--setopt=disable_excludes=kubernetes")]
BOOT_FAULTS = {
    MASTER: [("kernel_modules", "modprobe", "br_netfilter"), ("sysctl", "sysctl", "--system"),
             ("swap_off", "swapoff", "-a"), ("crio_start", "systemctl", "crio.service"),
             ("images_wait", "kubeadm", "images"), ("kubeadm_init", "kubeadm", "init"),
             ("cni_apply", "curl", "-fsSL"), ("cni_apply", "kubectl", "apply"), ("node_ready", "kubectl", "node")],
    WORKER: [("kernel_modules", "modprobe", "br_netfilter"), ("sysctl", "sysctl", "--system"),
             ("swap_off", "swapoff", "-a"), ("crio_start", "systemctl", "crio.service"),
             ("images_wait", "crictl", "pull"), ("api_wait", "curl", "-ksf"), ("kubeadm_join", "kubeadm", "join"),
             ("node_ready", "kubectl", "node")],
}
# prepare is the same sequence for every role (only the firewall's port list differs), so its faults and
# crashes are tried on the control plane; boot differs by role and is tried on both
FAULT_CASES = ([(MASTER, "prepare", *f) for f in PREPARE_FAULTS] +
               [(p, "boot", *f) for p in (MASTER, WORKER) for f in BOOT_FAULTS[p]])

# where to cut the power inside each step: (command, argument, real tool to watch?) — after the command's
# work (midway for kubeadm init), before the step is recorded, which is the hardest moment to resume from
CRASH_AT = {
    "hosts": ("sed", "/etc/hosts"), "os_update": ("dnf", "update"), "firewall": ("firewall-offline-cmd", None),
    "selinux_config": ("sed", "/etc/selinux/config"), "base_packages": ("dnf", "iproute-tc"),
    "crio_install": ("dnf", "cri-o"), "crio_bridge_cni_remove": ("rm", "/etc/cni/net.d/100-crio-bridge.conf"),
    "crio_enable": ("systemctl", "crio.service"), "kube_install": ("dnf", "--setopt=disable_excludes=kubernetes"),
    "swap_fstab": ("sed", "/etc/fstab"), "kubelet_enable": ("systemctl", "kubelet.service"),
    "firstboot_enable": ("systemctl", "k8s-firstboot.service"),
    "installer_copies_scrub": ("rm", "-f"), "firewall_start": ("systemctl", "firewalld.service"),
    "kernel_modules": ("modprobe", "overlay"), "sysctl": ("sysctl", None), "selinux_apply": ("getenforce", None),
    "swap_off": ("swapoff", None), "crio_start": ("systemctl", "crio.service"), "pki_install": ("cp", "/etc/kubernetes/pki/"),
    "images_pull": ("kubeadm", "images"), "images_wait": ("cat", "/var/lib/k8s-firstboot/images-pull.pid"),
    "kubeadm_init": ("kubeadm", "init"),
    "admin_kubeconfig": ("install", "/root/.kube/config"), "cni_apply": ("kubectl", "apply"),
    "node_ready": ("kubectl", "node"), "cleanup_secrets": ("rm", "-rf"), "finish": ("mkdir", "/etc/motd.d"),
    "api_wait": ("curl", "-ksf"), "kubeadm_join": ("kubeadm", "join"),
}
WORKER_CRASH_AT = {"images_pull": ("crictl", "pull")}
REAL_TOOLS = {"sed", "cp", "rm", "install", "mkdir", "cat"}
# the background pull dies with the machine wherever the foreground has got to by then
CRASH_STEPS = {"images_pull": {"images_pull", "pki_install", "api_wait", "images_wait"}}
# where a retry of the background pull is logged: under the step that started it
LOGGED_AS = {"images_wait": "images_pull"}
CRASH_CASES = [(MASTER, "prepare", s) for s in PREPARE_CALLS] + \
              [(p, "boot", s) for p in (MASTER, WORKER) for s in BOOT_CALLS[p]]


class Node:
    """One fast profile's Kickstart, a sandbox after its %post, and an uninterrupted first boot."""

    def __init__(self, profile: str, base: Path, secrets_dir: Path):
        self.profile = profile
        self.base = base
        self.kickstart, self.handler = kickstart_for(fast_profile(profile, base / "profile"), secrets_dir)
        self.installed = Sandbox(base / "installed")
        result = run_post(self.installed, self.kickstart, self.handler)
        assert result.returncode == 0, result.stderr[-3000:]
        self.post_calls = len(self.installed.calls())
        reference = clone(self.installed, base / "reference")
        result = boot(reference)
        assert result.returncode == 0, result.stderr[-3000:]
        self.reference_snapshot = normalized_snapshot(reference)
        self.reference_calls = set(reference.command_lines())
        self.n = 0

    def fresh(self, tmp: Path) -> Sandbox:
        return Sandbox(tmp / "fresh")

    def after_post(self, tmp: Path) -> Sandbox:
        return clone(self.installed, tmp / "box")


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")
    return once_per_profile(tmp_path_factory, Node)


def calls_matching(lines: list[str], command: str, arg: str | None) -> list[str]:
    return [l for l in lines if l.split(" ")[0] == command and (arg is None or arg in l.split(" ")[1:])]


def retried(stderr: str, step: str, times: int) -> bool:
    return all(re.search(rf"\[{step}\] attempt {n} of '[^']+' failed; retrying", stderr) for n in range(1, times + 1))


def steps_before(profile: str, phase: str, step: str) -> list[str]:
    order = list(PREPARE_CALLS) if phase == "prepare" else list(BOOT_CALLS[profile])
    return order[:order.index(step)]


def run_phase_with(node: Node, tmp: Path, phase: str, faults: list[str]):
    """A sandbox that ran `phase` with `faults` injected (prepare: the whole %post)."""
    box = node.fresh(tmp) if phase == "prepare" else node.after_post(tmp)
    for fault in faults:
        box.inject_fault(fault)
    return box, (run_post(box, node.kickstart, node.handler) if phase == "prepare" else boot(box))


def observe(box: Sandbox, result) -> dict:
    """What a person could see after a run: exit status, log, console, status file, markers, calls."""
    return {"rc": result.returncode, "stderr": result.stderr, "console": box.console(),
            "status": status(box) if box.file(STATUS).exists() else None, "done": box.file(DONE).exists(),
            "markers": sorted(p.name for p in box.file("/var/lib/k8s-firstboot/steps").glob("*")),
            "calls": box.command_lines()}


def transient(node: Node, tmp: Path, phase: str) -> dict:
    """Every fault-prone call of the phase fails twice, in one run; then the node finishes booting."""
    cases = [c for c in FAULT_CASES if c[0] == node.profile and c[1] == phase]
    box, result = run_phase_with(node, tmp, phase, [f"2 {command} {arg}" for _, _, _, command, arg in cases])
    seen = observe(box, result)
    if phase == "prepare" and result.returncode == 0:
        seen["boot"] = observe(box, boot(box))
    return seen


def permanent(node: Node, tmp: Path, phase: str, command: str, arg: str) -> dict:
    """One call fails every time; then the cause goes away and the phase is run again."""
    box, result = run_phase_with(node, tmp, phase, [f"always {command} {arg}"])
    seen = {"failed": observe(box, result)}
    clear_faults(box)
    seen["rerun"] = observe(box, rerun(box, phase))
    if phase == "prepare":
        seen["boot"] = observe(box, boot(box))
    return seen


def crash(node: Node, tmp: Path, phase: str, step: str) -> dict:
    """The power goes out inside `step`; the machine comes back and carries on."""
    command, arg = (WORKER_CRASH_AT if node.profile == WORKER else {}).get(step, CRASH_AT[step])
    box = node.fresh(tmp) if phase == "prepare" else node.after_post(tmp)
    if command in REAL_TOOLS:
        box.watch(command)
    box.inject_fault(f"1 {command} {arg} kill" if arg else f"1 {command} kill")
    result = run_post(box, node.kickstart, node.handler) if phase == "prepare" else boot(box)
    seen = {"crashed": observe(box, result)}
    # the machine comes back: the installer's %post runs again (prepare), the unit runs at boot
    if phase == "prepare":
        seen["post"] = observe(box, run_post(box, node.kickstart, node.handler))
    seen["boot"] = observe(box, boot(box))
    seen["snapshot"] = normalized_snapshot(box)
    return seen


@pytest.fixture(scope="module")
def outcomes(nodes, tmp_path_factory):
    """Every scenario of this module, run up front a few at a time (each is a handful of sandbox runs that
    mostly wait on processes); the tests below then judge one scenario each."""
    jobs = {("transient", p, ph): (transient, p, ph) for p, ph, *_ in FAULT_CASES}
    jobs.update({("permanent", p, ph, c, a): (permanent, p, ph, c, a) for p, ph, _, c, a in FAULT_CASES})
    jobs.update({("crash", p, ph, s): (crash, p, ph, s) for p, ph, s in CRASH_CASES})
    for profile in (MASTER, WORKER):
        nodes(profile)

    def run(key):
        fn, profile, *args = jobs[key]
        try:
            return fn(nodes(profile), tmp_path_factory.mktemp(key[0]), *args)
        except Exception as exc:  # reported by the test that looks at this scenario
            return exc
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = dict(zip(jobs, pool.map(run, jobs)))

    def get(*key):
        seen = done[key]
        if isinstance(seen, Exception):
            raise seen
        return seen
    return get


@pytest.mark.parametrize("profile,phase,step,command,arg", FAULT_CASES)
def test_a_step_survives_two_failures(outcomes, profile, phase, step, command, arg):
    seen = outcomes("transient", profile, phase)
    assert seen["rc"] == 0, seen["stderr"][-3000:]
    assert retried(seen["console"], LOGGED_AS.get(step, step), 2), seen["console"][-3000:]
    assert len(calls_matching(seen["calls"], command, arg)) >= 3   # two failures, then the one that worked
    final = seen.get("boot", seen)
    assert final["rc"] == 0, final["stderr"][-3000:]
    assert final["done"] and final["status"]["state"] == "done"


@pytest.mark.parametrize("profile,phase,step,command,arg", FAULT_CASES)
def test_a_step_that_keeps_failing_stops_clearly_and_resumes(outcomes, profile, phase, step, command, arg):
    seen = outcomes("permanent", profile, phase, command, arg)
    failed = seen["failed"]
    assert failed["rc"] != 0
    state = failed["status"]
    assert state["state"] == "failed" and state["step"] == step and step in state["error"], state
    lines = [l for l in failed["console"].splitlines() if "FAILED" in l]
    assert lines and f"[{step}]" in lines[-1] and f"k8s-firstboot {phase}" in lines[-1], failed["console"][-2000:]
    assert not failed["done"] and step not in failed["markers"]
    # a failure is bounded by the pause budget: a handful of attempts (twice that for the image pull, which
    # images_wait starts once more before giving up), not an endless loop
    assert 2 <= len(calls_matching(failed["calls"], command, arg)) <= 12

    # the cause is fixed; the operator (prepare) or the unit at the next boot (boot) runs the phase again
    rerun_ = seen["rerun"]
    assert rerun_["rc"] == 0, rerun_["stderr"][-3000:]
    again = rerun_["calls"][len(failed["calls"]):]
    table = PREPARE_CALLS if phase == "prepare" else BOOT_CALLS[profile]
    for earlier in steps_before(profile, phase, step):
        if table[earlier]:
            assert not [l for l in again if l.startswith(tuple(table[earlier]))], (earlier, again)
        assert f"[{earlier}] already done" in rerun_["stderr"]
    assert calls_matching(again, command, arg), "the failed step must run again"
    final = seen.get("boot", rerun_)
    assert final["rc"] == 0 and final["done"] and final["status"]["state"] == "done", final["stderr"][-3000:]


@pytest.mark.parametrize("profile,phase,step", CRASH_CASES)
def test_a_crash_in_any_step_resumes_to_the_same_node(nodes, outcomes, profile, phase, step):
    node = nodes(profile)
    seen = outcomes("crash", profile, phase, step)
    crashed = seen["crashed"]
    assert crashed["rc"] != 0
    # the power went out inside this step: it was running and is not recorded as done
    assert crashed["status"]["step"] in CRASH_STEPS.get(step, {step}), crashed["status"]
    # (the background pull may also die just after a step's "done", before the next one starts)
    assert crashed["status"]["state"] in ({"running", "done"} if step in CRASH_STEPS else {"running"}), crashed["status"]
    if step not in CRASH_STEPS:   # (the background pull may die between a marker and its status line)
        assert step not in crashed["markers"]
    assert "FAILED" not in crashed["console"]   # nothing ran after the cut, not even the EXIT trap
    if phase == "prepare":
        assert seen["post"]["rc"] == 0, seen["post"]["stderr"][-3000:]
    assert seen["boot"]["rc"] == 0, seen["boot"]["stderr"][-3000:]
    assert seen["snapshot"] == node.reference_snapshot
    effects = set(seen["boot"]["calls"])
    if step == "kubeadm_init":   # the half-made control plane is reset before kubeadm init runs again
        assert "kubeadm reset -f" in seen["boot"]["calls"]
        effects.discard("kubeadm reset -f")
    assert effects == node.reference_calls


def test_snapshot_comparison_sees_a_difference(nodes, tmp_path):
    """The crash test's yardstick is not blind: a node with one file changed does not compare equal."""
    node = nodes(MASTER)
    box = node.after_post(tmp_path)
    assert boot(box).returncode == 0
    assert normalized_snapshot(box) == node.reference_snapshot
    box.file("/etc/hosts").write_text(box.file("/etc/hosts").read_text() + "10.9.9.9 extra\n")
    assert normalized_snapshot(box) != node.reference_snapshot


def test_a_worker_waits_for_a_late_control_plane(nodes, tmp_path):
    box = nodes(WORKER).after_post(tmp_path)
    box.inject_fault("3 curl -ksf")        # /readyz answers at the fourth try
    box.inject_fault("2 kubeadm join")     # and the first two joins are refused
    result = boot(box)
    assert result.returncode == 0, result.stderr[-3000:]
    assert retried(result.stderr, "api_wait", 3) and retried(result.stderr, "kubeadm_join", 2)
    lines = box.command_lines()
    assert len(calls_matching(lines, "curl", "-ksf")) == 4
    assert len(calls_matching(lines, "kubeadm", "join")) == 3
    # each refused join is cleaned up before the next (kubeadm refuses to join over a half-joined node)
    joins = [i for i, l in enumerate(lines) if l.startswith("kubeadm join")]
    assert all("kubeadm reset -f" in lines[a:b] for a, b in zip(joins, joins[1:]))
    assert box.file(DONE).exists()


def test_a_worker_whose_control_plane_never_answers_fails_within_the_bound(nodes, tmp_path):
    box = nodes(WORKER).after_post(tmp_path)
    box.inject_fault("always curl -ksf")
    started = time.monotonic()
    result = boot(box)
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert elapsed < 30, f"took {elapsed:.0f}s, more than bootstrap.step_timeout"
    assert 3 <= len(calls_matching(box.command_lines(), "curl", "-ksf")) <= 8
    console = box.console()
    failed = [l for l in console.splitlines() if "FAILED" in l]
    assert failed and ENDPOINT in failed[-1] and "[api_wait]" in failed[-1], console[-2000:]
    assert f"https://{ENDPOINT}/readyz did not answer within 30s" in failed[-1]
    state = status(box)
    assert state["state"] == "failed" and state["step"] == "api_wait" and ENDPOINT in state["error"]
    assert not calls_matching(box.command_lines(), "kubeadm", "join")
    assert not box.file(DONE).exists()
