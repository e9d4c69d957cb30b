"""Telling a dead run's driver from a live one, and recording the dead run exactly once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlprod_nb.cli import main
from mlprod_nb.errors import PipelineError
from mlprod_nb.journal import JournalWriter
from mlprod_nb.paths import Layout
from mlprod_nb.pipeline import liveness
from mlprod_nb.pipeline.export import export
from mlprod_nb.pipeline.runner import RunOptions, run

from .conftest import project, write_notebook

DEAD_PID = 2**22 + 777  # above pid_max's default: never a live process
HOST = socket.gethostname()


@dataclass(frozen=True)
class Case:
    name: str
    driver: dict[str, Any] | None
    pid: int
    age: float  # seconds since the last heartbeat
    alive: bool


ME = liveness.identity()
CASES = [
    Case("this very process", ME, os.getpid(), 0, True),
    Case("a live process, heartbeat old (a long step)", ME, os.getpid(), 3600, True),
    Case("pid gone", {**ME, "pid": DEAD_PID}, DEAD_PID, 0, False),
    Case(
        "pid reused by another process",
        {**ME, "start": (ME["start"] or 0) + 1},
        ME["pid"],
        0,
        False,
    ),
    Case("the machine rebooted since", {**ME, "boot": "another-boot"}, os.getpid(), 0, False),
    Case("another host, fresh heartbeat", {**ME, "host": "elsewhere"}, DEAD_PID, 1, True),
    Case("another host, stale heartbeat", {**ME, "host": "elsewhere"}, os.getpid(), 3600, False),
    Case("an old status without identity, pid alive", None, os.getpid(), 3600, True),
    Case("an old status without identity, pid gone", None, DEAD_PID, 0, False),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_alive(case: Case) -> None:
    status: dict[str, Any] = {"status": "running", "pid": case.pid}
    if case.driver is not None:
        status["driver"] = case.driver
    assert liveness.alive(status, time.time() - case.age) is case.alive


def _dead_run(layout: Layout, run_id: str, beat: float) -> None:
    """A run the store knows as started, whose driver died at ``beat``."""
    writer = JournalWriter(layout.journal_dir, f"run-{run_id}")
    writer.append(
        {
            "v": 1,
            "kind": "run",
            "id": run_id,
            "pipeline": "/somewhere/nb.pipeline",
            "pipeline_hash": "0" * 64,
            "source_notebook": "/somewhere/nb.ipynb",
            "params": {},
            "started": beat - 10,
            "steps": ["a", "b"],
            "resumed_from": None,
        }
    )
    writer.close()
    folder = layout.runs_dir / run_id
    folder.mkdir(parents=True)
    status = {
        "id": run_id,
        "status": "running",
        "pid": DEAD_PID,
        "driver": {**ME, "pid": DEAD_PID},
        "heartbeat": beat,
        "started": beat - 10,
        "steps": [{"name": "a", "status": "ok"}, {"name": "b", "status": "running"}],
        "progress": {"done": 1, "total": 2, "current": "b"},
    }
    (folder / "status.json").write_text(json.dumps(status))
    os.utime(folder / "status.json", (beat, beat))


RACE = """
import sys, time
from pathlib import Path
from mlprod_nb.paths import Layout
from mlprod_nb.pipeline.liveness import settle_one

go = Path(sys.argv[2])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
print(settle_one(Layout(Path(sys.argv[1])), "r1")["status"])
"""


def test_many_lookers_record_a_dead_run_once(tmp_path: Path) -> None:
    layout = Layout(tmp_path / ".mlprod")
    beat = time.time() - 120
    _dead_run(layout, "r1", beat)
    go = tmp_path / "go"
    lookers = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(layout.home), str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    for looker in lookers:  # every looker is waiting at the gate before it opens
        assert looker.stdout is not None
        assert looker.stdout.readline().strip() == "ready"
    go.touch()
    assert [p.communicate(timeout=60)[0].strip() for p in lookers] == ["interrupted"] * 6
    ends = [
        json.loads(line)
        for path in layout.journal_dir.glob("*.ndjson")
        for line in path.read_text().splitlines()
        if json.loads(line)["kind"] == "run_end"
    ]
    assert len(ends) == 1
    assert ends[0]["status"] == "interrupted"
    assert ends[0]["finished"] == pytest.approx(beat, abs=1)  # the last heartbeat
    status = json.loads((layout.runs_dir / "r1" / "status.json").read_text())
    assert status["status"] == "interrupted"
    assert [s["status"] for s in status["steps"]] == ["ok", "interrupted"]
    assert list(layout.journal_dir.glob(".*")) == []  # no temporary file left


def test_cli_runs_shows_a_dead_run_interrupted(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = Layout(home)
    _dead_run(layout, "r-dead", time.time() - 60)
    assert main(["runs", "--json"]) == 0
    (found,) = json.loads(capsys.readouterr().out)["runs"]
    assert (found["id"], found["status"]) == ("r-dead", "interrupted")
    assert "--resume r-dead" in found["error"]
    assert main(["runs"]) == 0  # the store has ingested the record by now
    assert "interrupted" in capsys.readouterr().out


def test_heartbeat_refreshes_the_status_file(tmp_path: Path) -> None:
    (tmp_path / "status.json").write_text("{}")
    os.utime(tmp_path / "status.json", (1.0, 1.0))
    beat = liveness.Heartbeat(tmp_path, interval=0.05)
    beat.start()
    deadline = time.monotonic() + 30
    while (tmp_path / "status.json").stat().st_mtime == 1.0:
        if time.monotonic() > deadline:
            beat.stop()
            pytest.fail("the heartbeat did not refresh status.json within 30 s")
        time.sleep(0.01)
    beat.stop()
    assert time.time() - (tmp_path / "status.json").stat().st_mtime < 5


def test_resume_refuses_a_run_still_running(tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    notebook = write_notebook(base / "nb.ipynb", [("x = 1", ["step:a"])])
    folder = export(notebook, use_tracer=False).folder
    assert folder is not None
    runs_dir = base / ".mlprod" / "runs" / "live"
    runs_dir.mkdir(parents=True)
    status = {"id": "live", "pipeline": str(folder), "status": "running", "pid": os.getpid()}
    (runs_dir / "status.json").write_text(json.dumps(status | {"driver": ME, "steps": []}))
    with pytest.raises(PipelineError, match="'live' is still running"):
        run(folder, RunOptions(resume="live"))


@pytest.mark.slow
def test_a_new_run_records_dead_runs_first(tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    notebook = write_notebook(base / "nb.ipynb", [("x = 1", ["step:a"])])
    folder = export(notebook, use_tracer=False).folder
    assert folder is not None
    layout = Layout(base / ".mlprod")
    _dead_run(layout, "r-dead", time.time() - 60)
    assert run(folder).status == "ok"
    status = json.loads((layout.runs_dir / "r-dead" / "status.json").read_text())
    assert status["status"] == "interrupted"
    assert liveness.end_journal(layout, "r-dead").exists()
