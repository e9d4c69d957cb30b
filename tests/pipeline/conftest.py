"""Helpers for pipeline tests: small notebooks built with nbformat in tmp dirs."""

from __future__ import annotations

import atexit
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

Cell = str | tuple[str, Sequence[str]]  # source, or (source, tags); "# Title" markdown via md()


class Markdown(str):
    pass


def md(text: str) -> Markdown:
    return Markdown(text)


def step(name: str, source: str, *extra: str) -> Cell:
    """A code cell starting step ``name`` (more tags in ``extra``)."""
    return (source, [f"step:{name}", *extra])


def write_notebook(path: Path, cells: Sequence[Cell], *, ids: bool = True) -> Path:
    """A valid nbformat 4.5 notebook at ``path`` (python3 kernel); ``ids=False``: an
    nbformat 4.4 one without cell ids, as most notebooks in the wild."""
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
    if ids:
        nbformat.write(nb, path)
        return path
    data = json.loads(nbformat.writes(nb))
    for cell in data["cells"]:
        cell.pop("id", None)
    data["nbformat_minor"] = 4
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def traced_shell(tmp_path: Path, home: Path) -> Iterator[InteractiveShell]:
    """A real IPython shell with the tracer loaded, its ``__session__`` the notebook
    ``tmp_path / "analysis.ipynb"`` (as ipykernel sets it)."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    from mlprod_nb.tracer import extension

    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell(config=config)
    shell.user_ns["__session__"] = str(tmp_path / "analysis.ipynb")
    shell.run_line_magic("load_ext", "mlprod_nb")
    yield shell
    extension.unload(shell)
    atexit.unregister(shell.atexit_operations)  # its hook kept it alive and gc'd at exit


def project(base: Path) -> Path:
    """A project folder with its own ``.mlprod`` store (found from notebooks inside)."""
    base.mkdir(parents=True, exist_ok=True)
    (base / ".mlprod").mkdir(exist_ok=True)
    return base
