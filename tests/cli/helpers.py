"""The CLI as a user runs it, and notebooks of code cells with chosen ids."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat


def write_cells(path: Path, cells: list[tuple[str, str]], *, notes: bool = False) -> Path:
    """An nbformat 4.5 notebook of code cells ``(id, source)``; ``notes`` adds a markdown
    cell after the first one."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for cell_id, source in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell["id"] = cell_id
        nb.cells.append(cell)
    if notes:
        nb.cells.insert(1, nbformat.v4.new_markdown_cell("# notes"))
    nbformat.write(nb, path)
    return path


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``mlprod-nb ARGS`` in a new process, from ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "mlprod_nb.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
    )
