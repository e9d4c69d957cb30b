"""The stat-cached sha256 the CLI and the server use to check files for staleness."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from mlprod_nb import hashing


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    count: list[int] = []
    real = hashlib.sha256

    def counting(*args: Any) -> Any:
        count.append(1)
        return real(*args)

    monkeypatch.setattr(hashing.hashlib, "sha256", counting)
    monkeypatch.setattr(hashing, "_cache", {})
    return count


def test_hash_is_cached_until_the_file_changes(
    tmp_path: Path, calls: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashing, "RACY_SECONDS", -1.0)  # trust even a just-written file
    path = tmp_path / "data.csv"
    path.write_bytes(b"a,b\n1,2\n")
    expected = hashlib.new("sha256", b"a,b\n1,2\n").hexdigest()  # not the counted one
    assert hashing.sha256_file(str(path)) == expected
    assert hashing.sha256_file(str(path)) == expected
    assert len(calls) == 1
    before = path.stat()
    path.write_bytes(b"a,b\n3,4\n")  # same size, and the old mtime put back
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert hashing.sha256_file(str(path)) == hashlib.new("sha256", b"a,b\n3,4\n").hexdigest()
    assert len(calls) == 2


def test_a_recently_changed_file_is_hashed_again(tmp_path: Path, calls: list[int]) -> None:
    path = tmp_path / "fresh.txt"
    path.write_text("x")
    hashing.sha256_file(str(path))
    hashing.sha256_file(str(path))
    assert len(calls) == 2  # within RACY_SECONDS of its change: not trusted from the cache


def test_missing_files(tmp_path: Path) -> None:
    assert hashing.current_hashes([str(tmp_path / "gone")]) == {str(tmp_path / "gone"): None}
