"""Export cross-checked with a real traced session of a notebook that has no cell ids.

Ten of eleven public notebooks are nbformat 4.4: the cells have no ids, and a front end
sends random ones (JupyterLab) or none (nbclient). A real IPython shell runs the cells
as JupyterLab would; export must still see what the tracer saw: names static analysis
misses become inputs (with a warning), and a value the tracer saw bound to a type no
serializer can store is refused at export, naming its cell.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from mlprod_nb.errors import SerializationError
from mlprod_nb.pipeline.export import export

from .conftest import write_notebook

Cell = tuple[str, Sequence[str]]


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
    traced_shell: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = write_notebook(tmp_path / "analysis.ipynb", DYNAMIC_PATHS, ids=False)
    assert export(notebook, check=True).manifest.edges == ()  # nothing traced yet
    monkeypatch.chdir(tmp_path)
    run_all(traced_shell, DYNAMIC_PATHS)
    result = export(notebook, check=True)
    assert result.traced
    [edge] = result.manifest.edges
    assert (edge.source, edge.target, edge.files) == ("a", "b", ("shared.txt",))


UNSENDABLE: list[Cell] = [
    ("def numbers():\n    yield from range(3)\n\nstream = numbers()", ["step:make"]),
    ("first = next(stream)", ["step:use"]),
]


def test_a_value_the_tracer_saw_is_a_generator_is_refused_at_export(
    traced_shell: InteractiveShell, tmp_path: Path
) -> None:
    notebook = write_notebook(tmp_path / "analysis.ipynb", UNSENDABLE, ids=False)
    run_all(traced_shell, UNSENDABLE)
    with pytest.raises(SerializationError) as caught:
        export(notebook, check=True)
    assert caught.value.cell_id == "cell-0"
    assert "'stream'" in str(caught.value)
    assert "generator" in str(caught.value)
