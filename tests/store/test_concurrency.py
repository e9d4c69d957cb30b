"""Several real traced IPython shells, an ingester and SIGKILLs: nothing lost, nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlprod_nb.journal import JournalWriter
from mlprod_nb.paths import Layout
from mlprod_nb.store import Store

from .records import execution
from .scripts import TRACED_SHELL

INGESTER = """
import sys, time
from pathlib import Path
from mlprod_nb.paths import Layout
from mlprod_nb.store import Store

layout, stop = Layout(Path(sys.argv[1])), Path(sys.argv[2])
rounds = 0
while not stop.exists() or rounds == 0:
    with Store.open(layout, timeout=60) as store:
        _, rows = store.query("SELECT count(*) FROM executions")
        if rows[0][0]:
            store.notebook_lineage(sys.argv[3])
    rounds += 1
    if rounds == 1:
        print("ready", flush=True)
    time.sleep(0.01)
print(rounds)
"""


def _env(layout: Layout, notebook: Path) -> dict[str, str]:
    return {**os.environ, "MLPROD_NB_HOME": str(layout.home), "JPY_SESSION_NAME": str(notebook)}


def _tracer(layout: Layout, notebook: Path, cells: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", TRACED_SHELL, str(cells)],
        env=_env(layout, notebook),
        cwd=notebook.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_four_traced_shells_and_an_ingester(layout: Layout, tmp_path: Path) -> None:
    notebook = tmp_path / "busy.ipynb"
    stop = tmp_path / "stop"
    ingester = subprocess.Popen(
        [sys.executable, "-c", INGESTER, str(layout.home), str(stop), str(notebook)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert ingester.stdout is not None
    assert ingester.stdout.readline().strip() == "ready"
    tracers = [_tracer(layout, notebook, 250) for _ in range(4)]
    for t in tracers:
        _, err = t.communicate(timeout=120)
        assert t.returncode == 0, err
        assert "Error" not in err, err
    stop.touch()
    out, _ = ingester.communicate(timeout=120)
    assert ingester.returncode == 0
    assert int(out) > 1  # it really opened the store while the shells traced
    with Store.open(layout) as store:
        _, per_session = store.query(
            "SELECT session, count(*), count(DISTINCT id), min(seq), max(seq) "
            "FROM executions GROUP BY session"
        )
        assert store.journal_errors() == []
    files = {p.name: p.read_bytes().count(b"\n") for p in layout.journal_dir.iterdir()}
    assert sorted(r[1:] for r in per_session) == [(250, 250, 1, 250)] * 4, files


def test_killed_tracer_loses_no_complete_line(layout: Layout, tmp_path: Path) -> None:
    notebook = tmp_path / "killed.ipynb"
    tracer = _tracer(layout, notebook, 100_000)
    assert tracer.stdout is not None
    assert tracer.stdout.readline().strip() == "ready"
    with Store.open(layout):  # ingest while it writes
        pass
    deadline = time.monotonic() + 60  # kill it mid-stream, once it has written some lines
    while (
        time.monotonic() < deadline
        and sum(p.read_bytes().count(b"\n") for p in layout.journal_dir.glob("*.ndjson")) < 10
    ):
        time.sleep(0.05)
    tracer.send_signal(signal.SIGKILL)
    tracer.wait()
    (journal,) = layout.journal_dir.glob("*.ndjson")
    complete = journal.read_bytes().count(b"\n")
    with Store.open(layout) as store:
        _, rows = store.query(
            "SELECT (SELECT count(*) FROM executions WHERE journal = ?)"
            " + (SELECT count(*) FROM sessions WHERE journal = ?)",
            [journal.name, journal.name],
        )
        assert store.journal_errors() == []
    assert complete > 2
    assert rows[0][0] == complete


KILLED_INGEST = """
import sys
from pathlib import Path
from mlprod_nb.paths import Layout
from mlprod_nb.store import Store, ingest

with Store.open(Layout(Path(sys.argv[1])), ingest=False) as store:
    print("open", flush=True)
    ingest.ingest(store.con, store.layout.journal_dir, budget=1 << 16)
"""


def test_killed_ingest_leaves_nothing_half_done(layout: Layout) -> None:
    writer = JournalWriter(layout.journal_dir, "big")
    for seq in range(1, 20_001):
        writer.append(execution("s1", seq))
    writer.close()
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_INGEST, str(layout.home)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "open"
    time.sleep(0.4)  # in the middle of many small transactions
    process.send_signal(signal.SIGKILL)
    process.wait()
    with Store.open(layout) as store:
        _, rows = store.query("SELECT count(*), count(DISTINCT id) FROM executions")
        _, defs = store.query("SELECT count(*) FROM definitions")
    assert rows == [(20_000, 20_000)]
    assert defs == [(20_000,)]
