"""Progress of a run: a live line on a terminal, plain lines otherwise (and in driver.log)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None, log: Callable[[str], None], total: int) -> None:
        self.stream = stream
        self.log = log
        self.total = total
        self.done = 0
        self.started = time.monotonic()
        self.live = bool(stream is not None and stream.isatty())
        self._shown = False

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def line(self, text: str) -> None:
        """A line that stays (a step finished, a warning, the result)."""
        stamped = f"[{self.done}/{self.total} {self.elapsed():6.1f}s] {text}"
        self.log(stamped)
        if self.stream is None:
            return
        if self.live and self._shown:
            self.stream.write("\r\x1b[K")
            self._shown = False
        self.stream.write(stamped + "\n")
        self.stream.flush()

    def tick(self, running: Sequence[str]) -> None:
        """Refresh the live line (terminal only)."""
        if not self.live or self.stream is None:
            return
        current = ", ".join(running) or "-"
        self.stream.write(
            f"\r\x1b[K[{self.done}/{self.total}] running: {current}  {self.elapsed():.1f}s"
        )
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self.live and self._shown and self.stream is not None:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False
