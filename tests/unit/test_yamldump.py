"""libyaml is used only where it writes the pure-Python emitter's bytes: compared on fuzzed data and on every
example's artifacts, and the corners where the two differ are shown to fall back."""

import random

import pytest
import yaml

from generator import cloudinit, configs, yamldump
from generator.build import build
from tests.support.common import ROOT

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
    pure = {p.relative_to(tmp_path / "pure"): p.read_bytes()
            for p in build([ROOT / "profiles"], tmp_path / "pure").written}
    assert fast == pure


def test_without_libyaml_the_pure_python_emitter_writes(monkeypatch):
    monkeypatch.delattr(yaml, "CSafeDumper")
    assert yamldump.libyaml_twin(yaml.SafeDumper) is None
    data = {"k": ["v", 1]}
    assert yamldump.dump(data, yaml.SafeDumper, None, yamldump.WORD) == yaml.safe_dump(data)
