"""The schema's "default" values are the only statement of the profile's defaults, and they reach the node.

The defaults are read here by walking schema/profile.schema.json directly, not through generator.defaults, so a
default restated (or forgotten) in code shows up as a node that disagrees with the schema.
"""

import json

import pytest

from tests.support.common import ROOT
from generator.kickstart import render_kickstart
from generator.pipeline import node_from_profile
from generator.verify import parse_kickstart

SCHEMA = json.loads((ROOT / "schema" / "profile.schema.json").read_text())

MINIMAL = """\
role: control-plane
hostname: cp1
os: {distro: rocky, version: "9"}
kubernetes: {version: "1.34", control_plane_endpoint: "192.168.122.100:6443"}
cluster: {first_control_plane: cp1, virtual_ip: {address: 192.168.122.100}}
mirrors: {registries: [{prefix: docker.io, location: registry.internal}]}
cloud_init: {write_files: [{path: /etc/motd.d/site, content: hello}]}
pxe: {http_url: "http://192.168.122.1/k8s", proxy_subnet: 192.168.122.0/24}
"""
HASH = "$6$salt$IxDD3jeSOb5eB1CX5LBsqZFVkJdido3OUILO5Ifz5iwMuTS4XMS130MTSuDDl3aCI6WouIL9AjRbLCelDCy.g."

# where each schema default lands in the model built from MINIMAL (plus users, given per case below)
NODE_FIELD = {
    "cluster.name": lambda n: n.cluster,
    "cluster.virtual_ip.router_id": lambda n: n.virtual_ip.router_id,
    "os.update": lambda n: n.os.update,
    "os.selinux": lambda n: n.os.selinux,
    "os.firewall": lambda n: n.os.firewall,
    "os.timezone": lambda n: n.os.timezone,
    "os.language": lambda n: n.os.language,
    "os.keyboard": lambda n: n.os.keyboard,
    "network.bootproto": lambda n: n.network.bootproto,
    "network.device": lambda n: n.network.device,
    "users.admin.sudo": lambda n: "nopasswd" if n.admin.nopasswd_sudo else "password",
    "kubernetes.service_cidr": lambda n: n.kube.service_cidr,
    "kubernetes.token_ttl": lambda n: n.kube.token_ttl,
    "cni.plugin": lambda n: n.cni.plugin,
    "mirrors.registries.insecure": lambda n: n.registry_mirrors[0].insecure,
    "air_gapped": lambda n: n.air_gapped,
    "cloud_init.write_files.permissions": lambda n: n.cloud_init.write_files[0].permissions,
    "cloud_init.write_files.owner": lambda n: n.cloud_init.write_files[0].owner,
    "cloud_init.write_files.defer": lambda n: n.cloud_init.write_files[0].defer,
    "bootstrap.step_timeout": lambda n: n.step_timeout,
    "bootstrap.retry_delay": lambda n: n.retry_delay,
    "pxe.tftp_root": lambda n: n.pxe.tftp_root,
}


def schema_defaults(node: dict, path: str = "") -> dict[str, object]:
    """Every plain "default" in the schema by dotted key path (array items share their array's path)."""
    found = {path: node["default"]} if "default" in node else {}
    node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else node
    for key, sub in node.get("properties", {}).items():
        found.update(schema_defaults(sub, f"{path}.{key}".lstrip(".")))
    if isinstance(node.get("items"), dict):
        found.update(schema_defaults(node["items"], path))
    return found


def test_every_schema_default_has_a_row_here():
    assert set(schema_defaults(SCHEMA)) == set(NODE_FIELD)


def test_a_profile_that_sets_nothing_gets_the_schema_defaults(write_profile):
    node = node_from_profile(write_profile("n.yaml", MINIMAL + "users: {admin: {name: ops, password_hash: '"
                                           + HASH + "'}}\n"))
    got = {path: field(node) for path, field in NODE_FIELD.items()}
    assert got == schema_defaults(SCHEMA)


def root_lock_default(has_hash: bool) -> bool:
    """users.root.locked's default as the schema's if/then/else states it."""
    root = SCHEMA["properties"]["users"]["properties"]["root"]
    assert root["if"] == {"required": ["password_hash"]}
    return root["then" if has_hash else "else"]["properties"]["locked"]["default"]


@pytest.mark.parametrize("root, locked", [
    ("{password_hash: '" + HASH + "'}", root_lock_default(True)),
    ("{}", root_lock_default(False)),
    ("{password_hash: '" + HASH + "', locked: true}", True),
])
def test_root_lock_in_the_kickstart_follows_the_schema(write_profile, root, locked):
    """The Kickstart as pykickstart reads it: a root password given is usable unless locked says otherwise."""
    text = MINIMAL + f"users: {{root: {root}, admin: {{name: ops, password_hash: '{HASH}'}}}}\n"
    node = node_from_profile(write_profile("n.yaml", text))
    ks = parse_kickstart(render_kickstart(node), node.os.ks_handler).handler
    assert ks.rootpw.lock is locked
