"""Drift between compared runs: for each dataset the runs read (or wrote) at different
versions, the schema changes and per-column PSI of each run's version against the
baseline run's, from the versions' profiles (``data.profile``; one not profiled while
its file had that content cannot be compared, and says so)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..lineage.diff import Comparison, Row
from .drift import MODERATE, THRESHOLD, ColumnDrift, table_drift
from .profile import FileProfile

ProfileLookup = Callable[[str, str], FileProfile | None]  # (path, sha256) -> profile


@dataclass(frozen=True)
class DatasetDrift:
    """One dataset in one run against the baseline run: each column's drift, or why not."""

    path: str
    mode: str  # read | write
    table: str  # "" for a flat file; a DuckDB database's table
    baseline: str  # run id
    run: str
    columns: tuple[ColumnDrift, ...] = ()
    unknown: str | None = None  # why it could not be compared

    @property
    def flagged(self) -> tuple[ColumnDrift, ...]:
        return tuple(c for c in self.columns if c.flagged)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "mode": self.mode,
            "table": self.table,
            "baseline": self.baseline,
            "run": self.run,
            "unknown": self.unknown,
            "columns": [
                {
                    "column": c.column,
                    "psi": c.psi,
                    "change": c.change,
                    "flagged": c.flagged,
                    "text": c.describe(),
                }
                for c in self.columns
            ],
        }


def _versions(
    row: Row, mode: str, runs: Sequence[str], base: int, profile: ProfileLookup
) -> list[DatasetDrift]:
    """The drift of each run's version of ``row``'s file from the baseline run's."""
    base_sha = row.values[base]
    found: list[DatasetDrift] = []
    for index, sha in enumerate(row.values):
        if index == base or sha == base_sha or not (isinstance(sha, str) and base_sha):
            continue
        facts = (row.name, mode)
        before, after = profile(row.name, str(base_sha)), profile(row.name, sha)
        if before is None or after is None:
            missing = str(base_sha) if before is None else sha
            why = f"version {missing[:12]} was not profiled (not tabular, or no longer on disk)"
            found.append(DatasetDrift(*facts, "", runs[base], runs[index], unknown=why))
            continue
        for table in sorted(set(before["tables"]) | set(after["tables"])):
            old, new = before["tables"].get(table), after["tables"].get(table)
            if old is None or new is None:
                why = "table added" if old is None else "table removed"
                found.append(DatasetDrift(*facts, table, runs[base], runs[index], unknown=why))
                continue
            columns = tuple(table_drift(old, new))
            found.append(DatasetDrift(*facts, table, runs[base], runs[index], columns))
    return found


def run_drift(comparison: Comparison, profile: ProfileLookup) -> list[DatasetDrift]:
    """Every dataset read or written at another version than in the baseline run."""
    runs = comparison.runs
    base = runs.index(comparison.baseline) if comparison.baseline in runs else 0
    found: list[DatasetDrift] = []
    for mode, rows in (("read", comparison.datasets), ("write", comparison.outputs)):
        for row in rows:
            if row.differs:
                found += _versions(row, mode, runs, base, profile)
    return found


def thresholds() -> dict[str, float]:
    """What the PSI figures mean, for whoever shows them."""
    return {"moderate": MODERATE, "flagged": THRESHOLD}
