"""Metrics by slice: ``log_metric(..., slice=...)`` through a real run into the store,
``mlprod-nb runs`` and the comparison of runs, beside the metric over all the data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from mlprod_nb.cli import main
from mlprod_nb.errors import MlprodError
from mlprod_nb.lineage.diff import RunFacts, compare
from mlprod_nb.paths import Layout
from mlprod_nb.pipeline.export import export
from mlprod_nb.pipeline.runner import RunOptions, run
from mlprod_nb.store import Store

from .conftest import project, step, traced_shell, write_notebook  # noqa: F401

CELLS = [
    ("import mlprod_nb", ["setup"]),
    ("lift = 0.0", ["parameters"]),
    step(
        "evaluate",
        "mlprod_nb.log_metric('auc', 0.80 + lift)\n"
        "mlprod_nb.log_metric('auc', 0.70, slice='plan=pro')\n"
        "mlprod_nb.log_metric('auc', 0.90 + lift, slice='plan=free')",
    ),
]


@pytest.mark.slow
def test_slices_are_metrics_of_their_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = project(tmp_path / "p")
    folder = export(write_notebook(base / "nb.ipynb", CELLS)).folder
    assert run(folder, RunOptions(run_id="one")).status == "ok"
    assert run(folder, RunOptions(values={"lift": 0.05}, run_id="two")).status == "ok"
    monkeypatch.chdir(base)
    capsys.readouterr()
    assert main(["runs", str(folder), "--json"]) == 0
    runs = {r["id"]: r for r in json.loads(capsys.readouterr().out)["runs"]}
    assert runs["one"]["metrics"] == {"auc": 0.8, "auc[plan=pro]": 0.7, "auc[plan=free]": 0.9}
    with Store.open(Layout(base / ".mlprod")) as store:
        _, rows = store.query(  # run one's metrics, in the order the step logged them
            "SELECT m.name, m.slice, m.value FROM metrics m JOIN executions e"
            " ON e.id = m.execution WHERE e.run = 'one' ORDER BY m.rowid"
        )
        facts = [RunFacts(r.id, metrics=r.metrics) for r in reversed(store.runs())]
    assert rows == [("auc", None, 0.8), ("auc", "plan=pro", 0.7), ("auc", "plan=free", 0.9)]
    differing = {row.name for row in compare(facts, lambda _: None).metrics if row.differs}
    assert differing == {"auc", "auc[plan=free]"}  # the pro slice did not move


def test_a_bad_slice_is_refused(traced_shell: InteractiveShell) -> None:  # noqa: F811
    failure = traced_shell.run_cell("import mlprod_nb\nmlprod_nb.log_metric('auc', 0.5, slice='')")
    assert isinstance(failure.error_in_exec, MlprodError)
    assert "slice must be a non-empty string" in str(failure.error_in_exec)
