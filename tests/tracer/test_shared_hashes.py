"""Data files hashed once for all kernels of a store (``FileHasher.share``).

Real files, real processes: a second kernel of the store reads the hash the first one
took; a rewritten file (same size, mtime set back) is hashed again; a damaged entry is
ignored; kernels writing entries at once leave every entry whole.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from mlprod_nb.hashing import FileHasher
from mlprod_nb.tracer.session import SHARED_HASHES

from .conftest import Traced


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _hash(hasher: FileHasher, path: Path | str) -> str:
    version = hasher.version(str(path))
    assert version is not None
    return version.sha256


def _hasher(folder: Path) -> FileHasher:
    hasher = FileHasher(racy_ns=0)  # files written by the test are trusted at once
    hasher.share(folder)
    return hasher


def test_a_second_kernel_of_the_store_does_not_hash_the_file_again(
    traced: Traced, tmp_path: Path
) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n" + "1,2\n" * 50_000)
    traced.tracer.hasher.racy_ns = 0
    read = traced.run(f"text = open({str(data)!r}).read()")
    assert [f["sha256"] for f in read["files"]] == [_sha(data)]
    assert len(list((traced.home / SHARED_HASHES).iterdir())) == 1

    kernel = textwrap.dedent(
        f"""
        from IPython.core.interactiveshell import InteractiveShell
        from mlprod_nb.tracer import extension
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "mlprod_nb")
        shell.run_cell("text = open({str(data)!r}).read()", store_history=True)
        print(extension.current().hasher.calls)
        """
    )
    env = {**os.environ, "MLPROD_NB_HOME": str(traced.home)}
    done = subprocess.run(
        [sys.executable, "-c", kernel], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "0"  # no hash computed: it came from the store
    (other,) = [r for r in traced.executions() if r["session"] != read["session"]]
    assert [f["sha256"] for f in other["files"]] == [_sha(data)]


def test_a_file_rewritten_with_the_same_size_and_mtime_is_hashed_again(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    first = _hasher(tmp_path / "hashes")
    assert first.version(str(data)) is not None
    before = data.stat()
    data.write_text("a,b\n9,9\n")  # same size
    os.utime(data, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the same mtime
    second = _hasher(tmp_path / "hashes")
    assert _hash(second, data) == _sha(data)
    assert second.calls == 1


def test_an_unchanged_file_is_not_hashed_again_by_another_hasher(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_bytes(os.urandom(10_000))
    _hasher(tmp_path / "hashes").version(str(data))
    again = _hasher(tmp_path / "hashes")
    assert _hash(again, data) == _sha(data)
    assert again.calls == 0


def test_a_damaged_or_foreign_entry_is_ignored(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    folder = tmp_path / "hashes"
    _hasher(folder).version(str(data))
    (entry,) = folder.iterdir()
    size, mtime, ctime, _ = entry.read_text().split()
    for text in ("", "garbage", f"{size} {mtime} {ctime} {'z' * 64}", f"{size} {mtime} {ctime}"):
        entry.write_text(text)
        hasher = _hasher(folder)
        assert _hash(hasher, data) == _sha(data)
        assert hasher.calls == 1


def test_a_store_that_cannot_be_written_leaves_hashing_to_the_process(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    hasher = _hasher(blocked / "hashes")
    assert _hash(hasher, data) == _sha(data)
    assert _hash(hasher, data) == _sha(data)
    assert hasher.calls == 1  # the second time from the process's own cache


def test_kernels_writing_entries_at_once_leave_every_entry_whole(tmp_path: Path) -> None:
    files = []
    for index in range(20):
        path = tmp_path / f"f{index}.bin"
        path.write_bytes(os.urandom(2_000 + index))
        files.append(str(path))
    folder = tmp_path / "hashes"
    writer = textwrap.dedent(
        f"""
        from mlprod_nb.hashing import FileHasher
        for _ in range(30):
            hasher = FileHasher(racy_ns=0)
            hasher.share({str(folder)!r})
            for path in {files!r}:
                hasher._write_shared(hasher.stat(path), hasher.version(path).sha256)
        """
    )
    writers = [subprocess.Popen([sys.executable, "-c", writer]) for _ in range(4)]
    for process in writers:
        assert process.wait(timeout=120) == 0
    entries = sorted(folder.iterdir())
    assert len(entries) == len(files)  # one per file, no temporary left behind
    check = _hasher(folder)
    for path in files:
        assert _hash(check, path) == _sha(Path(path))
    assert check.calls == 0
