"""Runs side by side, as the panel's compare view and ``mlprod-nb compare`` show them.

One answer for both: ``lineage.diff.compare`` over each run's facts (``server.stepcode``:
step code, files read and written, a cached step's taken from the run that computed
it), with the environment of the kernels that computed its steps and its durations,
then the drift of each dataset version from the baseline run's (``data.compare``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..lineage.model import RunSummary, Session
from ..paths import Layout
from .gather import Gathered


def session_facts(session: Session, packages: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """What a kernel ran on, as comparison rows name it (unknown facts left out)."""
    facts: dict[str, Any] = {
        "python": session.python,
        "platform": session.platform,
        "host": session.hostname,
        "cpus": session.cpu_count,
        "memory bytes": session.memory_bytes,
        "gpus": ", ".join(session.gpus) or None,
        "git commit": session.git_commit,
        "git dirty": session.git_dirty,
    }
    facts.update((f"package {name}", version) for name, version in packages)
    return {name: value for name, value in facts.items() if value is not None}


def environment(gathered: Gathered, run_id: str) -> dict[str, Any]:
    """The facts of the kernels that computed a run's steps; a fact its kernels disagree
    on lists each value ("3.11.9 | 3.12.1")."""
    seen: dict[str, list[Any]] = {}
    for session in gathered.run_sessions(run_id):
        for name, value in session_facts(session, gathered.versions(session).items()).items():
            values = seen.setdefault(name, [])
            if value not in values:
                values.append(value)
    return {
        name: values[0] if len(values) == 1 else " | ".join(map(str, values))
        for name, values in seen.items()
    }


def durations(run: RunSummary) -> dict[str, float | None]:
    """The run's and each step's wall time in ms (a cached step: 0, it did not run)."""
    return {"run": run.duration_ms} | {f"step {s.name}": s.duration_ms for s in run.steps}


def comparison(
    layout: Layout,
    ids: Sequence[str],
    gathered: Gathered,
    baseline: str | None,
    show: Callable[[str], str],
    root: Path,
) -> dict[str, Any]:
    """The comparison of runs ``ids`` oldest first, step code diffed against ``baseline``
    (default: the oldest), with the drift of each dataset version from the baseline's
    (profiles looked up by content hash; paths shown through ``show``, relative to
    ``root``)."""
    from ..data.compare import run_drift, thresholds
    from ..data.profile import profile_of
    from ..lineage.diff import compare
    from ..server.stepcode import facts

    details = gathered.details
    sources: dict[str, str] = {}
    ordered = sorted(ids, key=lambda i: (details[i].summary.started, i))
    runs = [
        replace(
            facts(layout, details[i], details, sources, show),
            environment=environment(gathered, i),
            durations=durations(details[i].summary),
        )
        for i in ordered
    ]
    compared = compare(runs, sources.get, baseline)
    drift = run_drift(compared, lambda path, sha: profile_of(layout.home, root / path, sha))
    return compared.to_json() | {
        "drift": [d.to_json() for d in drift],
        "drift_thresholds": thresholds(),
    }
