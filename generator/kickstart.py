"""The Kickstart carrier: an unattended install whose %post installs and prepares the bootstrap."""


from generator import ipv4
from generator.model import Node
from generator.render import TEXT, NodeFile, node_files

DELIMITER = "K8S_FIRSTBOOT_EOF"
# written by the %pre that picks the disk when os.disk is unset; Anaconda reads %include after %pre ran
DISK_INCLUDE = "/tmp/k8s-firstboot-disk.ks"


def erased_disks(node: Node) -> str:
    """Which disks a Kickstart install erases, in plain words (for `gen plan`)."""
    if node.os.disk:
        return f"disk {node.os.disk} only (ignoredisk --only-use); every other disk is left alone"
    return ("the first disk found at install time, only: the first writable, non-removable disk that holds no "
            "OEMDRV volume (set os.disk to name it); every other disk is left alone")


def heredoc_delimiter(files: list[NodeFile]) -> str:
    """A heredoc end marker that no embedded file contains as a line (a file is split into lines only when it
    holds the marker at all: a node's files are a few thousand lines)."""
    delimiter, n = DELIMITER, 0
    while any(delimiter in f.content and delimiter in f.content.splitlines() for f in files):
        n += 1
        delimiter = f"{DELIMITER}_{n}"
    return delimiter


def render_kickstart(node: Node, files: list[NodeFile] | None = None) -> str:
    files = files if files is not None else node_files(node)
    for f in files:
        if not f.content.endswith("\n"):
            raise ValueError(f"{f.path}: embedded files must end with a newline")
    static = None
    if node.network.bootproto == "static":
        iface = ipv4.interface(node.network.address)
        static = {"ip": str(iface.ip), "netmask": str(iface.netmask)}
    return TEXT.get_template("kickstart.ks.j2").render(node=node, files=files, static=static,
                                                       delimiter=heredoc_delimiter(files), disk_include=DISK_INCLUDE)
