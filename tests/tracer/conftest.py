"""A real IPython shell with the tracer loaded, and the journal it writes read back."""

from __future__ import annotations

import atexit
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from mlprod_nb import journal
from mlprod_nb.tracer import extension
from mlprod_nb.tracer.session import Tracer


@dataclass
class Traced:
    """Drives ``shell`` like a front end does and reads what the tracer journaled."""

    shell: InteractiveShell
    home: Path

    @property
    def tracer(self) -> Tracer:
        tracer = extension.current()
        assert tracer is not None
        return tracer

    def run(self, code: str, **kwargs: Any) -> dict[str, Any]:
        """Run one cell; return the execution record written for it."""
        before = len(self.executions())
        result = self.shell.run_cell(code, store_history=True, **kwargs)
        executions = self.executions()
        assert len(executions) == before + 1, f"no record for {code!r} ({result})"
        return executions[-1]

    def records(self) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        for path in sorted((self.home / "journal").glob("*.ndjson")):
            lines += journal.records(path)
        return lines

    def executions(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if r["kind"] == "execution"]


def new_shell() -> InteractiveShell:
    config = Config()
    config.HistoryManager.enabled = False
    return InteractiveShell(config=config)


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    shell = new_shell()
    yield shell
    extension.unload(shell)
    atexit.unregister(shell.atexit_operations)  # its hook kept it alive and gc'd at exit


@pytest.fixture
def traced(shell: InteractiveShell, home: Path) -> Traced:
    shell.run_line_magic("load_ext", "mlprod_nb")
    return Traced(shell, home)
