"""generator/data/releases.yaml states each fact once, in one notation, and everything it states is used.

- the schema's enums that name release data (os.distro, cni.plugin) list exactly what releases.yaml knows;
- every field of every entry is read by the generator while it checks and resolves profiles (a field only a
  person reads belongs in a comment or docs/release-facts.md);
- version ranges are written one way: min_kubernetes / max_kubernetes.
"""

import json

import pytest
import yaml

from tests.support.common import ROOT
from generator import DATA_DIR, releases
from generator.pipeline import node_from_profile
from generator.errors import ProfileError
from generator.versions import supported_pairs

SCHEMA = json.loads((ROOT / "schema" / "profile.schema.json").read_text())
DATA = yaml.safe_load((DATA_DIR / "releases.yaml").read_text())
# mappings keyed by a name or a version (their keys are data, not fields)
NAMED = {("kubernetes",), ("os",), ("repos",), ("cni",), ("cni", "*", "versions"), ("os", "*", "os_repos"),
         ("kubeadm_ecdsa_sa_key_since",)}


def test_os_distro_enum_is_the_distros_of_releases_yaml():
    distros = {key.rsplit("-", 1)[0] for key in DATA["os"]}
    assert set(SCHEMA["properties"]["os"]["properties"]["distro"]["enum"]) == distros


def test_cni_plugin_enum_is_the_plugins_of_releases_yaml():
    assert set(SCHEMA["properties"]["cni"]["properties"]["plugin"]["enum"]) == set(DATA["cni"])


def test_os_repository_names_match_the_schema_mirrors():
    """mirrors.os.<name> in the schema, and every name releases.yaml gives an OS repository."""
    names = set(SCHEMA["properties"]["mirrors"]["properties"]["os"]["properties"])
    used = {name for entry in DATA["os"].values() for name in entry.get("os_repos", {})}
    used |= {entry["install_url_repo"] for entry in DATA["os"].values()}
    assert used <= names


def fields(node, path=()) -> set[tuple]:
    """(kind path, field) for every field of every entry; named mappings are stepped through as '*'."""
    found = set()
    if isinstance(node, dict):
        named = path in NAMED
        for key, value in node.items():
            if not named:
                found.add((path, key))
            found |= fields(value, path + ("*" if named else key,))
    return found


class Recorded(dict):
    """A releases.yaml mapping that notes each field the generator reads (by [], get or in)."""

    def __init__(self, value: dict, path: tuple, seen: set):
        self.path, self.seen = path, seen
        named = path in NAMED
        super().__init__({k: wrap(v, path + ("*" if named else k,), seen) for k, v in value.items()})

    def _note(self, key):
        if self.path not in NAMED:
            self.seen.add((self.path, key))

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._note(key)
        return super().get(key, default)

    def __contains__(self, key):
        self._note(key)
        return super().__contains__(key)


def wrap(value, path, seen):
    if isinstance(value, dict):
        return Recorded(value, path, seen)
    if isinstance(value, list):
        return [wrap(v, path, seen) for v in value]
    return value


def profiles() -> list[str]:
    """Enough profiles to touch every entry: each minor, each OS, each CNI release, HA control planes and the
    refusals (a CNI on too old a kernel)."""
    pairs = supported_pairs()
    chosen = {next(p for p in pairs if p[0] == minor) for minor in releases.kubernetes_minors()}
    chosen |= {next(p for p in pairs if p[1] == key) for key in DATA["os"]}
    texts = []
    for minor, os_key in sorted(chosen):
        distro, _, major = os_key.rpartition("-")
        texts.append({"os": {"distro": distro, "version": major}, "kubernetes": {"version": minor}})
    for plugin, entry in DATA["cni"].items():
        for version, release in entry["versions"].items():
            minor = release.get("max_kubernetes", releases.kubernetes_minors()[-1])
            os_key = max((key for m, key in pairs if m == minor), key=lambda key: not key.endswith("-8"))
            distro, _, major = os_key.rpartition("-")
            texts.append({"os": {"distro": distro, "version": major}, "kubernetes": {"version": minor},
                          "cni": {"plugin": plugin, "version": version}})
    texts.append({"os": {"distro": "rocky", "version": "8"}, "kubernetes": {"version": "1.30"}, "cni": {"plugin": "cilium"}})
    return texts


def test_every_field_of_releases_yaml_is_read(monkeypatch, tmp_path):
    seen: set = set()
    monkeypatch.setattr(releases, "data", lambda: recorded)
    # lookups cached by an earlier test in this process would answer without reading the (recorded) data
    for name, function in list(vars(releases).items()):
        if callable(function) and hasattr(function, "cache_clear") and name != "data":
            monkeypatch.setattr(releases, name, function.__wrapped__)
    recorded = Recorded(DATA, (), seen)
    for i, text in enumerate(profiles()):
        for role, extra in (("worker", {}), ("control-plane", {"cluster": {"first_control_plane": "cp1"}})):
            profile = {"role": role, "hostname": "cp1", "cluster": {"name": "data"}, **extra, **text}
            profile["kubernetes"] = {**text["kubernetes"], "control_plane_endpoint": "cp1.example:6443"}
            path = tmp_path / f"p{i}-{role}.yaml"
            path.write_text(yaml.safe_dump(profile))
            try:
                node_from_profile(path, tmp_path / "secrets")
            except ProfileError:
                pass  # refusals read release data too (the kernel a CNI needs, the ECDSA key since)
    from generator.versions import format_matrix
    format_matrix()
    unread = sorted(f"{'.'.join(path) or '(top)'}.{key}" for path, key in fields(DATA) - seen)
    assert unread == [], "fields of releases.yaml nothing reads: " + ", ".join(unread)


@pytest.mark.parametrize("spelling", ["k8s_min", "k8s_max", "first_minor", "last_minor", "min_el_major"])
def test_one_notation_for_version_ranges(spelling):
    assert spelling not in {key for _, key in fields(DATA)}
