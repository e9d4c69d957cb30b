"""What the ``lineage``, ``stale``, ``sql`` and ``trace`` commands ask of the store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import NotebookError, NotFoundError
from ..lineage.model import NotebookLineage
from ..paths import Layout, find_home
from .store import Store

_TRACE_HINT = (
    "run it with the tracer on (`%load_ext mlprod_nb` in the notebook) "
    "or trace it headlessly with `mlprod-nb trace {name}`"
)


def _existing(layout: Layout, subject: Path, hint: str) -> Layout:
    if not layout.home.is_dir():
        raise NotFoundError(
            f"no lineage store yet (looked for {layout.home})",
            path=subject,
            hint=hint,
        )
    return layout


Skipped = Callable[[int], None]  # told how many journal lines the ingest just skipped


def _open(layout: Layout, timeout: float, skipped: Skipped | None) -> Store:
    """Open the store; ``skipped`` hears of journal lines it could not ingest just now
    (the CLI says so on stderr: telling the user is the face's job, not the store's)."""
    store = Store.open(layout, timeout=timeout)
    if store.new_journal_errors and skipped is not None:
        skipped(store.new_journal_errors)
    return store


def notebook_lineage(
    notebook: str | Path, timeout: float = 30.0, *, skipped: Skipped | None = None
) -> NotebookLineage:
    """The recorded lineage of a notebook; ``NotFoundError`` when nothing is recorded."""
    path = Path(notebook).expanduser().resolve()
    hint = _TRACE_HINT.format(name=Path(notebook).name)
    if path.is_dir():
        raise NotebookError(
            "this is a folder, not a notebook", path=path, hint="name the .ipynb file in it"
        )
    if not path.exists():
        hint = f"check the path; if it moved, {hint}"
    layout = _existing(find_home(path), path, hint)
    with _open(layout, timeout, skipped) as store:
        try:
            return store.notebook_lineage(path)
        except NotFoundError as error:
            if path.exists():
                raise
            raise NotFoundError(
                "no such notebook, and nothing recorded for it", path=path, hint=hint
            ) from error


def query(
    sql: str,
    home: str | None = None,
    params: Sequence[Any] = (),
    timeout: float = 30.0,
    *,
    allow_files: bool = False,
    skipped: Skipped | None = None,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Plain queries typed by the user, over the store's tables (``readonly``).

    New journal lines are ingested first (read-write, under the store's lock); then
    the store is reopened read-only, still under the lock, with file access off
    unless ``allow_files``, and only statements DuckDB parses as queries run.
    """
    layout = Layout(Path(home).expanduser().resolve()) if home else find_home(Path.cwd())
    _existing(layout, layout.home, "trace a notebook first, or pass --home .../.mlprod")
    with _open(layout, timeout, skipped) as store:
        store.reopen_read_only(allow_files=allow_files)
        return store.query(sql, params)


def executions_recorded(
    notebook: str | Path, timeout: float = 30.0, *, skipped: Skipped | None = None
) -> int:
    """How many executions of ``notebook`` the store holds (new journal lines ingested)."""
    path = Path(notebook).expanduser().resolve()
    with _open(find_home(path), timeout, skipped) as store:
        _, rows = store.query("SELECT count(*) FROM executions WHERE notebook = ?", [str(path)])
    return int(rows[0][0])
