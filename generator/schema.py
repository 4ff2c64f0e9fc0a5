"""Check a loaded profile against schema/profile.schema.json; every error gets file:line and a hint."""

import difflib
import json
import re
from functools import cache

import jsonschema

from generator import SCHEMA_PATH
from generator.errors import ProfileError
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
    for name, definition in schema["$defs"].items():
        if error.schema == definition:
            return f"#/$defs/{name}"
    return None


def _show(value) -> str:
    """A value as the user wrote it, in JSON notation where JSON has one (YAML dates and the like as text)."""
    return json.dumps(value, default=str)


def _message(error: jsonschema.ValidationError, schema: dict) -> tuple[tuple, str]:
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        key = extra[0]
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
        return path + (key,), f"unknown key {key!r}; {hint}"
    if error.validator == "enum":
        options = ", ".join(_show(v) for v in error.validator_value)
        close = difflib.get_close_matches(str(error.instance), [str(v) for v in error.validator_value], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return path, f"{_show(error.instance)} is not one of {options}{hint}"
    if error.validator == "type":
        want = error.validator_value
        if isinstance(want, list):
            return path, f"must be {' or '.join(f'a {w}' if w[0] not in 'aeiou' else f'an {w}' for w in want)}, " \
                         f"not {type(error.instance).__name__}"
        if want == "string" and path[-1:] == ("permissions",) and type(error.instance) is int:
            return path, f'must be a quoted octal string such as "0{error.instance:o}" (YAML read the unquoted ' \
                         f'0{error.instance:o} as the number {error.instance})'
        if want == "string" and isinstance(error.instance, (int, float)) and not isinstance(error.instance, bool):
            return path, f"must be a string: put the value in quotes (YAML read {error.instance!r} as a number)"
        return path, f"must be {'an' if want[0] in 'aeiou' else 'a'} {want}, not {type(error.instance).__name__}"
    if error.validator == "required":
        return path, error.message.replace("is a required property", "is required")
    if error.validator == "pattern":
        ref = _ref_of(error, schema)
        hint = HINTS.get(ref) or error.schema.get("description") or f"must match {error.validator_value}"
        return path, f"{_show(error.instance)} is not valid: {hint}"
    return path, error.message


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


ProfileValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _pattern})


@cache  # one validator for the process: the schema file is read once (profile_schema) and never changes
def _validator() -> jsonschema.protocols.Validator:
    return ProfileValidator(profile_schema())


def check_schema(doc: Document, checked: dict | None = None) -> None:
    """Raise ProfileError with every schema problem of `doc`.

    checked: the data of a document that passed this check and whose values `doc` shares (the cluster file its
    listed nodes inherit from); a top-level value that is the very object found there is not checked again. The
    schema's top level relates no two keys (no required, if or dependencies: tests/unit/test_schema_shared.py),
    so the rest of the document is judged alone exactly as it would be with those values beside it.
    """
    schema = profile_schema()
    validator = _validator()
    data = doc.data if checked is None else {key: value for key, value in doc.data.items()
                                             if key not in checked or checked[key] is not value}
    problems = []
    for error in validator.iter_errors(data):
        path, message = _message(error, schema)
        problems.append(doc.problem(path, message))
    if problems:
        raise ProfileError(problems)
