"""Comparers: which pairs of values verify counts as the same, and what it says when not."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlprod_nb.pipeline.compare import Tolerance, difference, file_difference


class Model:
    """Compares by identity, like a fitted estimator."""

    def __init__(self, weights: list[float], tags: set[str]) -> None:
        self.weights = weights
        self.tags = tags


@dataclass(frozen=True)
class Case:
    name: str
    notebook: object
    pipeline: object
    says: str | None  # None: the same; else a part of the report
    rtol: float = 1e-9


def frame(y: float) -> pd.DataFrame:
    return pd.DataFrame({"g": ["a", "b", "c"], "y": [1.0, 2.0, y]})


CASES = [
    Case("float within rtol", 0.8123, 0.8123 * (1 + 1e-12), None),
    Case("float beyond rtol", 0.8123, 0.8119, "notebook 0.8123, pipeline 0.8119"),
    Case("a larger rtol", 0.8123, 0.8124, None, rtol=1e-3),
    Case("nan equals nan", float("nan"), float("nan"), None),
    Case("numpy float and float", np.float64(1.5), 1.5, None),
    Case("ints", 3, 4, "notebook 3, pipeline 4"),
    Case("types", 1, "1", "type: notebook int, pipeline str"),
    Case("frames within rtol", frame(3.0), frame(3.0 + 1e-12), None),
    Case("frames: the cell", frame(3.0), frame(3.5), "column 'y', row 2: notebook 3.0"),
    Case("frames: shape", frame(3.0), frame(3.0).head(2), "shape: notebook (3, 2)"),
    Case(
        "frames: dtype",
        frame(3.0),
        frame(3.0).astype({"y": "float32"}),
        "column 'y', dtype: notebook float64, pipeline float32",
    ),
    Case(
        "series",
        pd.Series([1.0, 2.0], name="s"),
        pd.Series([1.0, 2.5], name="s"),
        "row 1: notebook 2.0, pipeline 2.5",
    ),
    Case("arrays within rtol", np.arange(4.0), np.arange(4.0) * (1 + 1e-12), None),
    Case("arrays", np.arange(4.0), np.array([0.0, 1.0, 2.5, 3.0]), "at (2,): notebook"),
    Case("int arrays", np.arange(3), np.arange(3), None),
    Case("nested", {"a": [1, {"b": 2.0}]}, {"a": [1, {"b": 2.5}]}, "['a'] [1] ['b']"),
    Case("keys", {"a": 1}, {"b": 1}, "keys differ"),
    Case("sets in any order", {"x", "y", "z"}, {"z", "y", "x"}, None),
    Case("identity objects by state", Model([0.5], {"a", "b"}), Model([0.5], {"b", "a"}), None),
    Case("state differs", Model([0.5], set()), Model([0.6], set()), "state ['weights'] [0]"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_difference(case: Case) -> None:
    found = difference(case.notebook, case.pipeline, Tolerance(rtol=case.rtol))
    if case.says is None:
        assert found is None
    else:
        assert found is not None
        assert case.says in found


@dataclass(frozen=True)
class FileCase:
    name: str
    suffix: str
    write: str  # what the notebook's file holds; the pipeline's holds ``other``
    other: str
    says: str | None


FILES = [
    FileCase("same bytes", ".txt", "hello", "hello", None),
    FileCase("other bytes", ".txt", "hello", "hellO", "contents differ (sha256"),
    FileCase("csv floats within rtol", ".csv", "a\n0.1\n", "a\n0.1000000000001\n", None),
    FileCase("csv values", ".csv", "a\n0.1\n", "a\n0.2\n", "column 'a', row 0"),
    FileCase("json reformatted", ".json", '{"a": 1}', '{ "a" : 1 }', None),
]


@pytest.mark.parametrize("case", FILES, ids=[c.name for c in FILES])
def test_file_difference(tmp_path: Path, case: FileCase) -> None:
    ours, theirs = tmp_path / f"nb{case.suffix}", tmp_path / f"pl{case.suffix}"
    ours.write_text(case.write)
    theirs.write_text(case.other)
    found = file_difference(ours, theirs, Tolerance())
    if case.says is None:
        assert found is None
    else:
        assert found is not None
        assert case.says in found


def test_parquet_files_compare_as_frames(tmp_path: Path) -> None:
    frame(3.0).to_parquet(tmp_path / "a.parquet")
    frame(3.0 + 1e-12).to_parquet(tmp_path / "b.parquet")
    frame(4.0).to_parquet(tmp_path / "c.parquet")
    assert file_difference(tmp_path / "a.parquet", tmp_path / "b.parquet", Tolerance()) is None
    found = file_difference(tmp_path / "a.parquet", tmp_path / "c.parquet", Tolerance())
    assert found is not None
    assert "row 2" in found
