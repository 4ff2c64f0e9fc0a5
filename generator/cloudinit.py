"""The cloud-init carrier: #cloud-config user-data that writes the node's files and runs both phases.

The cloud-config is built as data and dumped as YAML (never templated text). write_files carries exactly
node_files() — the bootstrap script, its unit, the repo files and configs — as the Kickstart does;
runcmd runs the prepare phase and then the boot phase. Host name, users and keys use cloud-init's own keys.
"""

import posixpath
import shlex

import yaml

from generator.model import Node
from generator.render import CONFIG_DIR, SCRIPT_PATH, NodeFile, node_files

HEADER = "#cloud-config"


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings (file contents) as literal `|` blocks."""


# characters a YAML loader reads as line breaks: a block scalar would carry them onto the node as "\n";
# PyYAML's emitter writes them unescaped in literal blocks, and as escapes in double quotes
YAML_BREAKS = ("\x85", "\u2028", "\u2029")


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = None
    if any(c in value for c in YAML_BREAKS):
        style = '"'  # escaped, so the content reaches the node byte for byte
    elif "\n" in value:
        style = "|"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(data: dict) -> str:
    """YAML text of a cloud-config mapping: keys in the order given, lines never folded."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1 << 20,
                     allow_unicode=True)


def private_dirs(files: list[NodeFile]) -> list[str]:
    """CONFIG_DIR and every folder under it that holds a secret file, parents first."""
    dirs = {CONFIG_DIR}
    for f in files:
        folder = posixpath.dirname(f.path)
        while f.secret and folder.startswith(CONFIG_DIR + "/"):
            dirs.add(folder)
            folder = posixpath.dirname(folder)
    return sorted(dirs)


def private_dirs_command(files: list[NodeFile]) -> str:
    """A bootcmd line making the secret folders 0700 before write_files runs.

    cloud-init 22.4's write_files makes missing folders 0755 and opens each file with the default 0666 & umask,
    chmod'ing it only after the content is in (cloudinit/util.py write_file); bootcmd runs before write_files
    in the default module order (config/cloud.cfg.tmpl), and write_files leaves existing folders' modes alone.
    """
    dirs = " ".join(shlex.quote(d) for d in private_dirs(files))
    return f"umask 077 && mkdir -p {dirs} && chmod 0700 {dirs}"


def _write_file(f: NodeFile) -> dict:
    entry = {"path": f.path}
    if f.mode != 0o644:  # cloud-init's default is 0644 root:root
        entry["permissions"] = f"{f.mode:04o}"
    entry["content"] = f.content
    return entry


def _users(node: Node) -> list[dict] | None:
    """The admin (instead of the image's default user) and root, as the profile says; None keeps the image's."""
    users = []
    if node.admin:
        admin = {"name": node.admin.name, "groups": "wheel"}
        if node.admin.password_hash:
            admin["passwd"] = node.admin.password_hash
        admin["lock_passwd"] = not node.admin.password_hash
        if node.admin.ssh_keys:
            admin["ssh_authorized_keys"] = list(node.admin.ssh_keys)
        users.append(admin)
    if node.root_password_hash or node.root_locked:
        root = {"name": "root"}
        if node.root_password_hash:
            root["hashed_passwd"] = node.root_password_hash  # root exists already: `passwd` would be ignored
        root["lock_passwd"] = node.root_locked
        users.append(root)
    return users or None


def _hostname(node: Node) -> dict:
    short, _, domain = node.hostname.partition(".")
    if not domain:
        return {"hostname": short}
    # the host name is the profile's full name, as Kickstart's --hostname sets it
    return {"hostname": short, "fqdn": node.hostname, "prefer_fqdn_over_hostname": True}


def bootstrap_command() -> str:
    """One runcmd line: boot runs only after prepare succeeded (as in Kickstart, where boot follows %post)."""
    script = shlex.quote(SCRIPT_PATH)
    return f"chmod 0700 {shlex.quote(CONFIG_DIR)} && {script} prepare && {script} boot"


def cloud_config(node: Node, files: list[NodeFile] | None = None) -> dict:
    """The cloud-config as data, keys in the order cloud-init acts on them."""
    files = files if files is not None else node_files(node)
    extra = node.cloud_init
    config: dict = _hostname(node)
    if extra.ntp:
        ntp: dict = {"enabled": True}
        if extra.ntp.servers:
            ntp["servers"] = list(extra.ntp.servers)
        if extra.ntp.pools:
            ntp["pools"] = list(extra.ntp.pools)
        config["ntp"] = ntp
    config["bootcmd"] = [private_dirs_command(files)] + [c if isinstance(c, str) else list(c) for c in extra.bootcmd]
    users = _users(node)
    if users:
        config["users"] = users
    if node.os.timezone:
        config["timezone"] = node.os.timezone
    write_files = [_write_file(f) for f in files]
    for f in extra.write_files:
        entry = {"path": f.path}
        if f.permissions != "0644":
            entry["permissions"] = f.permissions
        if f.owner != "root:root":
            entry["owner"] = f.owner
        if f.defer:
            entry["defer"] = True
        entry["content"] = f.content
        write_files.append(entry)
    config["write_files"] = write_files
    if extra.packages:
        config["packages"] = list(extra.packages)
    config["runcmd"] = [bootstrap_command()]
    return config


def header_comment(node: Node) -> str:
    secret = "the cluster CA keys and bootstrap token" if node.pki else "the cluster's bootstrap token"
    return (f"# k8s-firstboot user-data for {node.hostname} ({node.role}, cluster {node.cluster}, {node.os.name}, "
            f"Kubernetes {node.kube.version}) from {node.source}; render again, don't edit.\n"
            f"# PRIVATE: it carries {secret}; hand it only to this instance.\n")


def render_user_data(node: Node, files: list[NodeFile] | None = None) -> str:
    """#cloud-config user-data text."""
    return f"{HEADER}\n{header_comment(node)}{dump(cloud_config(node, files))}"
