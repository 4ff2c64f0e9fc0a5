"""The node's files (generator.render): one script that runs the plan, values quoted for the shell, secrets private."""

import re
import subprocess

import pytest

from generator import render
from generator.pipeline import node_from_profile
from generator.plan import BOOT, PREPARE, plan
from tests.support.common import ROOT


@pytest.mark.parametrize("value", ["plain", "a b", "x; touch /tmp/pwned", "$(id)", "`id`", "it's", 'say "hi"',
                                   "tab\there", "new\nline", "*", "~root", "-n"])
def test_every_value_reaches_the_shell_as_one_word(value):
    line = render.SHELL.from_string('printf "%s\\0" {{ value }}').render(value=value)
    result = subprocess.run(["bash", "-c", line], capture_output=True, text=True, cwd="/")
    assert result.returncode == 0, result.stderr
    assert result.stdout == value + "\0"


def test_only_values_marked_raw_pass_unquoted():
    env = render.SHELL
    assert env.from_string("{{ v }}").render(v="a b") == "'a b'"
    assert env.from_string("{{ v | raw }}").render(v="a b") == "a b"
    assert env.from_string("{{ v }}").render(v=None) == ""
    assert env.from_string("{{ v | shell_words }}").render(v=["a b", "c"]) == "'a b' c"
    assert env.from_string("# {{ v | comment }}").render(v="x\nrm -rf /") == "# x rm -rf /"


def phase_steps(script: str, phase: str) -> list[str]:
    if phase == PREPARE:
        return re.search(r"^readonly PREPARE_STEPS=\((.*)\)$", script, re.M).group(1).split()
    return re.search(r"^\s*run_phase boot (.*)$", script, re.M).group(1).split()


@pytest.mark.parametrize("profile", ["profiles/master.yaml", "profiles/worker.yaml", "profiles/ha/cp2.yaml"])
def test_the_script_runs_the_plan_in_order_each_step_defined_once(profile):
    node = node_from_profile(ROOT / profile)
    script = render.bootstrap_script(node)
    steps = plan(node)
    for phase in (PREPARE, BOOT):
        assert phase_steps(script, phase) == [s.name for s in steps if s.phase == phase]
    defined = re.findall(r"^step_(\w+)\(\) \{$", script, re.M)
    assert sorted(defined) == sorted(s.name for s in steps)
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0


@pytest.mark.parametrize("profile", ["profiles/master.yaml", "profiles/worker.yaml", "profiles/ha/cp1.yaml"])
def test_node_files_are_absolute_unique_and_keep_secrets_private(profile):
    node = node_from_profile(ROOT / profile)
    files = render.node_files(node)
    assert files[0].mode == 0o755 and files[0].content.startswith("#!/bin/bash")
    paths = [f.path for f in files]
    assert len(paths) == len(set(paths)) and all(p.startswith("/") for p in paths)
    token = node.join.token
    for f in files:
        holds_secret = "PRIVATE KEY" in f.content or (token and token in f.content)
        if holds_secret:
            assert f.secret and f.mode & 0o077 == 0, f"{f.path} holds a secret but is mode {f.mode:o}"


def test_rendering_is_deterministic():
    node = node_from_profile(ROOT / "profiles/ha/cp1.yaml")
    assert render.node_files(node) == render.node_files(node_from_profile(ROOT / "profiles/ha/cp1.yaml"))


def test_the_heredoc_marker_is_no_line_of_any_embedded_file():
    from generator.kickstart import DELIMITER, heredoc_delimiter
    from generator.render import NodeFile

    def files(*contents):
        return [NodeFile(f"/f{i}", text) for i, text in enumerate(contents)]

    assert heredoc_delimiter(files("a\n", f"say {DELIMITER} here\n")) == DELIMITER  # inside a line: harmless
    assert heredoc_delimiter(files("a\n", f"x\n{DELIMITER}\n")) == f"{DELIMITER}_1"
    assert heredoc_delimiter(files(f"{DELIMITER}\n", f"{DELIMITER}_1\r\n")) == f"{DELIMITER}_2"
