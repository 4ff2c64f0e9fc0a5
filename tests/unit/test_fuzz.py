"""Fuzzing the CLI with broken profiles: whatever the input, `gen` answers 0 or 2, never a traceback.

Profiles start from the examples and are mutated (keys deleted, values swapped for other types, unknown
keys inserted, text truncated or replaced by random bytes, structures nested very deep). The CLI runs
in-process (generator.cli.main with sys.argv set, SystemExit caught) so hundreds of cases take seconds.
"""

import contextlib
import copy
import io
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.common import ALL_PROFILES, ROOT

from generator import cli

HYPOTHESIS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
EXAMPLES = {p: yaml.safe_load((ROOT / p).read_text()) for p in ALL_PROFILES}
# one secrets folder for every example: cluster keys are made once per cluster name, not once per case
SECRETS = tempfile.TemporaryDirectory(prefix="fuzz-secrets-")


class Captured(io.TextIOWrapper):
    def __init__(self):
        super().__init__(io.BytesIO(), encoding="utf-8", errors="replace", write_through=True)

    def text(self) -> str:
        self.flush()
        return self.buffer.getvalue().decode("utf-8", "replace")


def gen(*argv: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `gen ARGV...`, run in this process."""
    out, err = Captured(), Captured()
    old_argv = sys.argv
    sys.argv = ["gen", *argv]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = old_argv
    return code, out.text(), err.text()


def assert_contract(code: int, out: str, err: str) -> None:
    assert code in (0, 2), f"exit {code}: {err[-2000:]}"
    assert "Traceback" not in err and "internal error" not in err, err[-2000:]
    if code == 2:
        assert out == "", "nothing on stdout when the input is refused"
        assert err.strip(), "a refusal says why"


def paths_of(data, prefix=()):
    """Every key path inside a loaded profile."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield prefix + (k,)
            yield from paths_of(v, prefix + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield prefix + (i,)
            yield from paths_of(v, prefix + (i,))


def at(data, path):
    for key in path[:-1]:
        data = data[key]
    return data


scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.text(max_size=20), st.dates(), st.binary(max_size=8).map(lambda b: b.decode("latin-1")))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=8)


@st.composite
def mutated_profiles(draw) -> tuple[str, bytes]:
    """(example the file stands in for, bytes of the mutated profile)."""
    name = draw(st.sampled_from(sorted(EXAMPLES)))
    data = copy.deepcopy(EXAMPLES[name])
    for _ in range(draw(st.integers(1, 3))):
        paths = list(paths_of(data))
        kind = draw(st.sampled_from(["delete", "retype", "insert", "nest"]))
        if kind == "insert" or not paths:
            target = data if not paths else at(data, draw(st.sampled_from(paths)) + (None,))
            if isinstance(target, dict):
                target[draw(st.text(max_size=10))] = draw(values)
            continue
        path = draw(st.sampled_from(paths))
        parent = at(data, path)
        if kind == "delete":
            del parent[path[-1]]
        elif kind == "retype":
            parent[path[-1]] = draw(values)
        else:
            # deep as data, within what yaml.safe_dump can write; far deeper text: the explicit examples
            depth = draw(st.integers(10, 120))
            deep = "x"
            for _ in range(depth):
                deep = [deep] if draw(st.booleans()) else {"k": deep}
            parent[path[-1]] = deep
            break
    try:
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode()
    except RecursionError:
        text = b"role: worker\n"
    how = draw(st.sampled_from(["whole", "truncate", "flip"]))
    if how == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif how == "flip" and text:
        i = draw(st.integers(0, len(text) - 1))
        text = text[:i] + bytes([draw(st.integers(0, 255))]) + text[i + 1:]
    return name, text


def run_profile(name: str, text: bytes, command: str = "ks") -> tuple[int, str, str]:
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / Path(name).parent
        folder.mkdir(parents=True, exist_ok=True)
        # the files it may extend, unchanged, beside it
        (folder / "cluster.yaml").write_text((ROOT / Path(name).parent / "cluster.yaml").read_text())
        path = folder / ("fuzzed-" + Path(name).name)
        path.write_bytes(text)
        return gen(command, str(path), "--secrets-dir", SECRETS.name)


def nested(depth: int, flow: bool) -> bytes:
    if flow:
        return b"role: worker\nhosts: " + b"[" * depth + b"]" * depth + b"\n"
    return b"role: worker\nos:\n" + b"".join(b" " * (i + 1) + b"k:\n" for i in range(depth)) + b" " * (depth + 1) + b"x\n"


@pytest.mark.slow  # 150 generated profiles
@settings(max_examples=150, **HYPOTHESIS)
@given(mutated_profiles(), st.sampled_from(["ks", "plan"]))
@example(("profiles/worker.yaml", nested(5000, flow=True)), "ks")
@example(("profiles/worker.yaml", nested(3000, flow=False)), "ks")
def test_mutated_profiles_exit_0_or_2(case, command):
    assert_contract(*run_profile(*case, command=command))


@pytest.mark.slow  # 100 generated files
@settings(max_examples=100, **HYPOTHESIS)
@given(st.binary(max_size=200), st.sampled_from(["ks", "plan", "validate"]))
@example(b"\xff\xfe", "ks")
@example(b"role: worker\n\x00", "ks")
@example(b"!!python/object/apply:os.system ['true']\n", "ks")
@example(b"a: &x [*x]\n", "ks")
@example(b"- - -", "plan")
def test_random_bytes_exit_0_or_2(data, command):
    assert_contract(*run_profile("profiles/worker.yaml", data, command=command))


def test_the_examples_themselves_render():
    """The fuzz harness is no blanket 'exit 2': unmutated examples go through it with exit 0 and output."""
    for name in ("profiles/master.yaml", "profiles/classic/worker.yaml"):
        code, out, err = run_profile(name, (ROOT / name).read_bytes())
        assert code == 0 and out.startswith("# Kickstart"), err
    code, out, err = gen("ks", "/nonexistent/profile.yaml")
    assert code == 2 and out == ""
