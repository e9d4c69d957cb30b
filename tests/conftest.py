"""Keep every test run contained: its own IPython dir, Jupyter runtime dir and store."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _contained(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    base = tmp_path_factory.mktemp("env")
    monkeypatch.setenv("IPYTHONDIR", str(base / "ipython"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(base / "runtime"))
    monkeypatch.delenv("MLPROD_NB_HOME", raising=False)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``.mlprod`` folder, selected with MLPROD_NB_HOME."""
    path = tmp_path / ".mlprod"
    monkeypatch.setenv("MLPROD_NB_HOME", str(path))
    return path
