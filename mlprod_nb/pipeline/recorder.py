"""The record of a run: its steps' states, ``status.json``, ``summary.json`` and the journal.

``status.json`` is rewritten after every change (the server and ``--resume`` read
it); the journal gets one record when the run starts, one per settled step and
one when it ends, so the store sees pipeline runs next to interactive lineage.
Each step keeps every part of its key (see ``cache.StepKey.parts``) and, when it
ran again on ``--resume``, why.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from ..data.profile import Profiler
from ..journal import JournalWriter
from ..records import (
    DONE,
    SCHEMA,
    Artifact,
    RunEnd,
    RunEndRecord,
    RunId,
    RunRecord,
    RunStatus,
    SettledStatus,
    StepRecord,
    StepStatus,
    redact,
)
from . import manifest as mf
from .cache import Entry, StepKey, full_key
from .executors import Done
from .liveness import identity
from .rundir import RunDir
from .snapshot import Snapshot, take
from .steplog import StepTrace

SCHEDULE_ENV = "MLPROD_NB_SCHEDULE_ID"  # a scheduled run: the schedule (mlprod_nb.schedule)
REASON_ENV = "MLPROD_NB_SCHEDULE_REASON"  # and why it fired


PROFILE_SECONDS = 10.0  # a finished run waits this long at most for its data profiles


@dataclass
class StepState:
    name: str
    status: StepStatus = "pending"
    started: float | None = None
    duration_ms: float | None = None
    cache_key: str | None = None
    cached_from: str | None = None
    notebook: str | None = None
    artifacts: list[dict[str, str]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    cell_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)  # last value of each, this step
    key: dict[str, Any] | None = None  # every part of the key (cache.StepKey.parts)
    rerun: str | None = None  # --resume: why it ran again instead of being reused

    def brief(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "duration_ms": self.duration_ms,
            "cached": self.status == "cached",
            "started": self.started,
            "error": self.error,
            "cell_id": self.cell_id,
        }

    def full(self) -> dict[str, Any]:
        return self.brief() | {
            "cache_key": self.cache_key,
            "cached_from": self.cached_from,
            "notebook": self.notebook,
            "artifacts": self.artifacts,
            "params": redact(self.params),
            "metrics": self.metrics,
            "key": self.key,
            "rerun": self.rerun,
        }

    def restore(self, before: Mapping[str, Any]) -> None:
        """Be again what the step was in this run's record (a continued run, ``full()``)."""
        self.status = before["status"]
        self.started, self.duration_ms = before.get("started"), before.get("duration_ms")
        self.cache_key, self.cached_from = before.get("cache_key"), before.get("cached_from")
        self.notebook, self.artifacts = before.get("notebook"), list(before.get("artifacts") or [])
        self.params = dict(before.get("params") or {})
        self.error, self.cell_id = before.get("error"), before.get("cell_id")
        self.metrics = dict(before.get("metrics") or {})
        self.key, self.rerun = before.get("key"), before.get("rerun")

    def reuse(self, before: Mapping[str, Any], run_id: str) -> None:
        """Take the result the step had in run ``run_id`` (recorded as ``before``)."""
        self.status = "cached"
        self.artifacts = list(before.get("artifacts") or [])
        self.cached_from = before.get("cached_from") or run_id
        self.cache_key = before.get("cache_key")
        self.key = dict(before.get("key") or {})
        self.metrics = dict(before.get("metrics") or {})
        self.notebook = before.get("notebook")
        self.started, self.duration_ms = time.time(), 0.0

    def take(self, entry: Entry, key: StepKey) -> None:
        """Take the cached result ``entry`` (an earlier run's, with this step's key)."""
        self.status, self.cached_from = "cached", entry.run
        self.artifacts, self.notebook = entry.artifacts, entry.notebook
        self.started, self.duration_ms = time.time(), 0.0
        self.cache_key = entry.key
        self.key = key.parts(entry.reads, entry.writes, traced=entry.traced)
        self.metrics = dict(entry.metrics)

    def finish(self, done: Done, notebook: Path) -> None:
        """The executor finished the step (``ok`` or ``failed``)."""
        self.started, self.duration_ms = done.started, done.duration_ms
        self.notebook = str(notebook)
        self.status, self.artifacts = done.status, done.artifacts
        self.error, self.cell_id = done.error, done.cell_id

    def traced(self, trace: StepTrace | None, run_id: str) -> Entry:
        """Complete the key of a step that ran from the tracer's record: its cache entry."""
        pre = self.cache_key or ""
        seen = trace or StepTrace()
        reads = {p: h for p, h in seen.reads.items() if p not in seen.writes}
        self.cache_key = full_key(pre, reads)
        self.key = {**(self.key or {}), "reads": reads, "writes": dict(seen.writes)}
        self.key["traced"] = trace is not None
        self.metrics = dict(seen.metrics)
        return Entry(
            prekey=pre,
            key=self.cache_key,
            step=self.name,
            run=run_id,
            created=time.time(),
            artifacts=self.artifacts,
            notebook=self.notebook,
            reads=reads,
            writes=seen.writes,
            traced=trace is not None,
            metrics=self.metrics,
        )


class Recorder:
    def __init__(
        self,
        rundir: RunDir,
        states: Mapping[str, StepState],
        order: Sequence[str],
        facts: Mapping[str, Any],
    ) -> None:
        """``facts``: what every status carries (pipeline, source_notebook, params, ...)."""
        self.rundir = rundir
        self.run_id = rundir.run_id
        self.states = states
        self.order = tuple(order)
        self.facts = dict(facts)
        self.journal = JournalWriter(rundir.layout.journal_dir, f"run-{self.run_id}")
        self.started = float(self.facts.pop("started", None) or time.time())  # a continued run's
        self.driver = identity()
        self.error: str | None = None
        self.profiler = Profiler(rundir.layout.home)  # what finished steps read and wrote
        self.snapshot: Snapshot | None = None  # what the run runs, kept when it begins

    @property
    def steps(self) -> list[StepState]:
        return [self.states[n] for n in self.order]

    def status(self, status: RunStatus = "running") -> dict[str, Any]:
        running = [s.name for s in self.steps if s.status == "running"]
        return {
            "id": self.run_id,
            "pipeline": self.facts["pipeline"],
            "source_notebook": self.facts["source_notebook"],
            "status": status,
            "pid": os.getpid(),
            "driver": self.driver,  # liveness.alive tells a dead driver from a live one
            "heartbeat": time.time(),
            "started": self.started,
            "finished": None if status == "running" else time.time(),
            "params": self.facts["params"],
            "secrets": self.facts["secrets"],  # HMACs: --resume tells a secret not passed again
            "resumed_from": self.facts["resumed_from"],
            "snapshot": self.snapshot,  # mlprod_nb.pipeline.snapshot: objects it ran
            "steps": [s.full() for s in self.steps],  # with artifacts: --resume needs them
            "progress": {
                "done": sum(s.status in DONE for s in self.steps),
                "total": len(self.order),
                "current": running[0] if running else None,
            },
            "error": self.error,
        }

    def changed(self) -> None:
        self.rundir.write_status(self.status())

    def begin(self, pipeline: Path, *, continued: bool = False) -> None:
        """The run's first records: its status (who runs it) and the journal's run record
        (a ``continued`` run has one already: the store keeps one record per run)."""
        digest = hashlib.sha256((pipeline / mf.FILENAME).read_bytes()).hexdigest()
        self.snapshot = take(self.rundir.layout, pipeline, self.facts["source_notebook"])
        self.changed()  # before the store can see the run
        if not continued:
            self.journal.append(self._run_record(digest))

    def step(self, state: StepState) -> None:
        """A step settled (ran, was cached, skipped or stopped): into the journal."""
        self.journal.append(self._step_record(state))
        if state.status == "ok" and state.key:
            self.profiler.add({**state.key.get("reads", {}), **state.key.get("writes", {})})

    def finish(self, status: RunEnd) -> None:
        finished = time.time()
        self.journal.append(self._end_record(status, finished))
        final = self.status(status)
        final["finished"] = finished
        final["duration_ms"] = (finished - self.started) * 1000
        final["cached_steps"] = sum(s.status == "cached" for s in self.steps)
        final["metrics"] = {k: v for s in self.steps for k, v in s.metrics.items()}
        self.rundir.write_summary(final)
        self.rundir.write_status(final)
        self.journal.close()
        self.profiler.join(PROFILE_SECONDS)

    # -- the journal's records of a run (records.RunRecord, StepRecord, RunEndRecord) --

    def _run_record(self, pipeline_hash: str) -> RunRecord:
        record = RunRecord(
            v=SCHEMA,
            kind="run",
            id=RunId(self.run_id),
            pipeline=self.facts["pipeline"],
            pipeline_hash=pipeline_hash,
            source_notebook=self.facts["source_notebook"],
            params=self.facts["params"],
            started=self.started,
            steps=list(self.order),
            resumed_from=self.facts["resumed_from"],
        )
        scheduled = os.environ.get(SCHEDULE_ENV)  # set by mlprod_nb.schedule's launch
        if scheduled:
            record["schedule"] = scheduled
            record["reason"] = os.environ.get(REASON_ENV)
        return record

    def _step_record(self, state: StepState) -> StepRecord:
        return StepRecord(
            v=SCHEMA,
            kind="step",
            run=RunId(self.run_id),
            name=state.name,
            status=_settled(state.status),
            started=state.started or time.time(),
            duration_ms=state.duration_ms or 0.0,
            cache_key=state.cache_key,
            cached_from=RunId(state.cached_from) if state.cached_from else None,
            notebook=state.notebook,
            artifacts=cast(list[Artifact], state.artifacts),  # artifacts.save wrote them
            params=redact(state.params),
            error=state.error,
            cell_id=state.cell_id,
        )

    def _end_record(self, status: RunEnd, finished: float) -> RunEndRecord:
        return RunEndRecord(
            v=SCHEMA,
            kind="run_end",
            id=RunId(self.run_id),
            status=status,
            finished=finished,
            error=self.error,
        )


_SETTLED: dict[StepStatus, SettledStatus] = {
    "ok": "ok",
    "failed": "failed",
    "cached": "cached",
    "skipped": "skipped",
    "aborted": "aborted",
}


def _settled(status: StepStatus) -> SettledStatus:
    """A step's status in the journal (one still waiting when the run stopped: aborted)."""
    return _SETTLED.get(status, "aborted")
