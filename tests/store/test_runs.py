"""Pipeline runs from the runner's run/step/run_end records and stamped executions."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlprod_nb.errors import NotFoundError
from mlprod_nb.journal import JournalWriter
from mlprod_nb.paths import Layout
from mlprod_nb.records import SCHEMA
from mlprod_nb.store import Store

from .records import execution


def _run(writer: JournalWriter, run_id: str, pipeline: Path, started: float) -> None:
    writer.append(
        {
            "v": SCHEMA,
            "kind": "run",
            "id": run_id,
            "pipeline": str(pipeline),
            "pipeline_hash": "h" * 64,
            "source_notebook": "/nb/a.ipynb",
            "params": {"alpha": 0.5},
            "started": started,
            "steps": ["load", "train"],
            "resumed_from": None,
        }
    )


def _step(writer: JournalWriter, run_id: str, name: str, status: str, ms: float) -> None:
    writer.append(
        {
            "v": SCHEMA,
            "kind": "step",
            "run": run_id,
            "name": name,
            "status": status,
            "started": 1.0,
            "duration_ms": ms,
            "cache_key": "k",
            "cached_from": "r0" if status == "cached" else None,
            "notebook": f"/runs/{run_id}/steps/{name}.ipynb",
            "artifacts": [
                {"name": "df", "path": "/a/df.parquet", "sha256": "c" * 64, "serializer": "parquet"}
            ],
            "params": {"alpha": 0.5},
            "error": None,
        }
    )


def test_runs_and_run_detail(layout: Layout, writer: JournalWriter, tmp_path: Path) -> None:
    pipeline = tmp_path / "a.pipeline"
    _run(writer, "r1", pipeline, 100.0)
    _step(writer, "r1", "load", "cached", 0.0)
    _step(writer, "r1", "train", "ok", 250.0)
    for seq, value in ((1, 0.7), (2, 0.9)):
        writer.append(
            execution(
                "k1",
                seq,
                run="r1",
                step="train",
                metrics=[{"name": "auc", "value": value, "step": seq}],
                files=[
                    {
                        "path": "/d/x.csv",
                        "mode": "read",
                        "sha256": "d" * 64,
                        "size": 1,
                        "mtime_ns": 1,
                        "via": "open",
                    }
                ],
            )
        )
    writer.append(
        {
            "v": SCHEMA,
            "kind": "run_end",
            "id": "r1",
            "status": "ok",
            "finished": 103.0,
            "error": None,
        }
    )
    _run(writer, "r2", tmp_path / "other.pipeline", 200.0)  # still running
    with Store.open(layout) as store:
        runs = store.runs()
        assert [r.id for r in runs] == ["r2", "r1"]
        assert runs[0].status == "running"
        assert runs[0].finished is None
        (r1,) = store.runs(pipeline)
        detail = store.run("r1")
    assert r1.status == "ok"
    assert r1.duration_ms == pytest.approx(3000.0)
    assert r1.params == {"alpha": 0.5}
    assert r1.metrics == {"auc": 0.9}
    assert [(s.name, s.status, s.cached) for s in r1.steps] == [
        ("load", "cached", True),
        ("train", "ok", False),
    ]
    assert r1.cached_steps == 1
    assert r1.steps[0].artifacts[0]["sha256"] == "c" * 64
    assert [m.value for m in detail.metric_history] == [0.7, 0.9]
    assert detail.executions == ("k1:1", "k1:2")
    assert {f.path for f in detail.files} == {"/d/x.csv"}


def test_unknown_run_is_not_found(layout: Layout) -> None:
    with Store.open(layout) as store, pytest.raises(NotFoundError, match="no such run"):
        store.run("nope")
