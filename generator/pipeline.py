"""The stages chained: load -> schema -> rules -> resolve. The CLI and tests call these."""

from pathlib import Path

from generator.errors import Problem, ProfileError, sort_key
from generator.load import Document, load_profile
from generator.model import Node
from generator.resolve import resolve
from generator.rules import rule_problems
from generator.schema import accepted, schema_problems


def profile_problems(doc: Document, checked: dict | None = None) -> list[Problem]:
    """Schema and rule problems in one pass: the rules see what the schema accepted. checked: see
    schema.schema_problems (values a listed node shares with its cluster file are not schema-checked again)."""
    problems, refused = schema_problems(doc, checked)
    return sorted(problems + rule_problems(accepted(doc, refused), frozenset(refused)), key=sort_key)


def checked_profile(path: Path | str) -> Document:
    doc = load_profile(path)
    problems = profile_problems(doc)
    if problems:
        raise ProfileError(problems)
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


def node_from_profile(path: Path | str, secrets_dir: Path | None = None, create_secrets: bool = True,
                      node_name: str | None = None) -> Node:
    """The node a profile describes; of a cluster file that lists its nodes, the one named node_name."""
    doc = checked_profile(path)
    if node_name is not None or not is_node_profile(doc):
        from generator.inventory import listed_node  # a cluster file only: the CSV and inventory code

        doc = listed_node(doc, node_name)
    return node_from_document(doc, secrets_dir, create_secrets)
