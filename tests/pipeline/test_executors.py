"""Executors by name: the runner decides what runs, the chosen executor runs it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mlprod_nb.cli import main
from mlprod_nb.paths import find_home
from mlprod_nb.pipeline import executors
from mlprod_nb.pipeline.executors import Capacity, Done, Executor, ExecutorFactory, Setting, Task
from mlprod_nb.pipeline.export import export
from mlprod_nb.pipeline.runner import RunOptions, run
from mlprod_nb.registry import Registry, RegistryError

from .conftest import project, step, write_notebook

pytestmark = pytest.mark.slow


@dataclass
class Recording:
    """The local executor, noting every step it is handed."""

    inner: Executor
    submitted: list[str] = field(default_factory=list)

    def submit(self, task: Task) -> None:
        self.submitted.append(task.step.name)
        self.inner.submit(task)

    def finished(self, timeout: float) -> Done | None:
        return self.inner.finished(timeout)

    def busy(self) -> bool:
        return self.inner.busy()

    def interrupt(self) -> None:
        self.inner.interrupt()

    def stop(self) -> None:
        self.inner.stop()

    def join(self) -> None:
        self.inner.join()


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[Recording]:
    """Executors named ``recording`` made during the test (the registry is the test's own)."""
    made: list[Recording] = []

    def recording(setting: Setting, capacity: Capacity) -> Executor:
        made.append(Recording(executors.EXECUTORS.get("local")(setting, capacity)))
        return made[-1]

    registry: Registry[ExecutorFactory] = Registry("executor")
    registry.register("local", executors.EXECUTORS.get("local"))
    monkeypatch.setattr(executors, "EXECUTORS", registry)
    executors.register("recording", recording)
    return made


def pipeline(base: Path) -> Path:
    cells = [
        step("a", "x = 20"),
        step("b", "y = x + 1"),
        step("c", "open('out.txt', 'w').write(str(y * 2))"),
    ]
    folder = export(write_notebook(base / "nb.ipynb", cells), use_tracer=False).folder
    assert folder is not None
    return folder


def test_the_chosen_executor_runs_what_the_plan_does_not_take_from_the_cache(
    tmp_path: Path, recorded: list[Recording]
) -> None:
    base = project(tmp_path / "p")
    folder = pipeline(base)
    first = run(folder, RunOptions(executor="recording"))
    assert first.status == "ok", first.error
    assert recorded[0].submitted == ["a", "b", "c"]
    assert (base / "out.txt").read_text() == "42"

    again = run(folder, RunOptions(executor="recording"))
    assert again.status == "ok"
    assert [s.status for s in again.steps] == ["cached"] * 3
    assert recorded[1].submitted == []  # cached steps never reach the executor

    only = run(folder, RunOptions(executor="recording", only="b", no_cache=True))
    assert only.status == "ok"
    assert recorded[2].submitted == ["b"]  # --only: upstream from the cache


def test_an_unknown_executor_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = project(tmp_path / "p")
    folder = pipeline(base)
    with pytest.raises(RegistryError, match=r"no executor named 'spark' \(known: local, dask\)"):
        run(folder, RunOptions(executor="spark"))
    assert main(["run", str(folder), "--executor", "spark"]) == 2
    assert "no executor named 'spark'" in capsys.readouterr().err
    assert not find_home(base).runs_dir.exists()  # no run folder for a run that never began


def test_the_run_record_carries_one_status_vocabulary(tmp_path: Path) -> None:
    """Steps and the run say ``ok``/``failed``/``skipped`` alike in status.json and the journal."""
    base = project(tmp_path / "p")
    cells = [step("a", "x = 1"), step("b", "raise ValueError('no')\ny = x"), step("c", "z = y")]
    folder = export(write_notebook(base / "nb.ipynb", cells), use_tracer=False).folder
    assert folder is not None
    result = run(folder)
    assert result.status == "failed"
    status = json.loads((result.folder / "status.json").read_text())
    assert [(s["name"], s["status"]) for s in status["steps"]] == [
        ("a", "ok"),
        ("b", "failed"),
        ("c", "skipped"),
    ]
    journal = find_home(base).journal_dir / f"run-{result.run_id}.ndjson"
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    kinds = [(r["kind"], r.get("name"), r.get("status")) for r in records]
    assert kinds == [
        ("run", None, None),
        ("step", "a", "ok"),
        ("step", "b", "failed"),
        ("step", "c", "skipped"),
        ("run_end", None, "failed"),
    ]
