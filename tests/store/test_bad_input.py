"""A broken, read-only or busy store: one clear error, nothing deleted, nothing lost."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlprod_nb.errors import StoreError, StoreLockedError
from mlprod_nb.journal import JournalWriter
from mlprod_nb.paths import Layout
from mlprod_nb.store import Store

from .records import execution


def _fill(writer: JournalWriter, n: int = 20) -> None:
    for seq in range(1, n + 1):
        writer.append(execution("s1", seq))


def _count(store: Store) -> int:
    return int(store.query("SELECT count(*) FROM executions")[1][0][0])


@pytest.mark.parametrize("damage", ["garbage", "truncated", "zeroed header"])
def test_corrupt_database_names_the_file_and_keeps_the_journal(
    layout: Layout, writer: JournalWriter, damage: str
) -> None:
    _fill(writer)
    with Store.open(layout) as store:
        assert _count(store) == 20
    journal = writer.path.read_bytes()
    db = layout.db_path
    data = db.read_bytes()
    if damage == "garbage":
        db.write_bytes(b"this is not a database\n" * 500)
    elif damage == "truncated":
        db.write_bytes(data[:5000])
    else:
        db.write_bytes(b"\0" * 8192 + data[8192:])
    broken = db.read_bytes()
    with pytest.raises(StoreError) as caught:
        Store.open(layout, timeout=1)
    message = str(caught.value)
    assert str(db) in message
    assert "move it aside" in message
    assert db.read_bytes() == broken  # never deleted or rewritten
    assert writer.path.read_bytes() == journal
    db.rename(db.with_name("lineage.duckdb.broken"))
    with Store.open(layout) as store:
        assert _count(store) == 20


@pytest.fixture
def frozen(layout: Layout) -> Iterator[Path]:
    """A store folder nobody may write to (``chattr +i`` as root, else read-only mode)."""
    home = layout.home
    home.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("root without chattr cannot make a read-only folder")
        done = subprocess.run(["chattr", "+i", str(home)], capture_output=True)
        if done.returncode:
            pytest.skip(f"chattr +i not permitted here: {done.stderr.decode().strip()}")
        yield home
        subprocess.run(["chattr", "-i", str(home)], check=True)
    else:
        home.chmod(0o555)
        yield home
        home.chmod(0o755)


def test_read_only_store_folder_is_a_clear_error(layout: Layout, frozen: Path) -> None:
    with pytest.raises(StoreError) as caught:
        Store.open(layout, timeout=1)
    message = str(caught.value)
    assert str(frozen) in message
    assert "writable" in message


def test_store_made_read_only_after_use(layout: Layout, writer: JournalWriter) -> None:
    _fill(writer, 3)
    with Store.open(layout) as store:
        assert _count(store) == 3
    writer.append(execution("s1", 4))
    # freeze only now: the lock file and the database already exist
    if os.geteuid() == 0:
        if (
            shutil.which("chattr") is None
            or subprocess.run(["chattr", "+i", str(layout.home)], capture_output=True).returncode
        ):
            pytest.skip("cannot make a folder read-only as root here")
    else:
        layout.home.chmod(0o555)
    try:
        with pytest.raises(StoreError) as caught, Store.open(layout, timeout=1) as store:
            _count(store)
        assert "writable" in str(caught.value)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(layout.home)], check=True)
        else:
            layout.home.chmod(0o755)
    with Store.open(layout) as store:
        assert _count(store) == 4


_HOLDER = """
import sys, time
from pathlib import Path
from mlprod_nb.paths import Layout
from mlprod_nb.store import Store
with Store.open(Layout(Path(sys.argv[1]))):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_held_lock_times_out_naming_the_holder(layout: Layout) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(layout.home)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreLockedError) as caught:
            Store.open(layout, timeout=0.3)
        message = str(caught.value)
        assert str(layout.lock_path) in message
        assert f"pid {holder.pid}" in message
    finally:
        holder.kill()
        holder.wait()
    with Store.open(layout, timeout=5) as store:  # the lock dies with its holder
        assert _count(store) == 0
