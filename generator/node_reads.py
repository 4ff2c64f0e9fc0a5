"""Templates rendered once per distinct set of the node values they read.

The nodes of a fleet differ in a few fields (host name, address, MAC) and most step templates read none of
them, so a build that renders each template once per distinct input spends a fraction of the template time.

What a template reads comes from its syntax tree: every attribute chain that starts at the name `node`
(`node.kube.version` reads that one value; a method call `node.kube.x()` reads `node.kube`). A template that
uses `node` in any other way (passes it whole to a function, rebinds the name, includes or imports another
template, which would see it too) reads all of it. Its output is
then a function of those values alone: the other names it may use are module constants (`paths`), functions of
their arguments (`configs`) and pure filters, which is what render.py gives the environment.
"""

import operator
from collections.abc import Callable

import jinja2
from jinja2 import nodes

from generator.memo import Recent

WHOLE_NODE = ((),)  # the read set of a template that uses `node` whole: the path () is the node itself
RECENT = 16  # distinct inputs kept per template: the shapes of one fleet, not one entry per host name


def node_reads(env: jinja2.Environment, name: str) -> tuple[tuple[str, ...], ...]:
    """The attribute paths under `node` that template `name` reads, or WHOLE_NODE."""
    source, _, _ = env.loader.get_source(env, name)
    tree = env.parse(source)
    if any(tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends))):
        return WHOLE_NODE  # another template would see `node` too: what it reads is not in this tree
    parents = {}
    for parent in tree.find_all(nodes.Node):
        for child in parent.iter_child_nodes():
            parents[id(child)] = parent
    for child in tree.iter_child_nodes():
        parents.setdefault(id(child), tree)
    reads = set()
    for name_node in tree.find_all(nodes.Name):
        if name_node.name != "node":
            continue
        if name_node.ctx != "load":
            return WHOLE_NODE
        path, current = [], name_node
        while isinstance(parents.get(id(current)), nodes.Getattr) and parents[id(current)].node is current:
            current = parents[id(current)]
            path.append(current.attr)
        if isinstance(parents.get(id(current)), nodes.Call) and parents[id(current)].node is current and path:
            path.pop()  # a method: what it returns depends on the object it belongs to
        if not path:
            return WHOLE_NODE
        reads.add(tuple(path))
    return tuple(sorted(reads))


class NodeTemplate:
    """A template of `env` rendered with node=... (and other values), its output (stripped, if asked) kept for the
    last RECENT distinct inputs. What it reads is worked out at its second render: a command that renders one node
    parses nothing."""

    def __init__(self, env: jinja2.Environment, name: str, strip: bool = False):
        self.env, self.name, self.strip = env, name, strip
        self.reads: tuple[tuple[str, ...], ...] | None = None
        self.values: Callable | None = None  # node -> the tuple of the values it reads (one C call)
        self.template: jinja2.Template | None = None  # looked up at the first render, then kept
        self.recent = Recent(RECENT)

    def render(self, node, **context) -> str:
        """The template rendered with node=node and `context`, whose values are part of the key as they are."""
        first = self.template is None
        template = self.template = self.template or self.env.get_template(self.name)

        def fresh() -> str:
            text = template.render(node=node, **context)
            return text.strip() if self.strip else text

        if self.reads is None:
            if first:
                return fresh()
            self.reads = node_reads(self.env, self.name)
            self.values = _getter(self.reads)
        try:
            values = self.values(node)
            # by type and value: 1 == True and 0.0 == -0.0, but a template writes each differently. The parts
            # read whole are small tuples and frozen dataclasses of text, whose strings keep their hashes.
            kinds = tuple(map(type, values))
            if float in kinds:
                return fresh()  # (a node holds none: the schema has no floats)
            key = (values, kinds, tuple(sorted(context.items())))
            hash(key)
        except (AttributeError, TypeError):  # a value it cannot key on: rendered as it is, as if not kept
            return fresh()
        return self.recent.get(key, fresh)


def _getter(reads: tuple[tuple[str, ...], ...]) -> Callable:
    """node -> (the value at each path of `reads`,)"""
    if reads == WHOLE_NODE:
        return lambda node: (node,)
    if len(reads) == 1:
        one = operator.attrgetter(".".join(reads[0]))
        return lambda node: (one(node),)
    return operator.attrgetter(*(".".join(path) for path in reads)) if reads else lambda node: ()
