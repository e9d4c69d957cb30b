"""pandas frames and series through parquet, taken only when they come back exactly.

What parquet keeps depends on the pandas and pyarrow versions (pandas 3 reads
an object column of strings back as ``str``; no version keeps a
``DatetimeIndex``'s ``freq``), so a fixed list of good dtypes would be wrong
somewhere. The check is instead a round-trip of the first rows in memory,
compared strictly, which costs a few milliseconds whatever the frame's
length. Rows beyond the first can only differ where a value, not a dtype,
decides what parquet does; cheap rules over the whole frame cover those:
object columns of anything but strings or bytes, a nullable float column
holding NaN besides NA, a MultiIndex with unused or unsorted levels, duplicate
column names, and the duplicate-labels flag.

Everything here runs only once a pandas value is at hand, so pandas is imported
inside the functions.
"""

from __future__ import annotations

import io
import sys
import warnings
from pathlib import Path
from typing import IO, Any

_SERIES = "__series__"
_SAMPLE_ROWS = 3
_EXACT_OBJECTS = ("string", "bytes")  # pandas.api.types.infer_dtype, None not allowed


def _is(value: object, cls: str) -> bool:
    pandas = sys.modules.get("pandas")
    return pandas is not None and type(value) is getattr(pandas, cls)


def dump_frame(value: Any, target: Path | IO[bytes]) -> None:
    value.to_parquet(target)


def load_frame(source: Path | IO[bytes]) -> object:
    import pandas as pd

    return pd.read_parquet(source)


def dump_series(value: Any, target: Path | IO[bytes]) -> None:
    value.to_frame(_SERIES if value.name is None else value.name).to_parquet(target)


def load_series(source: Path | IO[bytes]) -> object:
    import pandas as pd

    series = pd.read_parquet(source).iloc[:, 0]
    return series.rename(None) if series.name == _SERIES else series


def _is_object(dtype: Any) -> bool:
    """A numpy object dtype (extension dtypes such as ``str`` or categories say kind "O" too)."""
    import numpy as np

    return isinstance(dtype, np.dtype) and dtype.kind == "O"


def _exact_objects(values: Any) -> bool:
    from pandas.api.types import infer_dtype

    return infer_dtype(values, skipna=False) in _EXACT_OBJECTS


def _columns_hold(frame: Any) -> bool:
    """No column holds values that parquet would store differently from their dtype's kind."""
    import numpy as np
    import pandas as pd

    for position, dtype in enumerate(frame.dtypes):
        if _is_object(dtype):
            if not _exact_objects(frame.iloc[:, position]):
                return False
        elif isinstance(dtype, pd.Float32Dtype | pd.Float64Dtype):
            # a NaN next to NA in a nullable float column becomes NA in arrow
            data = frame.iloc[:, position].to_numpy(dtype="float64", na_value=0.0)
            if np.isnan(data).any():
                return False
    return True


def _index_holds(index: Any) -> bool:
    """The row index round-trips beyond the sampled rows: object labels, MultiIndex levels."""
    import pandas as pd

    if isinstance(index, pd.MultiIndex):
        # parquet rebuilds levels from the rows: sorted, and only the used ones
        used = index.remove_unused_levels().levels
        return all(
            len(level) == len(kept) and level.is_monotonic_increasing and _index_holds(level)
            for level, kept in zip(index.levels, used, strict=True)
        )
    return not _is_object(index.dtype) or _exact_objects(index)


def _rules_hold(frame: Any) -> bool:
    return (
        frame.columns.is_unique
        and frame.flags.allows_duplicate_labels
        and _index_holds(frame.index)
        and _columns_hold(frame)
    )


def _same_dtype(a: Any, b: Any) -> bool:
    import pandas as pd

    if a != b:
        return False
    if isinstance(a, pd.CategoricalDtype):  # == ignores the order of unordered categories
        return bool(a.categories.equals(b.categories)) and a.categories.dtype == b.categories.dtype
    return True


def _same_axis(a: Any, b: Any) -> bool:
    import pandas as pd

    if (
        type(a) is not type(b)
        or not _same_dtype(a.dtype, b.dtype)
        or list(a.names) != list(b.names)
    ):
        return False
    if not a.equals(b) or getattr(a, "freq", None) != getattr(b, "freq", None):
        return False
    if isinstance(a, pd.RangeIndex):
        return (a.start, a.step) == (b.start, b.step)
    if isinstance(a, pd.MultiIndex):
        return all(_same_axis(x, y) for x, y in zip(a.levels, b.levels, strict=True))
    return True


def same(a: Any, b: Any) -> bool:
    """``b`` is ``a`` in value, type, dtypes, axes (names, freq, levels), name, attrs and flags."""
    if type(a) is not type(b) or len(a.axes) != len(b.axes):
        return False
    if a.ndim == 1:
        if a.name != b.name or type(a.name) is not type(b.name):
            return False
        dtypes = [[a.dtype], [b.dtype]]
    else:
        dtypes = [list(a.dtypes), list(b.dtypes)]
    try:
        same_attrs = bool(a.attrs == b.attrs)
    except (TypeError, ValueError):  # attrs holding arrays: no single truth value
        return False
    return (
        same_attrs
        and a.flags.allows_duplicate_labels == b.flags.allows_duplicate_labels
        and all(_same_axis(x, y) for x, y in zip(a.axes, b.axes, strict=True))
        and len(dtypes[0]) == len(dtypes[1])
        and all(_same_dtype(x, y) for x, y in zip(dtypes[0], dtypes[1], strict=True))
        and bool(a.equals(b))
    )


def _survives(value: Any, dump: Any, load: Any) -> bool:
    """The first rows of ``value`` come back from ``dump`` and ``load`` exactly."""
    import pandas as pd

    sample = value.iloc[:_SAMPLE_ROWS]
    if isinstance(sample.index, pd.MultiIndex):
        sample.index = sample.index.remove_unused_levels()  # checked over all rows above
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            # pandas says with a UserWarning where it changes labels; a library's
            # deprecation notice must not send every frame to pickle
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", UserWarning)
            dump(sample, buffer)
            buffer.seek(0)
            back = load(buffer)
    except Exception:  # pyarrow and pandas raise many kinds for "cannot store this": refuse
        return False
    return same(sample, back)


def frame_exact(value: object) -> bool:
    """A DataFrame parquet gives back exactly (see the module docstring)."""
    return (
        _is(value, "DataFrame") and _rules_hold(value) and _survives(value, dump_frame, load_frame)
    )


def series_exact(value: object) -> bool:
    """A Series parquet gives back exactly, through a one-column frame."""
    if not _is(value, "Series"):
        return False
    series: Any = value
    return _rules_hold(series.to_frame()) and _survives(series, dump_series, load_series)
