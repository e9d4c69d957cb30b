"""`mlprod-nb stale` after a real kernel ran a notebook that reuses names across sections."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import cli, write_cells

SECTIONS = [
    ("imports", "import math\nfrom collections import Counter"),
    ("helper", "def scale(values, k):\n    return [v * k for v in values]"),
    ("load1", "X = [1, 2, 3]\ny = [0, 1, 0]"),
    ("fit1", "m1 = sum(scale(X, 2)) + sum(y)"),
    ("load2", "X = [4, 5, 6]\ny = [1, 1, 0]"),  # a later section reuses X and y
    ("fit2", "m2 = math.fsum(scale(X, 3)) + Counter(y)[1]"),
    ("clear", "del y"),
    ("report", "print(m1, m2)"),
]


def _notebook(folder: Path, cells: list[tuple[str, str]]) -> Path:
    return write_cells(folder / "sections.ipynb", cells)


def _stale(notebook: Path, *extra: str) -> dict[str, list[str]]:
    done = cli("stale", notebook.name, "--json", *extra, cwd=notebook.parent)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    return {c["cell_id"]: [r["kind"] for r in c["reasons"]] for c in answer["stale"]}


@pytest.mark.slow
@pytest.mark.usefixtures("home")
def test_a_clean_run_all_leaves_no_cell_stale(tmp_path: Path) -> None:
    notebook = _notebook(tmp_path, SECTIONS)
    traced = cli("trace", notebook.name, cwd=tmp_path)
    assert traced.returncode == 0, traced.stderr

    assert _stale(notebook) == {}
    text = cli("stale", notebook.name, cwd=tmp_path)
    assert "no stale cells" in text.stdout, text.stdout

    # the live-namespace view still sees the later section's re-bindings
    live = _stale(notebook, "--order", "any")
    assert "fit1" in live
    assert live["fit1"] == ["name", "name"]  # X and y re-bound by load2

    # a user moves fit1 above the cells that define X and y: Run All would fail there
    _notebook(tmp_path, [SECTIONS[i] for i in (0, 1, 3, 2, 4, 5, 6, 7)])
    assert _stale(notebook) == {"fit1": ["order", "order"]}


@pytest.mark.parametrize("command", ["lineage", "stale"])
def test_a_folder_given_for_a_notebook_is_named(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlprod_nb.cli import main

    (tmp_path / "work.ipynb").mkdir()
    assert main([command, str(tmp_path / "work.ipynb")]) == 2
    err = capsys.readouterr().err
    assert "a folder, not a notebook" in err
    assert "Traceback" not in err
