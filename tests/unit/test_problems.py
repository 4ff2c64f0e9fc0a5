"""One kind of problem report: severity, file, line, key path, the profile's line with a caret; every mistake of a
profile in one run; and the messages a newcomer meets first, each with its exact text (issue 11's table)."""

import json

import pytest

from tests.support.common import gen_in_process

CLUSTER = """\
cluster:
  name: lab
os: {distro: rocky, version: "9"}
kubernetes:
  version: "1.34"
  control_plane_endpoint: 10.20.0.10:6443
users:
  admin: {name: ops, ssh_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA ops@lab"], sudo: nopasswd}
"""

# five independent mistakes: three the schema finds, two only the rules can
FIVE_MISTAKES = """\
extends: cluster.yaml
role: worker
hostname: k8s-wk-01
nameservers: [10.20.0.1]
network:
  bootproto: static
  address: 10.20.0.21
kubernetes:
  version: v1.35
  pod_cidr: 10.96.0.0/16
  service_cidr: 10.96.0.0/12
proxy:
  http: http://proxy.lab:3128
  no_proxy: ["*.lab"]
"""


@pytest.fixture
def folder(tmp_path, monkeypatch):
    (tmp_path / "cluster.yaml").write_text(CLUSTER)
    monkeypatch.setenv("K8S_FIRSTBOOT_SECRETS_DIR", str(tmp_path / "state"))
    return tmp_path


def problem_lines(stderr: str) -> list[str]:
    """The problem lines of stderr, without the profile lines and carets under them."""
    return [line for line in stderr.splitlines() if not line.startswith(" ")]


def validate(folder, name: str, text: str, *options: str):
    (folder / name).write_text(text)
    return gen_in_process("validate", *options, str(folder / name), env={"K8S_FIRSTBOOT_SECRETS_DIR": str(folder / "s")})


def test_five_independent_mistakes_are_reported_in_one_run(folder):
    result = validate(folder, "k8s-wk-01.yaml", FIVE_MISTAKES)
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr
    p = folder / "k8s-wk-01.yaml"
    assert problem_lines(result.stderr) == [
        f"{p}:4: error: nameservers: unknown key here; it belongs under network: write it as network.nameservers",
        f'{p}:7: error: network.address: "10.20.0.21" has no prefix length; add it, e.g. "10.20.0.21/24" '
        f"(/24 is a 255.255.255.0 netmask)",
        f'{p}:9: error: kubernetes.version: "v1.35" is not valid: drop the v and keep the quotes: "1.35"',
        f"{p}:11: error: kubernetes.service_cidr: 10.96.0.0/12 overlaps the pod network 10.96.0.0/16 "
        f"(kubernetes.pod_cidr); give one of them a range that shares no address with the other, "
        f"e.g. service_cidr: 10.112.0.0/12",
        f"{p}:14: error: proxy.no_proxy[0]: curl and dnf never match '*.lab' (only Go does); write .lab to reach "
        f"every host under it directly",
    ]


def test_json_lists_every_problem_for_ci(folder):
    result = validate(folder, "k8s-wk-01.yaml", FIVE_MISTAKES, "--format", "json")
    assert result.returncode == 2 and result.stderr == ""
    found = json.loads(result.stdout)
    assert [(p["severity"], p["line"], p["path"]) for p in found] == [
        ("error", 4, "nameservers"), ("error", 7, "network.address"), ("error", 9, "kubernetes.version"),
        ("error", 11, "kubernetes.service_cidr"), ("error", 14, "proxy.no_proxy[0]")]
    assert {tuple(sorted(p)) for p in found} == {("column", "file", "hint", "line", "message", "path", "severity")}
    assert found[2]["column"] == 12 and found[2]["file"] == str(folder / "k8s-wk-01.yaml")


def test_a_clean_profile_gives_json_warnings_and_notes_and_exit_0(folder):
    result = validate(folder, "w.yaml", "extends: cluster.yaml\nrole: worker\nhostname: w1\n", "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    found = json.loads(result.stdout)
    severities = {p["severity"] for p in found}
    assert "error" not in severities and {"warning", "note"} <= severities, found
    # the unpinned calico manifest: a warning located at the cni block or the top of the profile that needs it
    assert any(p["severity"] == "warning" and "no checksum is pinned" in p["message"] for p in found)


def test_strict_makes_warnings_errors(folder):
    result = validate(folder, "w.yaml", "extends: cluster.yaml\nrole: worker\nhostname: w1\n", "--strict")
    assert result.returncode == 2
    assert any(": error: cni: the calico manifest" in l and l.endswith("[--strict]")
               for l in problem_lines(result.stderr)), result.stderr


def test_bad_format_is_a_usage_error(folder):
    result = validate(folder, "w.yaml", "extends: cluster.yaml\n", "--format", "xml")
    assert result.returncode == 2 and "argument --format: invalid choice: 'xml' (choose from" in result.stderr


def test_the_offending_line_is_shown_with_a_caret_under_the_value(folder):
    result = validate(folder, "w.yaml", "extends: cluster.yaml\nrole: worker\nhostname: w1\n"
                                        "kubernetes:\n  version:   v1.35\n")
    assert result.stderr.splitlines()[:3] == [
        f'{folder / "w.yaml"}:5: error: kubernetes.version: "v1.35" is not valid: drop the v and keep the quotes: "1.35"',
        "    5 |   version:   v1.35",
        "      |              ^",
    ]


def test_render_commands_print_warnings_on_stderr_only(folder, tmp_path):
    (folder / "w.yaml").write_text("extends: cluster.yaml\nrole: worker\nhostname: w1\n")
    result = gen_in_process("ks", str(folder / "w.yaml"), "-o", str(tmp_path / "w.ks"),
                     env={"K8S_FIRSTBOOT_SECRETS_DIR": str(folder / "s")})
    assert result.returncode == 0 and result.stdout == ""
    assert f"{folder / 'cluster.yaml'}:" not in result.stderr  # cluster.yaml sets no cni: the warning is the node's
    assert any(": warning: " in l and "no checksum is pinned" in l for l in problem_lines(result.stderr)), result.stderr


# the table of issue 11: the profile, the file and line a newcomer must look at, and what they read there
TABLE = {
    "missing colon after a key": (
        "extends: cluster.yaml\nrole: worker\nhostname: w1\nnetwork:\n  bootproto: static\n  address: 10.20.0.21/24\n"
        "  gateway 10.20.0.1\n  nameservers: [10.20.0.1]\n",
        "7: error: a key needs a colon and a space after it: write `gateway:` (or `gateway: value`)"),
    "a value and then keys under it": (
        "extends: cluster.yaml\nrole: worker\nhostname: w1\ncni: calico\n  version: \"3.28\"\n",
        "4: error: the value on this line is followed by a more indented key on line 5; a key takes either a value "
        "or indented keys below it: remove this value, or indent line 5 like the keys above it"),
    "a key indented too far": (
        "extends: cluster.yaml\nrole: worker\nkubernetes:\n  version: \"1.34\"\n   pod_cidr: 10.244.0.0/16\n",
        "5: error: this line is indented by 3 spaces, which matches no key above it; line 4 is indented by 2 spaces: "
        "indent keys of one block by the same number of spaces"),
    "an empty block": (
        "extends: cluster.yaml\nrole: worker\nhostname: w1\ncni:\n",
        "4: error: cni: is empty; add its keys (indented under it) or delete the line"),
    "a key of another block at the top": (
        "extends: cluster.yaml\nrole: worker\nhostname: w1\nnameservers: [10.20.0.1]\n",
        "4: error: nameservers: unknown key here; it belongs under network: write it as network.nameservers"),
    "an address without its prefix": (
        "extends: cluster.yaml\nrole: worker\nhostname: w1\nnetwork:\n  bootproto: static\n  address: 10.20.0.21\n",
        '6: error: network.address: "10.20.0.21" has no prefix length; add it, e.g. "10.20.0.21/24" '
        "(/24 is a 255.255.255.0 netmask)"),
    "a disk by filesystem UUID": (
        "extends: cluster.yaml\nrole: worker\nhostname: w1\nos:\n  disk: /dev/disk/by-uuid/1234\n",
        '5: error: os.disk: "/dev/disk/by-uuid/1234" is not a disk name; write a whole disk as vda, /dev/vda, '
        "/dev/disk/by-id/<id> or /dev/disk/by-path/<path> (`ls -l /dev/disk/by-id` on the machine lists them)"),
    "a version with a v": (
        "extends: cluster.yaml\nrole: worker\nhostname: w1\nkubernetes:\n  version: v1.35\n",
        '5: error: kubernetes.version: "v1.35" is not valid: drop the v and keep the quotes: "1.35"'),
    "overlapping ranges": (
        "extends: cluster.yaml\nrole: worker\nhostname: w1\nkubernetes:\n  pod_cidr: 10.112.0.0/16\n"
        "  service_cidr: 10.96.0.0/11\n",
        "6: error: kubernetes.service_cidr: 10.96.0.0/11 overlaps the pod network 10.112.0.0/16 (kubernetes.pod_cidr); "
        "give one of them a range that shares no address with the other, e.g. service_cidr: 172.30.0.0/16"),
    "a MAC address as the virtual IP's interface": (
        "extends: cluster.yaml\nrole: control-plane\nhostname: cp1\nnetwork: {device: \"52:54:00:12:34:56\"}\n"
        "cluster:\n  first_control_plane: cp1\n  virtual_ip:\n    address: 10.20.0.10\n"
        "    interface: \"52:54:00:12:34:56\"\n",
        '9: error: cluster.virtual_ip.interface: "52:54:00:12:34:56" is not an interface name; keepalived needs the '
        "name of the interface that carries the virtual IP, as the installed system calls it: usually the one "
        "network.device configures (e.g. enp1s0; network.device may be a MAC address, this key may not); or leave "
        "it out to use the interface that routes to cluster.virtual_ip.address at boot"),
    "a node profile that extends nothing": (
        "role: worker\nnetwork:\n  device: eth0\n",
        "1: error: this node profile extends no shared profile and lacks hostname, os.distro, os.version, "
        "kubernetes.version, kubernetes.control_plane_endpoint; add `extends: cluster.yaml` (the shared profile "
        "beside it), or set them here"),
}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_a_newcomer_reads_what_to_fix(folder, name):
    text, expected = TABLE[name]
    result = validate(folder, "node.yaml", text)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert problem_lines(result.stderr) == [f"{folder / 'node.yaml'}:{expected}"], result.stderr


def test_the_overlap_hint_never_offers_the_value_already_there(folder):
    for service in ("10.96.0.0/12", "10.112.0.0/12", "172.30.0.0/16"):
        text = f"extends: cluster.yaml\nrole: worker\nhostname: w1\nkubernetes:\n  pod_cidr: {service}\n" \
               f"  service_cidr: {service}\n"
        lines = problem_lines(validate(folder, "node.yaml", text).stderr)
        assert len(lines) == 1 and "overlaps" in lines[0] and not lines[0].endswith(f"service_cidr: {service}"), lines


def test_a_node_profile_that_extends_something_names_each_missing_key(folder):
    result = validate(folder, "node.yaml", "extends: cluster.yaml\nrole: worker\n")
    assert problem_lines(result.stderr) == [
        f"{folder / 'node.yaml'}:1: error: hostname is required for a node profile (set it here or in the file this "
        f"one extends)"], result.stderr


@pytest.mark.parametrize("refused", [
    "users: {root: text, admin: {ssh_keys: [x]}}", "hosts: [{ip: 999.1.1.1, names: [a]}, 7]", "cni: {plugin: weave}",
    "kubernetes: {version: 1.34, pod_cidr: [1], service_cidr: 10.96.0.0/12}", "os: {distro: arch, version: 9}",
    "cloud_init: {write_files: [{path: 7}, null]}", "proxy: {no_proxy: [1, '*']}", "network: {address: [1]}",
    "cluster: {virtual_ip: {interface: eth0}}", "cni: []",
])
def test_rules_run_beside_schema_problems_without_crashing(folder, refused):
    """The rules see only what the schema accepted: no traceback, and no rule repeats a schema problem."""
    result = validate(folder, "node.yaml", f"extends: cluster.yaml\nrole: worker\nhostname: w1\n{refused}\n")
    assert result.returncode == 2 and "Traceback" not in result.stderr and "internal error" not in result.stderr
    lines = problem_lines(result.stderr)
    assert lines and all(": error: " in l for l in lines), result.stderr
    assert not any("required for a node profile" in l for l in lines), result.stderr


@pytest.mark.parametrize("line", [
    "  report_url: http://ops:hunter2@report.lab/k 8s", "    token: abcdef.0123456789abcdeF",
    "    password_hash: not-a-hash",
])
def test_a_line_that_may_hold_a_secret_is_never_shown(folder, line):
    """Each line is wrong, so a problem points at it; the line itself stays out of stderr (and CI logs)."""
    key = line.split(":")[0].strip()
    block = {"report_url": "bootstrap:\n", "token": "cluster:\n  join:\n    ca_cert_hash: x\n",
             "password_hash": "users:\n  root:\n"}[key]
    text = f"extends: cluster.yaml\nrole: worker\nhostname: w1\n{block}{line}\n"
    result = validate(folder, "node.yaml", text)
    line_number = text.splitlines().index(line) + 1
    assert any(l.startswith(f"{folder / 'node.yaml'}:{line_number}: error: ") and f".{key}:" in l
               for l in problem_lines(result.stderr)), result.stderr
    assert not [l for l in result.stderr.splitlines() if l.startswith(" ") and line.strip() in l], result.stderr


def test_a_decimal_number_where_a_whole_one_belongs_is_refused(write_profile):
    """JSON Schema's integer takes 1800.0; the node's shell arithmetic would not (`$((1800.0))` fails)."""
    profile = write_profile("w.yaml", "extends: profiles/worker.yaml\nbootstrap:\n  step_timeout: 1800.0\n"
                                      "  retry_delay: 2.5\n")
    result = gen_in_process("validate", str(profile))
    assert result.returncode == 2
    assert ("w.yaml:3: error: bootstrap.step_timeout: must be a whole number: write 1800 "
            "(YAML read 1800.0 as a decimal number)") in result.stderr
    assert "w.yaml:4: error: bootstrap.retry_delay: must be a whole number: no fractions" in result.stderr
