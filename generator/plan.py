"""The bootstrap sequence, written once: which steps this node runs, in which phase, in which order.

Each step's shell lives in templates/steps/<name>.sh.j2; the Kickstart and cloud-init carriers both
embed the one script rendered from this list. The order follows the classic recipe that profiles/classic reproduces.
"""

from dataclasses import dataclass

from generator.model import Node
from generator.node_paths import OS_REPO_PATH

PREPARE, BOOT = "prepare", "boot"
TIME_SYNC_LIMIT = 180  # seconds the boot waits for NTP before kubeadm; bounded, since some sites have none


@dataclass(frozen=True)
class Step:
    name: str
    phase: str
    title: str


def plan(node: Node) -> list[Step]:
    k, os_ = node.kube, node.os
    init = node.action == "init"
    control_plane = node.is_control_plane
    firewall = {
        "ports": f"firewalld: open {', '.join(node.firewall_ports + node.firewall_protocols)}; trust the CNI's "
                 f"interfaces {', '.join(node.cni.interfaces)} (forwarded pod traffic)",
        "trusted": "firewalld: default zone 'trusted'",
        "disabled": "firewalld disabled",
    }[os_.firewall]
    manifest = node.cni.manifest_url or f"{node.cni.manifest_member} from {node.cni.manifest_archive}"
    candidates: list[tuple[bool, str, str, str]] = [
        # first: should prepare fail (cloud-init's runcmd runs once), the unit finishes it at the next boot
        (True, "firstboot_enable", PREPARE, "enable k8s-firstboot.service to run the boot phase"),
        # registration writes redhat.repo: os_repos, after it, leaves only the profile's OS repositories enabled
        (os_.registration, "os_register", PREPARE, "register with Red Hat (subscription-manager, activation key)"),
        (os_.own_repos, "os_repos", PREPARE, "disable the distro's stock repo files: the OS repositories are "
         + ", ".join(r.baseurl for f in node.repo_files if f.path == OS_REPO_PATH for r in f.repos)),
        (bool(node.hosts), "hosts", PREPARE, "/etc/hosts entries from the profile"),
        (bool(node.proxy), "dnf_proxy", PREPARE, "keep dnf on the profile's proxy after the bootstrap (/etc/dnf/dnf.conf)"),
        (os_.update, "os_update", PREPARE, "update the operating system (dnf -y update)"),
        (True, "firewall", PREPARE, firewall),
        (True, "selinux_config", PREPARE, f"SELinux {os_.selinux} from the next boot on (/etc/selinux/config)"),
        (True, "base_packages", PREPARE, f"install {', '.join(node.packages)}"),
        (True, "crio_install", PREPARE, f"install CRI-O {k.minor} ({', '.join(node.crio_packages)})"),
        (k.crio_conmon_path_fix, "crio_conmon_fix", PREPARE, "point crio.conf at /usr/bin/conmon"),
        (bool(k.crio_bridge_cni_files), "crio_bridge_cni_remove", PREPARE,
         "remove CRI-O's sample bridge CNI config so it cannot fight the cluster CNI"),
        (True, "crio_enable", PREPARE, "enable crio.service"),
        (True, "kube_install", PREPARE, f"install {', '.join(node.kube_packages)} (excluded from later updates)"),
        (True, "swap_fstab", PREPARE, "keep swap off for good (fstab" + (", zram" if os_.zram_swap else "") + ")"),
        (True, "kubelet_enable", PREPARE, "enable kubelet.service"),
        (True, "installer_copies_scrub", BOOT, "scrub Anaconda's copies of the Kickstart (token, CA keys in %post)"),
        (os_.firewall != "disabled", "firewall_start", BOOT, "start firewalld (cloud-init enabled it in a running system)"),
        (True, "kernel_modules", BOOT, "load overlay and br_netfilter (and at every boot: modules-load.d)"),
        (True, "sysctl", BOOT, "apply bridge-nf-call-iptables/ip6tables and ip_forward (sysctl --system)"),
        (True, "selinux_apply", BOOT, f"SELinux {os_.selinux} now"),
        (True, "swap_off", BOOT, "swapoff -a"),
        (True, "time_sync", BOOT, f"wait up to {TIME_SYNC_LIMIT}s for NTP to set the clock (TLS needs it); then go on"),
        (True, "crio_start", BOOT, "start CRI-O"),
        (True, "images_pull", BOOT, "start pulling " + ("the control-plane images" if control_plane else
                                    f"{k.pause_image} and kube-proxy") + " in the background"),
        (control_plane, "pki_install", BOOT, "install the cluster CAs into /etc/kubernetes/pki"),
        (bool(node.virtual_ip), "vip_start", BOOT,
         f"start keepalived for {node.virtual_ip.address if node.virtual_ip else ''} (priority "
         f"{node.virtual_ip.priority if node.virtual_ip else ''})"),
        (init, "images_wait", BOOT, "wait for the image pull to finish"),
        (init, "kubeadm_init", BOOT, f"kubeadm init (Kubernetes {k.version}, pods {k.pod_cidr}, services {k.service_cidr})"),
        (not init, "api_wait", BOOT, f"wait for the API server at {node.endpoint}"),
        (not init, "images_wait", BOOT, "wait for the image pull to finish"),
        (not init, "kubeadm_join", BOOT,
         f"kubeadm join {node.endpoint}" + (" --control-plane" if control_plane else "")),
        (control_plane, "admin_kubeconfig", BOOT, "admin kubeconfig for root" + (f" and {node.admin.name}" if node.admin else "")),
        (init, "cni_apply", BOOT, f"apply {node.cni.plugin} {node.cni.version} ({manifest})"
         if node.cni.install == "manifest" else f"install cilium {node.cni.release} with the cilium CLI ({node.cni.cli_url}), "
         + (f"chart from {node.cni.chart_url}" if node.cni.chart_url else "chart built into the CLI")),
        (True, "node_ready", BOOT, f"wait until node {node.hostname} is Ready"),
        (True, "cleanup_secrets", BOOT, "remove the kubeadm config (bootstrap token) and CA copies"),
        (True, "finish", BOOT, "done-marker, login banner, console message"),
    ]
    return [Step(name, phase, title) for wanted, name, phase, title in candidates if wanted]
