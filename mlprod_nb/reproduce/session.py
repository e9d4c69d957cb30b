"""``mlprod-nb reproduce --session ID``: re-run an interactive session's executions.

The executions a kernel session recorded (their sources, from the store) are replayed
in the order they ran, in a fresh kernel with the tracer on, in the session's working
folder, so the reproduction is itself a recorded session. Before: every file the
session read before writing it must still have the content it read, and Python and
the packages must be the recorded ones (else refused, unless allowed). After: the
files it wrote and the metrics it logged are compared with the reproduction's.
Executions that failed when recorded are left out (they changed nothing Run All would
keep); a session whose sources were not all recorded cannot be replayed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import ReproduceError, RunFailedError
from ..hashing import current_hashes
from ..lineage.model import Execution
from ..paths import Layout
from . import differences
from .differences import Difference
from .report import DEFAULT_RTOL, Report, environment_drift, refuse_drift

Facts = tuple[dict[str, str | None], dict[str, str | None], dict[str, float | None]]


def facts(executions: Sequence[Execution]) -> Facts:
    """Files read before being written (with the content read), the last content of each
    file written, and the last value of each metric."""
    inputs: dict[str, str | None] = {}
    outputs: dict[str, str | None] = {}
    metrics: dict[str, float | None] = {}
    for execution in executions:
        for access in execution.files:
            if access.mode == "write":
                outputs[access.path] = access.sha256
            elif access.path not in outputs:
                inputs.setdefault(access.path, access.sha256)
        for metric in execution.metrics:
            metrics[metric.name] = metric.value
    return inputs, outputs, metrics


def _replay_notebook(folder: Path, name: str, executions: Sequence[Execution]) -> Path:
    import nbformat

    notebook = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    for execution in executions:
        cell = nbformat.v4.new_code_cell(execution.source or "")  # type: ignore[no-untyped-call]
        cell.id = f"seq-{execution.seq}"
        notebook.cells.append(cell)
    path = folder / name
    nbformat.write(notebook, path)  # type: ignore[no-untyped-call]
    return path


def reproduce_session(
    layout: Layout,
    session_id: str,
    *,
    allow_drift: bool = False,
    rtol: float = DEFAULT_RTOL,
) -> Report:
    from ..headless import trace_notebook
    from ..store import Store

    with Store.open(layout) as store:
        session, recorded = store.session(session_id)
        digest = session.packages_hash
        packages = store.package_versions([digest])[digest] if digest else {}
    subject = f"session {session.id[:12]}"
    failed = [e for e in recorded if e.status != "ok"]
    replayed = [e for e in recorded if e.status == "ok"]
    unknown = [e.seq for e in replayed if e.source is None]
    if not replayed or unknown:
        raise ReproduceError(
            f"{subject} cannot be replayed: "
            + (f"no source recorded for executions {unknown[:5]}" if unknown else "no executions"),
            hint="reproduce a pipeline run instead (`mlprod-nb reproduce RUN_ID`)",
        )
    inputs, outputs, metrics = facts(replayed)
    drift = differences.inputs(inputs, current_hashes(inputs))
    drift += environment_drift(session.python, packages)
    refuse_drift(subject, drift, allow_drift)

    cwd = Path(session.cwd or Path(session.notebook or ".").parent)
    notes = [f"{len(failed)} execution(s) that failed when recorded left out"] if failed else []
    found: list[Difference] = []
    with tempfile.TemporaryDirectory(prefix="mlprod-reproduce-") as folder:
        name = Path(session.notebook or "session.ipynb").name
        notebook = _replay_notebook(Path(folder), name, replayed)
        try:
            trace_notebook(notebook, cwd=cwd)
        except RunFailedError as error:
            found.append(Difference("failure", f"replayed {error.cell_id}", None, error.message))
        with Store.open(layout) as store:
            lineage = store.notebook_lineage(notebook)
    new = sorted(lineage.executions, key=lambda e: e.seq)
    _, new_outputs, new_metrics = facts(new)
    found += differences.outcome(outputs, new_outputs, metrics, new_metrics, rtol)
    return Report(
        subject,
        new[0].session if new else "(nothing ran)",
        tuple(drift),
        tuple(found),
        len(set(outputs) | set(new_outputs)) + len(set(metrics) | set(new_metrics)),
        tuple(notes),
    )
