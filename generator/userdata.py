"""How user-data travels: gzip, base64, MIME multi-part, and the size limits of the clouds that take it."""

import base64
import gzip
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from generator.errors import Problem, ProfileError
from generator.load import read_utf8

CLOUD_CONFIG_FILENAME = "cloud-config"
SCRIPT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# cloud-init writes text/x-shellscript parts beside its own runcmd script and runs them all in name order
RESERVED_SCRIPT_NAMES = {"runcmd"}


@dataclass(frozen=True)
class Limit:
    cloud: str
    limit: int       # bytes of user-data as the instance receives it (before the API's base64)
    what: str
    fatal: bool      # a warning for EC2 (other clouds take more); an error where no cloud named could take it


LIMITS = (
    Limit("AWS EC2", 16384, "user data", fatal=False),
    Limit("Azure", 65535, "custom data", fatal=True),
    Limit("Google Compute Engine", 262144, "metadata value", fatal=True),
)


def exceeded(size: int) -> list[Limit]:
    """The clouds' limits that user-data of `size` bytes (as the instance receives it) is above."""
    return [limit for limit in LIMITS if size > limit.limit]


def compress(data: bytes) -> bytes:
    """gzip without a timestamp or file name, so the same input gives the same bytes."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def encode(text: str, *, gzip_it: bool = False, base64_it: bool = False) -> bytes:
    data = text.encode("utf-8")
    if gzip_it:
        data = compress(data)
    if base64_it:
        data = base64.b64encode(data) + b"\n"
    return data


def decode(data: bytes) -> str:
    """The inverse of encode(), as cloud-init reads user-data: base64 text, gzip, or plain."""
    stripped = data.strip()
    if stripped and re.fullmatch(rb"[A-Za-z0-9+/=\s]+", stripped) and not stripped.startswith(b"#"):
        data = base64.b64decode(stripped)
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.decode("utf-8")


@dataclass(frozen=True)
class Script:
    name: str
    text: str


def read_script(path: Path) -> Script:
    """An --extra-script file: UTF-8 text starting with #! (cloud-init executes it)."""
    display = str(path)
    text = read_utf8(path, display, "extra-script")
    if not text.startswith("#!"):
        raise ProfileError([Problem(display, 1, "extra-script",
                                    "must start with an interpreter line such as #!/bin/bash (cloud-init executes it)")])
    if not SCRIPT_NAME.fullmatch(path.name) or path.name in RESERVED_SCRIPT_NAMES:
        raise ProfileError([Problem(display, 1, "extra-script",
                                    f"file name {path.name!r} cannot be used: letters, digits and ._- only, not 'runcmd'")])
    return Script(path.name, text)


def _part(text: str, subtype: str, filename: str):
    from email.mime.text import MIMEText  # here: only --mime needs the email package (~10 ms to import)

    part = MIMEText(text, subtype, "us-ascii" if text.isascii() else "utf-8")
    part.add_header("Content-Disposition", f'attachment; filename="{filename}"')
    return part


def mime_archive(cloud_config: str, scripts: list[Script] = ()) -> str:
    """A multi-part archive as cloud-init's `make-mime` builds it, with a boundary derived from the content."""
    names = [s.name for s in scripts]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ProfileError([Problem(duplicates[0], 0, "extra-script", "two extra scripts share this file name")])
    from email.mime.multipart import MIMEMultipart

    archive = MIMEMultipart()
    archive.attach(_part(cloud_config, "cloud-config", CLOUD_CONFIG_FILENAME))
    for script in scripts:
        archive.attach(_part(script.text, "x-shellscript", script.name))
    digest = hashlib.sha256("\0".join([cloud_config, *(f"{s.name}\0{s.text}" for s in scripts)]).encode())
    archive.set_boundary(f"===============k8s-firstboot-{digest.hexdigest()[:24]}==")
    return archive.as_string()


def mime_parts(text: str) -> list[tuple[str, str, str]]:
    """(content type, file name, text) of each part of a MIME archive (for tests and checks)."""
    import email

    message = email.message_from_string(text)
    return [(p.get_content_type(), p.get_filename(), p.get_payload(decode=True).decode(p.get_content_charset() or "utf-8"))
            for p in message.walk() if not p.is_multipart()]


def size_report(label: str, text: str) -> list[Problem]:
    """Notes, warnings and errors about the user-data's size against the clouds' limits; gzip counts as a way out."""
    plain = len(text.encode("utf-8"))
    packed = len(compress(text.encode("utf-8")))
    found = [Problem(label, 0, "", f"user-data is {plain} bytes ({packed} with --gzip)", "note")]
    for limit in exceeded(plain):
        if packed <= limit.limit:
            found.append(Problem(label, 0, "", f"user-data is {plain} bytes, above the {limit.limit}-byte "
                                               f"{limit.cloud} {limit.what} limit; render it with --gzip "
                                               f"({packed} bytes)", "warning"))
        else:
            found.append(Problem(label, 0, "", f"user-data is {packed} bytes even with --gzip, above the "
                                               f"{limit.limit}-byte {limit.cloud} {limit.what} limit"
                                               + ("; move large cloud_init.write_files elsewhere" if limit.fatal else ""),
                                 "error" if limit.fatal else "warning"))
    return found
