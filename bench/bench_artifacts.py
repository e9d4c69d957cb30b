"""Saving artifacts: what the exactness checks cost, printed as a markdown table.

Each frame is saved with ``artifacts.save`` (choose a serializer, check it
stores the value exactly, write, hash) and compared with the same save as it
was before the checks: every DataFrame straight to parquet. The
checks are a round-trip of three rows and a few whole-column rules, so on a
long frame they should cost a few percent; a frame parquet would change goes
to pickle instead, which is then the baseline's lossy write, not the check,
that is the slower one. Best of seven runs taken in turns with the baseline,
since the machine may be shared.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from unittest import mock

import numpy as np
import pandas as pd

from mlprod_nb.pipeline import artifacts, frames

ROWS = 1_000_000
REPEAT = 7


def _frames() -> list[tuple[str, pd.DataFrame, str]]:
    rng = np.random.default_rng(0)
    mixed = pd.DataFrame(
        {
            "id": rng.integers(0, 1_000, ROWS),
            "x": rng.normal(size=ROWS),
            "label": rng.choice(["a", "bb", "ccc"], ROWS),
            "at": pd.date_range("2024-01-01", periods=ROWS, freq="s"),
            "group": pd.Categorical(rng.choice(["u", "v", "w"], ROWS)),
        }
    )
    series = pd.DataFrame(
        {"y": rng.normal(size=ROWS)}, index=pd.date_range("2020", periods=ROWS, freq="min")
    )
    wide = pd.DataFrame(rng.normal(size=(10_000, 200)), columns=[f"f{i}" for i in range(200)])
    return [
        (f"{ROWS:.0e} rows x 5 mixed columns", mixed, "<= 1.10x"),
        (f"{ROWS:.0e} rows, DatetimeIndex with freq (now pickle)", series, "(info)"),
        ("1e4 rows x 200 float columns", wide, "(info)"),
    ]


# the old save: every DataFrame to parquet, unchecked
UNCHECKED = [
    artifacts.Serializer(
        "parquet",
        ".parquet",
        lambda value: type(value) is pd.DataFrame,
        frames.dump_frame,
        frames.load_frame,
    ),
    artifacts.SERIALIZERS.get("pickle"),
]


def interleaved(first: Callable[[], object], second: Callable[[], object]) -> tuple[float, float]:
    """Best times of two runs taken in turns, so both see the same background load."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(REPEAT):
        for run, into in ((first, times[0]), (second, times[1])):
            began = time.perf_counter()
            run()
            into.append(time.perf_counter() - began)
    return min(times[0]), min(times[1])


def main() -> int:
    rows: list[tuple[str, float, float, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, frame, target in _frames():
            chosen = artifacts.save(tmp, {"v": frame}, step="bench")[0]["serializer"]

            def unchecked(frame: pd.DataFrame = frame) -> None:
                with mock.patch.object(artifacts, "SERIALIZERS", UNCHECKED):
                    artifacts.save(tmp, {"v": frame}, step="bench")

            def checked(frame: pd.DataFrame = frame) -> None:
                artifacts.save(tmp, {"v": frame}, step="bench")

            rows.append((name, *interleaved(checked, unchecked), target, chosen))
    python = sys.version.split()[0]
    print(f"machine: {os.cpu_count()} cores, Python {python}, pandas {pd.__version__}\n")
    print("| frame | save (s) | save, unchecked as before (s) | ratio | target | serializer |")
    print("|---|---:|---:|---:|---|---|")
    for name, value, baseline, target, chosen in rows:
        print(
            f"| {name} | {value:.3f} | {baseline:.3f} | {value / baseline:.2f}x | {target} "
            f"| {chosen} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
