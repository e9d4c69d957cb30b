"""What a comparison needs about each run: step code, and the files each step read and wrote.

``runs/<run>/steps/<step>.ipynb`` (docs/contracts.md, section 5) holds what the
runner really ran. A step's code hash is the compiler's own (``stepbook.code_hash``:
parameter cells aside, so two runs differing only in parameter values have equal
code); the text shown in a diff is the user's cells only, not the generated
parameters, loads, definitions and save around them.

A step taken from cache did not run: its code, files and metrics are those of the
run that produced it (``cached_from``), marked with that run's id.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..lineage.cached import producer, step_metrics
from ..lineage.diff import FileFact, RunFacts
from ..lineage.model import RunDetail, StepSummary
from ..paths import Layout
from ..pipeline.stepbook import GENERATED, code_hash


@dataclass(frozen=True)
class StepCode:
    digest: str  # stepbook.code_hash of the executed notebook
    text: str  # the user's cells, as a diff shows them


def _read(notebook: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(notebook.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("cells"), list) else None


def _source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def user_code(notebook: Mapping[str, Any]) -> str:
    """The user's code cells of a step notebook, without the generated ones (``mlprod-*``)
    and without papermill's injected parameters."""
    cells = []
    for cell in notebook["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        tags = (cell.get("metadata") or {}).get("tags") or ()
        if str(cell.get("id", "")).startswith(GENERATED) or "injected-parameters" in tags:
            continue
        cells.append(_source(cell).rstrip("\n"))
    return "\n\n".join(cells) + "\n"


def step_code(notebook: Path) -> StepCode | None:
    data = _read(notebook)
    if data is None:
        return None
    try:
        digest = code_hash(data)
    except (KeyError, TypeError):  # not a notebook the runner wrote
        return None
    return StepCode(digest[:16], user_code(data))


def _notebook_of(layout: Layout, run_id: str, step: StepSummary) -> Path:
    if step.notebook and Path(step.notebook).is_file():
        return Path(step.notebook)
    return layout.runs_dir / run_id / "steps" / f"{step.name}.ipynb"


def _files(
    detail: RunDetail | None, step: str, show: Callable[[str], str], cached: str | None
) -> list[FileFact]:
    if detail is None:
        return []
    return [
        FileFact(show(f.path), f.mode, f.sha256, f.size, step, cached)
        for f in detail.files
        if f.pipeline_step == step
    ]


def facts(
    layout: Layout,
    detail: RunDetail,
    details: Mapping[str, RunDetail],
    sources: dict[str, str],
    show: Callable[[str], str] = str,
) -> RunFacts:
    """What ``lineage.diff.compare`` needs about one run; adds each hash's code text to
    ``sources``. ``details`` holds the runs its cached steps came from."""
    summary = detail.summary
    steps: dict[str, str | None] = {}
    files: list[FileFact] = []
    metrics: dict[str, Any] = dict(summary.metrics)
    for step in summary.steps:
        origin, ran = producer(detail.id, step.name, details.get)
        cached = origin if origin != detail.id else None
        code = step_code(_notebook_of(layout, origin, ran or step))
        steps[step.name] = code.digest if code else None
        if code:
            sources[code.digest] = code.text
        files += _files(details.get(origin), step.name, show, cached)
        if cached and origin in details:
            carried = step_metrics(details[origin], step.name)
            metrics.update({k: v for k, v in carried.items() if k not in summary.metrics})
    return RunFacts(
        id=summary.id,
        params=summary.params,
        metrics=metrics,
        datasets=_first(files, "read"),
        steps=steps,
        files=tuple(files),
        outputs=_last(files),
        started=summary.started,
    )


def _first(files: Sequence[FileFact], mode: str) -> dict[str, str | None]:
    """``{path: sha256}`` of the first version of each file read."""
    found: dict[str, str | None] = {}
    for f in files:
        if f.mode == mode:
            found.setdefault(f.path, f.sha256)
    return found


def _last(files: Sequence[FileFact]) -> dict[str, str | None]:
    """``{path: sha256}`` of the last version of each file written."""
    return {f.path: f.sha256 for f in files if f.mode != "read"}
