"""The profile's defaults, read from the schema's "default" values: the schema is the one place that states them.

A default that depends on a sibling key is written as JSON Schema `if`/`then`/`else` on the parent object
(users.root.locked: false once a password_hash is given), and read the same way.
"""

from functools import cache

import jsonschema

from generator.schema import profile_schema


def _resolve_ref(node: dict) -> dict:
    ref = node.get("$ref")
    if ref:
        node = profile_schema()["$defs"][ref.removeprefix("#/$defs/")]
    return node


@cache  # the schema never changes in a process (profile_schema is cached too)
def _object_schema(where: tuple[str, ...]) -> dict:
    """The schema of the object at `where` (property names; arrays are stepped through to their items)."""
    node = profile_schema()
    for key in where:
        node = _resolve_ref(node)["properties"][key]
        node = _resolve_ref(node)
        if "items" in node:
            node = _resolve_ref(node["items"])
    return _resolve_ref(node)


def schema_default(*path: str, parent: dict | None = None):
    """The schema's default of the key at `path`; `parent`, the object holding it, picks an if/then/else branch."""
    *where, key = path
    node = _object_schema(tuple(where))
    if "if" in node:
        branch = node["then"] if jsonschema.Draft202012Validator(node["if"]).is_valid(parent or {}) else node["else"]
        if "default" in branch.get("properties", {}).get(key, {}):
            return branch["properties"][key]["default"]
    return node["properties"][key]["default"]


def pick(values: dict, key: str, *where: str):
    """values[key] as the profile gives it, else the schema's default; `where` is the path of `values`."""
    return values[key] if key in values else schema_default(*where, key, parent=values)
