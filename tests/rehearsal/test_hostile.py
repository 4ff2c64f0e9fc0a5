"""Hostile values in every string field of a profile: refused, or rendered so that nothing runs them.

The string fields are enumerated from schema/profile.schema.json (array items included), so a field added
to the schema is attacked without touching this file. The payloads try shell (command substitution,
backticks, ; | & >, quotes, newlines), Kickstart (a new line, %post, our heredoc end marker), YAML
(anchors, aliases, python tags, merge keys, document markers) and Unicode line separators. A payload that
ran leaves /var/pwned (the sandbox's /tmp is a tmpfs that vanishes, /var is a scratch folder we read).
"""

import copy
import hashlib
import json
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.common import ROOT, need, run_gen
from tests.support.resilience import boot, run_post
from tests.support.sandbox import Sandbox, bwrap_available
from tests.support.standin import DOWNLOAD

from generator import verify
from generator.errors import ProfileError
from generator.kickstart import render_kickstart
from generator.pipeline import node_from_profile
from generator.node_paths import SCRIPT_PATH
from generator.render import node_files

PWNED = ("/var/pwned", "/root/pwned", "/etc/pwned")
ACTIONS = ["touch /var/pwned", "touch /root/pwned"]
PAYLOADS = [
    "$(touch /var/pwned)", "`touch /var/pwned`", "; touch /var/pwned", "| touch /var/pwned", "&& touch /var/pwned",
    "& touch /var/pwned", "> /var/pwned", "' ; touch /var/pwned ; '", '" ; touch /var/pwned ; "',
    "\ntouch /var/pwned\n", "\n", "\r\ntouch /var/pwned", "\u2028touch /var/pwned", "\x85touch /var/pwned",
    "\n%post\ntouch /etc/pwned\n%end\n", "\nK8S_FIRSTBOOT_EOF\ntouch /var/pwned\n", "$IFS", "${PATH}", "\\",
    "&anchor", "*alias", "!!python/object/apply:os.system ['touch /var/pwned']", "<<: {x: 1}", "---", "...",
    "#", " ", "\t", "\x00", "é", "ü.example", "☃", "日本", "\U0001F600", "--", "-rf", "%", "{{ 7*7 }}", "{% raw %}",
]
GOOD_SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL1tgXeSaAhN7vGpjPiXOBDOk+2uzkPC18HSs5CMlMFk ops@demo"
HASH = "$6$k8sfirstboot$B.1JteR1gldw1SouvTiglJgGOoRZwvLdzjgxoeDYiZ9Kh6oEsn984RLWAdI/dJ19WuFF9yeNn2GPdCIM3Wqs//"
# a control plane with every optional string set, so that every field reaches the artifacts
CONTROL_PLANE = {
    "role": "control-plane", "hostname": "cp1",
    "cluster": {"name": "demo", "first_control_plane": "cp1"},
    "os": {"distro": "rocky", "version": "9", "selinux": "enforcing", "firewall": "ports",
           "timezone": "Europe/Berlin", "language": "en_US.UTF-8", "keyboard": "us",
           "install_url": "https://mirror.example/rocky/9/BaseOS/x86_64/os/", "disk": "vda",
           "appstream_url": "https://mirror.example/rocky/9/AppStream/x86_64/os/"},
    "network": {"bootproto": "static", "device": "eth0", "address": "192.168.122.10/24",
                "gateway": "192.168.122.1", "nameservers": ["192.168.122.1"]},
    "hosts": [{"ip": "192.168.122.10", "names": ["cp1.demo.example", "cp1"]}],
    "users": {"root": {"password_hash": HASH}, "admin": {"name": "ops", "password_hash": HASH, "ssh_keys": [GOOD_SSH_KEY]}},
    "kubernetes": {"version": "1.34", "pod_cidr": "10.244.0.0/16", "service_cidr": "10.96.0.0/12",
                   "control_plane_endpoint": "192.168.122.10:6443", "advertise_address": "192.168.122.10",
                   "token_ttl": "24h"},
    "cni": {"plugin": "calico", "version": "3.32", "manifest_url": "https://mirror.example/calico/v3.30.0/calico.yaml",
            "manifest_sha256": hashlib.sha256(DOWNLOAD.encode()).hexdigest()},  # what the stand-in curl serves
    "bootstrap": {"step_timeout": 30, "retry_delay": 1},
}
# a worker joining a cluster by token: the only place cluster.join's strings are allowed
WORKER = {**copy.deepcopy(CONTROL_PLANE), "role": "worker", "hostname": "worker1",
          "cluster": {"name": "demo", "join": {"token": "abcdef.0123456789abcdef", "ca_cert_hash": "sha256:" + "a" * 64}}}
WORKER["network"]["address"] = "192.168.122.21/24"
del WORKER["kubernetes"]["advertise_address"]


def string_fields(schema: dict) -> list[tuple]:
    """Every key path of the schema whose value is a string (enums of strings too); [0] for array items."""
    defs = schema["$defs"]
    found = []

    def walk(node: dict, path: tuple):
        if "$ref" in node:
            node = {**defs[node["$ref"].rsplit("/", 1)[1]], **{k: v for k, v in node.items() if k != "$ref"}}
        if node.get("type") == "string" or all(isinstance(v, str) for v in node.get("enum", [0])):
            found.append(path)
        elif node.get("type") == "array":
            walk(node["items"], path + (0,))
        for key, sub in node.get("properties", {}).items():
            walk(sub, path + (key,))
    walk(schema, ())
    return found


FIELDS = string_fields(json.loads((ROOT / "schema/profile.schema.json").read_text()))


def base_for(path: tuple) -> dict:
    return copy.deepcopy(WORKER if path[:2] == ("cluster", "join") else CONTROL_PLANE)


def get_in(data, path):
    for key in path:
        if isinstance(data, list) and isinstance(key, int) and key < len(data):
            data = data[key]
        elif isinstance(data, dict) and key in data:
            data = data[key]
        else:
            return ""
    return data if isinstance(data, str) else ""


def put(data: dict, path: tuple, value: str) -> dict:
    """Set a key path, making the mappings and lists on the way (fields the base profile leaves out)."""
    node = data
    for key, following in zip(path[:-1], path[1:]):
        empty = [] if isinstance(following, int) else {}
        if isinstance(node, list):
            while len(node) <= key:
                node.append(copy.deepcopy(empty))
        if not isinstance(node[key] if isinstance(node, list) else node.get(key), (list, dict)):
            node[key] = empty
        node = node[key]
    if isinstance(node, list):
        while len(node) <= path[-1]:
            node.append(None)
    node[path[-1]] = value
    return data


def test_every_string_field_is_attacked():
    """The walk finds the fields the schema documents, nested and in arrays (so it cannot silently be empty)."""
    for expected in [("hostname",), ("extends",), ("hosts", 0, "names", 0), ("users", "admin", "ssh_keys", 0),
                     ("os", "timezone"), ("cni", "manifest_url"), ("cluster", "join", "token"), ("role",)]:
        assert expected in FIELDS, expected
    assert len(FIELDS) >= 30
    # each base profile is accepted as it stands: a refusal in the properties comes from the hostile value
    for base in (CONTROL_PLANE, WORKER):
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "p.yaml").write_text(yaml.safe_dump(base))
            node_from_profile(Path(d) / "p.yaml", Path(d) / "secrets")


@st.composite
def hostile_values(draw):
    """(key path, value): the field's good value spoiled before, after or instead of it."""
    path = draw(st.sampled_from(FIELDS))
    good = get_in(base_for(path), path)
    payload = draw(st.one_of(st.sampled_from(PAYLOADS), st.sampled_from(["\n", "\r", "\n\n", "\r\n"]),
                             st.lists(st.sampled_from(PAYLOADS), min_size=2, max_size=3).map("".join),
                             st.text(max_size=12)))
    how = draw(st.sampled_from(["instead", "after", "before", "inside"]))
    value = {"instead": payload, "after": good + payload, "before": payload + good,
             "inside": good[: len(good) // 2] + payload + good[len(good) // 2:]}[how]
    return path, value


def pattern_of(path: tuple) -> str | None:
    schema = json.loads((ROOT / "schema/profile.schema.json").read_text())
    node = schema
    for key in path:
        node = node["items"] if isinstance(key, int) else node["properties"][key]
        if "$ref" in node:
            node = {**schema["$defs"][node["$ref"].rsplit("/", 1)[1]], **node}
    return node.get("pattern")


PATTERNED = [f for f in FIELDS if pattern_of(f)]


@st.composite
def legal_but_odd_values(draw):
    """(key path, value) that the field's own pattern allows: every `$`, `#`, `?`, `[`, `!`, `%`, leading
    `-` the schema lets through reaches the artifacts, where the rules and templates must cope."""
    path = draw(st.sampled_from(PATTERNED))
    return path, draw(st.from_regex(pattern_of(path), fullmatch=True).filter(lambda v: "\n" not in v))


def raw_yaml(path: tuple, value: str) -> str | None:
    """The base profile as text with the value pasted in unquoted, as someone editing by hand might."""
    if any(isinstance(k, int) for k in path):
        return None
    text = yaml.safe_dump(base_for(path), sort_keys=False)
    lines, indent, out = text.splitlines(), 0, []
    target = "  " * (len(path) - 1) + path[-1] + ":"
    replaced = False
    for line in lines:
        if not replaced and line.startswith(target) and (len(path) == 1 or line.startswith("  ")):
            out.append(f"{target} {value}")
            replaced = True
        else:
            out.append(line)
    if not replaced:
        out.append(f"{path[-1]}: {value}" if len(path) == 1 else f"{path[0]}:\n  {path[-1]}: {value}")
    return "\n".join(out) + "\n"


# cluster secrets are made once per cluster name and shared by every example (making CAs is slow)
SECRETS = tempfile.TemporaryDirectory(prefix="hostile-secrets-")


def render(text: str, tmp: Path):
    """(node, kickstart) or None when the generator refuses the profile."""
    profile = tmp / "profile.yaml"
    profile.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        node = node_from_profile(profile, Path(SECRETS.name))
    except ProfileError:
        return None
    return node, render_kickstart(node)


@cache
def benign_shape(role: str) -> tuple[list[str], set[str]]:
    """The sections and the commands the untouched base profile's Kickstart has."""
    with tempfile.TemporaryDirectory() as d:
        node, ks = render(yaml.safe_dump(CONTROL_PLANE if role == "control-plane" else WORKER), Path(d))
    commands = kickstart_commands(ks)
    return [c for c in commands if c.startswith("%")], set(commands)


def kickstart_commands(ks: str) -> list[str]:
    outside, commands = True, []
    for line in ks.splitlines():
        if line.startswith("%"):
            outside = line.startswith("%end")
            commands.append(line.split()[0])
        elif outside and line.strip() and not line.startswith("#"):
            commands.append(line.split()[0])
    return commands


def assert_inert(node, ks: str) -> None:
    """Nothing in the rendered text can run a payload: the Kickstart has the sections and only the kinds of
    command the benign profile has (a legal value may change the plan, never add a command or section),
    pykickstart accepts it, and both scripts are valid shell."""
    sections, commands = benign_shape(node.role)
    found = kickstart_commands(ks)
    assert [c for c in found if c.startswith("%")] == sections, "a value added or removed a Kickstart section"
    assert set(found) <= commands, f"a value made new Kickstart commands: {set(found) - commands}"
    verify.parse_kickstart(ks, node.os.ks_handler)          # raises on anything Anaconda would stop at
    for post in verify.post_scripts(ks, node.os.ks_handler):
        assert subprocess.run(["bash", "-n"], input=post.script, text=True).returncode == 0
    script = next(f.content for f in node_files(node) if f.path == SCRIPT_PATH)
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0


HYPOTHESIS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@settings(max_examples=200, **HYPOTHESIS)
@given(st.one_of(hostile_values(), legal_but_odd_values()), st.booleans())
# a regular expression's `$` matches before a final newline in Python (not in JSON Schema's ECMA-262):
# these passed the schema and split a Kickstart line before generator/schema.py said otherwise
@example((("hostname",), "cp1\n"), False)
@example((("os", "timezone"), "Europe/Berlin\n"), False)
@example((("users", "admin", "ssh_keys", 0), GOOD_SSH_KEY + "\n"), False)
@example((("hosts", 0, "names", 0), "cp1\n"), False)
def test_hostile_values_are_refused_or_inert(attack, as_raw_text):
    path, value = attack
    text = raw_yaml(path, value) if as_raw_text else None
    text = text or yaml.safe_dump(put(base_for(path), path, value), allow_unicode=True)
    with tempfile.TemporaryDirectory() as d:
        rendered = render(text, Path(d))
    if rendered is not None:
        assert_inert(*rendered)


@pytest.fixture(scope="module")
def sandbox_ok():
    need(bwrap_available(), "bubblewrap (bwrap) is missing or cannot make a sandbox here")


RAN: dict[str, bool] = {}


@settings(max_examples=15, **HYPOTHESIS)
@given(st.one_of(hostile_values(), legal_but_odd_values()))
def test_accepted_hostile_profiles_install_and_boot_without_running_the_payload(sandbox_ok, attack):
    path, value = attack
    with tempfile.TemporaryDirectory() as d:
        rendered = render(yaml.safe_dump(put(base_for(path), path, value), allow_unicode=True), Path(d))
        if rendered is None:
            return
        node, ks = rendered
        if ks in RAN:   # the same Kickstart (the value normalised away) was rehearsed already
            return
        box = Sandbox(Path(d) / "box", reachable=("*",))  # injection is under test here, not reachability
        post = run_post(box, ks, node.os.ks_handler)
        first_boot = boot(box) if post.returncode == 0 else None
        RAN[ks] = True
        assert not [p for p in PWNED if box.file(p).exists()], (path, value)
        assert post.returncode == 0, post.stderr[-2000:]
        assert first_boot.returncode == 0, first_boot.stderr[-2000:]


# a file name cannot hold "/": these payloads go home first (HOME=/root) and leave /root/pwned
@pytest.mark.parametrize("name", ["x\ncd;touch pwned #.yaml", "x\u2028%pre\ncd;touch pwned\u2028.yaml",
                                  "$(cd;touch pwned).yaml", "a'b\"c;d|e&f`cd;touch pwned`.yaml"])
def test_a_hostile_file_name_stays_in_its_comment(sandbox_ok, tmp_path, name):
    """The profile's file name is the one value no schema checks; it lands in comments of both scripts."""
    (tmp_path / "cluster.yaml").write_text((ROOT / "profiles/cluster.yaml").read_text())
    profile = tmp_path / name
    profile.write_text((ROOT / "profiles/worker.yaml").read_text())
    node = node_from_profile(profile, tmp_path / "secrets")
    ks = render_kickstart(node)
    verify.parse_kickstart(ks, node.os.ks_handler)
    script = next(f.content for f in node_files(node) if f.path == SCRIPT_PATH)
    assert not [l for l in script.splitlines() + ks.splitlines() if l.startswith("cd;")]
    # the one %pre is the disk choice (os.disk unset); the name adds none and nothing to it
    [pre] = verify.pre_scripts(ks, node.os.ks_handler)
    assert "pwned" not in pre.script and pre.script.count("%pre") == 0
    box = Sandbox(tmp_path / "box")
    assert run_post(box, ks, node.os.ks_handler).returncode == 0
    assert not [p for p in PWNED if box.file(p).exists()]


def test_the_cli_refuses_a_hostile_profile_with_status_2_and_no_output(tmp_path):
    profile = tmp_path / "p.yaml"
    profile.write_text(yaml.safe_dump(put(copy.deepcopy(CONTROL_PLANE), ("hostname",), "cp1\n$(touch /var/pwned)")))
    result = run_gen("ks", str(profile), env={"K8S_FIRSTBOOT_SECRETS_DIR": str(tmp_path / "s")})
    assert result.returncode == 2 and result.stdout == ""
    assert "hostname" in result.stderr and "Traceback" not in result.stderr
    # and the same value one character short of hostile is rendered: the refusal is about the value
    profile.write_text(yaml.safe_dump(put(copy.deepcopy(CONTROL_PLANE), ("hostname",), "cp1")))
    assert run_gen("ks", str(profile), env={"K8S_FIRSTBOOT_SECRETS_DIR": str(tmp_path / "s")}).returncode == 0
