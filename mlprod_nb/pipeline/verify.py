"""``mlprod-nb export NB --verify``: does the pipeline compute what Run All computes?

Two runs go side by side, each in its own sandbox (a temporary copy of the
notebook's folder, see ``sandbox`` for why one copy each and not the folder itself):

- the notebook top to bottom, as Run All would, in one kernel, with capture cells
  that save the values crossing step boundaries (``runall``);
- the pipeline through its own runner, in this process: default parameters, no
  cache, and a throw-away store, so the user's runs, cache and lineage are untouched.

Then every value that crosses a step boundary (the manifest's ``values``, at the end
of its producing step and, when other cells ran in between, at the start of each
consuming step) and every file a step wrote in its sandbox are compared, in page
order: the same sha256, or equal by ``compare`` (floats within the tolerance). The
first difference is reported by step, cell and name; the cell named for a value is
the last cell before that point whose source names it, for a file the cell the
tracer saw write it. A value that cannot be loaded here (a pickle of a class defined
in the notebook) is compared by its pickled bytes, and the report says so.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO, cast

from ..errors import VerifyError
from ..paths import ENV_HOME, Layout, find_home
from . import manifest as mf
from .artifacts import INDEX, serializer_for
from .compare import Tolerance, difference, file_difference
from .kernels import StepKernel, kernel_env, kernel_name
from .runall import Point, RunAll, build
from .sandbox import Sandbox, make

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


@dataclass(frozen=True)
class VerifyResult:
    values: int  # values compared (one per name and producing step)
    files: int  # files the pipeline's steps wrote, each compared
    difference: Difference | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.difference is None

    def summary(self) -> str:
        if self.difference is not None:
            return f"different: {self.difference.text()}"
        return f"verified: {self.values} values and {self.files} files identical"


class _Say:
    """Progress lines from either thread, stamped with the time since verify began."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.lock = threading.Lock()

    def __call__(self, text: str, side: str = "verify") -> None:
        if self.stream is None:
            return
        with self.lock:
            self.stream.write(f"[{side} {time.monotonic() - self.started:5.1f}s] {text}\n")
            self.stream.flush()


class _Lines:
    """A stream for the runner: its progress lines, marked as the pipeline's."""

    def __init__(self, say: _Say) -> None:
        self.say, self.pending = say, ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.say(line.split("] ", 1)[-1], "pipeline")
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False  # plain lines: the live line would garble the notebook's


class _NotebookKernel(StepKernel):
    """A step kernel that says when the top-to-bottom run reaches the end of a step."""

    def __init__(self, marks: Mapping[str, str], say: _Say, **kw: Any) -> None:
        super().__init__(**kw)
        self.marks, self.say = marks, say

    def _on_cell_execute(self, cell: Any, cell_index: int) -> None:
        super()._on_cell_execute(cell, cell_index)
        mark = self.marks.get(str(cell.get("id")))
        if mark:
            self.say(mark, "notebook")


class _TopToBottom(threading.Thread):
    def __init__(self, notebook: Path, output: Path, kernel: _NotebookKernel) -> None:
        super().__init__(name="mlprod-verify-notebook", daemon=True)
        self.notebook, self.output, self.kernel = notebook, output, kernel
        self.error: Exception | None = None
        self.seconds = 0.0

    def run(self) -> None:
        began = time.monotonic()
        try:
            self.kernel.start()
            self.kernel.execute(self.notebook, self.output, {})
        except Exception as error:  # reported by verify(), with the cell it failed in
            self.error = error
        finally:
            self.kernel.shutdown()
            self.seconds = time.monotonic() - began


@contextmanager
def _store(home: Path) -> Iterator[None]:
    """Point this process (so the runner, and the kernels it starts) at a throw-away store."""
    before = os.environ.get(ENV_HOME)
    os.environ[ENV_HOME] = str(home)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV_HOME, None)
        else:
            os.environ[ENV_HOME] = before


def verify(
    pipeline: str | os.PathLike[str],
    *,
    tolerance: Tolerance | None = None,
    stream: TextIO | None = None,
) -> VerifyResult:
    """Run the notebook top to bottom and the pipeline; compare what crosses step boundaries.

    A difference is returned, not raised; ``VerifyError`` means they could not be
    compared (the notebook fails top to bottom, or changed since it was exported).
    """
    from ..hashing import sha256_file
    from .runner import RunOptions, run

    began = time.monotonic()
    tolerance = tolerance or Tolerance()
    say = _Say(stream)
    manifest, folder = mf.load(Path(pipeline))
    source = Path(manifest.source)
    if sha256_file(str(source)) != manifest.source_sha256:
        raise VerifyError(
            "the notebook changed since this pipeline was exported",
            path=source,
            hint="export it again: mlprod-nb export NB --verify",
        )
    root = find_home(source).home.parent
    with tempfile.TemporaryDirectory(prefix="mlprod-verify-") as temp:
        base = Path(temp).resolve()
        plan = build(source, manifest, base / "values")
        (base / "run-all.ipynb").write_text(json.dumps(plan.notebook))
        boxes = {side: make(source.parent, root, base / side) for side in ("notebook", "pipeline")}
        copied = boxes["notebook"]
        say(f"copied {source.parent} for each run ({copied.files} files, {copied.size:,} bytes)")
        marks = {p.cell_id: f"step {p.step!r} done" for p in plan.points if p.kind == "end"}
        home = base / ".mlprod"
        with _store(home):
            kernel = _NotebookKernel(
                marks,
                say,
                kernel_name=kernel_name(source),
                cwd=copied.folder,
                env=kernel_env(home),
                log=base / "notebook-kernel.log",
            )
            side = _TopToBottom(base / "run-all.ipynb", base / "run-all.out.ipynb", kernel)
            say("running the notebook top to bottom and the pipeline, side by side")
            side.start()
            try:
                lines = cast(TextIO, _Lines(say))
                options = RunOptions(no_cache=True, cwd=boxes["pipeline"].folder, stream=lines)
                result = run(folder, options)
                if result.status == "aborted":  # Ctrl-C: the runner recorded it, stop too
                    raise KeyboardInterrupt
            except BaseException:
                kernel.interrupt()
                raise
            finally:
                side.join()
        if side.error is not None:
            raise _notebook_failed(side.error, side.output, plan.points, source)
        say(f"notebook done ({side.seconds:.1f}s); comparing")
        found = _compare_values(plan, base / "values", result, tolerance)
        written = boxes["pipeline"].written()
        if found is None:
            owners = _writers(Layout(home), result.run_id, boxes["pipeline"].folder)
            found = _compare_files(written, owners, plan.steps, boxes, tolerance)
    values = len({(v.producer, v.name) for v in manifest.values})
    return VerifyResult(values, len(written), found, time.monotonic() - began)


def _notebook_failed(
    error: Exception, output: Path, points: Sequence[Point], source: Path
) -> VerifyError:
    cell_id = None
    try:
        for cell in json.loads(output.read_text())["cells"]:
            if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
                cell_id = str(cell.get("id"))
                break
    except (OSError, ValueError, KeyError):
        pass
    what = f"{getattr(error, 'ename', type(error).__name__)}: {getattr(error, 'evalue', error)}"
    point = next((p for p in points if p.cell_id == cell_id), None)
    if point is not None:
        return VerifyError(
            f"the notebook's values at the {point.kind} of step {point.step!r} cannot be "
            f"saved: {what}",
            path=source,
            step=point.step,
            hint="the pipeline could not pass them either: re-create them in the step "
            "that uses them",
        )
    return VerifyError(
        f"the notebook fails when run top to bottom: {what.splitlines()[0]}",
        path=source,
        cell_id=cell_id,
        hint="verify runs every code cell in page order, as Run All does (skip cells "
        "too): make Run All pass, then verify again",
    )


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


def _compare_values(
    plan: RunAll, values: Path, result: RunResult, tolerance: Tolerance
) -> Difference | None:
    """The first value (in page order) the two runs disagree on, or a failed step."""
    states = {s.name: s for s in result.steps}
    for step in plan.steps:
        state = states[step]
        for point in (p for p in plan.points if p.step == step):
            if point.kind == "end" and state.status not in ("ok", "cached"):
                break
            found = _point_difference(point, values, states, tolerance)
            if found is not None:
                return found
        if state.status not in ("ok", "cached"):
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


def _writers(layout: Layout, run_id: str, folder: Path) -> dict[str, tuple[str, str | None]]:
    """Files the tracer saw the run's steps write: path in ``folder`` -> (step, cell id)."""
    found: dict[str, tuple[str, str | None]] = {}
    for journal in sorted(layout.journal_dir.glob("*.ndjson")):
        for line in journal.read_bytes().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
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


def _compare_files(
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
