"""libyaml is used only where it writes the pure-Python emitter's bytes: compared on fuzzed data and on every
example's artifacts, and the corners where the two differ are shown to fall back."""

import random

import pytest
import yaml

from pathlib import Path

from generator import cloudinit, configs, memo, netconfig, node_paths as paths, yamldump
from generator.build import build
from generator.inventory import build_documents
from generator.resolve import resolve
from tests.support.common import ALL_PROFILES, ROOT

pytestmark = pytest.mark.skipif(not getattr(yaml, "__with_libyaml__", False), reason="PyYAML without libyaml")

# pieces that steer the emitters' choices (quoting, block styles, indicators), from printable ASCII words
# to line breaks, spaces and non-ASCII characters, to the characters where the two emitters differ
WORDS = list("ab01:#-'\"\\{}[],&*!|>%@`?~.") + ["---", "...", "yes", "null", "0o17", "1e3", "~"]
TEXT = WORDS + [" ", "\n", "\t", "\n\n", "  ", " \n", "\n ", "- ", ": ", " #", "é", "\xa0", "\u2028", "\ud7ff", "\ue000",
                "\ufffd"]
ANY = TEXT + ["\r", "\x85", "\ufeff", "\x00", "\x1b", "\U0001f600", "\x7f", "\x9f"]


def _document(rnd: random.Random, longest: int) -> dict:
    pieces = rnd.choice((WORDS, TEXT, ANY))
    texts = ["".join(rnd.choice(pieces) for _ in range(rnd.randint(0, longest))) for _ in range(5)]
    return {"a": texts[0], "b": [texts[1], {"c": texts[2], "k": [texts[3], 1, True, None]}], "e": texts[4]}


CLOUD_CONFIG = dict(sort_keys=False, default_flow_style=False, width=1 << 20, allow_unicode=True)
KUBEADM = dict(sort_keys=False, default_flow_style=False)


@pytest.mark.slow  # thousands of generated documents
@pytest.mark.parametrize("dumper, twin, text, options", [
    (cloudinit._Dumper, cloudinit._CDumper, yamldump.UNFOLDED_TEXT, CLOUD_CONFIG),
    (yaml.SafeDumper, configs._CSafeDumper, yamldump.WORD, KUBEADM),
], ids=["cloud-config", "kubeadm"])
def test_libyaml_writes_the_same_bytes_wherever_it_is_taken(dumper, twin, text, options):
    rnd = random.Random(12)
    taken = 0
    for _ in range(3000):
        data = _document(rnd, rnd.choice((8, 40, 200)))
        pure = yaml.dump(data, Dumper=dumper, **options)
        assert yamldump.dump(data, dumper, twin, text, **options) == pure, data
        taken += yamldump.libyaml_safe(data, text)
    assert taken > 100  # the fuzzed data reaches the fast path, not only the fallback


@pytest.mark.parametrize("text", ["a\n\n", "\n", "smile \U0001f600", "bom\ufeff", "cr\r\n", "nel\x85"])
def test_the_corners_where_libyaml_differs_fall_back(text):
    data = {"k": [text, 1]}
    assert not yamldump.libyaml_safe(data, yamldump.UNFOLDED_TEXT)
    assert yamldump.dump(data, cloudinit._Dumper, cloudinit._CDumper, yamldump.UNFOLDED_TEXT,
                         **CLOUD_CONFIG) == yaml.dump(data, Dumper=cloudinit._Dumper, **CLOUD_CONFIG)


def test_a_long_text_with_spaces_is_not_given_to_libyaml_at_the_folding_width():
    data = {"k": "word " * 40 + "\t"}
    assert not yamldump.libyaml_safe(data, yamldump.WORD)
    # the two emitters fold it differently: the reason for the fallback
    assert (yaml.dump(data, Dumper=yaml.SafeDumper, **KUBEADM)
            != yaml.dump(data, Dumper=yaml.CSafeDumper, **KUBEADM))


def test_every_example_builds_to_the_same_bytes_with_and_without_libyaml(tmp_path, monkeypatch):
    fast = {p.relative_to(tmp_path / "fast"): p.read_bytes()
            for p in build([ROOT / "profiles"], tmp_path / "fast").written}
    monkeypatch.setattr(yamldump, "libyaml_safe", lambda data, text: False)
    memo.forget_all()  # what the fast build dumped must be dumped again
    pure = {p.relative_to(tmp_path / "pure"): p.read_bytes()
            for p in build([ROOT / "profiles"], tmp_path / "pure").written}
    assert fast == pure


def test_without_libyaml_the_pure_python_emitter_writes(monkeypatch):
    monkeypatch.delattr(yaml, "CSafeDumper")
    assert yamldump.libyaml_twin(yaml.SafeDumper) is None
    data = {"k": ["v", 1]}
    assert yamldump.dump(data, yaml.SafeDumper, None, yamldump.WORD) == yaml.safe_dump(data)


def _example_cloud_configs(secrets_dir):
    for profile in ALL_PROFILES:
        entries, problems = build_documents(ROOT / profile, ROOT / profile)
        assert not problems
        yield from (cloudinit.cloud_config(resolve(entry.doc, secrets_dir)) for entry in entries)


def test_a_cloud_config_dumped_in_parts_is_the_whole_dumped_at_once(tmp_path):
    """cloudinit.dump writes each top-level key and each write_files entry on its own (remembered across nodes)."""
    rnd = random.Random(3)
    crafted = [{"write_files": [{"path": "/a", "content": _document(rnd, 40)["a"]} for _ in range(3)],
                "runcmd": [["echo", _document(rnd, 20)["e"]]], "write_files_after": []} for _ in range(200)]
    configs_seen = list(_example_cloud_configs(tmp_path)) + crafted + [{"write_files": []}]
    for config in configs_seen + configs_seen[::-1]:  # parts dumped before, for another node, are taken again
        assert cloudinit.dump(config) == yaml.dump(config, Dumper=cloudinit._Dumper, **CLOUD_CONFIG)


def test_kubeadm_documents_dumped_key_by_key_are_what_one_dump_writes():
    documents = [{"apiVersion": "v1", "kind": kind, "list": [{"a": i}]} for i, kind in enumerate("ABAB")]
    assert configs.dump_yaml_documents(documents) == yaml.dump_all(documents, Dumper=yaml.SafeDumper, **KUBEADM)
    rnd = random.Random(5)
    fuzzed = [_document(rnd, rnd.choice((8, 40, 200))) for _ in range(300)]
    for document in fuzzed + fuzzed[::-1]:
        assert configs.dump_yaml_documents([document]) == yaml.dump(document, Dumper=yaml.SafeDumper, **KUBEADM)


def test_data_holding_one_list_twice_is_dumped_whole_with_its_anchor():
    shared = ["a", "b"]
    data = {"x": shared, "y": {"z": shared}}
    whole = yaml.dump(data, Dumper=cloudinit._Dumper, **CLOUD_CONFIG)
    assert "&id001" in whole and cloudinit.dump(data) == whole


def _simple_document(rnd: random.Random) -> object:
    """Nested mappings and lists of the values simple_block takes, and some it must refuse."""
    leaves = [None, True, False, 0, 7, -3, "", "a", "0600", "1.5", "yes", "null", "~", "52:54:00:01:00:00", "a:",
              "/etc/x", "v1.36", "x y", "it's", "-a", ".hidden", "k8s-w-001", "sha256:" + "a" * 64, "a" * 200,
              "line\n", "two\nlines\n", "a\n\n", "\nlead\n", " lead\n", "trail \nx\n", "tab\there\n", "end",
              "é\n", "x" * 130, "\u2028hello\n", "\thello\n", "\rx\n", "\x85a\n", "\ufeffa\n", "\x00a\n",
              "\x1ba\n", "\x7fa\n", 0.0, -0.0, 1.5]

    def value(depth: int):
        kind = rnd.random()
        if depth > 3 or kind < 0.5:
            return rnd.choice(leaves)
        if kind < 0.75:
            return {rnd.choice(["a", "path", "0", "on", "x" * 130, "k" * 121, "k" * 122, "k-1", "x y"]) + str(i):
                    value(depth + 1)
                    for i in range(rnd.randint(0, 3))}
        return [value(depth + 1) for _ in range(rnd.randint(0, 3))]

    return value(0)


@pytest.mark.parametrize("literal, dumper, options", [
    (True, cloudinit._Dumper, CLOUD_CONFIG), (False, yaml.SafeDumper, KUBEADM)], ids=["cloud-config", "kubeadm"])
def test_simple_data_is_written_as_pyyaml_writes_it(literal, dumper, options):
    rnd = random.Random(21)
    taken = 0
    for _ in range(4000):
        data = _simple_document(rnd)
        fast = yamldump.simple_block(data, literal)
        if fast is not None:
            taken += 1
            assert fast == yaml.dump(data, Dumper=dumper, **options), data
    assert taken > 200  # the generated data reaches the simple writer, not only the refusals


def test_options_and_types_the_simple_writer_does_not_know_are_left_to_pyyaml():
    data = {"a": {"b": "c"}, "d": ["e"]}
    for options in ({"indent": 4}, {"explicit_start": True}):
        options.update(sort_keys=False, default_flow_style=False)
        assert yamldump.dump(data, yaml.SafeDumper, None, yamldump.WORD, **options) == yaml.safe_dump(data, **options)
    from collections import OrderedDict
    with pytest.raises(yaml.representer.RepresenterError):  # as yaml.safe_dump refuses a dict's subclass
        yamldump.dump({"a": OrderedDict(b="c")}, yaml.SafeDumper, None, yamldump.WORD, sort_keys=False,
                      default_flow_style=False)


def test_a_fleet_nodes_own_parts_are_simple(tmp_path):
    """The parts a fleet's nodes do not share go through simple_block (the point of it): the host name, the
    node-name file, the kubeadm config file and the network-config of a worker listed in a CSV file."""
    entries, _ = build_documents(ROOT / "profiles/fleet/cluster.yaml", Path("cluster.yaml"))
    node = resolve(entries[-1].doc, tmp_path)
    config = cloudinit.cloud_config(node)
    own = [{"hostname": config["hostname"]}] + [[entry] for entry in config["write_files"]
                                                if entry["path"] in (paths.NODE_NAME_FILE, paths.KUBEADM_CONFIG)]
    assert len(own) == 3
    for part in own + [netconfig.network_config(node)]:
        assert yamldump.simple_block(part, literal=True) is not None, part


def test_equal_but_differently_written_values_are_remembered_apart():
    for a, b in ((0.0, -0.0), (1, True), (1, 1.0)):
        assert configs.dump_yaml_documents([{"k": a}]) == yaml.dump({"k": a}, Dumper=yaml.SafeDumper, **KUBEADM)
        assert configs.dump_yaml_documents([{"k": b}]) == yaml.dump({"k": b}, Dumper=yaml.SafeDumper, **KUBEADM)
