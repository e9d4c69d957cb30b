"""Drift between two versions of a table, from their profiles alone (no data re-read).

Schema: columns added, removed or retyped (any change of the DuckDB type, flagged).
Distribution, per column present in both and both numbers or both not,
as a population stability index (PSI) of the new version against the baseline:

- numbers: ten bins cut at the baseline's deciles (ties merge bins), plus one bin for
  nulls; each version's share of a bin is read off its own percentiles (its empirical
  distribution, linear between percentiles), so no data is read again;
- other columns: the baseline's and the new version's top values, each a bin, one bin
  for all other values and one for nulls; a value among one version's top values but
  not the other's counts as "other" in both (its share there is not known).

PSI = sum over bins of (new - base) * ln(new / base), shares floored at ``FLOOR``.
Reading it: under 0.1 stable, 0.1 to 0.2 a moderate shift, over ``THRESHOLD`` (0.2)
flagged.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from .profile import ColumnProfile, TableProfile

THRESHOLD = 0.2
MODERATE = 0.1
FLOOR = 1e-4
DECILES = tuple(range(10, 100, 10))  # percentile indexes of the inner bin edges


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    psi: float | None  # None: not comparable (no percentiles, empty version)
    base_type: str | None
    new_type: str | None
    change: str | None  # "added", "removed", "retyped" or None

    @property
    def flagged(self) -> bool:
        return self.change is not None or (self.psi is not None and self.psi > THRESHOLD)

    def describe(self) -> str:
        if self.change == "added":
            return f"{self.column}: added ({self.new_type})"
        if self.change == "removed":
            return f"{self.column}: removed (was {self.base_type})"
        if self.change == "retyped":
            shift = f", PSI {self.psi:.3f}" if self.psi is not None else ""
            return f"{self.column}: {self.base_type} -> {self.new_type}{shift}"
        if self.psi is None:
            return f"{self.column}: not comparable"
        word = "stable" if self.psi <= MODERATE else "moderate"
        word = "drifted" if self.psi > THRESHOLD else word
        return f"{self.column}: PSI {self.psi:.3f} ({word})"


def _cdf(points: Sequence[float], x: float) -> float:
    """The share of values <= x, from percentiles ``points`` (0 %, 1 %, ... 100 %)."""
    steps = len(points) - 1
    if x < points[0]:
        return 0.0
    if x >= points[-1]:
        return 1.0
    last = bisect.bisect_right(points, x) - 1  # points[last] <= x < points[last + 1]
    low, high = points[last], points[last + 1]
    return (last + (x - low) / (high - low)) / steps


def _psi(base: Sequence[float], new: Sequence[float]) -> float:
    total = 0.0
    for b, n in zip(base, new, strict=True):
        b, n = max(b, FLOOR), max(n, FLOOR)
        total += (n - b) * math.log(n / b)
    return total


def _clean(points: Sequence[float | None] | None) -> list[float]:
    return [p for p in points or () if p is not None]


def numeric_psi(base: ColumnProfile, new: ColumnProfile) -> float | None:
    b, n = _clean(base.get("percentiles")), _clean(new.get("percentiles"))
    if len(b) < 2 or len(n) < 2:
        return None
    edges = sorted({b[i * (len(b) - 1) // 100] for i in DECILES})
    shares: list[list[float]] = []
    for points, nulls in ((b, base["nulls"]), (n, new["nulls"])):
        cut = [0.0, *(_cdf(points, e) for e in edges), 1.0]
        share = [(hi - lo) * (1.0 - nulls) for lo, hi in itertools.pairwise(cut)]
        shares.append([*share, nulls])
    return _psi(shares[0], shares[1])


def _top_shares(column: ColumnProfile, rows: int) -> dict[str, float]:
    return {str(v): c / rows for v, c in column.get("top", ())} if rows else {}


def categorical_psi(
    base: ColumnProfile, new: ColumnProfile, base_rows: int, new_rows: int
) -> float | None:
    if not base_rows or not new_rows:
        return None
    b, n = _top_shares(base, base_rows), _top_shares(new, new_rows)
    both = sorted(set(b) & set(n))
    shares = []
    for known, nulls in ((b, base["nulls"]), (n, new["nulls"])):
        share = [known[v] for v in both]
        shares.append([*share, max(0.0, 1.0 - nulls - sum(share)), nulls])
    return _psi(shares[0], shares[1])


def table_drift(base: TableProfile, new: TableProfile) -> list[ColumnDrift]:
    """Every column's drift, in the new version's column order, removed columns last."""
    before = {c["name"]: c for c in base["columns"]}
    after = {c["name"]: c for c in new["columns"]}
    found = []
    for name, column in after.items():
        old = before.get(name)
        if old is None:
            found.append(ColumnDrift(name, None, None, column["type"], "added"))
            continue
        change = "retyped" if old["type"] != column["type"] else None
        psi = None
        if "percentiles" in old and "percentiles" in column:
            psi = numeric_psi(old, column)
        elif "percentiles" not in old and "percentiles" not in column:
            psi = categorical_psi(old, column, base["rows"], new["rows"])
        found.append(ColumnDrift(name, psi, old["type"], column["type"], change))
    found += [
        ColumnDrift(name, None, column["type"], None, "removed")
        for name, column in before.items()
        if name not in after
    ]
    return found
