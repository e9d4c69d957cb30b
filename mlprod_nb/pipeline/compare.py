"""Comparers: is a value the notebook computed the one the pipeline computed?

``difference(notebook, pipeline, tolerance)`` returns None when they agree, else a
short account of the first place they part ("column 'y', row 3: notebook 1.5,
pipeline 1.6"). A registry of comparers is tried in order, the first that accepts
both values decides: frames and series through ``pandas.testing``, arrays through
``numpy.allclose``, floats by the same rule (``|a - b| <= atol + rtol * |b|``),
containers element by element, then ``==``, then, for objects that only compare by
identity (a fitted model), their pickled state (``__getstate__``) element by
element. Files are compared by sha256 first and, when that differs, read by a
reader for their suffix and compared as values; a file no reader takes is
different when its bytes are. pandas and numpy are imported only when a value of
theirs is compared.
"""

from __future__ import annotations

import json
import math
import reprlib
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict = 60, 60, 6, 6
MAX_DEPTH = 30


@dataclass(frozen=True)
class Tolerance:
    """Float equality as ``numpy.allclose``: ``|a - b| <= atol + rtol * |b|``."""

    rtol: float = 1e-9
    atol: float = 0.0


def short(value: object) -> str:
    """A value as a report shows it: one line, at most about 60 characters."""
    return _SHORT.repr(value).replace("\n", " ")


def _pair(notebook: object, pipeline: object) -> str:
    return f"notebook {short(notebook)}, pipeline {short(pipeline)}"


@dataclass(frozen=True)
class Comparer:
    name: str
    accepts: Callable[[object, object], bool]
    differ: Callable[[Any, Any, Tolerance, int], str | None]


def _is(value: object, module: str, cls: str) -> bool:
    mod = sys.modules.get(module)
    return mod is not None and isinstance(value, getattr(mod, cls))


def _both(module: str, cls: str) -> Callable[[object, object], bool]:
    return lambda a, b: _is(a, module, cls) and _is(b, module, cls)


def _first_line(error: AssertionError) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return "; ".join(lines[:3]) or "they differ"


def _frame(a: Any, b: Any, tol: Tolerance, depth: int) -> str | None:
    from pandas.testing import assert_frame_equal

    try:
        assert_frame_equal(a, b, check_exact=False, rtol=tol.rtol, atol=tol.atol)
    except AssertionError as error:
        return _frame_cell(a, b, tol) or _first_line(error)
    return None


def _frame_cell(a: Any, b: Any, tol: Tolerance) -> str | None:
    """The first cell (column, row) whose values differ, when the shapes agree."""
    if a.shape != b.shape:
        return f"shape: notebook {a.shape}, pipeline {b.shape}"
    if list(a.columns) != list(b.columns):
        return f"columns: notebook {short(list(a.columns))}, pipeline {short(list(b.columns))}"
    for column in a.columns:
        found = _column_row(a[column], b[column], tol)
        if found is not None:
            return f"column {column!r}, {found}"
    return None


def _column_row(a: Any, b: Any, tol: Tolerance) -> str | None:
    if str(a.dtype) != str(b.dtype):
        return f"dtype: notebook {a.dtype}, pipeline {b.dtype}"
    for row, (x, y) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
        if _scalar(x, y, tol, 0) is not None:
            return f"row {row}: {_pair(x, y)}"
    return None


def _series(a: Any, b: Any, tol: Tolerance, depth: int) -> str | None:
    from pandas.testing import assert_series_equal

    try:
        assert_series_equal(a, b, check_exact=False, rtol=tol.rtol, atol=tol.atol)
    except AssertionError as error:
        if len(a) != len(b):
            return f"length: notebook {len(a)}, pipeline {len(b)}"
        return _column_row(a, b, tol) or _first_line(error)
    return None


def _array(a: Any, b: Any, tol: Tolerance, depth: int) -> str | None:
    import numpy as np

    if a.shape != b.shape:
        return f"shape: notebook {a.shape}, pipeline {b.shape}"
    if a.dtype != b.dtype:
        return f"dtype: notebook {a.dtype}, pipeline {b.dtype}"
    if a.dtype.kind in "fc":
        close = np.isclose(a, b, rtol=tol.rtol, atol=tol.atol, equal_nan=True)
    elif a.dtype.kind == "O":
        pairs = zip(a.flat, b.flat, strict=True)
        close = np.array([_any(x, y, tol, depth + 1) is None for x, y in pairs])
        close = close.reshape(a.shape) if close.size else close
    else:
        close = a == b
    if bool(np.all(close)):
        return None
    where = tuple(int(i) for i in np.argwhere(~close)[0])
    return f"at {where}: {_pair(a[where], b[where])}"


def _is_float(value: object) -> bool:
    return isinstance(value, float) or _is(value, "numpy", "floating")


def _scalar(a: Any, b: Any, tol: Tolerance, depth: int) -> str | None:
    if _is_float(a) and _is_float(b):
        x, y = float(a), float(b)
        if math.isnan(x) and math.isnan(y):
            return None
        if x == y or abs(x - y) <= tol.atol + tol.rtol * abs(y):
            return None
        return _pair(a, b)
    return None if a == b else _pair(a, b)


def _sequence(a: Sequence[Any], b: Sequence[Any], tol: Tolerance, depth: int) -> str | None:
    if len(a) != len(b):
        return f"length: notebook {len(a)}, pipeline {len(b)}"
    for index, (x, y) in enumerate(zip(a, b, strict=True)):
        found = _any(x, y, tol, depth + 1)
        if found is not None:
            return f"[{index}] {found}"
    return None


def _mapping(a: Mapping[Any, Any], b: Mapping[Any, Any], tol: Tolerance, depth: int) -> str | None:
    if set(a) != set(b):
        only = sorted(map(repr, set(a) ^ set(b)))[:3]
        return f"keys differ ({', '.join(only)} in one only)"
    for key in a:
        found = _any(a[key], b[key], tol, depth + 1)
        if found is not None:
            return f"[{key!r}] {found}"
    return None


def _equality(a: Any, b: Any, tol: Tolerance, depth: int) -> str | None:
    try:
        same = a == b
    except Exception:  # an == that raises (ambiguous truth, bad types): compare state
        return _state(a, b, tol, depth)
    if isinstance(same, bool) or _is(same, "numpy", "bool_"):
        return None if same else _pair(a, b)
    return _state(a, b, tol, depth)  # an elementwise == (some array-like): compare state


def _identity_only(value: object) -> bool:
    return type(value).__eq__ is object.__eq__


def _state(a: Any, b: Any, tol: Tolerance, depth: int) -> str | None:
    """Objects that compare by identity: compare what pickling them would keep."""
    try:
        x, y = a.__reduce_ex__(4), b.__reduce_ex__(4)
    except Exception as error:
        return f"cannot be compared ({type(error).__name__}: {error})"
    x_state = x[2] if isinstance(x, tuple) and len(x) > 2 else x
    y_state = y[2] if isinstance(y, tuple) and len(y) > 2 else y
    if x_state is a or y_state is b:
        return None if a is b else _pair(a, b)
    found = _any(x_state, y_state, tol, depth + 1)
    return None if found is None else f"state {found}"


def _same_type(a: object, b: object) -> bool:
    return type(a) is type(b)


COMPARERS: list[Comparer] = [
    Comparer("frame", _both("pandas", "DataFrame"), _frame),
    Comparer("series", _both("pandas", "Series"), _series),
    Comparer("array", _both("numpy", "ndarray"), _array),
    Comparer("float", lambda a, b: _is_float(a) and _is_float(b), _scalar),
    Comparer(
        "sequence",
        lambda a, b: _same_type(a, b) and isinstance(a, list | tuple),
        _sequence,
    ),
    Comparer("mapping", lambda a, b: _same_type(a, b) and isinstance(a, dict), _mapping),
    Comparer(
        "state",
        lambda a, b: _same_type(a, b) and _identity_only(a),
        _state,
    ),
    Comparer("equality", lambda a, b: True, _equality),
]


def register(comparer: Comparer) -> None:
    """Add a comparer, tried before the built-in ones."""
    COMPARERS.insert(0, comparer)


def _any(a: object, b: object, tol: Tolerance, depth: int) -> str | None:
    if depth > MAX_DEPTH:
        return None if a is b else "nested too deep to compare"
    if type(a) is not type(b) and not (_is_float(a) and _is_float(b)):
        return f"type: notebook {type(a).__name__}, pipeline {type(b).__name__}"
    for comparer in COMPARERS:
        if comparer.accepts(a, b):
            return comparer.differ(a, b, tol, depth)
    return None  # unreachable: "equality" accepts everything


def difference(notebook: object, pipeline: object, tolerance: Tolerance) -> str | None:
    """None when the two values agree, else where they first differ."""
    return _any(notebook, pipeline, tolerance, 0)


# -- files -------------------------------------------------------------------------


def _read_parquet(path: Path) -> object:
    import pandas as pd

    return pd.read_parquet(path)


def _read_csv(path: Path) -> object:
    import pandas as pd

    return pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",")


def _read_npy(path: Path) -> object:
    import numpy as np

    return np.load(path, allow_pickle=False)


def _read_json(path: Path) -> object:
    return json.loads(path.read_text())


READERS: dict[str, Callable[[Path], object]] = {
    ".parquet": _read_parquet,
    ".csv": _read_csv,
    ".tsv": _read_csv,
    ".npy": _read_npy,
    ".json": _read_json,
}


def file_difference(notebook: Path, pipeline: Path, tolerance: Tolerance) -> str | None:
    """None when two files hold the same data (equal bytes, or equal values for a format
    a reader takes, floats within ``tolerance``), else how they differ."""
    from ..hashing import sha256_file

    left, right = (sha256_file(str(p)) or "missing" for p in (notebook, pipeline))
    if left == right != "missing":
        return None
    reader = READERS.get(pipeline.suffix.lower())
    if reader is not None:
        try:
            found = difference(reader(notebook), reader(pipeline), tolerance)
        except Exception as error:  # not readable as its suffix says: bytes decide
            return f"contents differ (sha256 {left[:12]} vs {right[:12]}; unreadable: {error})"
        if found is None:
            return None
        return found
    return f"contents differ (sha256: notebook {left[:12]}, pipeline {right[:12]})"
