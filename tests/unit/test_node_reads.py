"""Step templates rendered once per distinct set of the node values they read (generator/node_reads.py) give
the text a fresh render gives, for every example node, whatever was rendered before."""

import dataclasses

import jinja2
import pytest

from generator import render
from generator.inventory import build_documents
from generator.node_reads import RECENT, WHOLE_NODE, NodeTemplate, node_reads
from generator.plan import plan
from generator.resolve import resolve
from tests.support.common import ALL_PROFILES, ROOT


def _env(**templates) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.DictLoader(templates), undefined=jinja2.StrictUndefined)


@pytest.mark.parametrize("source, reads", [
    ("{{ node.kube.version }} {{ node.role }}", (("kube", "version"), ("role",))),
    ("{% for r in node.repo_files %}{{ r.id }}{% endfor %}", (("repo_files",),)),
    ("{% if node.proxy %}{{ node.proxy.url }}{% endif %}", (("proxy",), ("proxy", "url"))),
    ("{{ node.kube.flags() }}", (("kube",),)),            # a method reads the object it belongs to
    ("{{ node.kube['version'] }}", (("kube",),)),
    ("{{ configs.f(node) }}", WHOLE_NODE),               # passed whole
    ("{{ node }}", WHOLE_NODE),
    ("{% set node = other %}{{ node.role }}", WHOLE_NODE),  # rebound: the chains read something else
    ("plain text", ()),
    ("{% include 'other' %}", WHOLE_NODE),                 # the other template sees `node` too
    ("{% import 'other' as o with context %}{{ o.x() }}", WHOLE_NODE),
])
def test_what_a_template_reads_comes_from_its_syntax(source, reads):
    assert node_reads(_env(t=source, other="{{ node.hostname }}"), "t") == reads


@dataclasses.dataclass(frozen=True)
class _Node:
    hostname: str
    role: str
    flag: object = False


def test_a_value_read_is_never_confused_with_another():
    template = NodeTemplate(_env(t="{{ node.role }}:{{ node.flag }}"), "t")
    assert template.render(_Node("a", "worker")) == "worker:False"
    assert template.render(_Node("b", "control-plane")) == "control-plane:False"
    assert template.render(_Node("c", "worker", 0)) == "worker:0"  # 0 == False, written differently
    assert template.render(_Node("d", "worker")) == "worker:False"
    assert len(template.recent.entries) == 3  # host names are not read: d shared a's entry
    assert template.render(_Node("e", "worker", 0.0)) == "worker:0.0"  # 0.0 == 0 == -0.0: floats are not kept
    assert template.render(_Node("f", "worker", -0.0)) == "worker:-0.0"


def test_unhashable_values_are_rendered_each_time():
    template = NodeTemplate(_env(t="{{ node.flag | length }}"), "t")
    assert template.render(_Node("a", "worker", [1, 2])) == "2"
    assert template.render(_Node("a", "worker", [1])) == "1"
    assert not template.recent.entries


def test_the_kept_entries_are_bounded():
    template = NodeTemplate(_env(t="{{ node.hostname }}"), "t")
    for i in range(RECENT * 3):
        assert template.render(_Node(f"h{i}", "worker")) == f"h{i}"
    assert len(template.recent.entries) == RECENT


def _example_nodes(secrets_dir):
    for profile in ALL_PROFILES:
        entries, problems = build_documents(ROOT / profile, ROOT / profile)
        assert not problems
        yield from (resolve(entry.doc, secrets_dir) for entry in entries)


def test_every_example_node_gets_the_steps_a_fresh_render_gives(tmp_path):
    nodes = list(_example_nodes(tmp_path))
    assert len({n.hostname for n in nodes}) > 20  # the fleet's workers share most steps, the others few
    for node in nodes + nodes[::-1]:  # each after every kind of node rendered before it
        for step in plan(node):
            fresh = render.SHELL.get_template(f"steps/{step.name}.sh.j2").render(node=node).strip()
            assert render._step_template(step.name).render(node) == fresh, (node.hostname, step.name)
