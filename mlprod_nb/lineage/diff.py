"""Comparison of pipeline runs: what changed between them, side by side.

Pure: facts about each run in (parameters, metrics, dataset versions read, the
code hash of each step), rows out, one value per run and a ``differs`` flag.
Changed step code comes with a unified diff against the first run, built from
sources looked up by hash through a callable the caller supplies.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SourceLookup = Callable[[str], str | None]


@dataclass(frozen=True)
class RunFacts:
    """What a comparison needs to know about one run."""

    id: str
    params: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    datasets: Mapping[str, str | None] = field(default_factory=dict)  # path -> sha256 read
    steps: Mapping[str, str | None] = field(default_factory=dict)  # step -> code hash


@dataclass(frozen=True)
class Row:
    """One parameter, metric or dataset across the compared runs (None: absent)."""

    name: str
    values: tuple[Any, ...]
    differs: bool

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "values": list(self.values), "differs": self.differs}


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

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": list(self.runs),
            "params": [r.to_json() for r in self.params],
            "metrics": [r.to_json() for r in self.metrics],
            "datasets": [r.to_json() for r in self.datasets],
            "steps": [s.to_json() for s in self.steps],
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
) -> str:
    """Unified diffs of each run's code for a step against the first run's."""
    base_hash = hashes[0]
    base = _source_lines(base_hash, source)
    parts: list[str] = []
    for run_id, code_hash in zip(run_ids[1:], hashes[1:], strict=True):
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
        lines = list(
            difflib.unified_diff(
                base,
                other,
                fromfile=f"{run_ids[0]}/{name}",
                tofile=f"{run_id}/{name}",
            )
        )
        parts.append("".join(line if line.endswith("\n") else line + "\n" for line in lines))
    return "".join(parts)


def compare(runs: Sequence[RunFacts], source: SourceLookup) -> Comparison:
    """Rows of parameters, metrics and datasets (sorted by name), and steps in run order."""
    run_ids = tuple(run.id for run in runs)
    steps = []
    for name in _names(run.steps for run in runs):
        hashes = tuple(run.steps.get(name) for run in runs)
        differs = len(set(hashes)) > 1
        diff = step_diff(name, hashes, run_ids, source) if differs else ""
        steps.append(StepRow(name, hashes, differs, diff))
    return Comparison(
        runs=run_ids,
        params=_rows([run.params for run in runs], sort=True),
        metrics=_rows([run.metrics for run in runs], sort=True),
        datasets=_rows([run.datasets for run in runs], sort=True),
        steps=tuple(steps),
    )
