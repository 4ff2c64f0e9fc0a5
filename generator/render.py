"""Render the node's files: the one bootstrap script, its systemd unit and its config files.

Both carriers (Kickstart, cloud-init) embed exactly this list, so a step is never written twice.
"""

import posixpath
import shlex
from dataclasses import dataclass
from pathlib import Path

import jinja2

from generator import TEMPLATES_DIR, configs
from generator.template_cache import bytecode_cache
from generator.model import Node
from generator.plan import TIME_SYNC_LIMIT, Step, plan

SCRIPT_PATH = "/usr/local/sbin/k8s-firstboot"
UNIT_PATH = "/etc/systemd/system/k8s-firstboot.service"
CONFIG_DIR = "/etc/k8s-firstboot"
DONE_MARKER = "/var/lib/k8s-firstboot/done"   # the script's $DONE_MARKER, the unit's ConditionPathExists
PROXY_ENV = f"{CONFIG_DIR}/proxy.env"
PROXY_BOOT_ENV = f"{CONFIG_DIR}/proxy-boot.env"   # NO_PROXY with the address the host has at boot
REPORT_CURLRC = f"{CONFIG_DIR}/report.curlrc"
KUBEADM_CONFIG = f"{CONFIG_DIR}/kubeadm.yaml"
MODULES_LOAD_PATH = "/etc/modules-load.d/k8s-firstboot.conf"
SYSCTL_PATH = "/etc/sysctl.d/99-kubernetes-cri.conf"
CRIO_DROPIN_PATH = "/etc/crio/crio.conf.d/90-k8s-firstboot.conf"
KUBELET_SYSCONFIG_PATH = "/etc/sysconfig/kubelet"
KUBEADM_IMAGES_CONFIG = f"{CONFIG_DIR}/kubeadm-images.yaml"
SUDOERS_PATH = "/etc/sudoers.d/k8s-firstboot-admin"   # no dot in the name: sudo skips such files
REGISTRIES_PATH = "/etc/containers/registries.conf.d/90-k8s-firstboot.conf"
PROXY_DROPIN_PATHS = tuple(f"/etc/systemd/system/{unit}.service.d/90-k8s-firstboot-proxy.conf" for unit in ("crio", "kubelet"))
STATE_DIR = "/var/lib/k8s-firstboot"  # the done-marker and step records (templates/bootstrap.sh.j2)
# files node_files() may write whatever the profile says (repo files come from generator.resolve.REPO_PATHS)
FIXED_PATHS = (SCRIPT_PATH, UNIT_PATH, MODULES_LOAD_PATH, SYSCTL_PATH, CRIO_DROPIN_PATH, KUBELET_SYSCONFIG_PATH,
               SUDOERS_PATH)
# files written only for some profiles, and folders that are the bootstrap's alone
CONDITIONAL_PATHS = PROXY_DROPIN_PATHS + (REGISTRIES_PATH, configs.KEEPALIVED_CONF, configs.KEEPALIVED_CHECK)
OWN_DIRS = (CONFIG_DIR, STATE_DIR)


@dataclass(frozen=True)
class NodeFile:
    path: str
    content: str
    mode: int = 0o644
    secret: bool = False   # holds keys or the bootstrap token


class Raw(str):
    """Text a template may emit into shell unquoted (already safe)."""


def _shell_value(value) -> str:
    if isinstance(value, Raw):
        return value
    if value is None:
        return ""
    return shlex.quote(str(value))


def _shell_words(values) -> Raw:
    return Raw(" ".join(shlex.quote(str(v)) for v in values))


def _comment(value) -> Raw:
    """Text for a comment: one line, unquoted (a comment runs nothing)."""
    return Raw(" ".join(str(value).split()))


def _environment(shell: bool) -> jinja2.Environment:
    # every setting and filter of both environments is here: the template cache is keyed on this file's text
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        finalize=_shell_value if shell else None,
        bytecode_cache=bytecode_cache(Path(__file__), "shell" if shell else "text"),
        # a template is loaded once per process: the templates ship with gen and do not change under a run
        auto_reload=False,
    )
    env.filters["raw"] = Raw
    env.filters["shell_words"] = _shell_words
    env.filters["comment"] = _comment
    env.filters["dirname"] = posixpath.dirname
    return env


SHELL = _environment(shell=True)
SHELL.globals["configs"] = configs  # config commands built as data (argv lists), quoted by shell_words
TEXT = _environment(shell=False)


@dataclass(frozen=True)
class RenderedStep:
    name: str
    phase: str
    title: str
    body: str


def bootstrap_script(node: Node, steps: list[Step] | None = None) -> str:
    steps = steps if steps is not None else plan(node)
    rendered = [
        RenderedStep(s.name, s.phase, s.title, SHELL.get_template(f"steps/{s.name}.sh.j2").render(node=node).strip())
        for s in steps
    ]
    return SHELL.get_template("bootstrap.sh.j2").render(node=node, steps=rendered, proxy_boot_env=PROXY_BOOT_ENV,
                                                        time_sync_limit=TIME_SYNC_LIMIT)


def firstboot_unit(node: Node) -> str:
    return TEXT.get_template("k8s-firstboot.service.j2").render(node=node)


def node_files(node: Node) -> list[NodeFile]:
    """Every file the carrier writes before running the prepare phase, script first."""
    files = [
        NodeFile(SCRIPT_PATH, bootstrap_script(node), 0o755),
        NodeFile(UNIT_PATH, firstboot_unit(node)),
    ]
    files += [NodeFile(r.path, configs.repo_file(r)) for r in node.repo_files]
    files += [
        NodeFile(MODULES_LOAD_PATH, configs.modules_load()),
        NodeFile(SYSCTL_PATH, configs.sysctl_conf()),
        NodeFile(CRIO_DROPIN_PATH, configs.crio_dropin(node)),
        NodeFile(KUBELET_SYSCONFIG_PATH, configs.kubelet_sysconfig(node)),
        NodeFile(KUBEADM_CONFIG, configs.kubeadm_config(node), 0o600, secret=True),
    ]
    if node.action == "join-control-plane":
        files.append(NodeFile(KUBEADM_IMAGES_CONFIG, configs.kubeadm_images_config(node)))
    if node.hosts:
        files.append(NodeFile(f"{CONFIG_DIR}/hosts", configs.hosts_block(node)))
    if node.registration:  # read by the os_register step, then removed
        files.append(NodeFile(f"{CONFIG_DIR}/rhsm", f"{node.registration.organization}\n"
                                                    f"{node.registration.activation_key}\n", 0o600, secret=True))
    if node.report_url:
        files.append(NodeFile(REPORT_CURLRC, configs.report_curlrc(node), 0o600, secret=True))
    if node.proxy:
        files += [NodeFile(PROXY_ENV, configs.proxy_env(node), 0o600, secret=True),  # may hold proxy credentials
                  NodeFile(configs.DNF_PROXY_CONF, configs.dnf_proxy_conf(node),
                           *((0o600, True) if configs.dnf_proxy_has_credentials(node) else ()))]
        files += [NodeFile(path, configs.proxy_dropin()) for path in PROXY_DROPIN_PATHS]
    if node.virtual_ip:
        files += [NodeFile(configs.KEEPALIVED_CONF, configs.keepalived_conf(node)),
                  NodeFile(configs.KEEPALIVED_CHECK, configs.keepalived_check(node), 0o755)]
    if node.admin and node.admin.nopasswd_sudo:
        files.append(NodeFile(SUDOERS_PATH, f"# k8s-firstboot: users.admin.sudo: nopasswd\n"
                                            f"{node.admin.name} ALL=(ALL) NOPASSWD: ALL\n", 0o440))
    if node.registry_mirrors:
        files.append(NodeFile(REGISTRIES_PATH, configs.registries_conf(node)))
    if node.pki:
        files += [NodeFile(f"{CONFIG_DIR}/pki/{name}", pem, 0o600 if name.endswith(".key") else 0o644,
                           secret=name.endswith(".key"))
                  for name, pem in node.pki.files]
    return files
