"""A tiny exported pipeline in a project with its own store, and launches for ticks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pipeline.conftest import project, step, write_notebook

from mlprod_nb.pipeline.export import export
from mlprod_nb.schedule.model import Fire, Schedule


def tiny_pipeline(base: Path, body: str = "total = n * 2") -> Path:
    """A one-parameter (``n: int``), one-step pipeline exported from ``base/nb.ipynb``."""
    root = project(base)
    nb = write_notebook(root / "nb.ipynb", [("n = 3", ["parameters"]), step("double", body)])
    folder = export(nb, use_tracer=False).folder
    assert folder is not None
    return folder


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    return tiny_pipeline(tmp_path / "proj")


@pytest.fixture
def store(pipeline: Path) -> Path:
    return pipeline.parent / ".mlprod"


def ended_ok(home: Path, schedule: Schedule, fire: Fire, folder: Path) -> None:
    """A launch whose run ends at once, ok (no kernel): for claim-only tests."""
    (folder / "status.json").write_text(json.dumps({"id": fire.run, "status": "ok"}))


def still_going(home: Path, schedule: Schedule, fire: Fire, folder: Path) -> None:
    """A launch whose run has not written a status yet: it is still going."""


def end(home: Path, run_id: str, status: str = "ok", error: str | None = None) -> None:
    folder = home / "runs" / run_id
    (folder / "status.json").write_text(
        json.dumps({"id": run_id, "status": status, "error": error})
    )
