"""Data profiles: a 1M-row file profiled by ``mlprod_nb.store.profiles`` against DuckDB's
own ``SUMMARIZE`` of the same file (the reference: what DuckDB takes to describe it)
and pandas reading it (what loading it into a notebook takes), in one run.

The file has six columns: two floats (one with nulls), an integer, a low-cardinality
text column, a high-cardinality text column and a timestamp. Each figure is the
minimum of ``ROUNDS`` runs; the target is <= 1 s for the parquet file. Prints a
markdown table; asserts nothing.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from mlprod_nb.store.profiles import profile_file

ROWS = 1_000_000
ROUNDS = 3


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    amount = rng.normal(50.0, 10.0, ROWS)
    amount[rng.random(ROWS) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "amount": amount,
            "score": rng.random(ROWS),
            "visits": rng.integers(0, 1_000, ROWS),
            "plan": rng.choice(["free", "pro", "team", "enterprise"], ROWS),
            "user": [f"u{i}" for i in rng.integers(0, 200_000, ROWS)],
            "seen": pd.date_range("2026-01-01", periods=ROWS, freq="s"),
        }
    )


def _best(work: Callable[[], object]) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def _summarize(path: Path, reader: str) -> None:
    with duckdb.connect() as con:
        con.execute(f"SUMMARIZE SELECT * FROM {reader}(?)", [str(path)]).fetchall()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        frame = _frame()
        files = {"parquet": Path(tmp) / "data.parquet", "CSV": Path(tmp) / "data.csv"}
        frame.to_parquet(files["parquet"])
        frame.to_csv(files["CSV"], index=False)
        print("| file (1M rows, 6 columns) | profile | DuckDB SUMMARIZE | ratio | pandas read |")
        print("|---|---|---|---|---|")
        for kind, path in files.items():
            reader = "read_parquet" if kind == "parquet" else "read_csv"
            ours = _best(lambda p=path: profile_file(p))
            summarize = _best(lambda p=path, r=reader: _summarize(p, r))
            load = pd.read_parquet if kind == "parquet" else pd.read_csv
            read = _best(lambda p=path, f=load: f(p))  # type: ignore[operator]
            size = path.stat().st_size / 1e6
            print(
                f"| {kind}, {size:.0f} MB | {ours:.2f} s | {summarize:.2f} s | "
                f"{ours / summarize:.2f}x | {read:.2f} s |"
            )


if __name__ == "__main__":
    main()
