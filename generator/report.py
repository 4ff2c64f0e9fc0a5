"""How problems reach the user: one per line on stderr with the offending profile line, or JSON for CI."""

import dataclasses
import json
import sys
from typing import Iterable, TextIO

from generator.errors import Problem

FORMATS = ("text", "json")


def strict(problems: Iterable[Problem]) -> list[Problem]:
    """--strict: every warning becomes an error (as a compiler's -Werror), marked so the reader knows why."""
    return [dataclasses.replace(p, severity="error", message=f"{p.message} [--strict]") if p.severity == "warning"
            else p for p in problems]


def exit_code(problems: Iterable[Problem]) -> int:
    return 2 if any(p.is_error for p in problems) else 0


def print_text(problems: Iterable[Problem], stream: TextIO | None = None) -> None:
    """Each problem on its line; the profile line it points at is shown the first time only."""
    shown = set()
    for problem in problems:
        where = (problem.file, problem.line, problem.column)
        print(str(problem) if where in shown else problem.report(), file=stream or sys.stderr)
        shown.add(where)


def print_json(problems: Iterable[Problem], stream: TextIO | None = None) -> None:
    json.dump([p.as_json() for p in problems], stream or sys.stdout, indent=2)
    (stream or sys.stdout).write("\n")
