"""The tracer's record matched to the exporter's cells: by id, else by source and position.

A real IPython shell traces the notebook's cells as a front end sends them (with
JupyterLab's ids, random in-memory ids, or none as nbclient does); ``observed_trace``
must then name every execution by the cell id the exporter gives it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell

from mlprod_nb.pipeline.store_view import Trace, observed_trace
from mlprod_nb.pipeline.tags import parse

from .conftest import md, write_notebook


def write_old_notebook(path: Path, cells: Sequence[str]) -> Path:
    """An nbformat 4.4 notebook (no cell ids, as most notebooks in the wild); a string
    starting with "# " is a markdown cell."""
    return write_notebook(path, [md(s) if s.startswith("# ") else s for s in cells], ids=False)


def exporter_cells(path: Path) -> list[tuple[str, str]]:
    """(cell id, source) of every code cell as the exporter reads them, in page order."""
    nb = parse(path)
    cells = [*nb.setup, *nb.parameters, *(c for step in nb.steps for c in step.cells)]
    return [(c.id, c.source) for c in sorted(cells, key=lambda c: c.index)]


@dataclass
class Kernel:
    """A traced shell whose ``__session__`` is the notebook, as ipykernel sets it."""

    shell: InteractiveShell
    notebook: Path

    def run(self, source: str, cell_id: str | None = None) -> None:
        result = self.shell.run_cell(source, store_history=True, cell_id=cell_id)
        assert result.success, result

    def trace(self) -> Trace:
        found = observed_trace(self.notebook, exporter_cells(self.notebook))
        assert found is not None
        return found


@pytest.fixture
def kernel(tmp_path: Path, traced_shell: InteractiveShell) -> Kernel:
    return Kernel(traced_shell, tmp_path / "analysis.ipynb")


@dataclass(frozen=True)
class Case:
    name: str
    cells: Sequence[str]  # the notebook's cells; "# ..." is markdown
    ran: Sequence[int]  # indexes into ``cells`` in the order the front end ran them
    ids: str  # what the front end sent as cell ids: "none" (nbclient) or "random" (Lab)
    uses: dict[str, list[tuple[str, str | None]]]
    matched: int
    by_source: int
    extra: Sequence[str] = field(default_factory=tuple)  # run after, in no cell of the page


CASES = [
    Case(
        "nbformat 4.4, run top to bottom by nbclient (no ids)",
        ["# Load", "x = 1", "# Features", "y = x + 1", "z = y * x"],
        ran=[1, 3, 4],
        ids="none",
        uses={
            "cell-1": [],
            "cell-3": [("x", "cell-1")],
            "cell-4": [("y", "cell-3"), ("x", "cell-1")],
        },
        matched=3,
        by_source=3,
    ),
    Case(
        "nbformat 4.4 in JupyterLab: ids Lab made up in memory, cells run out of order",
        ["x = 1", "# Features", "y = x + 1", "z = y * x"],
        ran=[0, 2, 0, 3],
        ids="random",
        uses={
            "cell-0": [],
            "cell-2": [("x", "cell-0")],
            "cell-3": [("y", "cell-2"), ("x", "cell-0")],
        },
        matched=3,
        by_source=3,
    ),
    Case(
        "identical sources: each execution goes to the copy after the cell run before it",
        ["n = 0", "n = n + 1", "a = n", "n = n + 1", "b = n"],
        ran=[0, 1, 2, 3, 4],
        ids="none",
        uses={
            "cell-0": [],
            "cell-1": [("n", "cell-0")],
            "cell-2": [("n", "cell-1")],
            "cell-3": [("n", "cell-1")],
            "cell-4": [("n", "cell-3")],
        },
        matched=5,
        by_source=5,
    ),
    Case(
        "identical sources, the last copy run again: it stays the last copy",
        ["n = 0", "n = n + 1", "a = n", "n = n + 1"],
        ran=[0, 1, 2, 3, 3],
        ids="none",
        uses={
            "cell-0": [],
            "cell-1": [("n", "cell-0")],
            "cell-2": [("n", "cell-1")],
            "cell-3": [("n", "cell-3")],
        },
        matched=4,
        by_source=4,
    ),
    Case(
        "a cell run that is not on the page is ignored; its bindings have no cell",
        ["x = 1", "y = x + 1"],
        ran=[0, 1],
        ids="none",
        extra=["x = 5", "y = x + 1"],  # scratch cell, then the page's cell again
        uses={"cell-0": [], "cell-1": [("x", None)]},
        matched=2,
        by_source=2,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_executions_of_a_notebook_without_ids_are_matched_by_source(
    kernel: Kernel, case: Case
) -> None:
    write_old_notebook(kernel.notebook, case.cells)
    lab_ids = {index: uuid.uuid4().hex for index in case.ran}
    for index in case.ran:
        kernel.run(case.cells[index], lab_ids[index] if case.ids == "random" else None)
    for source in case.extra:
        kernel.run(source)
    trace = kernel.trace()
    assert {cell: list(found) for cell, found in trace.uses.items()} == case.uses
    assert (trace.matched, trace.by_source) == (case.matched, case.by_source)


def test_ids_that_agree_match_directly(kernel: Kernel) -> None:
    nb = nbformat.v4.new_notebook()
    for cell_id, source in [("load", "rows = [1, 2, 3]"), ("fit", "total = sum(rows)")]:
        cell = nbformat.v4.new_code_cell(source)
        cell["id"] = cell_id
        nb.cells.append(cell)
    nbformat.write(nb, kernel.notebook)
    kernel.run("rows = [1, 2, 3]", "load")
    kernel.run("total = sum(rows)", "fit")
    trace = kernel.trace()
    assert trace.uses == {"load": [], "fit": [("rows", "load")]}
    assert (trace.matched, trace.by_source) == (2, 0)
    assert trace.types == {"load": {"rows": "builtins.list"}, "fit": {"total": "builtins.int"}}


def test_an_id_that_agrees_wins_over_an_edited_source(kernel: Kernel) -> None:
    """The cell was edited after it ran: its id still names it (as the cross-check did)."""
    nb = nbformat.v4.new_notebook()
    for cell_id, source in [("load", "rows = [1, 2]"), ("fit", "total = sum(rows) + 1")]:
        cell = nbformat.v4.new_code_cell(source)
        cell["id"] = cell_id
        nb.cells.append(cell)
    nbformat.write(nb, kernel.notebook)
    kernel.run("rows = [1, 2]", "load")
    kernel.run("total = sum(rows)", "fit")
    trace = kernel.trace()
    assert trace.uses["fit"] == [("rows", "load")]
    assert trace.by_source == 0


def test_types_of_the_values_each_cell_left(kernel: Kernel) -> None:
    write_old_notebook(
        kernel.notebook,
        [
            "import threading\nlock = threading.Lock()",
            "rows = (i * i for i in range(3))\nsizes = {'a': 1}",
            "class Point:\n    pass\n\np = Point()",
        ],
    )
    for _, source in exporter_cells(kernel.notebook):
        kernel.run(source)
    assert kernel.trace().types == {
        "cell-0": {"threading": "builtins.module", "lock": "_thread.lock"},
        "cell-1": {"rows": "builtins.generator", "sizes": "builtins.dict"},
        "cell-2": {"Point": "builtins.type", "p": "__main__.Point"},
    }


def test_a_file_another_cell_wrote_is_matched_to_the_writer(kernel: Kernel) -> None:
    data = kernel.notebook.parent / "data.txt"
    write_old_notebook(
        kernel.notebook,
        [f"open({str(data)!r}, 'w').write('1,2')", f"text = open({str(data)!r}).read()"],
    )
    for _, source in exporter_cells(kernel.notebook):
        kernel.run(source)
    assert (f"file:{data}", "cell-0") in kernel.trace().uses["cell-1"]


def test_no_store_means_no_trace(tmp_path: Path, home: Path) -> None:
    notebook = write_old_notebook(tmp_path / "never-run.ipynb", ["x = 1"])
    assert observed_trace(notebook, exporter_cells(notebook)) is None
