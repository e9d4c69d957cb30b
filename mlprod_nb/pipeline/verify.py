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
order (``differences``): the same sha256, or equal by ``compare`` (floats within the
tolerance). The first difference is reported by step, cell and name; the cell named
for a value is the last cell before that point whose source names it, for a file the
cell the tracer saw write it.
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
from typing import Any, TextIO, cast

from ..errors import VerifyError
from ..paths import ENV_HOME, Layout, find_home
from . import manifest as mf
from .compare import Tolerance
from .differences import Difference, first_file, first_value, writers
from .kernels import StepKernel, kernel_env, kernel_name
from .runall import Point, build
from .sandbox import make

__all__ = ["Difference", "Tolerance", "VerifyResult", "verify"]


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
        found = first_value(plan, base / "values", result, tolerance)
        written = boxes["pipeline"].written()
        if found is None:
            owners = writers(Layout(home), result.run_id, boxes["pipeline"].folder)
            found = first_file(written, owners, plan.steps, boxes, tolerance)
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
