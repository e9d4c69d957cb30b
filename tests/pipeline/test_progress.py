"""Progress lines: a live line on a terminal, plain lines otherwise, always in the log."""

from __future__ import annotations

import io

from mlprod_nb.pipeline.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_when_not_a_terminal() -> None:
    out, log = io.StringIO(), []
    progress = Progress(out, log.append, total=3)
    progress.tick(["a"])  # no live line in a file
    progress.done = 1
    progress.line("a: ok (0.1s)")
    assert out.getvalue().count("\n") == 1
    assert "[1/3" in out.getvalue()
    assert "a: ok" in out.getvalue()
    assert "\r" not in out.getvalue()
    assert len(log) == 1
    assert "a: ok" in log[0]


def test_live_line_on_a_terminal() -> None:
    out, log = Terminal(), []
    progress = Progress(out, log.append, total=2)
    progress.tick(["train", "clean"])
    assert "running: train, clean" in out.getvalue()
    assert "[0/2]" in out.getvalue()
    progress.line("train: ok (1.0s)")  # clears the live line, then prints a lasting one
    assert "\r\x1b[K" in out.getvalue()
    assert out.getvalue().endswith("train: ok (1.0s)\n")
    progress.tick([])
    progress.close()
    assert out.getvalue().endswith("\r\x1b[K")
    assert log == [line for line in log if "\r" not in line]
