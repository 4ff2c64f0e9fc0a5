"""A one-line progress bar on stderr for long builds; silent when stderr is not a terminal (logs, CI, pipes)."""

import sys
import time
from typing import TextIO

# a build shorter than this shows nothing: a bar that flashes by only adds noise
DELAY = 0.5
INTERVAL = 0.1
WIDTH = 30


class Progress:
    def __init__(self, total: int, what: str, stream: TextIO | None = None, force: bool | None = None):
        self.total, self.what = total, what
        self.stream = stream or sys.stderr
        self.enabled = force if force is not None else _is_terminal(self.stream)
        self.start = time.monotonic()
        self.last = 0.0
        self.shown = False

    def update(self, done: int) -> None:
        if not self.enabled or not self.total:
            return
        now = time.monotonic()
        if now - self.start < DELAY or (now - self.last < INTERVAL and done < self.total):
            return
        self.last, self.shown = now, True
        filled = WIDTH * done // self.total
        self.stream.write(f"\r[{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{self.total} {self.what}")
        self.stream.flush()

    def close(self) -> None:
        """Clear the bar so what follows starts on a clean line."""
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
