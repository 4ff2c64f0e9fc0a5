"""Check a loaded profile against schema/profile.schema.json; every error gets file:line and a hint."""

import copy
import dataclasses
import difflib
import json
import re
from functools import cache

import jsonschema

from generator import SCHEMA_PATH
from generator.errors import Problem, ProfileError
from generator.load import Document

HINTS = {
    "#/$defs/password_hash": "give a crypt hash such as the output of `openssl passwd -6` (plain passwords are refused)",
    "#/$defs/ssh_key": "one OpenSSH public key line, e.g. `ssh-ed25519 AAAA... user@host`",
    "#/$defs/hostname": "an RFC 1123 name: lower-case letters, digits and dashes, dot-separated labels",
    "#/$defs/url": "an http(s) URL without spaces, quotes or shell characters",
    "#/$defs/cidr": "an IPv4 network such as 10.244.0.0/16",
    "#/$defs/ipv4": "an IPv4 address such as 192.168.122.10",
}


@cache
def profile_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _ref_of(error: jsonschema.ValidationError, schema: dict) -> str | None:
    """Which shared definition (#/$defs/...) the failing subschema is, if any."""
    if id(error.schema) in _INLINED_DEFS:
        return _INLINED_DEFS[id(error.schema)]
    for name, definition in schema["$defs"].items():
        if error.schema == definition:
            return f"#/$defs/{name}"
    return None


def _show(value) -> str:
    """A value as the user wrote it, in JSON notation where JSON has one (YAML dates and the like as text)."""
    return json.dumps(value, default=str)


# Python's type names as a profile's author knows them
YAML_TYPES = {"dict": "a mapping (keys under it)", "list": "a list", "str": "text", "int": "a number",
              "float": "a number", "bool": "true or false", "NoneType": "empty"}
SCHEMA_TYPES = {"object": "a mapping (keys under it)", "array": "a list", "string": "text", "integer": "a whole number",
                "number": "a number", "boolean": "true or false"}


def _homes(key: str, node: dict, defs: dict, at: tuple = ()) -> list[str]:
    """Every dotted path below the top under which the schema allows `key` (for "it belongs under network")."""
    if "$ref" in node:
        node = defs.get(node["$ref"].rsplit("/", 1)[-1], {})
    found = []
    for name, sub in node.get("properties", {}).items():
        if name == key and at:
            found.append(".".join(at + (name,)))
        found += _homes(key, sub, defs, at + (name,))
    if isinstance(node.get("items"), dict):
        found += [f"{'.'.join(at)}[]{h[len('.'.join(at)):]}" for h in _homes(key, node["items"], defs, at)]
    return found


def _unknown_key(path: tuple, key: str, allowed: list[str], schema: dict) -> str:
    here = ".".join(map(str, path + (key,)))
    homes = [h for h in _homes(key, schema, schema.get("$defs", {})) if h != here]
    if len(homes) == 1:
        return f"unknown key here; it belongs under {homes[0].rsplit('.', 1)[0]}: write it as {homes[0]}"
    if homes:
        return f"unknown key here; did you mean one of {', '.join(homes)}?"
    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        return f"unknown key; did you mean {close[0]!r}?"
    return f"unknown key; allowed here: {', '.join(allowed)}"


def _type_message(path: tuple, instance, want) -> str:
    if instance is None:
        if want == "object":
            return "is empty; add its keys (indented under it) or delete the line"
        if want == "array":
            return "is empty; list its items (`- item` lines under it) or delete the line"
        return "has no value; write one after the colon, or delete the line"
    if want == "string" and path[-1:] == ("permissions",) and type(instance) is int:
        return (f'must be a quoted octal string such as "0{instance:o}" (YAML read the unquoted '
                f'0{instance:o} as the number {instance})')
    if want == "integer" and type(instance) is float:
        whole = f"write {int(instance)}" if instance.is_integer() else "no fractions"
        return f"must be a whole number: {whole} (YAML read {instance!r} as a decimal number)"
    if want == "string" and isinstance(instance, (int, float)) and not isinstance(instance, bool):
        return f"must be text: put the value in quotes (YAML read {instance!r} as a number)"
    wanted = " or ".join(SCHEMA_TYPES.get(w, w) for w in (want if isinstance(want, list) else [want]))
    return f"must be {wanted}, not {YAML_TYPES.get(type(instance).__name__, type(instance).__name__)}"


def _pattern_message(path: tuple, value, error: jsonschema.ValidationError, schema: dict) -> str:
    shown = _show(value)
    if isinstance(value, str) and value[:1] in "vV" and _ecma_pattern(error.validator_value).search(value[1:]):
        return f'{shown} is not valid: drop the v and keep the quotes: "{value[1:]}"'
    if path == ("network", "address") and _ecma_pattern(error.validator_value).search(f"{value}/24"):
        return f'{shown} has no prefix length; add it, e.g. "{value}/24" (/24 is a 255.255.255.0 netmask)'
    if path == ("os", "disk"):
        return (f"{shown} is not a disk name; write a whole disk as vda, /dev/vda, /dev/disk/by-id/<id> or "
                f"/dev/disk/by-path/<path> (`ls -l /dev/disk/by-id` on the machine lists them)")
    if path == ("cluster", "virtual_ip", "interface"):
        return (f"{shown} is not an interface name; keepalived needs the name of the interface that carries the "
                f"virtual IP, as the installed system calls it: usually the one network.device configures (e.g. "
                f"enp1s0; network.device may be a MAC address, this key may not); or leave it out to use the "
                f"interface that routes to cluster.virtual_ip.address at boot")
    hint = HINTS.get(_ref_of(error, schema)) or error.schema.get("description") or f"must match {error.validator_value}"
    return f"{shown} is not valid: {hint}"


def _messages(error: jsonschema.ValidationError, schema: dict) -> list[tuple[tuple, str]]:
    """(key path, message) for one schema error; an object with several unknown keys gives one each."""
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        return [(path + (key,), _unknown_key(path, key, allowed, schema))
                for key in sorted(set(error.instance) - set(allowed))]
    if error.validator == "enum":
        options = ", ".join(_show(v) for v in error.validator_value)
        close = difflib.get_close_matches(str(error.instance), [str(v) for v in error.validator_value], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return [(path, f"{_show(error.instance)} is not one of {options}{hint}")]
    if error.validator == "type":
        return [(path, _type_message(path, error.instance, error.validator_value))]
    if error.validator == "required":
        key = error.message.split("'")[1] if error.message.count("'") >= 2 else error.message
        return [(path, f"{'.'.join(map(str, path + (key,)))} is required; add `{key}:` here")]
    if error.validator == "pattern":
        return [(path, _pattern_message(path, error.instance, error, schema))]
    return [(path, error.message)]


def refused_path(error: jsonschema.ValidationError) -> list[tuple]:
    """The parts of the data a schema error refuses, for rules to leave alone."""
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = error.schema.get("properties", {})
        return [path + (key,) for key in error.instance if key not in allowed]
    return [path]


@cache
def _ecma_pattern(pattern: str) -> re.Pattern:
    """A JSON Schema pattern with ECMA-262's meaning of `$`: the end of the text. Python's `$` also matches
    before a final newline, which would let `cp1\\n` pass as a host name and end a Kickstart or shell line."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if c == "[":
            in_class = True
        elif c == "]":
            in_class = False
        elif c == "$" and not in_class:
            c = r"\Z"
        out.append(c)
        i += 1
    return re.compile("".join(out))


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not _ecma_pattern(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


# JSON Schema's integer takes 1800.0 as well; YAML reads that as a float, which the node's shell arithmetic
# ($((...))) and the templates would carry as "1800.0": only whole numbers written as such are integers here
_TYPES = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", lambda _, instance: type(instance) is int)
ProfileValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _pattern},
                                                type_checker=_TYPES)


@cache  # one validator for the process: the schema file is read once (profile_schema) and never changes
def _validator() -> jsonschema.protocols.Validator:
    return ProfileValidator(_inlined(profile_schema()))


# the definitions as the validator has them, by id -> "#/$defs/<name>" (for _ref_of)
_INLINED_DEFS: dict[int, str] = {}


def _inlined(schema: dict) -> dict:
    """The schema with each `$ref` to #/$defs/<name> replaced by `allOf: [<the definition>]`: the same checks
    and errors (allOf applies its subschema in place, as $ref does), without a reference lookup per value
    checked, which is half the time a listed node's check takes. A definition that refers to itself stays a
    $ref."""
    defs = schema.get("$defs", {})
    done: dict[str, dict] = {}
    _INLINED_DEFS.clear()

    def walk(node, inside: tuple):
        if isinstance(node, list):
            return [walk(item, inside) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref", "")
        name = ref.removeprefix("#/$defs/") if ref.startswith("#/$defs/") else None
        if name not in defs:  # (a pointer into a definition, or one with escapes: left to the validator)
            name = None
        node = {key: walk(value, inside) for key, value in node.items() if key != "$ref" or name is None
                or name in inside}
        if name is None or name in inside:
            return node
        if name not in done:
            done[name] = walk(defs[name], inside + (name,))
            _INLINED_DEFS[id(done[name])] = ref
        return {**node, "allOf": [done[name]] + node.get("allOf", [])}

    return walk(schema, ())


def schema_problems(doc: Document, checked: dict | None = None) -> tuple[list[Problem], set[tuple]]:
    """Every schema problem of the profile, and the key paths whose values the schema refused.

    checked: the data of a document that passed this check and whose values `doc` shares (the cluster file its
    listed nodes inherit from); a top-level value that is the very object found there is not checked again. The
    schema's top level relates no two keys (no required, if or dependencies: tests/unit/test_schema_shared.py),
    so the rest of the document is judged alone exactly as it would be with those values beside it.
    """
    schema = profile_schema()
    data = doc.data if checked is None else {key: value for key, value in doc.data.items()
                                             if key not in checked or checked[key] is not value}
    problems, refused = [], set()
    for error in _validator().iter_errors(data):
        # an unknown key is shown with the caret under the key, anything else under the value
        problems += [doc.problem(path, message, at_key=error.validator == "additionalProperties")
                     for path, message in _messages(error, schema)]
        refused.update(refused_path(error))
    return problems, refused


def accepted(doc: Document, refused: set[tuple]) -> Document:
    """The document without the values the schema refused, for the rules: a refused mapping key is dropped, a
    refused list item becomes None (so the other items keep their index and their file:line)."""
    if not refused:
        return doc
    data = copy.deepcopy(doc.data)
    for path in sorted(refused, key=len, reverse=True):
        parent = data
        for key in path[:-1]:
            parent = parent[key] if isinstance(parent, (dict, list)) else None
        if not path:
            continue
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
        elif isinstance(parent, list) and isinstance(path[-1], int) and path[-1] < len(parent):
            parent[path[-1]] = None
    return dataclasses.replace(doc, data=data)


def check_schema(doc: Document, checked: dict | None = None) -> None:
    problems, _ = schema_problems(doc, checked)
    if problems:
        raise ProfileError(problems)
