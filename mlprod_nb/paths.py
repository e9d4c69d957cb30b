"""Where a project's mlprod-nb data lives (the ``.mlprod`` folder), found cheaply.

From a notebook's directory upwards: the first directory holding a ``.mlprod``
folder; else the nearest project root marker; else the notebook's directory.
``MLPROD_NB_HOME`` names the ``.mlprod`` folder itself and wins over all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_HOME = "MLPROD_NB_HOME"
DIRNAME = ".mlprod"
ROOT_MARKERS = (".git", "pyproject.toml", "setup.cfg", "setup.py", ".hg")
NAME_MAX = 255  # bytes in one path component (Linux); longer names fail with ENAMETOOLONG


def overlong_part(path: str | Path) -> str | None:
    """The first component of ``path`` longer than ``NAME_MAX`` bytes, if any."""
    return next((p for p in Path(path).parts if len(os.fsencode(p)) > NAME_MAX), None)


@dataclass(frozen=True)
class Layout:
    """The files of one store. ``home`` is the ``.mlprod`` folder."""

    home: Path

    @property
    def journal_dir(self) -> Path:
        return self.home / "journal"

    @property
    def db_path(self) -> Path:
        return self.home / "lineage.duckdb"

    @property
    def lock_path(self) -> Path:
        return self.home / "lineage.lock"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    @property
    def answers_dir(self) -> Path:
        """Saved answers of ``lineage`` and ``stale`` (``store/answers.py``)."""
        return self.home / "answers"

    def owns(self, path: str | Path) -> bool:
        """True for the store's own files (the tracer ignores them)."""
        try:
            Path(path).relative_to(self.home)
        except ValueError:
            return False
        return True


def find_home(start: str | Path | None = None) -> Layout:
    """The store layout for a notebook (or directory) at ``start``; default: the cwd."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Layout(Path(env).expanduser().resolve())
    begin = Path(start).expanduser().resolve() if start is not None else Path.cwd().resolve()
    if begin.suffix == ".ipynb" or begin.is_file():
        begin = begin.parent
    candidates = [begin, *begin.parents]
    for directory in candidates:
        if (directory / DIRNAME).is_dir():
            return Layout(directory / DIRNAME)
    for directory in candidates:
        if any((directory / marker).exists() for marker in ROOT_MARKERS):
            return Layout(directory / DIRNAME)
    return Layout(begin / DIRNAME)
