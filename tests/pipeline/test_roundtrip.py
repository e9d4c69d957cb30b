"""Values cross steps unchanged: what ``load`` returns is what ``save`` was given.

Equal in value and in type, dtype, index, names, freq, categories, attrs and
flags, checked with pandas.testing at its strictest. ``via`` is the serializer
expected to take the value where it does not depend on the pandas/pyarrow
versions (None where it does: then only exactness is asserted). Cases marked
``lossy`` show why a value is refused: plain parquet (or JSON) really changes it.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from mlprod_nb.pipeline import artifacts, frames


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[], object]
    via: str | None
    lossy: bool = False  # the first format that could hold its kind changes this value


def _frame(**columns: Any) -> pd.DataFrame:
    return pd.DataFrame(columns)


def _freq_series() -> pd.Series:
    return pd.Series([1.5, 2.5, 3.5, 4.5], index=pd.date_range("2024-01-01", periods=4, freq="D"))


def _freq_frame() -> pd.DataFrame:
    return pd.DataFrame({"y": range(5)}, index=pd.date_range("2024-01", periods=5, freq="MS"))


def _categorical() -> pd.DataFrame:
    grades = pd.Categorical(["b", "a", "b", "c"], categories=["c", "b", "a", "z"], ordered=True)
    return pd.DataFrame({"grade": grades, "n": [1, 2, 3, 4]})


def _multi() -> pd.DataFrame:
    index = pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)], names=["key", None])
    return pd.DataFrame({"x": [1.0, 2.0, 3.0]}, index=index)


def _multi_unused() -> pd.DataFrame:
    frame = _multi()
    return frame[frame["x"] < 3]  # level "b" is still in index.levels


def _multi_unsorted() -> pd.DataFrame:
    index = pd.MultiIndex(levels=[["b", "a"], [2, 1]], codes=[[0, 1], [0, 1]], names=["k", "j"])
    return pd.DataFrame({"x": [1, 2]}, index=index)


def _attrs(value: Any) -> pd.DataFrame:
    frame = pd.DataFrame({"a": [1, 2]})
    frame.attrs["source"] = value
    return frame


def _no_duplicates() -> pd.DataFrame:
    frame = pd.DataFrame({"a": [1, 2]})
    frame.flags.allows_duplicate_labels = False
    return frame


def _nan_beside_na() -> pd.DataFrame:
    data = pd.arrays.FloatingArray(np.array([1.0, np.nan, 0.0]), np.array([False, False, True]))
    return pd.DataFrame({"f": data})


def _masked() -> np.ma.MaskedArray[Any, Any]:
    return np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, True, False])


class Color(enum.IntEnum):
    RED = 1


class Point:
    def __init__(self, x: int) -> None:
        self.x = x

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and other.x == self.x

    __hash__ = None  # type: ignore[assignment]


def _self_list() -> list[object]:
    value: list[object] = [1]
    value.append(value)
    return value


def _nested(depth: int) -> object:
    value: object = 0
    for _ in range(depth):
        value = [value]
    return value


def _buffer() -> io.StringIO:
    buffer = io.StringIO("line one\nline two\n")
    buffer.readline()
    return buffer


STAMPS = pd.Series(pd.date_range("2024-03-30", periods=3, freq="h"))
CASES = [
    # pandas: time
    Case("series-datetimeindex-freq", _freq_series, "pickle", lossy=True),
    Case("frame-datetimeindex-freq", _freq_frame, "pickle", lossy=True),
    Case(
        "frame-timedeltaindex-freq",
        lambda: pd.DataFrame({"a": [1, 2]}, index=pd.timedelta_range("1D", periods=2, freq="h")),
        "pickle",
        lossy=True,
    ),
    Case(
        "frame-date-columns-freq",
        lambda: pd.DataFrame([[1, 2]], columns=pd.date_range("2024", periods=2, freq="D")),
        "pickle",
        lossy=True,
    ),
    Case(
        "datetimeindex-without-freq",
        lambda: pd.DataFrame({"a": [1, 2]}, index=pd.DatetimeIndex(["2024-01-01", "2024-03-01"])),
        "parquet",
    ),
    Case("tz-aware-column", lambda: _frame(t=STAMPS.dt.tz_localize("Europe/Paris")), "parquet"),
    Case(
        "tz-aware-index",
        lambda: pd.DataFrame({"a": [1, 2]}, index=pd.DatetimeIndex(STAMPS[:2], tz="UTC")),
        "parquet",
    ),
    Case("timedelta-column", lambda: _frame(d=pd.to_timedelta([1, 90, 3600], unit="s")), "parquet"),
    Case("datetime64-seconds", lambda: _frame(t=STAMPS.astype("datetime64[s]")), None),
    Case("period-column", lambda: _frame(p=pd.period_range("2024-01", periods=3, freq="M")), None),
    # pandas: categories, labels, indexes
    Case("categorical-ordered-unused", _categorical, "parquet"),
    Case("categorical-int-order", lambda: _frame(c=pd.Categorical([1, 2], [3, 2, 1])), None),
    Case("series-categorical", lambda: _categorical()["grade"], "parquet-series"),
    Case(
        "index-name",
        lambda: pd.DataFrame({"a": [1, 2]}, index=pd.Index(["x", "y"], name="id")),
        "parquet",
    ),
    Case("multiindex-names", _multi, "parquet"),
    Case("multiindex-unused-levels", _multi_unused, "pickle", lossy=True),
    Case("multiindex-unsorted-levels", _multi_unsorted, "pickle", lossy=True),
    Case("int-column-labels", lambda: pd.DataFrame([[1, 2]], columns=[3, 7]), "parquet"),
    Case("rangeindex-column-labels", lambda: pd.DataFrame(np.eye(3)), None),
    Case("float-column-labels", lambda: pd.DataFrame({0.5: [1], 1.5: [2]}), "parquet"),
    Case("mixed-column-labels", lambda: pd.DataFrame({0: [1], "b": [2]}), "pickle", lossy=True),
    Case("tuple-column-labels", lambda: pd.DataFrame({("a", "b"): [1], ("a", "c"): [2]}), None),
    Case("columns-name", lambda: pd.DataFrame({"a": [1]}).rename_axis(columns="field"), "parquet"),
    Case("duplicate-columns", lambda: pd.DataFrame([[1, 2]], columns=["a", "a"]), "pickle"),
    Case(
        "rangeindex-step",
        lambda: pd.DataFrame({"a": [1, 2, 3]}, index=pd.RangeIndex(10, 16, 2, name="r")),
        "parquet",
    ),
    Case("empty-frame", pd.DataFrame, None),
    Case("attrs", lambda: _attrs("survey.csv"), "parquet"),
    Case("attrs-tuple", lambda: _attrs(("a", 1)), "pickle", lossy=True),
    Case("no-duplicate-labels-flag", _no_duplicates, "pickle", lossy=True),
    # pandas: dtypes
    Case(
        "numeric-and-str",
        lambda: _frame(i=[1, 2, 3], f=[0.5, np.nan, np.inf], u=np.array([1, 2, 2**63], "u8")),
        "parquet",
    ),
    Case("nullable-int", lambda: _frame(n=pd.array([1, None, 3], dtype="Int64")), "parquet"),
    Case("nullable-boolean", lambda: _frame(b=pd.array([True, None], dtype="boolean")), "parquet"),
    Case("string-pyarrow", lambda: _frame(s=pd.array(["x", None], dtype="string[pyarrow]")), None),
    Case("string-python", lambda: _frame(s=pd.array(["x", None], dtype="string[python]")), None),
    Case("nullable-float-nan-beside-na", _nan_beside_na, "pickle", lossy=True),
    Case("object-strings", lambda: _frame(s=pd.Series(["x", "y"], dtype=object)), None),
    Case("object-str-none", lambda: _frame(s=pd.Series(["x", None], dtype=object)), "pickle"),
    Case(
        "object-nested-dicts",
        lambda: _frame(o=pd.Series([{"k": 1}, {"j": [1, 2]}], dtype=object)),
        "pickle",
        lossy=True,
    ),
    Case(
        "object-lists",
        lambda: _frame(o=pd.Series([[1, 2], [3]], dtype=object)),
        "pickle",
        lossy=True,
    ),
    Case("object-ints", lambda: _frame(o=pd.Series([1, 2], dtype=object)), "pickle", lossy=True),
    Case("complex-column", lambda: _frame(z=np.array([1 + 2j])), "pickle"),
    Case("series-unnamed", lambda: pd.Series([1, 2]), "parquet-series"),
    Case("series-int-name", lambda: pd.Series([1, 2], name=0), None),
    # numpy
    Case("array-float32", lambda: np.arange(12, dtype=np.float32).reshape(3, 4), "npy"),
    Case(
        "array-structured",
        lambda: np.array([(1, "ab"), (2, "c")], dtype=[("n", "<i4"), ("s", "<U3")]),
        "npy",
    ),
    Case("array-unicode", lambda: np.array(["é", "日本"]), "npy"),
    Case("array-datetime64", lambda: np.array(["2024-01-01", "NaT"], dtype="M8[ms]"), "npy"),
    Case("array-big-endian", lambda: np.arange(3, dtype=">i4"), "npy"),
    Case("array-fortran", lambda: np.asfortranarray(np.arange(6.0).reshape(2, 3)), "npy"),
    Case(
        "array-aligned-struct",
        lambda: np.zeros(2, dtype=np.dtype([("a", "i1"), ("b", "f8")], align=True)),
        "pickle",
    ),
    Case(
        "array-dtype-metadata", lambda: np.zeros(2, np.dtype(float, metadata={"u": "m"})), "pickle"
    ),
    Case("masked-array", _masked, "pickle", lossy=True),
    Case("object-array", lambda: np.array([{"a": 1}, None], dtype=object), "pickle"),
    Case("numpy-scalar", lambda: np.float64(1.5), "pickle"),
    # builtins
    Case("json-nested", lambda: {"a": [1, 2.5, None, True], "b": {"c": "d"}}, "json"),
    Case("bool-vs-int", lambda: [True, 1, 0, False, 1.0], "json"),
    Case("negative-zero", lambda: [-0.0, 1e-320], "json"),
    Case("large-int", lambda: 2**1000, "json"),
    Case("huge-int", lambda: 10**5000, "pickle", lossy=True),
    # Python's json would read NaN back, but a file holding it is not JSON
    Case("nan-in-data", lambda: {"loss": [0.5, math.nan], "best": math.inf}, "pickle"),
    Case("tuple", lambda: (1, "a"), "pickle", lossy=True),
    Case("tuple-inside-list", lambda: [1, (2, 3)], "pickle", lossy=True),
    Case("set", lambda: {1, 2}, "pickle"),
    Case("frozenset", lambda: frozenset({"a"}), "pickle"),
    Case("int-keys", lambda: {1: "a", 2: "b"}, "pickle", lossy=True),
    Case("int-enum", lambda: [Color.RED], "pickle", lossy=True),
    Case("ordered-dict", lambda: collections.OrderedDict(a=1), "pickle", lossy=True),
    Case("bytes", lambda: b"\x00\xff", "pickle"),
    Case("deep-nesting", lambda: _nested(60), "pickle"),
    Case("self-reference", _self_list, "pickle"),
    Case("custom-object", lambda: Point(3), "pickle"),
    Case("string-buffer", _buffer, "pickle"),
]


def _same_axis(a: pd.Index, b: pd.Index) -> None:
    pdt.assert_index_equal(a, b, exact=True, check_exact=True, check_categorical=True)
    assert list(a.names) == list(b.names)
    assert getattr(a, "freq", None) == getattr(b, "freq", None)
    if isinstance(a, pd.MultiIndex):
        assert isinstance(b, pd.MultiIndex)
        for x, y in zip(a.levels, b.levels, strict=True):
            pdt.assert_index_equal(x, y, exact=True)
    if isinstance(a, pd.RangeIndex):
        assert isinstance(b, pd.RangeIndex)
        assert (a.start, a.stop, a.step) == (b.start, b.stop, b.step)


def assert_same(a: Any, b: Any) -> None:
    """``b`` equals ``a`` in value and in every type, dtype and piece of metadata."""
    assert type(b) is type(a)
    strict = {"check_exact": True, "check_freq": True, "check_flags": True}
    if isinstance(a, pd.DataFrame):
        pdt.assert_frame_equal(a, b, check_index_type=True, check_column_type=True, **strict)
        assert a.attrs == b.attrs
        for x, y in zip(a.axes, b.axes, strict=True):
            _same_axis(x, y)
    elif isinstance(a, pd.Series):
        pdt.assert_series_equal(a, b, check_index_type=True, check_category_order=True, **strict)
        assert a.attrs == b.attrs
        assert type(a.name) is type(b.name)
        _same_axis(a.index, b.index)
    elif isinstance(a, np.ndarray):
        assert (a.dtype, a.dtype.descr, a.shape) == (b.dtype, b.dtype.descr, b.shape)
        assert (a.dtype.isalignedstruct, a.dtype.metadata) == (
            b.dtype.isalignedstruct,
            b.dtype.metadata,
        )
        assert a.flags.f_contiguous == b.flags.f_contiguous
        np.testing.assert_array_equal(np.ma.getdata(a), np.ma.getdata(b))
        np.testing.assert_array_equal(np.ma.getmaskarray(a), np.ma.getmaskarray(b))
    elif isinstance(a, float):
        assert (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    elif isinstance(a, list | tuple):
        if a and a[-1] is a:  # the self-referencing list
            assert b[-1] is b
            assert len(a) == len(b)
            assert_same(a[:-1], b[:-1])
            return
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        assert [type(k) for k in a] == [type(k) for k in b]
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, set | frozenset):
        assert {(type(x), x) for x in a} == {(type(x), x) for x in b}
    elif isinstance(a, io.StringIO):
        assert (a.tell(), a.getvalue()) == (b.tell(), b.getvalue())
    else:
        assert a == b


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_value_crosses_a_step_unchanged(tmp_path: Path, case: Case) -> None:
    value = case.make()
    saved = artifacts.save(str(tmp_path), {"v": value}, step="producer")
    if case.via is not None:
        assert saved[0]["serializer"] == case.via
    loaded = artifacts.load({"v": saved[0]["path"]}, "v", step="consumer")
    assert_same(value, loaded)


def _through_first_format(value: object, path: Path) -> object:
    """What the first built-in format for this kind of value would give back."""
    if isinstance(value, pd.DataFrame):
        frames.dump_frame(value, path)
        return frames.load_frame(path)
    if isinstance(value, pd.Series):
        frames.dump_series(value, path)
        return frames.load_series(path)
    if isinstance(value, np.ndarray):
        np.save(path.with_suffix(".npy"), value, allow_pickle=False)
        return np.load(path.with_suffix(".npy"), allow_pickle=False)
    return json.loads(json.dumps(value, default=list))


LOSSY = [c for c in CASES if c.lossy]


@pytest.mark.parametrize("case", LOSSY, ids=[c.name for c in LOSSY])
def test_refused_values_really_change_in_the_first_format(tmp_path: Path, case: Case) -> None:
    value = case.make()
    try:
        back = _through_first_format(value, tmp_path / "value")
    except (ValueError, TypeError, NotImplementedError, UserWarning):
        return  # the format cannot even write it (pandas warns where it renames labels)
    with pytest.raises(AssertionError):
        assert_same(value, back)


def test_a_value_is_written_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A frame parquet would change goes to pickle without a parquet file being written first."""
    writes: list[str] = []

    def counted(serializer: artifacts.Serializer) -> artifacts.Serializer:
        def dump(value: object, path: Path) -> None:
            writes.append(serializer.name)
            serializer.dump(value, path)

        return dataclasses.replace(serializer, dump=dump)

    monkeypatch.setattr(artifacts, "SERIALIZERS", [counted(s) for s in artifacts.SERIALIZERS])
    artifacts.save(str(tmp_path), {"series": _freq_series(), "frame": _categorical()}, step="s")
    assert writes == ["pickle", "parquet"]
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["_outputs.json", "frame.parquet", "series.pkl"]
