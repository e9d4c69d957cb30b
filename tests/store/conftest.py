from __future__ import annotations

from pathlib import Path

import pytest

from mlprod_nb.journal import JournalWriter
from mlprod_nb.paths import Layout


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path / ".mlprod")


@pytest.fixture
def writer(layout: Layout) -> JournalWriter:
    w = JournalWriter(layout.journal_dir, "test-writer")
    yield w  # type: ignore[misc]
    w.close()
