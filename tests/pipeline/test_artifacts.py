"""Serializers: each type round-trips through its registry entry; unsendable values fail."""

from __future__ import annotations

import io
import json
import sqlite3
import types
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlprod_nb.errors import CheckFailedError, SerializationError
from mlprod_nb.pipeline import artifacts


class Point:
    def __init__(self, x: int) -> None:
        self.x = x

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and other.x == self.x

    __hash__ = None  # type: ignore[assignment]


FRAME = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None], "c": [0.5, np.nan, 2.0]})
CASES: list[tuple[str, Any, str]] = [
    ("frame", FRAME, "parquet"),
    ("frame-index", FRAME.set_index("b"), "parquet"),
    ("series", pd.Series([1.5, 2.5], name="s"), "parquet-series"),
    ("series-unnamed", pd.Series([1, 2]), "parquet-series"),
    ("array", np.arange(12, dtype=np.float32).reshape(3, 4), "npy"),
    ("json-dict", {"a": [1, 2.5, None, True], "b": {"c": "d"}}, "json"),
    ("json-int", 42, "json"),
    ("json-str", "hello", "json"),
    ("tuple-pickled", (1, 2), "pickle"),
    ("object-array", np.array([{"a": 1}, None], dtype=object), "pickle"),
    ("custom-object", Point(3), "pickle"),
    ("set", {1, 2}, "pickle"),
    ("nan-float", float("nan"), "pickle"),
]


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
        return True
    if isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b)
        return True
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and bool((a == b).all())
    if isinstance(a, float) and a != a:
        return b != b
    return bool(a == b) and type(a) is type(b)


@pytest.mark.parametrize(("name", "value", "serializer"), CASES, ids=[c[0] for c in CASES])
def test_round_trip(tmp_path: Path, name: str, value: Any, serializer: str) -> None:
    saved = artifacts.save(str(tmp_path), {"v": value}, step="s")
    assert [s["serializer"] for s in saved] == [serializer]
    index = json.loads((tmp_path / artifacts.INDEX).read_text())
    assert index == saved
    assert index[0]["sha256"] == artifacts.file_sha256(Path(index[0]["path"]))
    loaded = artifacts.load({"v": index[0]["path"]}, "v", step="t")
    assert _equal(value, loaded)


def _gen() -> Any:
    yield 1


REFUSED: list[tuple[str, Any, str]] = [
    ("module", json, "a module"),
    ("file", io.StringIO("x"), "an open file"),
    ("generator", _gen(), "a generator"),
    ("lambda", lambda v: v, "a lambda"),
    ("connection", sqlite3.connect(":memory:"), "a connection"),
]


@pytest.mark.parametrize(("name", "value", "why"), REFUSED, ids=[c[0] for c in REFUSED])
def test_unsendable_values_fail_clearly(tmp_path: Path, name: str, value: Any, why: str) -> None:
    with pytest.raises(SerializationError) as caught:
        artifacts.save(str(tmp_path), {name: value}, step="producer")
    assert why in str(caught.value)
    assert f"'{name}'" in str(caught.value)
    assert caught.value.step == "producer"
    assert not (tmp_path / artifacts.INDEX).exists()


def test_unpicklable_object_names_value(tmp_path: Path) -> None:
    value = types.SimpleNamespace(fn=lambda: 1)
    with pytest.raises(SerializationError, match=r"'thing'.*cannot be saved"):
        artifacts.save(str(tmp_path), {"thing": value}, step="s")


def test_missing_artifact(tmp_path: Path) -> None:
    with pytest.raises(SerializationError, match="missing"):
        artifacts.load({"x": str(tmp_path / "x.npy")}, "x", step="s")
    with pytest.raises(SerializationError, match="no artifact was given"):
        artifacts.load({}, "x", step="s")


def test_save_outside_runner_is_a_no_op(tmp_path: Path) -> None:
    assert artifacts.save("", {"x": 1}, step="s") == []


@pytest.mark.parametrize(
    ("value", "fails"), [(True, False), (None, False), (1, False), (False, True), (0, True)]
)
def test_check_verdicts(value: object, fails: bool) -> None:
    if fails:
        with pytest.raises(CheckFailedError, match="too small"):
            artifacts.check(value, "too small")
    else:
        artifacts.check(value, "too small")
