"""Render the node's files: the one bootstrap script, its systemd unit and its config files.

Both carriers (Kickstart, cloud-init) embed exactly this list, so a step is never written twice.
"""

import posixpath
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import jinja2

from generator import TEMPLATES_DIR, configs, node_paths
from generator.node_reads import NodeTemplate
from generator.template_cache import bytecode_cache
from generator.model import Node
from generator.node_paths import (CRIO_DROPIN_PATH, DNF_PROXY_CONF, HOSTS_BLOCK, KEEPALIVED_CHECK, KEEPALIVED_CONF,
                                  KUBEADM_CONFIG, KUBEADM_IMAGES_CONFIG, KUBELET_SYSCONFIG_PATH, MODULES_LOAD_PATH,
                                  NODE_NAME_FILE,
                                  PKI_DIR, PROXY_DROPIN_PATHS, PROXY_ENV, REGISTRIES_PATH, REPORT_CURLRC, RHSM_FILE,
                                  SCRIPT_PATH, SUDOERS_PATH, SYSCTL_PATH, UNIT_PATH)
from generator.plan import TIME_SYNC_LIMIT, Step, plan


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
    env.globals["paths"] = node_paths
    return env


SHELL = _environment(shell=True)
SHELL.globals["configs"] = configs  # config commands built as data (argv lists), quoted by shell_words
TEXT = _environment(shell=False)


class RenderedStep(NamedTuple):  # (a tuple: the script's cache key holds all of them, hashed and compared in C)
    name: str
    phase: str
    body: str


_STEP_TEMPLATES: dict[str, NodeTemplate] = {}
_BOOTSTRAP = NodeTemplate(SHELL, "bootstrap.sh.j2")


def _step_template(name: str) -> NodeTemplate:
    template = _STEP_TEMPLATES.get(name)
    if template is None:
        template = _STEP_TEMPLATES[name] = NodeTemplate(SHELL, f"steps/{name}.sh.j2", strip=True)
    return template


def bootstrap_script(node: Node, steps: list[Step] | None = None) -> str:
    steps = steps if steps is not None else plan(node)
    # each step once per distinct set of the node values it reads: a fleet's workers share most steps, and the
    # script that holds them (it reads no host name) is the same on every node of one shape
    rendered = tuple(RenderedStep(s.name, s.phase, _step_template(s.name).render(node)) for s in steps)
    return _BOOTSTRAP.render(node, steps=rendered, time_sync_limit=TIME_SYNC_LIMIT)


def firstboot_unit(node: Node) -> str:
    return TEXT.get_template("k8s-firstboot.service.j2").render(node=node)


def node_files(node: Node) -> list[NodeFile]:
    """Every file the carrier writes before running the prepare phase, script first."""
    files = [
        NodeFile(SCRIPT_PATH, bootstrap_script(node), 0o755),
        NodeFile(UNIT_PATH, firstboot_unit(node)),
        NodeFile(NODE_NAME_FILE, f"{node.hostname}\n"),
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
        files.append(NodeFile(HOSTS_BLOCK, configs.hosts_block(node)))
    if node.registration:  # read by the os_register step, then removed
        files.append(NodeFile(RHSM_FILE, f"{node.registration.organization}\n"
                                         f"{node.registration.activation_key}\n", 0o600, secret=True))
    if node.report_url:
        files.append(NodeFile(REPORT_CURLRC, configs.report_curlrc(node), 0o600, secret=True))
    if node.proxy:
        files += [NodeFile(PROXY_ENV, configs.proxy_env(node), 0o600, secret=True),  # may hold proxy credentials
                  NodeFile(DNF_PROXY_CONF, configs.dnf_proxy_conf(node),
                           *((0o600, True) if configs.dnf_proxy_has_credentials(node) else ()))]
        files += [NodeFile(path, configs.proxy_dropin()) for path in PROXY_DROPIN_PATHS]
    if node.virtual_ip:
        files += [NodeFile(KEEPALIVED_CONF, configs.keepalived_conf(node)),
                  NodeFile(KEEPALIVED_CHECK, configs.keepalived_check(node), 0o755)]
    if node.admin and node.admin.nopasswd_sudo:
        files.append(NodeFile(SUDOERS_PATH, f"# k8s-firstboot: users.admin.sudo: nopasswd\n"
                                            f"{node.admin.name} ALL=(ALL) NOPASSWD: ALL\n", 0o440))
    if node.registry_mirrors:
        files.append(NodeFile(REGISTRIES_PATH, configs.registries_conf(node)))
    if node.pki:
        files += [NodeFile(f"{PKI_DIR}/{name}", pem, 0o600 if name.endswith(".key") else 0o644,
                           secret=name.endswith(".key"))
                  for name, pem in node.pki.files]
    return files
