"""A notebook renamed while JupyterLab was closed: its history waits under the old path
until ``mlprod-nb mv --record-only`` tells the store, then joins what ran under the new one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import cli, write_cells


def _cells_of(notebook: Path) -> list[str]:
    done = cli("lineage", notebook.name, "--json", cwd=notebook.parent)
    assert done.returncode == 0, done.stderr
    return [e["cell_id"] for e in json.loads(done.stdout)["executions"]]


@pytest.mark.slow
@pytest.mark.usefixtures("home")
def test_a_move_recorded_afterwards_brings_the_history_along(tmp_path: Path) -> None:
    old = write_cells(tmp_path / "draft.ipynb", [("load", "x = [1]"), ("fit", "y = x + [2]")])
    assert cli("trace", old.name, cwd=tmp_path).returncode == 0
    new = old.rename(tmp_path / "model.ipynb")  # in a shell, Lab closed: the store saw nothing

    unknown = cli("lineage", new.name, cwd=tmp_path)
    assert unknown.returncode != 0
    assert "model.ipynb" in unknown.stderr
    assert "mlprod-nb mv --record-only" in unknown.stderr  # the hint names the way out
    assert cli("trace", new.name, cwd=tmp_path).returncode == 0  # run under its new name
    assert _cells_of(new) == ["load", "fit"]

    refused = cli("mv", "--record-only", new.name, old.name, cwd=tmp_path)
    assert refused.returncode != 0
    assert "the old path still exists" in refused.stderr
    recorded = cli("mv", "--record-only", old.name, new.name, cwd=tmp_path)
    assert recorded.returncode == 0, recorded.stderr
    assert _cells_of(new) == ["load", "fit", "load", "fit"]  # both sessions, in order
    assert new.is_file()  # the files were not touched
    assert not old.exists()
