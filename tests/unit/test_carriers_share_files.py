"""A build renders a node's files once for both carriers; cloud-init's set is derived from them. Derived or
rendered again for the node as a cloud instance, they must be the same, for every example node."""

import dataclasses
from pathlib import Path

import pytest

from generator.cloudinit import cloud_instance, instance_files
from generator.inventory import build_documents
from generator.render import node_files
from generator.resolve import resolve
from tests.support.common import ALL_PROFILES, ROOT


def _example_nodes():
    for profile in ALL_PROFILES:
        entries, problems = build_documents(ROOT / profile, ROOT / profile)
        assert not problems
        for entry in entries:
            yield pytest.param(entry.doc, id=str(Path(entry.name).relative_to(ROOT / "profiles")))


@pytest.mark.parametrize("doc", list(_example_nodes()))
def test_derived_files_equal_files_rendered_for_the_instance(doc, tmp_path):
    node = resolve(doc, tmp_path)
    assert instance_files(node, node_files(node)) == node_files(cloud_instance(node))


def test_a_pinned_address_is_carried_by_the_derived_files(tmp_path):
    """The derivation follows the instance's own address: a node whose instance advertises another address
    than the Kickstart gets another kubeadm config, not the Kickstart's."""
    entries, _ = build_documents(ROOT / "profiles/master.yaml", ROOT / "profiles/master.yaml")
    node = resolve(entries[0].doc, tmp_path)
    static = dataclasses.replace(node, kube=dataclasses.replace(node.kube, advertise_address="192.168.122.77",
                                                                advertise_explicit=False))
    derived, own = instance_files(static, node_files(static)), node_files(static)
    assert derived == node_files(cloud_instance(static)) != own
    assert "192.168.122.77" in "".join(f.content for f in own)
    assert "192.168.122.77" not in "".join(f.content for f in derived)
