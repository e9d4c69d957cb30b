"""``--resume RUN``: the run being resumed, and which of its steps still stand.

A step of the resumed run is reused only when the key it would have now is the
one it had: the same code, parameters and input artifacts, its artifacts intact,
and every data file it read (and every file it wrote) hashing as it did. The
runner asks when the step is about to run, after its upstream steps finished,
because one of them may just have rewritten a file the step reads. Anything
else runs again, and the reason goes to the progress output and the run record:
a re-exported pipeline (an edited setup cell, a fixed step) is never answered
with the old run's results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PipelineError
from ..hashing import sha256_file
from ..paths import Layout
from ..records import DONE, RUNNING
from . import handoff
from . import manifest as mf
from .cache import StepKey
from .liveness import settle_one
from .rundir import read_summary

UNFINISHED: dict[str, str] = {  # StepStatus -> why it runs again
    "failed": "it failed",
    "skipped": "it was skipped",
    "aborted": "it was stopped",
}


@dataclass(frozen=True)
class Resumed:
    run_id: str
    record: Mapping[str, Any]  # its summary.json (or its last status.json)

    @classmethod
    def load(cls, layout: Layout, run_id: str, pipeline: Path) -> Resumed:
        """The run to resume; refused while it runs, or when it ran another pipeline."""
        settle_one(layout, run_id)  # a killed run is recorded as interrupted
        record = read_summary(layout, run_id)
        if record.get("status") == RUNNING:
            raise PipelineError(
                f"run {run_id!r} is still running (pid {record.get('pid')})",
                run_id=run_id,
                hint="wait for it to finish, or stop it, then resume it",
            )
        if record.get("pipeline") != str(pipeline):
            raise PipelineError(
                f"run {run_id!r} belongs to another pipeline ({record.get('pipeline')})",
                run_id=run_id,
                hint="resume it with that pipeline folder, or start a new run",
            )
        return cls(run_id, record)

    @property
    def params(self) -> dict[str, Any]:
        """Its parameters, as recorded (redacted secrets are left out: passed again)."""
        before: dict[str, Any] = dict(self.record.get("params") or {})
        return {k: v for k, v in before.items() if not handoff.holds_redacted(v)}

    @property
    def secrets(self) -> dict[str, str]:
        return dict(self.record.get("secrets") or {})

    def step(self, name: str) -> Mapping[str, Any]:
        """What the resumed run recorded of one step (empty when it had no such step)."""
        found = (s for s in self.record.get("steps") or [] if s.get("name") == name)
        return next(found, {})

    def change(self, step: mf.Step, key: StepKey, cwd: Path) -> str | None:
        """Why ``step`` must run again (None: its result in the resumed run stands)."""
        before = self.step(step.name)
        for check in CHECKS:
            reason = check(Facts(self.run_id, step, key, before, cwd))
            if reason is not None:
                return reason
        return None


@dataclass(frozen=True)
class Facts:
    """What one check looks at: the step now, and what the resumed run kept of it."""

    run_id: str
    step: mf.Step
    key: StepKey
    before: Mapping[str, Any]
    cwd: Path

    @property
    def parts(self) -> Mapping[str, Any]:
        parts = self.before.get("key")
        return parts if isinstance(parts, dict) else {}

    def shown(self, path: str) -> str:
        """A file's name as the user wrote it: relative to where steps run, when inside."""
        try:
            return str(Path(path).relative_to(self.cwd))
        except ValueError:
            return path


def _finished(facts: Facts) -> str | None:
    status = facts.before.get("status")
    if status in DONE:
        return None
    if not facts.before:
        return f"not a step of run {facts.run_id}"
    return f"{UNFINISHED.get(str(status), 'it did not finish')} in run {facts.run_id}"


def _keyed(facts: Facts) -> str | None:
    if not facts.parts:
        return f"run {facts.run_id} kept no key for it (an older mlprod-nb)"
    if not facts.parts.get("traced", True):
        return f"the files it read were not recorded in run {facts.run_id}"
    return None


def _prekey(facts: Facts) -> str | None:
    """Code, parameters and input artifacts: every part that differs, in one reason."""
    parts, key = facts.parts, facts.key
    if parts.get("pre") == key.pre:
        return None
    reasons = []
    if parts.get("code") != key.code:
        reasons.append("code changed")
    now = key.parts()
    params = _differ(parts.get("params") or {}, now["params"])
    if params:
        reasons.append(f"parameters changed ({', '.join(params)})")
    inputs = _differ(parts.get("inputs") or {}, now["inputs"])
    if inputs:
        reasons.append(f"input changed ({', '.join(inputs)})")
    return ", ".join(reasons) or "its key changed"


def _artifacts(facts: Facts) -> str | None:
    artifacts = facts.before.get("artifacts") or []
    kept = {a.get("name") for a in artifacts}
    for name in facts.step.outputs:
        if name not in kept:
            return f"artifact {name} is missing"
    for artifact in artifacts:
        if sha256_file(str(artifact.get("path"))) != artifact.get("sha256"):
            return f"artifact {artifact.get('name')} is missing or changed"
    return None


def _reads(facts: Facts) -> str | None:
    for path, sha in (facts.parts.get("reads") or {}).items():
        now = sha256_file(path)
        if now != sha:
            state = "is missing" if now is None else "changed"
            return f"data file {facts.shown(path)} {state}"
    return None


def _writes(facts: Facts) -> str | None:
    for path, sha in (facts.parts.get("writes") or {}).items():
        if sha256_file(path) != sha:
            return f"file {facts.shown(path)} it wrote changed"
    return None


# In order: cheap checks first, file hashes only when everything else holds.
CHECKS: tuple[Callable[[Facts], str | None], ...] = (
    _finished,
    _keyed,
    _prekey,
    _artifacts,
    _reads,
    _writes,
)


def _differ(before: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    return sorted(n for n in {*before, *now} if before.get(n) != now.get(n))
