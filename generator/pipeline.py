"""The stages of DESIGN.md chained: load -> schema -> rules -> resolve. The CLI and tests call these."""

from pathlib import Path

from generator.errors import ProfileError
from generator.load import Document, load_profile
from generator.model import Node
from generator.resolve import resolve
from generator.rules import check_rules
from generator.schema import check_schema


def checked_profile(path: Path | str) -> Document:
    doc = load_profile(path)
    check_schema(doc)
    check_rules(doc)
    return doc


def is_node_profile(doc: Document) -> bool:
    """A profile with a role describes a node; one without is shared settings for others to extend."""
    return "role" in doc.data


def node_from_document(doc: Document, secrets_dir: Path | None = None, create_secrets: bool = True) -> Node:
    """The node a checked profile describes (commands that also take shared profiles check each once, then this)."""
    if not is_node_profile(doc):
        raise ProfileError([doc.problem(("role",), "this profile has no role: it holds shared settings; "
                                                   "render a node profile that extends it (role: control-plane or worker)")])
    return resolve(doc, secrets_dir, create_secrets)


def node_from_profile(path: Path | str, secrets_dir: Path | None = None, create_secrets: bool = True) -> Node:
    return node_from_document(checked_profile(path), secrets_dir, create_secrets)
