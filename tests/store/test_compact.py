"""`mlprod-nb compact`: journal files folded into the store's backup, with real writer
processes appending meanwhile and compactions killed: nothing lost, nothing twice."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlprod_nb.cli import main
from mlprod_nb.paths import Layout
from mlprod_nb.store import Store
from mlprod_nb.store.compact import _writer_alive, latest_backup

# a writer process, its journal file named after it like the tracer's: appends argv[3]
# executions of session argv[2] (says "ready" after the first), then, given a stop file
# argv[4], goes on appending until it exists; prints how many it wrote
WRITER = """
import sys, time
from pathlib import Path
from mlprod_nb.journal import JournalWriter
from mlprod_nb.records import new_execution

journal, session, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
stop = Path(sys.argv[4]) if len(sys.argv) > 4 else None
writer = JournalWriter(journal)
seq = 0
while seq < count or (stop is not None and not stop.exists()):
    seq += 1
    writer.append(new_execution(session=session, seq=seq, source=f"x = {seq}", started=seq,
                                defines=["x"], params={"seq": seq}))
    if seq == 1:
        print("ready", flush=True)
    if stop is not None:
        time.sleep(0.002)
print(seq, flush=True)
"""

COMPACT = "import sys; from mlprod_nb.cli import main; sys.exit(main(sys.argv[1:]))"


def _writer(
    layout: Layout, session: str, count: int, stop: Path | None = None
) -> subprocess.Popen[str]:
    args = [str(layout.journal_dir), session, str(count), *([str(stop)] if stop else [])]
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, *args], stdout=subprocess.PIPE, text=True
    )


def _written(layout: Layout, session: str, count: int) -> None:
    """A writer that has come and gone: its file stays behind, complete."""
    done = _writer(layout, session, count)
    assert done.wait(timeout=60) == 0


def _executions(layout: Layout) -> dict[str, int]:
    """Executions per session, each id counted once (and checked to be there once)."""
    with Store.open(layout) as store:
        _, rows = store.query(
            "SELECT session, count(*), count(DISTINCT id) FROM executions GROUP BY session"
        )
        _, params = store.query("SELECT count(*) FROM params")
    assert all(total == distinct for _, total, distinct in rows)
    assert params[0][0] == sum(int(r[1]) for r in rows)  # child rows once too
    return {str(r[0]): int(r[1]) for r in rows}


def _rebuilt(layout: Layout) -> dict[str, int]:
    """The executions after the DuckDB file is lost: backup plus journal left."""
    layout.db_path.unlink()
    return _executions(layout)


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_compaction_keeps_a_live_writers_file_and_loses_none_of_its_lines(
    layout: Layout, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _written(layout, "gone", 300)
    stop = tmp_path / "stop"
    live = _writer(layout, "live", 100, stop=stop)
    try:
        assert live.stdout is not None
        assert live.stdout.readline().strip() == "ready"
        assert main(["compact", "--home", str(layout.home)]) == 0  # while it appends
        out = capsys.readouterr()
        assert "1 journal file(s) folded into it" in out.out
        assert f"(pid {live.pid}) is running" in out.out  # its file is kept, and why
        assert "backing up the store" in out.err
        [kept] = layout.journal_dir.iterdir()
        assert kept.name.startswith(f"{socket.gethostname()}-{live.pid}-")
        assert main(["compact", "--home", str(layout.home)]) == 0  # again, still appending
    finally:
        stop.touch()
        wrote = int(live.communicate(timeout=60)[0].split()[-1])
    assert live.returncode == 0
    assert wrote > 100
    assert _executions(layout) == {"gone": 300, "live": wrote}
    assert main(["compact", "--home", str(layout.home)]) == 0  # its writer is gone now
    assert list(layout.journal_dir.iterdir()) == []
    assert _rebuilt(layout) == {"gone": 300, "live": wrote}


def test_killed_compactions_lose_nothing(layout: Layout) -> None:
    for n in range(4):
        _written(layout, f"s{n}", 500)
    env = {**os.environ, "MLPROD_NB_HOME": str(layout.home)}
    expected = {f"s{n}": 500 for n in range(4)}
    for delay in (0.3, 0.6, 0.9, 1.2):
        killed = subprocess.Popen([sys.executable, "-c", COMPACT, "compact"], env=env)
        time.sleep(delay)
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=60)
        assert _executions(layout) == expected
        assert _rebuilt(layout) == expected  # from what the killed compaction left
    assert main(["compact", "--home", str(layout.home)]) == 0
    assert list(layout.journal_dir.iterdir()) == []
    assert _rebuilt(layout) == expected


def test_after_compaction_the_folder_holds_the_data_about_once(layout: Layout) -> None:
    for n in range(3):
        _written(layout, f"s{n}", 1000)
    with Store.open(layout):
        pass
    before = _size(layout.home)
    assert main(["compact", "--home", str(layout.home)]) == 0
    backup = latest_backup(layout)
    assert backup is not None
    assert _size(layout.journal_dir) == 0
    assert _size(backup) < layout.db_path.stat().st_size  # the backup is the smaller copy
    assert _size(layout.home) < before


@pytest.mark.parametrize(
    ("name", "gone"),
    [
        (f"{socket.gethostname()}-{os.getpid()}-0a1b2c3d", False),  # this process: running
        (f"schedules-{socket.gethostname()}-{os.getpid()}-0a1b2c3d", False),
        ("other-host-12-0a1b2c3d", False),  # another machine: cannot tell
        ("test-writer", False),  # not named after a process
        ("run-r1", True),  # its run recorded its end
        ("run-r2", False),  # still running
        ("run-r2-interrupted", True),  # written once, by whoever saw the driver die
    ],
)
def test_which_writers_are_gone(name: str, gone: bool) -> None:
    assert (_writer_alive(name, {"r1"}) is None) == gone


def test_a_dead_writers_file_with_a_torn_last_line_stays(layout: Layout) -> None:
    _written(layout, "s1", 10)
    [path] = layout.journal_dir.iterdir()
    with open(path, "ab") as f:
        f.write(b'{"v":1,"kind":"execution"')  # killed mid-write
    assert main(["compact", "--home", str(layout.home)]) == 0
    assert path.exists()
    assert _rebuilt(layout) == {"s1": 10}
