"""``mlprod-nb show RUN_ID``: the audit answer, what produced a run's outputs and metrics.

Data (every file each step read and wrote, with content hash and size), code (each
step's generated notebook as the run kept it, ``pipeline.snapshot``, the source
notebook and its hash, the git state of the step kernels), parameters (secret ones
redacted by the store), the environment and resources of the kernels that computed
each step, the run's artifacts and metrics. A cached step did not run: its files,
metrics and environment are those of the run that computed it, named in ``produced_by``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import MlprodError
from ..lineage.cached import run_metrics, step_metrics
from ..lineage.model import RunDetail, Session
from ..paths import Layout
from ..pipeline import snapshot as sn
from ..pipeline.rundir import STATUS_FILE, SUMMARY_FILE, read_json, run_folder
from .gather import Gathered


def kept_snapshot(layout: Layout, run_id: str) -> dict[str, Any] | None:
    """The run's ``snapshot`` references (None: a run recorded before runs kept them)."""
    folder = run_folder(layout, run_id)
    for name in (SUMMARY_FILE, STATUS_FILE):
        record = read_json(folder / name)
        if record is not None:
            found = record.get("snapshot")
            return found if isinstance(found, dict) else None
    return None


def _code_hashes(layout: Layout, snapshot: dict[str, Any] | None) -> dict[str, Any]:
    """The kept manifest's facts: each step's code hash, the source hash at export."""
    if not snapshot:
        return {}
    try:
        manifest = sn.read_json(layout, snapshot["manifest"])
    except (MlprodError, ValueError):
        return {}
    steps = {s.get("name"): s.get("code_hash") for s in manifest.get("steps", [])}
    return {"steps": steps, "exported": (manifest.get("source") or {}).get("sha256")}


def _files(detail: RunDetail | None, step: str, produced_by: str | None) -> list[dict[str, Any]]:
    """Each file the step read or wrote, once per version and mode, in the order it did."""
    found: dict[tuple[str, str, str | None], dict[str, Any]] = {}
    for f in detail.files if detail else ():
        if f.pipeline_step == step:
            found.setdefault(
                (f.path, f.mode, f.sha256),
                {
                    "step": step,
                    "path": f.path,
                    "mode": f.mode,
                    "sha256": f.sha256,
                    "size": f.size,
                    "produced_by": produced_by,
                },
            )
    return list(found.values())


def _environments(gathered: Gathered, run_id: str) -> list[dict[str, Any]]:
    """Each distinct environment the run's steps were computed in, with those steps."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for step in gathered.details[run_id].summary.steps:
        for session in gathered.step_sessions(run_id, step.name):
            facts = _session_json(session, dict(gathered.versions(session)))
            key = tuple(sorted((k, str(v)) for k, v in facts.items()))
            group = groups.setdefault(key, facts | {"sessions": [], "steps": []})
            if session.id not in group["sessions"]:
                group["sessions"].append(session.id)
            if step.name not in group["steps"]:
                group["steps"].append(step.name)
    return list(groups.values())


def _session_json(session: Session, versions: dict[str, str]) -> dict[str, Any]:
    return {
        "python": session.python,
        "platform": session.platform,
        "hostname": session.hostname,
        "cpu_count": session.cpu_count,
        "memory_bytes": session.memory_bytes,
        "gpus": list(session.gpus),
        "git_commit": session.git_commit,
        "git_dirty": session.git_dirty,
        "packages_hash": session.packages_hash,
        "packages": versions,
    }


def _distinct(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(v for v in values if v is not None))


def audit(layout: Layout, gathered: Gathered, run_id: str) -> dict[str, Any]:
    """Everything recorded about what produced run ``run_id`` (``gather`` read it)."""
    detail = gathered.details[run_id]
    summary = detail.summary
    snapshot = kept_snapshot(layout, run_id)
    kept = _code_hashes(layout, snapshot)
    steps, data = [], []
    for step in summary.steps:
        origin = gathered.producer(run_id, step.name)
        produced_by = origin if origin != run_id else None
        computed = gathered.details.get(origin)
        data += _files(computed, step.name, produced_by)
        steps.append(
            {
                "name": step.name,
                "status": step.status,
                "produced_by": produced_by,
                "duration_ms": step.duration_ms,
                "notebook_sha256": (snapshot or {}).get("steps", {}).get(step.name),
                "code_hash": kept.get("steps", {}).get(step.name),
                "cache_key": step.cache_key,
                "artifacts": [dict(a) for a in step.artifacts],
                "metrics": step_metrics(computed, step.name) if computed else {},
                "sessions": [s.id for s in gathered.step_sessions(run_id, step.name)],
            }
        )
    sessions = gathered.run_sessions(run_id)
    return {
        "run": {
            "id": summary.id,
            "pipeline": summary.pipeline,
            "status": summary.status,
            "started": summary.started,
            "finished": summary.finished,
            "duration_ms": summary.duration_ms,
            "resumed_from": summary.resumed_from,
            "schedule": summary.schedule,
            "reason": summary.reason,
            "error": summary.error,
        },
        "code": {
            "pipeline_hash": summary.pipeline_hash,
            "snapshot": snapshot,
            "source_notebook": summary.source_notebook,
            "source_sha256": (snapshot or {}).get("source_sha256"),
            "exported_sha256": kept.get("exported"),
            "git_commit": _distinct(s.git_commit for s in sessions),
            "git_dirty": _distinct(s.git_dirty for s in sessions),
            "steps": steps,
        },
        "parameters": dict(summary.params),
        "data": data,
        "environment": _environments(gathered, run_id),
        "metrics": run_metrics(summary, gathered.details.get),
    }
