"""Each stage of the pipeline imports only the stages before it (docs/architecture.md); data modules such as
generator/node_paths.py, model.py and releases.py may be imported by any stage."""

import ast

import pytest

from tests.support.common import ROOT

# load -> schema -> rules -> resolve -> plan -> render -> carriers -> emit -> verify
STAGES = ["load", "schema", "rules", "resolve", "plan", "render", "kickstart", "cloudinit", "emit", "verify"]


def imported_modules(name: str) -> set[str]:
    """generator modules a module imports, at the top or inside a function."""
    tree = ast.parse((ROOT / "generator" / f"{name}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("generator"):
            if node.module == "generator":
                found |= {alias.name for alias in node.names}
            else:
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("generator.")}
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_imports_no_later_stage(stage):
    later = set(STAGES[STAGES.index(stage) + 1:])
    assert imported_modules(stage) & later == set()
