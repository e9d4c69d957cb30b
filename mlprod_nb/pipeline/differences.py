"""The first difference between the top-to-bottom run and the pipeline's run.

Values are taken in page order, at each capture point of the Run All notebook
(``runall.Point``): first by sha256 of what the same serializer wrote on each side,
then, when the bytes differ, loaded and compared by ``compare`` (floats within the
tolerance). A value that cannot be loaded here (a pickle of a class the notebook
defined) is compared by its pickled bytes, and the report says so. A pipeline step
that failed is a difference at its place in page order. Files are the ones a step
wrote in its sandbox, in the order of the steps that wrote them (the tracer's record
names the step and cell), each compared with the file the notebook wrote at the same
path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .. import journal
from ..paths import Layout
from ..records import DONE
from .artifacts import INDEX, serializer_for
from .compare import Tolerance, difference, file_difference
from .runall import Point, RunAll
from .sandbox import Sandbox

if TYPE_CHECKING:  # the runner is imported when verify runs
    from .runner import RunResult


@dataclass(frozen=True)
class Difference:
    step: str
    name: str  # a value's name, or a file's path relative to the notebook's folder
    cell_id: str | None
    detail: str  # "notebook 0.8123, pipeline 0.8119"
    kind: Literal["value", "file", "failure"] = "value"
    note: str = ""

    def text(self) -> str:
        cell = f" (cell {self.cell_id})" if self.cell_id else ""
        what = {"value": f", value {self.name!r}", "file": f", file {self.name!r}"}
        head = f"step {self.step!r}{what.get(self.kind, '')}{cell}"
        return f"{head}: {self.detail}" + (f"; {self.note}" if self.note else "")


def _index(folder: Path) -> dict[str, dict[str, str]]:
    try:
        return {a["name"]: a for a in json.loads((folder / INDEX).read_text())}
    except (OSError, ValueError):
        return {}


def _value_difference(notebook: Path, pipeline: Path, tolerance: Tolerance) -> tuple[str, str]:
    """How two saved values differ ('' when they do not), and a note on how it was told."""
    try:
        left, right = (
            serializer_for(notebook).load(notebook),
            serializer_for(pipeline).load(pipeline),
        )
    except Exception as error:  # e.g. a pickle of a class the notebook defined
        note = f"compared as pickled bytes: the value cannot be loaded here ({error})"
        return "their pickled bytes differ", note
    return difference(left, right, tolerance) or "", ""


def first_value(
    plan: RunAll, values: Path, result: RunResult, tolerance: Tolerance
) -> Difference | None:
    """The first value (in page order) the two runs disagree on, or a failed step."""
    states = {s.name: s for s in result.steps}
    for step in plan.steps:
        state = states[step]
        for point in (p for p in plan.points if p.step == step):
            if point.kind == "end" and state.status not in DONE:
                break
            found = _point_difference(point, values, states, tolerance)
            if found is not None:
                return found
        if state.status not in DONE:
            why = (state.error or state.status).splitlines()[0]
            return Difference(
                step, "", state.cell_id, f"the pipeline's step failed: {why}", "failure"
            )
    return None


def _point_difference(
    point: Point, values: Path, states: Mapping[str, Any], tolerance: Tolerance
) -> Difference | None:
    saved = _index(values / point.folder)
    for name in point.names:
        produced = {a["name"]: a for a in states[point.producers[name]].artifacts}
        ours, theirs = saved.get(name), produced.get(name)
        if ours is None or theirs is None:
            side = "notebook" if ours is None else "pipeline"
            detail = f"the {side} has no value {name!r} at the {point.kind} of the step"
            return Difference(point.step, name, point.cells[name], detail)
        if ours["sha256"] == theirs["sha256"]:
            continue
        detail, note = _value_difference(Path(ours["path"]), Path(theirs["path"]), tolerance)
        if not detail:
            continue
        if point.kind == "start":
            ran = ", ".join(point.between[-5:])
            changed = (
                f"an input from step {point.producers[name]!r}, which matched at its end: "
                f"the notebook changed it in cells run in between ({ran}), which the "
                "pipeline does not run before this step"
            )
            note = f"{changed}; {note}" if note else changed
        return Difference(point.step, name, point.cells[name], detail, note=note)
    return None


def writers(layout: Layout, run_id: str, folder: Path) -> dict[str, tuple[str, str | None]]:
    """Files the tracer saw the run's steps write: path in ``folder`` -> (step, cell id)."""
    found: dict[str, tuple[str, str | None]] = {}
    for file in sorted(layout.journal_dir.glob("*.ndjson")):
        for record in journal.records(file):
            if not isinstance(record, dict):
                continue
            if record.get("kind") != "execution" or record.get("run") != run_id:
                continue
            for access in record.get("files") or []:
                if access.get("mode") == "read":
                    continue
                try:
                    path = Path(access["path"]).resolve().relative_to(folder).as_posix()
                except (KeyError, ValueError):
                    continue
                found.setdefault(path, (str(record.get("step")), record.get("cell_id")))
    return found


def first_file(
    written: Sequence[str],
    owners: Mapping[str, tuple[str, str | None]],
    order: Sequence[str],
    boxes: Mapping[str, Sandbox],
    tolerance: Tolerance,
) -> Difference | None:
    def rank(path: str) -> tuple[int, str]:
        step = owners[path][0] if path in owners else ""
        return (order.index(step) if step in order else len(order), path)

    for path in sorted(written, key=rank):
        step, cell_id = owners.get(path, ("(a step)", None))
        ours, theirs = boxes["notebook"].folder / path, boxes["pipeline"].folder / path
        if not ours.is_file():
            return Difference(step, path, cell_id, "the notebook did not write it", "file")
        detail = file_difference(ours, theirs, tolerance)
        if detail is not None:
            return Difference(step, path, cell_id, detail, "file")
    return None
