"""Export cross-checked with a real traced session of a notebook that has no cell ids.

Ten of eleven public notebooks are nbformat 4.4: the cells have no ids, and a front end
sends random ones (JupyterLab) or none (nbclient). A real IPython shell runs the cells
as JupyterLab would; export must still see what the tracer saw: names static analysis
misses become inputs (with a warning), and a value the tracer saw bound to a type no
serializer can store is refused at export, naming its cell.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from mlprod_nb.errors import SerializationError
from mlprod_nb.pipeline.export import export
from mlprod_nb.tracer import extension

Cell = tuple[str, Sequence[str]]


def old_notebook(path: Path, cells: Sequence[Cell]) -> Path:
    """nbformat 4.4, no ids, as most notebooks in the wild."""
    nb = nbformat.v4.new_notebook()
    for source, tags in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = list(tags)
        nb.cells.append(cell)
    data = json.loads(nbformat.writes(nb))
    for cell in data["cells"]:
        cell.pop("id", None)
    data["nbformat_minor"] = 4
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def shell(tmp_path: Path, home: Path) -> Iterator[InteractiveShell]:
    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell(config=config)
    shell.user_ns["__session__"] = str(tmp_path / "analysis.ipynb")
    shell.run_line_magic("load_ext", "mlprod_nb")
    yield shell
    extension.unload(shell)


def run_all(shell: InteractiveShell, cells: Sequence[Cell]) -> None:
    """Every cell top to bottom, each with a random id as JupyterLab gives unsaved cells."""
    for source, _ in cells:
        assert shell.run_cell(source, store_history=True, cell_id=str(uuid.uuid4())).success


DYNAMIC_PATHS: list[Cell] = [
    ("name = 'shared'", ["parameters"]),
    ("open(f'{name}.txt', 'w').write('x')", ["step:a"]),
    ("content = open(f'{name}.txt').read()", ["step:b"]),  # no literal path to link
]


def test_files_only_the_tracer_saw_order_steps_in_a_notebook_without_ids(
    shell: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = old_notebook(tmp_path / "analysis.ipynb", DYNAMIC_PATHS)
    assert export(notebook, check=True).manifest.edges == ()  # nothing traced yet
    monkeypatch.chdir(tmp_path)
    run_all(shell, DYNAMIC_PATHS)
    result = export(notebook, check=True)
    assert result.traced
    [edge] = result.manifest.edges
    assert (edge.source, edge.target, edge.files) == ("a", "b", ("shared.txt",))


UNSENDABLE: list[Cell] = [
    ("def numbers():\n    yield from range(3)\n\nstream = numbers()", ["step:make"]),
    ("first = next(stream)", ["step:use"]),
]


def test_a_value_the_tracer_saw_is_a_generator_is_refused_at_export(
    shell: InteractiveShell, tmp_path: Path
) -> None:
    notebook = old_notebook(tmp_path / "analysis.ipynb", UNSENDABLE)
    run_all(shell, UNSENDABLE)
    with pytest.raises(SerializationError) as caught:
        export(notebook, check=True)
    assert caught.value.cell_id == "cell-0"
    assert "'stream'" in str(caught.value)
    assert "generator" in str(caught.value)
