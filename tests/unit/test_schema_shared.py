"""A listed node is checked against the schema for its own values only, the ones it shares with its cluster file
having passed with it: the same problems as a check of the whole node, at the same lines."""

import json

import pytest

from generator import SCHEMA_PATH
from generator.errors import ProfileError
from generator.inventory import node_documents
from generator.load import load_profile
from generator.schema import check_schema

# keywords that judge each top-level key alone; `required`, `if`, `dependentRequired` and the like would relate
# a node's own values to the ones it inherits, and the shortcut in check_schema would no longer be sound
PER_KEY = {"$schema", "$id", "title", "description", "type", "additionalProperties", "properties", "$defs"}


def test_the_schema_top_level_judges_each_key_alone():
    assert set(json.loads(SCHEMA_PATH.read_text())) <= PER_KEY


def _problems(doc, **checked) -> list[str]:
    try:
        check_schema(doc, **checked)
    except ProfileError as exc:
        return [str(p) for p in exc.problems]
    return []


def test_a_node_entry_is_judged_as_a_whole_node_would_be(write_profile):
    cluster = write_profile("cluster.yaml", (
        "extends: profiles/ha/cluster.yaml\n"
        "network:\n  gateway: 192.168.122.1\n"
        "nodes:\n"
        "  - {hostname: w1, address: 192.168.122.31/24}\n"
        "  - {hostname: w2, os: {disk: 5, distro: debian}, network: {mtu: 9000}}\n"
        "  - {hostname: W_3, role: boss, cni: {plugin: flannel}}\n"
        "  - {hostname: w4, users: {admin: {name: ops, sudo: always}}, colour: blue}\n"))
    doc = load_profile(cluster)
    check_schema(doc)
    nodes, _ = node_documents(doc)
    found = [_problems(node, checked=doc.data) for node in nodes]
    assert found == [_problems(node) for node in nodes]
    assert found[0] == [] and all(found[1:])  # the bad entries are caught, each where it was written
    assert all(f"{cluster}:" in problem for problems in found for problem in problems)


def test_only_the_very_objects_of_the_checked_document_are_skipped(write_profile):
    doc = load_profile(write_profile("node.yaml", "extends: profiles/master.yaml\nos: {disk: 5}\n"))
    copy = {key: json.loads(json.dumps(value, default=str)) for key, value in doc.data.items()}
    assert _problems(doc, checked=copy) == _problems(doc) != []  # equal values are no proof: checked again
