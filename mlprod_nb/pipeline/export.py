"""Export: compile a notebook (cross-checked with the tracer's record) and write it
for a target (``targets.TARGETS``: the papermill pipeline folder, or an Airflow DAG too)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..textable import render
from .compiler import Compiled, compile_notebook, write
from .manifest import Manifest
from .source import check_notebook_path
from .store_view import Trace, observed_trace
from .targets import DEFAULT, TARGETS, TargetOptions


@dataclass(frozen=True)
class ExportResult:
    manifest: Manifest
    folder: Path | None  # None with check=True
    traced: bool  # the tracer's record was used to cross-check
    backup: Path | None = None  # where --force moved what was at the output path
    target: str = DEFAULT
    written: Path | None = None  # the target's own file (the Airflow DAG)


def export(
    notebook: str | Path,
    output: str | Path | None = None,
    *,
    check: bool = False,
    use_tracer: bool = True,
    force: bool = False,
    split: str = "tags",
    content: Mapping[str, Any] | None = None,
    target: str = DEFAULT,
    options: TargetOptions | None = None,
) -> ExportResult:
    """Compile ``notebook``; unless ``check``, write the pipeline folder atomically.

    ``split`` says where steps start: ``"tags"`` (``step:`` tags, Kale's ``block:``) or
    ``"headings"`` (markdown headings too; see ``pipeline.headings``).

    Export replaces only a folder it wrote, and only its own files in it; anything else
    at the output path is an ``OutputPathError`` unless ``force`` moves it aside.

    ``content`` is the notebook as an editor holds it, unsaved edits included: compiled
    instead of the file, which ``notebook`` still names (relative files, the default
    output folder and the tracer's record are those of that path).

    ``target`` names where the pipeline goes and what else is written (``targets``);
    ``options`` are its scheduling options, refused by a target that has no use for them.
    """
    chosen = TARGETS.get(target)
    given = options or TargetOptions()
    chosen.check(given)
    path = Path(notebook).expanduser().resolve()
    check_notebook_path(path, exists=content is None)
    traces: list[Trace] = []

    def trace_of(cells: Sequence[tuple[str, str]]) -> Trace | None:
        found = observed_trace(path, cells) if use_tracer else None
        if found is not None:
            traces.append(found)
        return found

    compiled: Compiled = compile_notebook(path, split=split, content=content, trace_of=trace_of)
    traced = bool(traces)
    if check:
        return ExportResult(compiled.manifest, None, traced, target=target)
    where = Path(output).expanduser().resolve() if output is not None else None
    folder = chosen.folder(path, where)
    finish = chosen.prepare(path, compiled.manifest, folder, given, force=force)
    folder, backup = write(compiled, folder, force=force)
    return ExportResult(compiled.manifest, folder, traced, backup, target, finish())


def describe(result: ExportResult) -> str:
    """The steps table and where the pipeline went."""
    m = result.manifest
    rows = [
        (
            s.name,
            len(s.cells),
            ", ".join(m.upstream(s.name)) or "-",
            ", ".join(s.outputs) or "-",
            ", ".join(s.parameters) or "-",
        )
        for s in m.steps
    ]
    text = render(("step", "cells", "after", "passes on", "parameters"), rows) + "\n"
    if result.folder is None:
        text += f"ok: {len(m.steps)} steps, nothing written (--check)\n"
    else:
        text += f"pipeline written to {result.folder}\n"
    if result.written is not None:
        text += f"{result.target} file written to {result.written}\n"
    if result.backup is not None:
        text += f"what was there before was moved to {result.backup}\n"
    return text
