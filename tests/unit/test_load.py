import pytest

from generator.errors import ProfileError
from generator.load import load_profile


def problems(path) -> list[str]:
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    return [str(p) for p in err.value.problems]


def test_values_keep_their_file_and_line(write_profile):
    path = write_profile("p.yaml", "role: worker\nkubernetes:\n  version: '1.30'\n")
    doc = load_profile(path)
    assert doc.data == {"role": "worker", "kubernetes": {"version": "1.30"}}
    assert doc.locate(("kubernetes", "version")) == (str(path), 3)
    assert doc.locate(("kubernetes", "missing")) == (str(path), 2)


def test_extends_merges_mappings_and_child_wins(write_profile):
    write_profile("cluster.yaml", "os:\n  distro: rocky\n  version: '9'\nhosts:\n  - {ip: 1.2.3.4, names: [a]}\n")
    child = write_profile("node.yaml", "extends: cluster.yaml\nos:\n  version: '8'\nhosts: []\n")
    doc = load_profile(child)
    assert doc.data == {"os": {"distro": "rocky", "version": "8"}, "hosts": []}
    assert doc.locate(("os", "distro"))[0].endswith("cluster.yaml")
    assert doc.locate(("os", "version")) == (str(child), 3)


@pytest.mark.parametrize("text, expected", [
    ("role: worker\nrole: master\n", "p.yaml:2: error: role: duplicate key 'role'"),
    ("role: [worker\n", "p.yaml:1: error: a list or mapping opened here is not closed: add `]`, or put a comma"),
    ("- role: worker\n", "p.yaml:1: error: the profile must be a mapping"),
    ("", "p.yaml:1: error: the profile is empty"),
    ("# only a comment\n", "p.yaml:1: error: the profile is empty"),
    ("a: &x 1\nb: *x\n", "p.yaml:1: error: YAML anchors and aliases are not allowed"),
    ("role: !!python/object:os.system worker\n", "p.yaml:1: error: role: YAML tag"),
    ("role: worker\n---\nrole: master\n", "one YAML document per profile"),
])
def test_bad_yaml_is_reported_with_file_and_line(write_profile, text, expected):
    path = write_profile("p.yaml", text)
    found = problems(path)
    assert any(expected.replace("p.yaml", str(path)) in p for p in found), found


def test_non_utf8_bytes_are_refused_with_their_line(write_profile):
    path = write_profile("p.yaml", b"role: worker\nhostname: caf\xe9\n")
    assert problems(path) == [f"{path}:2: error: not UTF-8 text (save the file as UTF-8)"]


def test_extends_cycle_and_missing_file(write_profile):
    write_profile("a.yaml", "extends: b.yaml\n")
    b = write_profile("b.yaml", "role: worker\nextends: a.yaml\n")
    assert "extends cycle: b.yaml -> a.yaml -> b.yaml" in problems(b)[0]
    c = write_profile("c.yaml", "extends: nowhere.yaml\n")
    assert problems(c) == [f"{c}:1: error: extends: file 'nowhere.yaml' not found (looked in {c.parent}/)"]
