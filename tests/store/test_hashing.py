"""The one stat-cached sha256: the tracer's per-kernel hasher and the shared one the CLI,
server, runner and cache use (``sha256_file``)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from mlprod_nb import hashing


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> hashing.FileHasher:
    fresh = hashing.FileHasher(racy_ns=-1)  # trust even a just-written file
    monkeypatch.setattr(hashing, "shared", fresh)
    return fresh


def test_hash_is_cached_until_the_file_changes(tmp_path: Path, hasher: hashing.FileHasher) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"a,b\n1,2\n")
    expected = hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert hashing.sha256_file(str(path)) == expected
    assert hashing.sha256_file(str(path)) == expected
    assert hasher.calls == 1
    before = path.stat()
    path.write_bytes(b"a,b\n3,4\n")  # same size, and the old mtime put back: ctime moves
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert hashing.sha256_file(str(path)) == hashlib.sha256(b"a,b\n3,4\n").hexdigest()
    assert hasher.calls == 2


def test_a_recently_changed_file_is_hashed_again(tmp_path: Path) -> None:
    hasher = hashing.FileHasher()  # the default racy window
    path = tmp_path / "fresh.txt"
    path.write_text("x")
    hasher.version(str(path))
    hasher.version(str(path))
    assert hasher.calls == 2  # within the racy window of its change: not trusted


def test_missing_files_and_folders(tmp_path: Path) -> None:
    gone, folder = str(tmp_path / "gone"), str(tmp_path)
    assert hashing.current_hashes([gone, folder]) == {gone: None, folder: None}
