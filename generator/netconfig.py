"""cloud-init's network-config (version 2) for a node whose profile gives network.mac.

The interface is picked by its MAC address (`match: {macaddress: ...}`), so the node's settings land on the
right port whatever the kernel names it; `set-name` renames it only when network.device names an interface.
Version 2 is the netplan-like format cloud-init reads from a NoCloud seed's `network-config` file; its
network_state parser turns `addresses`, `routes` and `nameservers` into the distro's own files (ifcfg or
NetworkManager keyfiles on EL).
"""

import re

from generator import ipv4
from generator.cloudinit import dump_own
from generator.model import Node

# the key under `ethernets` is a label: cloud-init 22.4 names the interface by set-name, else by the name the
# MAC has on the machine, and falls back to this key only when no interface has the MAC
# (cloudinit/net/network_state.py, handle_ethernets)
INTERFACE_ID = "primary"
MAC_FORM = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")


def network_config(node: Node) -> dict | None:
    """The network-config as data, or None when the profile gives no MAC to match the interface by."""
    net = node.network
    if not net.mac:
        return None
    interface: dict = {"match": {"macaddress": net.mac}}
    if net.device not in ("link", "bootif") and not MAC_FORM.match(net.device.lower()):
        interface["set-name"] = net.device
    if net.bootproto == "static":
        interface["dhcp4"] = False
        interface["addresses"] = [str(ipv4.interface(net.address))]
        if net.gateway:
            interface["routes"] = [{"to": "0.0.0.0/0", "via": net.gateway}]
    else:
        interface["dhcp4"] = True
    if net.nameservers:
        interface["nameservers"] = {"addresses": list(net.nameservers)}
    return {"version": 2, "ethernets": {INTERFACE_ID: interface}}


def render_network_config(node: Node) -> str | None:
    """network-config text, or None (no MAC: the image's own network configuration applies)."""
    config = network_config(node)
    return None if config is None else f"# network-config for {node.hostname} (k8s-firstboot)\n{dump_own(config)}"
