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
from typing import Any

from ..journal import JournalWriter
from ..records import SCHEMA, redact
from . import manifest as mf
from .liveness import identity
from .rundir import RunDir

DONE = ("ok", "cached")


@dataclass
class StepState:
    name: str
    status: str = "pending"  # pending|queued|running|ok|failed|cached|skipped|aborted
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
        self.started = time.time()
        self.driver = identity()
        self.error: str | None = None

    @property
    def steps(self) -> list[StepState]:
        return [self.states[n] for n in self.order]

    def status(self, status: str = "running") -> dict[str, Any]:
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

    def begin(self, pipeline: Path) -> None:
        """The run's first records: its status (who runs it) and the journal's run record."""
        digest = hashlib.sha256((pipeline / mf.FILENAME).read_bytes()).hexdigest()
        self.changed()  # before the store can see the run
        self.journal.append(
            {
                "v": SCHEMA,
                "kind": "run",
                "id": self.run_id,
                "pipeline": self.facts["pipeline"],
                "pipeline_hash": digest,
                "source_notebook": self.facts["source_notebook"],
                "params": self.facts["params"],
                "started": self.started,
                "steps": list(self.order),
                "resumed_from": self.facts["resumed_from"],
            }
        )

    def step(self, state: StepState) -> None:
        """A step settled (ran, was cached, skipped or stopped): into the journal."""
        self.journal.append(
            {
                "v": SCHEMA,
                "kind": "step",
                "run": self.run_id,
                "name": state.name,
                "status": state.status,
                "started": state.started or time.time(),
                "duration_ms": state.duration_ms or 0.0,
                "cache_key": state.cache_key,
                "cached_from": state.cached_from,
                "notebook": state.notebook,
                "artifacts": state.artifacts,
                "params": redact(state.params),
                "error": state.error,
                "cell_id": state.cell_id,
            }
        )

    def finish(self, status: str) -> None:
        finished = time.time()
        self.journal.append(
            {
                "v": SCHEMA,
                "kind": "run_end",
                "id": self.run_id,
                "status": status,
                "finished": finished,
                "error": self.error,
            }
        )
        final = self.status(status)
        final["finished"] = finished
        final["duration_ms"] = (finished - self.started) * 1000
        final["cached_steps"] = sum(s.status == "cached" for s in self.steps)
        final["metrics"] = {k: v for s in self.steps for k, v in s.metrics.items()}
        self.rundir.write_summary(final)
        self.rundir.write_status(final)
        self.journal.close()
