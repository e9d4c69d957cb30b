"""One run from several drivers: ``--only STEP --run-id ID`` one after the other (an
Airflow DAG run's tasks) ends as ONE run with every step, with the results of a local run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlprod_nb.cli import main
from mlprod_nb.paths import find_home
from mlprod_nb.pipeline.export import export
from mlprod_nb.pipeline.rundir import read_summary
from mlprod_nb.store import Store

from .conftest import Cell, project, step, write_notebook

pytestmark = pytest.mark.slow

CELLS: list[Cell] = [
    ("scale = 3", ["parameters"]),
    step("load", "rows = [int(x) for x in open('data.txt').read().split()]"),
    step("double", "doubled = [r * 2 for r in rows]"),
    step("scaled", "scaled = [r * scale for r in rows]"),
    step("final", "open('final.txt', 'w').write(str(sum(doubled) + sum(scaled)))"),
]


DRIVER = (sys.executable, "-m", "mlprod_nb.cli", "run")


def _pipeline(base: Path) -> Path:
    root = project(base)
    (root / "data.txt").write_text("1 2 3\n")
    folder = export(write_notebook(root / "nb.ipynb", CELLS), use_tracer=False).folder
    assert folder is not None
    return folder


def test_steps_run_one_by_one_with_one_run_id_make_one_run(tmp_path: Path) -> None:
    folder = _pipeline(tmp_path / "p")
    root = folder.parent
    for name in ("load", "double", "scaled", "final"):  # a topological order, as Airflow
        argv = ["run", str(folder), "--only", name, "--run-id", "dag-run-1", "-p", "scale", "4"]
        assert main(argv) == 0
    assert (root / "final.txt").read_text() == str(12 + 24)
    summary = read_summary(find_home(root), "dag-run-1")
    assert summary["status"] == "ok"
    assert {s["name"]: s["status"] for s in summary["steps"]} == dict.fromkeys(
        ("load", "double", "scaled", "final"), "ok"
    )
    with Store.open(find_home(root)) as store:
        runs = store.runs()
    assert [r.id for r in runs] == ["dag-run-1"]
    [run] = runs
    assert run.status == "ok"
    assert {s.name: s.status for s in run.steps} == dict.fromkeys(
        ("load", "double", "scaled", "final"), "ok"
    )

    (root / "final.txt").unlink()  # a local run of the same: the same result, from cache
    assert main(["run", str(folder), "-p", "scale", "4"]) == 0
    assert (root / "final.txt").read_text() == str(12 + 24)


def test_a_step_asked_for_again_runs_again_and_the_rest_stands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _pipeline(tmp_path / "p")
    assert main(["run", str(folder), "--run-id", "r1"]) == 0
    capsys.readouterr()
    assert main(["run", str(folder), "--only", "final", "--run-id", "r1"]) == 0  # a retry
    out = capsys.readouterr().out
    assert "double: ok already in this run" in out
    assert "final: ok (" in out
    summary = read_summary(find_home(folder.parent), "r1")
    assert [s["name"] for s in summary["steps"]] == ["load", "double", "scaled", "final"]


def test_a_run_id_of_another_pipeline_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _pipeline(tmp_path / "p")
    assert main(["run", str(first), "--only", "load", "--run-id", "shared"]) == 0
    other = export(write_notebook(first.parent / "other.ipynb", CELLS), use_tracer=False).folder
    assert other is not None
    assert main(["run", str(other), "--only", "load", "--run-id", "shared"]) != 0
    assert "belongs to another pipeline" in capsys.readouterr().err


def test_two_drivers_of_one_run_at_once_take_turns(tmp_path: Path) -> None:
    folder = _pipeline(tmp_path / "p")
    assert main(["run", str(folder), "--only", "load", "--run-id", "both"]) == 0
    drivers = [
        subprocess.Popen(
            [*DRIVER, str(folder), "--only", name, "--run-id", "both"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for name in ("double", "scaled")  # independent branches, as parallel Airflow tasks
    ]
    for driver in drivers:
        out, _ = driver.communicate(timeout=120)
        assert driver.returncode == 0, out.decode()
    summary = json.loads((find_home(folder.parent).runs_dir / "both" / "summary.json").read_text())
    assert {s["name"]: s["status"] for s in summary["steps"]} == dict.fromkeys(
        ("load", "double", "scaled"), "ok"
    )
