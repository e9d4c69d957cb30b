"""``mlprod-nb reproduce RUN_ID``: run a pipeline run again, from scratch, and compare.

What the run read comes from its summary (each step's cache key lists the files it read
and wrote with their hashes; a cached step's are those of the run that computed it), so
every input of the run is checked, cached steps' included. The code is the run's own:
its manifest and step notebooks are restored from the run's snapshot
(``pipeline.snapshot``) into ``.mlprod/reproduced/<run>/``, whatever was exported since;
a run from before snapshots runs its pipeline folder, which must then have the manifest
hash the run recorded. Python and the packages of the run's step kernels must be the
ones installed here. Any difference refuses the run unless drift is allowed. The
new run has the original's parameters (secret ones from ``MLPROD_NB_PARAM_<name>``, as
for every run), runs every step (no cache), and its step artifacts, written files and
metrics are compared with the original's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import NotFoundError
from ..hashing import current_hashes
from ..paths import Layout
from ..records import REDACTED
from . import differences
from .differences import Difference
from .report import DEFAULT_RTOL, Report, environment_drift, refuse_drift


def _results(summary: Mapping[str, Any]) -> tuple[dict[str, str | None], dict[str, float | None]]:
    """Every file and artifact the run's steps wrote (content hashes), and its metrics."""
    written: dict[str, str | None] = {}
    for step in summary.get("steps") or ():
        for path, sha in ((step.get("key") or {}).get("writes") or {}).items():
            written[path] = sha
        for artifact in step.get("artifacts") or ():
            written[f"artifact {step['name']}/{artifact['name']}"] = artifact.get("sha256")
    metrics = {str(k): v for k, v in (summary.get("metrics") or {}).items()}
    return written, metrics


def _inputs(summary: Mapping[str, Any]) -> dict[str, str | None]:
    """Files the run's steps read that none of them wrote, with the content read."""
    reads: dict[str, str | None] = {}
    writes: set[str] = set()
    for step in summary.get("steps") or ():
        key = step.get("key") or {}
        writes |= set(key.get("writes") or {})
        for path, sha in (key.get("reads") or {}).items():
            reads.setdefault(path, sha)
    return {p: h for p, h in reads.items() if p not in writes}


def _code_drift(pipeline: Path, recorded: str | None) -> list[Difference]:
    from ..pipeline import manifest as mf

    try:
        digest = hashlib.sha256((pipeline / mf.FILENAME).read_bytes()).hexdigest()
    except OSError:
        digest = None
    if recorded is None or digest == recorded:
        return []
    short = [None if d is None else f"sha256 {d[:12]}" for d in (recorded, digest)]
    return [Difference("code", f"pipeline {pipeline}", short[0], short[1])]


def _restored(layout: Layout, run_id: str, pipeline: Path, snapshot: Mapping[str, Any]) -> Path:
    """The run's own pipeline folder, rebuilt from its kept objects."""
    from ..pipeline import manifest as mf
    from ..pipeline import snapshot as kept

    folder = layout.home / "reproduced" / run_id / pipeline.name
    data = kept.read(layout, str(snapshot["manifest"]))
    manifest = mf.Manifest.from_json(json.loads(data))
    folder.mkdir(parents=True, exist_ok=True)
    for step in manifest.steps:
        target = folder / step.notebook
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(kept.read(layout, str(snapshot["steps"][step.name])))
    (folder / mf.FILENAME).write_bytes(data)  # last: a folder without it is no pipeline
    return folder


def reproduce_run(
    layout: Layout, run_id: str, *, allow_drift: bool = False, rtol: float = DEFAULT_RTOL
) -> Report:
    from ..pipeline.rundir import read_summary
    from ..pipeline.runner import RunOptions, run
    from ..store import Store

    summary = read_summary(layout, run_id)
    if summary.get("status") != "ok":
        raise NotFoundError(
            f"run {run_id!r} did not end ok ({summary.get('status')}): nothing to reproduce",
            run_id=run_id,
            hint="reproduce a run that finished ok (`mlprod-nb runs` lists them)",
        )
    pipeline = Path(str(summary.get("pipeline")))
    with Store.open(layout) as store:
        recorded = store.run(run_id)
        sessions = [session for _, _, session in store.step_sessions([run_id])]
        first = next((s for s in sessions if s.packages_hash), None)
        digest = first.packages_hash if first else None
        packages = store.package_versions([digest])[digest] if digest else {}
    inputs = _inputs(summary)
    drift = differences.inputs(inputs, current_hashes(inputs))
    snapshot = summary.get("snapshot")
    if not snapshot:
        drift += _code_drift(pipeline, recorded.summary.pipeline_hash)
    drift += environment_drift(first.python if first else None, packages)
    subject = f"run {run_id}"
    refuse_drift(subject, drift, allow_drift)

    if snapshot:
        pipeline = _restored(layout, run_id, pipeline, snapshot)
    params = {k: v for k, v in (summary.get("params") or {}).items() if v != REDACTED}
    again = run(pipeline, RunOptions(values=params, no_cache=True))
    found: list[Difference] = []
    if again.status != "ok":
        where = f"step {again.step}" if again.step else "the run"
        found.append(Difference("failure", where, None, again.error or again.status))
    before_files, before_metrics = _results(summary)
    after_files, after_metrics = _results(read_summary(layout, again.run_id))
    found += differences.outcome(before_files, after_files, before_metrics, after_metrics, rtol)
    return Report(
        subject,
        again.run_id,
        tuple(drift),
        tuple(found),
        len(set(before_files) | set(after_files)) + len(set(before_metrics) | set(after_metrics)),
    )
