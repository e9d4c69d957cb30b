"""Helpers for pipeline tests: small notebooks built with nbformat in tmp dirs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import nbformat

Cell = str | tuple[str, Sequence[str]]  # source, or (source, tags); "# Title" markdown via md()


class Markdown(str):
    pass


def md(text: str) -> Markdown:
    return Markdown(text)


def step(name: str, source: str, *extra: str) -> Cell:
    """A code cell starting step ``name`` (more tags in ``extra``)."""
    return (source, [f"step:{name}", *extra])


def write_notebook(path: Path, cells: Sequence[Cell]) -> Path:
    """A valid nbformat 4.5 notebook at ``path`` (python3 kernel)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for index, item in enumerate(cells):
        if isinstance(item, Markdown):
            cell = nbformat.v4.new_markdown_cell(str(item))
        elif isinstance(item, str):
            cell = nbformat.v4.new_code_cell(item)
        else:
            source, tags = item
            cell = nbformat.v4.new_code_cell(source)
            cell.metadata["tags"] = list(tags)
        cell.id = f"c{index}"
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def project(base: Path) -> Path:
    """A project folder with its own ``.mlprod`` store (found from notebooks inside)."""
    base.mkdir(parents=True, exist_ok=True)
    (base / ".mlprod").mkdir(exist_ok=True)
    return base
