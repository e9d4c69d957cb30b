"""What the ``lineage``, ``stale``, ``sql`` and ``trace`` commands ask of the store."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NotebookError, NotFoundError
from ..paths import Layout, find_home
from .answers import Answers

if TYPE_CHECKING:  # imported when the store is read: not for a saved answer
    from ..lineage.model import NotebookLineage
    from ..lineage.staleness import Order
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
    from .store import Store

    store = Store.open(layout, timeout=timeout)
    if store.new_journal_errors and skipped is not None:
        skipped(store.new_journal_errors)
    return store


def _located(notebook: str | Path) -> tuple[Path, Layout, str]:
    """The notebook's resolved path, its store and the hint for when nothing is recorded."""
    path = Path(notebook).expanduser().resolve()
    hint = _TRACE_HINT.format(name=Path(notebook).name)
    if path.is_dir():
        raise NotebookError(
            "this is a folder, not a notebook", path=path, hint="name the .ipynb file in it"
        )
    if not path.exists():
        hint = f"check the path; if it moved, {hint}"
    return path, _existing(find_home(path), path, hint), hint


def _read_lineage(
    path: Path, layout: Layout, hint: str, timeout: float, skipped: Skipped | None
) -> NotebookLineage:
    with _open(layout, timeout, skipped) as store:
        try:
            return store.notebook_lineage(path)
        except NotFoundError as error:
            if path.exists():
                raise
            raise NotFoundError(
                "no such notebook, and nothing recorded for it", path=path, hint=hint
            ) from error


def notebook_lineage(
    notebook: str | Path, timeout: float = 30.0, *, skipped: Skipped | None = None
) -> NotebookLineage:
    """The recorded lineage of a notebook; ``NotFoundError`` when nothing is recorded."""
    return _read_lineage(*_located(notebook), timeout, skipped)


def _answers(path: Path, layout: Layout) -> Answers:
    return Answers(layout, str(path), str(path))  # the store is asked with ``path``


def lineage_answer(
    notebook: str | Path,
    *,
    as_json: bool = False,
    indent: int | None = None,
    timeout: float = 30.0,
    skipped: Skipped | None = None,
) -> str:
    """What ``mlprod-nb lineage`` prints: the saved answer while the store is as it was
    (``answers``), else read from the store (and saved)."""
    path, layout, hint = _located(notebook)
    answers = _answers(path, layout)
    kind = f"lineage-json-{indent}" if as_json else "lineage"
    saved = answers.get(kind)
    if saved is not None:
        return saved
    from ..jsondata import dumps
    from ..lineage.render import lineage_text
    from .queries import no_collection

    before = answers.journal()
    with no_collection():  # records of 10,000 executions, their text or JSON: no cycles
        lineage = _read_lineage(path, layout, hint, timeout, skipped)
        text = dumps(lineage, indent) if as_json else lineage_text(lineage)
        answers.put(kind, before, text)
    return text


def _stale_inputs(page: Sequence[str] | None, current: Mapping[str, str | None]) -> str:
    """A digest of what a stale answer takes from outside the store."""
    seen = [None if page is None else list(page), sorted(current.items())]
    return hashlib.sha256(json.dumps(seen).encode()).hexdigest()


def stale_answer(
    notebook: str | Path,
    *,
    order: Order,
    as_json: bool = False,
    indent: int | None = None,
    timeout: float = 30.0,
    skipped: Skipped | None = None,
) -> str:
    """What ``mlprod-nb stale`` prints. A saved answer is used while the store is as it
    was and the files the notebook read and its page order are too."""
    from ..hashing import current_hashes
    from ..page import page_order

    path, layout, hint = _located(notebook)
    answers = _answers(path, layout)
    kind = f"stale-{order}-json-{indent}" if as_json else f"stale-{order}"
    page = page_order(notebook)
    saved = answers.get(kind, lambda reads: _stale_inputs(page, current_hashes(reads)))
    if saved is not None:
        return saved
    from ..jsondata import dumps
    from ..lineage.render import stale_text
    from ..lineage.staleness import files_read, stale_cells
    from .queries import no_collection

    before = answers.journal()
    with no_collection():
        lineage = _read_lineage(path, layout, hint, timeout, skipped)
        reads = files_read(lineage)
        current = current_hashes(reads)
        stale = stale_cells(lineage, current, order=order, page=page)
        if as_json:
            text = dumps({"notebook": lineage.notebook, "order": order, "stale": stale}, indent)
        else:
            text = stale_text(lineage, stale)
        answers.put(kind, before, text, reads, _stale_inputs(page, current))
    return text


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
