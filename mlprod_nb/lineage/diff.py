"""Comparison of pipeline runs: what changed between them, side by side.

Pure: facts about each run in (parameters, metrics, dataset versions read and
written, the code hash of each step, the environment its step kernels ran on,
durations), rows out, one value per run and a ``differs`` flag. A file a cached step
read or wrote carries the run that produced it (``from_cache``). Changed step code
comes with a unified diff against the baseline run (the first unless chosen), built
from sources looked up by hash through a callable the caller supplies.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

SourceLookup = Callable[[str], str | None]


@dataclass(frozen=True)
class FileFact:
    """One file a step of a run read or wrote, at one version."""

    path: str
    mode: str  # read | write
    sha256: str | None
    size: int | None
    step: str
    from_cache: str | None = None  # the run that produced it, for a cached step

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "mode": self.mode,
            "sha256": self.sha256,
            "size": self.size,
            "step": self.step,
            "from_cache": self.from_cache,
        }


@dataclass(frozen=True)
class RunFacts:
    """What a comparison needs to know about one run."""

    id: str
    params: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    datasets: Mapping[str, str | None] = field(default_factory=dict)  # path -> sha256 read
    steps: Mapping[str, str | None] = field(default_factory=dict)  # step -> code hash
    files: tuple[FileFact, ...] = ()  # every file read or written, by step
    outputs: Mapping[str, str | None] = field(default_factory=dict)  # path -> sha256 written
    started: float | None = None
    # what the step kernels ran on ("python", "package pandas", "git commit", ...)
    environment: Mapping[str, Any] = field(default_factory=dict)
    durations: Mapping[str, float | None] = field(default_factory=dict)  # "run", "step X": ms

    def origin(self, path: str, mode: str) -> str | None:
        """The run a file came from when a cached step read or wrote it."""
        found = [f for f in self.files if f.path == path and (f.mode == "read") == (mode == "read")]
        return found[-1].from_cache if found else None


@dataclass(frozen=True)
class Row:
    """One parameter, metric or dataset across the compared runs (None: absent)."""

    name: str
    values: tuple[Any, ...]
    differs: bool
    from_cache: tuple[str | None, ...] = ()  # files: the run a cached step took it from

    def to_json(self) -> dict[str, Any]:
        row = {"name": self.name, "values": list(self.values), "differs": self.differs}
        if self.from_cache:
            row["from_cache"] = list(self.from_cache)
        return row


@dataclass(frozen=True)
class StepRow:
    """One step's code across the runs; ``diff`` is empty when the code is the same."""

    name: str
    hashes: tuple[str | None, ...]
    differs: bool
    diff: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "hashes": list(self.hashes),
            "differs": self.differs,
            "diff": self.diff,
        }


@dataclass(frozen=True)
class Comparison:
    runs: tuple[str, ...]
    params: tuple[Row, ...]
    metrics: tuple[Row, ...]
    datasets: tuple[Row, ...]
    steps: tuple[StepRow, ...]
    outputs: tuple[Row, ...] = ()
    baseline: str | None = None
    started: tuple[float | None, ...] = ()
    files: tuple[tuple[FileFact, ...], ...] = ()  # per run
    environment: tuple[Row, ...] = ()
    durations: tuple[Row, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": list(self.runs),
            "baseline": self.baseline,
            "started": list(self.started),
            "params": [r.to_json() for r in self.params],
            "metrics": [r.to_json() for r in self.metrics],
            "datasets": [r.to_json() for r in self.datasets],
            "outputs": [r.to_json() for r in self.outputs],
            "steps": [s.to_json() for s in self.steps],
            "environment": [r.to_json() for r in self.environment],
            "durations": [r.to_json() for r in self.durations],
            "files": {
                run: [f.to_json() for f in found]
                for run, found in zip(self.runs, self.files, strict=True)
            },
        }


_MISSING = object()


def _canonical(value: Any) -> str:
    """A text form where equal values are equal (dict order and 1 vs 1.0 aside)."""
    if value is _MISSING:
        return "\0missing"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(float(value))
    try:
        return json.dumps(value, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return repr(value)


def _names(mappings: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every key, in order of first appearance."""
    seen: dict[str, None] = {}
    for mapping in mappings:
        for name in mapping:
            seen.setdefault(name, None)
    return list(seen)


def _rows(mappings: Sequence[Mapping[str, Any]], *, sort: bool) -> tuple[Row, ...]:
    names = _names(mappings)
    if sort:
        names.sort()
    rows = []
    for name in names:
        raw = [m.get(name, _MISSING) for m in mappings]
        differs = len({_canonical(v) for v in raw}) > 1
        values = tuple(None if v is _MISSING else v for v in raw)
        rows.append(Row(name, values, differs))
    return tuple(rows)


def _source_lines(code_hash: str | None, source: SourceLookup) -> list[str] | None:
    if code_hash is None:
        return []
    text = source(code_hash)
    return None if text is None else text.splitlines(keepends=True)


def step_diff(
    name: str,
    hashes: Sequence[str | None],
    run_ids: Sequence[str],
    source: SourceLookup,
    baseline: int = 0,
) -> str:
    """Unified diffs of each run's code for a step against the baseline run's."""
    base_id, base_hash = run_ids[baseline], hashes[baseline]
    base = _source_lines(base_hash, source)
    parts: list[str] = []
    for run_id, code_hash in zip(run_ids, hashes, strict=True):
        if code_hash == base_hash:
            continue
        other = _source_lines(code_hash, source)
        if base is None or other is None:
            missing = base_hash if base is None else code_hash
            parts.append(
                f"# step {name}: code differs ({base_hash} -> {code_hash}); "
                f"source {missing} was not recorded\n"
            )
            continue
        if base == other:
            parts.append(
                f"# step {name} in {run_id}: the same cells; only the generated code "
                "around them (loads, replayed definitions, save) differs\n"
            )
            continue
        lines = difflib.unified_diff(
            base, other, fromfile=f"{base_id}/{name}", tofile=f"{run_id}/{name}"
        )
        parts.append("".join(line if line.endswith("\n") else line + "\n" for line in lines))
    return "".join(parts)


def _file_rows(runs: Sequence[RunFacts], mode: str) -> tuple[Row, ...]:
    """Rows of files read (``mode`` read) or written, each run's value marked with the
    run a cached step took it from."""
    mappings = [run.datasets if mode == "read" else run.outputs for run in runs]
    return tuple(
        replace(row, from_cache=tuple(run.origin(row.name, mode) for run in runs))
        for row in _rows(mappings, sort=True)
    )


def compare(
    runs: Sequence[RunFacts], source: SourceLookup, baseline: str | None = None
) -> Comparison:
    """Rows of parameters, metrics, files read and written, environment facts (sorted by
    name), steps and durations in run order; step diffs against ``baseline`` (a run id;
    the first run by default)."""
    run_ids = tuple(run.id for run in runs)
    base = run_ids.index(baseline) if baseline in run_ids else 0
    steps = []
    for name in _names(run.steps for run in runs):
        hashes = tuple(run.steps.get(name) for run in runs)
        differs = len(set(hashes)) > 1
        diff = step_diff(name, hashes, run_ids, source, base) if differs else ""
        steps.append(StepRow(name, hashes, differs, diff))
    return Comparison(
        runs=run_ids,
        params=_rows([run.params for run in runs], sort=True),
        metrics=_rows([run.metrics for run in runs], sort=True),
        datasets=_file_rows(runs, "read"),
        steps=tuple(steps),
        outputs=_file_rows(runs, "write"),
        baseline=run_ids[base] if run_ids else None,
        started=tuple(run.started for run in runs),
        files=tuple(run.files for run in runs),
        environment=_rows([run.environment for run in runs], sort=True),
        durations=_rows([run.durations for run in runs], sort=False),
    )
