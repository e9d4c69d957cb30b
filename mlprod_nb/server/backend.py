"""What each route does, over the store, the lineage algorithms and the pipeline package.

Handlers parse requests; this class turns validated arguments into answers.
Store work runs on the store service's owner thread; notebook parsing and export
run on the default executor, never on the event loop.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import PipelineError, SerializationError
from ..paths import Layout, find_home
from ..pipeline.liveness import settled_runs
from ..records import RUNNING
from .confine import BadRequestError, Root
from .launcher import Launcher, check_run_id
from .payload import Memo, encode
from .service import StoreService
from .versions import KEPT_NOTEBOOKS, LineageVersion, VersionLog, build_version, delta

if TYPE_CHECKING:
    from ..lineage.model import NotebookLineage, StaleCell
    from ..lineage.staleness import Order

T = TypeVar("T")
MAX_COMPARE = 12
RUN_COPIES = "mlprod-runs"  # where Lab opens copies of runs' step notebooks and logs
COLLECT_AFTER = 0.05  # seconds after answering a new lineage


class Backend:
    """The server side of the panel: one per server, shared by every handler."""

    def __init__(
        self,
        root: Root,
        service: StoreService,
        launcher: Launcher,
        store_home: Path | None = None,
    ) -> None:
        self.root = root
        self.service = service
        self.launcher = launcher
        self.store_home = store_home
        self._memo = Memo(size=4 * KEPT_NOTEBOOKS)
        self._versions = VersionLog()  # answered lately, to make deltas from
        self._last_lineage: NotebookLineage | None = None

    def layout(self, near: Path | None = None) -> Layout:
        """The store for a file: the configured ``store_home``, else found from the file."""
        if self.store_home is not None:
            return Layout(self.store_home)
        return find_home(near if near is not None else self.root.path)

    async def _blocking(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, work)

    # -- lineage ---------------------------------------------------------------------------

    async def _notebook_lineage(self, path: str | None) -> tuple[Path, NotebookLineage]:
        notebook = self.root.notebook(path)
        lineage = await self.service.call(
            self.layout(notebook),
            lambda store: store.notebook_lineage(notebook),
            key=("lineage", notebook),
        )
        return notebook, lineage

    def _stale_cells(
        self, notebook: Path, lineage: NotebookLineage, order: Order = "run-all"
    ) -> list[StaleCell]:
        """Stale cells now: hashes of the files read are stat-cached, the result memoised."""
        from ..hashing import current_hashes
        from ..lineage.staleness import files_read, stale_cells
        from ..page import page_order

        current = current_hashes(files_read(lineage))
        page = page_order(notebook)
        return self._memo.get(
            ("stale", notebook, order),
            (lineage, current, page),
            lambda: stale_cells(
                lineage, current, order=order, page=page, show_path=self.root.relative
            ),
        )

    def _version(self, notebook: Path, lineage: NotebookLineage) -> LineageVersion:
        """The full answer for the lineage as it is now, tagged (memoised, remembered)."""
        stale = frozenset(cell.execution for cell in self._stale_cells(notebook, lineage))

        def build() -> LineageVersion:
            # executions and edges never change once recorded: encode each once
            known = self._versions.fragments(notebook)
            version, fragments = build_version(self.root.relative(notebook), lineage, stale, known)
            self._versions.remember(notebook, version, fragments)
            return version

        return self._memo.get(("lineage", notebook), (lineage, stale), build)

    async def lineage(self, path: str | None, since: str | None = None) -> tuple[str, bytes]:
        """The lineage's version tag and answer: in full, or what changed since the
        version ``since`` when the server still knows it."""
        notebook, lineage = await self._notebook_lineage(path)

        def answer() -> tuple[str, bytes]:
            version = self._version(notebook, lineage)
            base = self._versions.find(notebook, since) if since else None
            changes = delta(base, version) if base is not None else None
            return version.tag, changes if changes is not None else version.body

        answered = await self._blocking(answer)
        if lineage is not self._last_lineage:
            # A new lineage leaves ~10k objects behind; after a few, CPython's full
            # collection (~50 ms with a large lineage in memory, measured) lands inside a
            # request. Collect just after answering instead, while the panel waits to poll.
            self._last_lineage = lineage
            asyncio.get_running_loop().call_later(COLLECT_AFTER, gc.collect)
        return answered

    async def stale(self, path: str | None, order: str | None = None) -> bytes:
        view = _order(order)
        notebook, lineage = await self._notebook_lineage(path)

        def answer() -> bytes:
            stale = self._stale_cells(notebook, lineage, view)
            return encode({"notebook": self.root.relative(notebook), "order": view, "stale": stale})

        return await self._blocking(answer)

    async def moved(self, old: Any, new: Any) -> None:
        """Record that a notebook or folder (paths relative to the root) was renamed."""
        if not isinstance(old, str) or not isinstance(new, str):
            return
        target = self.root.resolve(new)
        source = self.root.path / old.lstrip("/")
        if target.suffix != ".ipynb" and not target.is_dir():
            return  # not a notebook, nor a folder that may hold some

        from ..moves import record_move

        # On the event loop, not in a thread: Jupyter's contents service calls this (as a
        # task) before answering the rename, and the panel asks for the new path as soon as
        # the answer arrives; written here (one short line), the record is there before
        # that request is read, and the store's expiry is queued before its lookup.
        home = Layout(self.store_home) if self.store_home is not None else None
        record_move(source, target, home)
        for layout in {self.layout(source), self.layout(target)}:
            await self.service.journal_written(layout)

    # -- pipeline --------------------------------------------------------------------------

    async def pipeline(self, path: Any, content: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The steps the tags make: of the file, or of ``content`` (the editor's notebook)."""
        notebook = self.root.notebook(_text(path, "path"), exists=content is None)
        answer = await self._blocking(lambda: _pipeline_outline(notebook, content))
        answer["notebook"] = self.root.relative(notebook)
        return answer

    async def export(
        self,
        path: Any,
        *,
        check: bool,
        output: str | None,
        content: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Export (or only check) the notebook file, or ``content``: the notebook as the
        editor holds it, living at ``path`` (its relative files, default output folder)."""
        notebook = self.root.notebook(_text(path, "path"), exists=content is None)
        target = self.root.resolve(output, what="output folder") if output else None
        answer = await self.service.call_released(
            self.layout(notebook), lambda: _export(notebook, target, check, content)
        )
        if answer.get("pipeline"):
            answer["pipeline"] = self.root.relative(answer["pipeline"])
        answer["source"] = "file" if content is None else "editor"
        return answer

    async def start_run(self, pipeline: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        folder = self.root.pipeline(_text(pipeline, "pipeline"))
        checked = await self._blocking(lambda: _checked_params(folder, params))
        layout = self.layout(folder)
        run_id = await self._blocking(
            lambda: self.launcher.start(layout, folder, checked, cwd=folder.parent)
        )
        return {"run_id": run_id, "id": run_id, "status": RUNNING}

    async def run_status(self, run_id: str, pipeline: str | None) -> dict[str, Any]:
        check_run_id(run_id)
        near = self.root.pipeline(pipeline) if pipeline else None
        layout = self.launcher.layout_of(run_id, self.layout(near))
        return await self._blocking(lambda: self.launcher.status(layout, run_id))

    # -- runs ------------------------------------------------------------------------------

    async def runs(
        self, pipeline: str | None, notebook: str | None = None
    ) -> dict[str, Any] | bytes:
        """Runs in the store of ``pipeline``, else of ``notebook`` (a sub-project may have
        its own ``.mlprod``), else of the server's root."""
        folder = self.root.pipeline(pipeline) if pipeline else None
        near = self.root.notebook(notebook) if notebook and folder is None else None
        layout = self.layout(folder or near)
        if not layout.home.is_dir():
            return {"runs": []}
        stored = await self.service.call(layout, lambda s: s.runs(folder), key=("runs", folder))
        found = await self._blocking(lambda: settled_runs(layout, stored))  # dead: interrupted
        return await self._blocking(
            lambda: self._memo.get(
                ("runs", layout, folder), (found,), lambda: encode({"runs": found})
            )
        )

    async def compare(
        self, runs: str | None, pipeline: str | None = None, baseline: str | None = None
    ) -> dict[str, Any]:
        """The runs side by side, oldest first, step code diffed against ``baseline``
        (default: the oldest); cached steps show the data of the run that produced them."""
        ids = list(
            dict.fromkeys(check_run_id(r.strip()) for r in (runs or "").split(",") if r.strip())
        )
        if len(ids) < 2 or len(ids) > MAX_COMPARE:
            raise BadRequestError(
                f"compare needs 2 to {MAX_COMPARE} run ids, got {len(ids)}",
                hint="pass runs=ID,ID[,ID]",
            )
        if baseline is not None and baseline not in ids:
            raise BadRequestError(
                f"baseline {baseline!r} is not one of the compared runs",
                hint="pass baseline=ID with ID among runs=",
            )
        from ..audit.compare import comparison
        from ..audit.gather import gather

        layout = self.layout(self.root.pipeline(pipeline) if pipeline else None)
        found = await self.service.call(layout, lambda s: gather(s, ids))
        return await self._blocking(
            lambda: comparison(layout, ids, found, baseline, self.root.relative, self.root.path)
        )

    async def cancel_run(self, run_id: str, pipeline: str | None) -> dict[str, Any]:
        """Stop a running run: its runner records it as aborted (SIGTERM is a clean abort)."""
        check_run_id(run_id)
        near = self.root.pipeline(pipeline) if pipeline else None
        layout = self.launcher.layout_of(run_id, self.layout(near))
        return await self._blocking(lambda: self.launcher.cancel(layout, run_id))

    async def run_files(self, run_id: str, pipeline: str | None) -> dict[str, Any]:
        """Where Lab can open a run's executed step notebooks and log (read-only copies
        outside the hidden store folder), paths relative to the server's root."""
        check_run_id(run_id)
        near = self.root.pipeline(pipeline) if pipeline else None
        layout = self.launcher.layout_of(run_id, self.layout(near))
        shown = self.root.path / RUN_COPIES

        def copy() -> dict[str, Any]:
            from .runcopy import copy_run

            found = copy_run(layout, run_id, shown / run_id)
            return {
                "run_id": run_id,
                "log": self.root.relative(found.log) if found.log else None,
                "steps": {name: self.root.relative(p) for name, p in found.steps.items()},
            }

        return await self._blocking(copy)


def _order(value: str | None) -> Order:
    """The staleness view a request asks for (``run-all`` unless it says ``any``)."""
    if value in (None, "run-all"):
        return "run-all"
    if value == "any":
        return "any"
    raise BadRequestError(
        f"unknown staleness order {value!r}", hint="pass order=run-all (default) or order=any"
    )


def _text(value: Any, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise BadRequestError(f"'{name}' must be a path string")
    return value


# -- work done on the default executor -------------------------------------------------------


def _pipeline_outline(notebook: Path, content: Mapping[str, Any] | None) -> dict[str, Any]:
    from ..pipeline.params import read_parameters
    from ..pipeline.tags import parse

    tagged = parse(notebook, content=content)
    steps = [{"name": s.name, "cells": [c.id for c in s.cells]} for s in tagged.steps]
    return {
        "steps": steps,
        "cells": {cell: step["name"] for step in steps for cell in step["cells"]},
        "setup": [c.id for c in tagged.setup],
        "parameter_cells": [c.id for c in tagged.parameters],
        "parameters": [p.to_json() for p in read_parameters(tagged.parameters, notebook)],
    }


def _export(
    notebook: Path, target: Path | None, check: bool, content: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The export's outcome; a notebook the compiler rejects is an answer, not an error.

    A file (or content) that is not a readable notebook at all (``NotebookError``) is a
    bad request: it answers 400 with the message, and the cell when one is to blame.
    Each error lists every cell it blames (``cells``: a cycle's tag cells).
    """
    from ..pipeline.export import export

    try:
        result = export(notebook, target, check=check, content=content)
    except (PipelineError, SerializationError) as error:
        cells = error.cells if isinstance(error, PipelineError) else (error.cell_id,)
        failure = {
            "message": error.render(),
            "cell_id": error.cell_id,
            "step": error.step,
            "cells": [c for c in cells if c],
        }
        return {"ok": False, "pipeline": None, "steps": [], "errors": [failure]}
    manifest = result.manifest
    return {
        "ok": True,
        "pipeline": str(result.folder) if result.folder is not None else None,
        "steps": [
            {
                "name": s.name,
                "cells": list(s.cells),
                "after": manifest.upstream(s.name),
                "inputs": [i.name for i in s.inputs],
                "outputs": list(s.outputs),
                "parameters": list(s.parameters),
            }
            for s in manifest.steps
        ],
        "parameters": [p.to_json() for p in manifest.parameters],
        "warnings": list(manifest.warnings),
        "traced": result.traced,
        "errors": [],
    }


def _checked_params(folder: Path, params: Mapping[str, Any]) -> dict[str, Any]:
    """The run's parameters checked against the pipeline's (only those given).

    Typed JSON values must fit the default's type; strings (from a text input) are
    converted as on the command line, so ``"5"`` is fine for an int parameter.
    """
    from ..pipeline.manifest import load
    from ..pipeline.params import resolve

    manifest, _ = load(folder)
    texts = [(k, v) for k, v in params.items() if isinstance(v, str)]
    values = {k: v for k, v in params.items() if not isinstance(v, str)}
    resolved = resolve(manifest.parameters, texts, values)
    return {name: resolved[name] for name in params}
