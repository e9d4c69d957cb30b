"""A full disk during ingest: a message naming it, nothing lost, and catching up later.

The store lives on a real 8 MiB tmpfs, filled up by a file. Mounting needs root
(the dev container); otherwise the test runs itself again as root of a user
namespace (``unshare -rm``), and is skipped when that is not allowed either.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlprod_nb.cli import main
from mlprod_nb.errors import StoreError
from mlprod_nb.journal import JournalWriter
from mlprod_nb.paths import Layout
from mlprod_nb.store import Store

from .records import execution, session

IN_NAMESPACE = "MLPROD_NB_TEST_USER_NAMESPACE"


def _mount(folder: Path) -> bool:
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def _in_user_namespace(node: str, tmp_path: Path) -> None:
    """Run test ``node`` again as root of a new user namespace, where a tmpfs can be mounted."""
    unshare = shutil.which("unshare")
    if unshare is None or os.environ.get(IN_NAMESPACE):
        pytest.skip("cannot mount a tmpfs here (not root, no user namespace)")
    command = [unshare, "-rm", sys.executable, "-m", "pytest", node, "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(
        [*command, f"--basetemp={tmp_path / 'inner'}"],
        env={**os.environ, IN_NAMESPACE: "1"},
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0 and "1 passed" not in done.stdout and "failed" not in done.stdout:
        pytest.skip(f"cannot mount a tmpfs here: {(done.stderr or done.stdout).strip()[-300:]}")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 passed" in done.stdout, done.stdout[-3000:]


@pytest.fixture
def small_disk(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path | None]:
    """An 8 MiB tmpfs, or None when the test ran in a user namespace instead (and passed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if not _mount(mount):
        _in_user_namespace(request.node.nodeid, tmp_path)
        yield None
        return
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
    small_disk: Path | None, capsys: pytest.CaptureFixture[str]
) -> None:
    if small_disk is None:
        return  # it ran, and passed, in a user namespace
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
