"""A full disk during ingest: a message naming it, nothing lost, and catching up later.

The store lives on a real 8 MiB tmpfs, filled up by a file; needs permission to
mount (root, as in the dev container), skipped otherwise.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlprod_nb.cli import main
from mlprod_nb.errors import StoreError
from mlprod_nb.journal import JournalWriter
from mlprod_nb.paths import Layout
from mlprod_nb.store import Store

from .records import execution, session


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError:
        while True:  # the last few blocks
            try:
                os.write(fd, b"\0" * 512)
            except OSError:
                break
    finally:
        os.close(fd)


def test_disk_full_during_ingest_is_named_and_the_store_catches_up(
    small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = Layout(small_disk / ".mlprod")
    writer = JournalWriter(layout.journal_dir, "w")
    writer.append(session("s1"))
    writer.append(execution("s1", 1))
    with Store.open(layout) as store:
        assert store.query("SELECT count(*) FROM executions")[1] == [(1,)]
    for seq in range(2, 1501):
        writer.append(execution("s1", seq, source_text=f"x{seq} = {seq}  # " + "z" * 300))
    filler = small_disk / "filler"
    _fill(filler)

    with pytest.raises(StoreError) as caught:
        Store.open(layout)
    message = str(caught.value)
    assert "no space left on the device of the lineage store" in message
    assert str(layout.home) in message
    assert "nothing was lost: the store is intact" in message
    assert "rollback" not in message
    assert "move it aside" not in message

    capsys.readouterr()
    assert main(["sql", "SELECT count(*) FROM executions", "--home", str(layout.home)]) == 2
    err = capsys.readouterr().err
    assert "no space left on the device" in err
    assert "Traceback" not in err

    held = Store.open(layout, ingest=False)  # as the server keeps it open between requests
    with pytest.raises(StoreError, match="no space left"):
        held.ingest()
    filler.unlink()
    assert held.ingest() == 1499
    held.close()
    with Store.open(layout) as store:
        counts = store.query("SELECT count(*), count(DISTINCT id), max(seq) FROM executions")
        assert counts[1] == [(1500, 1500, 1500)]
        assert store.journal_errors() == []
        offsets = store.query('SELECT "offset" FROM journal_offsets')[1]
        assert offsets == [(writer.path.stat().st_size,)]
    writer.close()
