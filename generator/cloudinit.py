"""The cloud-init carrier: #cloud-config user-data that writes the node's files and runs both phases.

The cloud-config is built as data and dumped as YAML (never templated text). write_files carries exactly
node_files() — the bootstrap script, its unit, the repo files and configs — as the Kickstart does (large files
gzip+base64, which cloud-init decodes); runcmd enables the first-boot unit, runs the prepare phase and hands
the boot phase to the unit. Host name, users and keys use cloud-init's own keys.
"""

import base64
import dataclasses
import gzip
import posixpath
import shlex
from pathlib import Path

import yaml

from generator import configs, yamldump
from generator.memo import Recent
from generator.model import Node
from generator.userdata import compress
from generator.node_paths import CONFIG_DIR, DNF_CONF, DONE_MARKER, KUBEADM_CONFIG, SCRIPT_PATH, UNIT_PATH
from generator.render import NodeFile, node_files

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
_CDumper = yamldump.libyaml_twin(_Dumper)


def _dump(data) -> str:
    return yamldump.dump(data, _Dumper, _CDumper, yamldump.UNFOLDED_TEXT, literal=True, sort_keys=False,
                         default_flow_style=False, width=1 << 20, allow_unicode=True)


_dump_remembered = yamldump.Remembered(_dump)


def dump(data: dict) -> str:
    """YAML text of a cloud-config mapping: keys in the order given, lines never folded. Each top-level key and
    each write_files entry is dumped alone and remembered: the nodes of a fleet share most of them."""
    return _dump_remembered.mapping(data, by_item=("write_files",))


def dump_own(data: dict) -> str:
    """dump() of data no other node has (a network-config matches its own MAC): the same text, nothing kept."""
    return _dump(data)


# files above this size travel gzip+base64 (cloud-init decodes `encoding: gz+b64` before writing): the bootstrap
# script is two thirds of the user-data, and clouds cap it (EC2: 16 KiB); the node gets the same bytes
PACKED_ABOVE = 4096
_packed = Recent(16)  # by content: the bootstrap script is the same on every node of one shape


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
    if len(f.content) > PACKED_ABOVE:
        entry["encoding"] = "gz+b64"
        entry["content"] = _packed.get(f.content, lambda: base64.b64encode(compress(f.content.encode())).decode("ascii"))
    else:
        entry["content"] = f.content
    return entry


def written_content(entry: dict) -> str:
    """What cloud-init writes for a write_files entry (the inverse of _write_file), for checks and tests."""
    if entry.get("encoding") == "gz+b64":
        return gzip.decompress(base64.b64decode(entry["content"])).decode("utf-8")
    return entry["content"]


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
    """One runcmd line (cloud-init runs runcmd once per instance, without `set -e`, hence `&&`).

    prepare enables the unit first, so a prepare that fails here is resumed by the unit at the next boot (its
    boot phase finishes an unfinished prepare). After prepare, the boot phase is handed to the unit without
    waiting: cloud-final ends, `cloud-init status --wait` returns, and status.json tells the bootstrap's state.
    `--no-block` also keeps this from deadlocking should the unit ever be ordered after cloud-final.
    """
    script, unit = shlex.quote(SCRIPT_PATH), shlex.quote(Path(UNIT_PATH).name)
    handoff = f"{script} prepare && systemctl start --no-block {unit}"
    # (the secret folders are 0700 already: bootcmd, private_dirs_command, runs before write_files)
    return f"test -e {shlex.quote(DONE_MARKER)} || {{ {handoff}; }}"


def cloud_instance(node: Node) -> Node:
    """The node as a cloud instance is: the cloud, not network.*, gives it its address (cloud-init applies no
    static network here), so unless kubernetes.advertise_address pins one, the API server advertises what kubeadm
    finds at boot: the address of the default route's interface. A pinned static address would not exist."""
    if node.kube.advertise_explicit or not node.kube.advertise_address:
        return node
    return dataclasses.replace(node, kube=dataclasses.replace(node.kube, advertise_address=""))


def cloud_config(node: Node, files: list[NodeFile] | None = None) -> dict:
    """The cloud-config as data, keys in the order cloud-init acts on them."""
    files = files if files is not None else node_files(cloud_instance(node))
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
    if node.proxy and extra.packages:
        # cloud-init's own `packages` run (cloud_final) before the bootstrap: give their dnf the proxy first.
        # dnf.conf ends in its [main] section as EL and Fedora ship it; the prepare phase tidies it later.
        entry = {"path": DNF_CONF, "append": True}
        if configs.dnf_proxy_has_credentials(node):
            entry["permissions"] = "0600"
        entry["content"] = configs.dnf_proxy_conf(node)
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


def instance_files(node: Node, files: list[NodeFile]) -> list[NodeFile]:
    """The files cloud-init writes: node_files() of the node as a cloud instance.

    Given the node's own files (a build renders them once for both carriers), only kubeadm's config is made
    again: the instance differs from the node in the advertised address alone, and only that file carries it
    (tests/unit/test_carriers_share_files.py renders every example both ways)."""
    cloud = cloud_instance(node)
    if cloud is node:
        return files
    return [dataclasses.replace(f, content=configs.kubeadm_config(cloud)) if f.path == KUBEADM_CONFIG else f
            for f in files]


def render_user_data(node: Node, files: list[NodeFile] | None = None) -> str:
    """#cloud-config user-data text; files: those it writes (default: node_files of the node as an instance)."""
    return f"{HEADER}\n{header_comment(node)}{dump(cloud_config(node, files))}"

