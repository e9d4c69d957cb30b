"""The code each step of a run executed, read from the run's executed step notebooks.

``runs/<run>/steps/<step>.ipynb`` (docs/contracts.md, section 5) holds what the
runner really ran; a step taken from cache points at the run it came from. The
code hash leaves out parameter cells (the generated one and papermill's
injected one), so two runs differing only in parameter values have equal code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..lineage.diff import RunFacts
from ..lineage.model import RunDetail, StepSummary
from ..paths import Layout

PARAMETER_TAGS = frozenset({"parameters", "injected-parameters"})


def _code_cells(notebook: Path) -> list[str] | None:
    try:
        data = json.loads(notebook.read_text())
    except (OSError, ValueError):
        return None
    code = []
    for cell in data.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        tags = set((cell.get("metadata") or {}).get("tags") or [])
        if tags & PARAMETER_TAGS:
            continue
        source = cell.get("source", "")
        code.append("".join(source) if isinstance(source, list) else str(source))
    return code


def _notebook_of(layout: Layout, run_id: str, step: StepSummary) -> Path:
    if step.notebook and Path(step.notebook).is_file():
        return Path(step.notebook)
    origin = step.cached_from or run_id
    return layout.runs_dir / origin / "steps" / f"{step.name}.ipynb"


def step_code(layout: Layout, detail: RunDetail, sources: dict[str, str]) -> dict[str, str | None]:
    """``{step: code hash}`` of a run; adds each hash's code text to ``sources``."""
    found: dict[str, str | None] = {}
    for step in detail.summary.steps:
        cells = _code_cells(_notebook_of(layout, detail.id, step))
        if cells is None:
            found[step.name] = None
            continue
        text = "\n\n".join(cell.rstrip("\n") for cell in cells) + "\n"
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        sources[digest] = text
        found[step.name] = digest
    return found


def datasets_read(detail: RunDetail) -> dict[str, str | None]:
    """``{path: sha256}`` of the files the run's steps read (the first version read)."""
    read: dict[str, str | None] = {}
    for access in detail.files:
        if access.mode == "read":
            read.setdefault(access.path, access.sha256)
    return read


def facts(layout: Layout, detail: RunDetail, sources: dict[str, str]) -> RunFacts:
    """What ``lineage.diff.compare`` needs about one run."""
    summary = detail.summary
    params: Mapping[str, Any] = summary.params
    return RunFacts(
        id=summary.id,
        params=params,
        metrics=summary.metrics,
        datasets=datasets_read(detail),
        steps=step_code(layout, detail, sources),
    )
