"""Problems the user can act on: errors, warnings and notes, each pointing at a file, a line and a key path."""

from dataclasses import asdict, dataclass

SEVERITIES = ("error", "warning", "note")


@dataclass(frozen=True)
class Problem:
    """One finding. line and column are 1-based, 0 when unknown; `context` is the offending line of the profile
    (shown with a caret under `column`); `hint` is an optional next step beyond the message."""

    file: str
    line: int
    path: str
    message: str
    severity: str = "error"
    column: int = 0
    hint: str = ""
    context: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        path = f" {self.path}:" if self.path else ""
        hint = f"; {self.hint}" if self.hint else ""
        return f"{where}: {self.severity}:{path} {self.message}{hint}"

    def report(self) -> str:
        """The one-line form, then (where the source line is known) that line with a caret under the value."""
        if not self.context or not self.line:
            return str(self)
        number = f"{self.line:5} | "
        text = f"{str(self)}\n{number}{self.context}"
        if self.column:
            text += "\n" + " " * (len(number) - 2) + "| " + " " * (self.column - 1) + "^"
        return text

    def as_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "context"}

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def sort_key(problem: Problem) -> tuple:
    return problem.file, problem.line, problem.column, SEVERITIES.index(problem.severity), problem.path, problem.message


class ProfileError(Exception):
    """One or more problems with user input; the CLI prints them and exits 2."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems), key=sort_key)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self):  # pickled (from a build's worker process) with its problems, not its message
        return type(self), (self.problems,)


class UsageError(Exception):
    """A bad command line (a missing file, clashing options); exit 2."""
