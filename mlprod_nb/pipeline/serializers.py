"""Serializers for artifacts: each one stores a value exactly, or refuses it.

The registry is tried in order and the first serializer whose ``accepts`` holds
writes the value. ``accepts`` is the whole promise: a value it takes loads back
equal in value, type, dtype, index and metadata, so a value a format would
change (a ``DatetimeIndex`` that loses its ``freq`` through parquet, a tuple
that JSON would make a list) goes on to the next serializer, and pickle, last,
takes the rest. Nothing is written twice: the checks are cheap rules, plus,
for pandas, a round-trip of the first rows in memory (see ``frames.py``).

This module is imported by every step kernel, so it stays light: numpy and
pandas are only touched once a value of theirs is at hand.
"""

from __future__ import annotations

import json
import math
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SerializationError
from ..registry import Registry
from . import frames


@dataclass(frozen=True)
class Serializer:
    name: str
    suffix: str
    accepts: Callable[[object], bool]
    dump: Callable[[object, Path], None]
    load: Callable[[Path], object]


def _numpy() -> Any:
    return sys.modules.get("numpy")


def _is_plain_array(value: object) -> bool:
    """A bare ``ndarray`` whose dtype ``.npy`` holds whole.

    Subclasses (masked arrays, matrices, memmaps) would load as a bare array
    without their mask or kind; dtype metadata and the aligned-struct flag are
    not written to ``.npy``; object dtypes need pickle.
    """
    np = _numpy()
    if np is None or type(value) is not np.ndarray:
        return False
    array: Any = value
    dtype = array.dtype
    return not (dtype.hasobject or dtype.metadata is not None or dtype.isalignedstruct)


def _dump_array(value: Any, path: Path) -> None:
    import numpy as np

    np.save(path, value, allow_pickle=False)


def _load_array(path: Path) -> object:
    import numpy as np

    return np.load(path, allow_pickle=False)


# json turns a bigger int into a string digit by digit, and Python caps that
# (sys.set_int_max_str_digits, 640 digits at the least): beyond, pickle.
_JSON_INT_BITS = 2000
_JSON_DEPTH = 50


def _jsonable(value: object, depth: int = 0) -> bool:
    """Exactly the values ``json.loads(json.dumps(v))`` gives back equal and of the same types.

    Exact types only (a bool is not an int here, an ``IntEnum`` or ``OrderedDict``
    is not JSON); tuples and sets would come back as lists, int keys as strings,
    NaN and infinities are not JSON.
    """
    if value is None or type(value) is bool or type(value) is str:
        return True
    if type(value) is int:
        return value.bit_length() <= _JSON_INT_BITS
    if type(value) is float:
        return math.isfinite(value)
    if depth >= _JSON_DEPTH:
        return False
    if type(value) is list:
        return all(_jsonable(item, depth + 1) for item in value)
    if type(value) is dict:
        return all(type(key) is str and _jsonable(item, depth + 1) for key, item in value.items())
    return False


def _dump_json(value: object, path: Path) -> None:
    path.write_text(json.dumps(value, allow_nan=False), encoding="utf-8")


def _load_json(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))


def _dump_pickle(value: object, path: Path) -> None:
    with path.open("wb") as handle:
        pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)


def _load_pickle(path: Path) -> object:
    with path.open("rb") as handle:
        return pickle.load(handle)


# tried in order; pickle, the catch-all, stays last. Installed packages add theirs
# under the entry-point group ``mlprod_nb.serializers`` (a ``Serializer`` each).
SERIALIZERS: Registry[Serializer] = Registry(
    "serializer", group="mlprod_nb.serializers", fallback="pickle"
)
for _builtin in (
    Serializer("parquet", ".parquet", frames.frame_exact, frames.dump_frame, frames.load_frame),
    Serializer(
        "parquet-series",
        ".series.parquet",
        frames.series_exact,
        frames.dump_series,
        frames.load_series,
    ),
    Serializer("npy", ".npy", _is_plain_array, _dump_array, _load_array),
    Serializer("json", ".json", _jsonable, _dump_json, _load_json),
    Serializer("pickle", ".pkl", lambda value: True, _dump_pickle, _load_pickle),
):
    SERIALIZERS.register(_builtin.name, _builtin)


def register(serializer: Serializer, *, first: bool = True) -> None:
    """Add a serializer (tried before the built-in ones unless ``first=False``: then before pickle).

    Its ``accepts`` must only hold for values its ``load`` gives back exactly; one
    registered under a name already taken replaces it.
    """
    SERIALIZERS.register(serializer.name, serializer, first=first)


def serializer_for(path: Path) -> Serializer:
    """The serializer that wrote ``path``, told by its suffix (the longest that matches)."""
    for serializer in sorted(SERIALIZERS, key=lambda s: -len(s.suffix)):
        if path.name.endswith(serializer.suffix):
            return serializer
    raise SerializationError(f"no serializer reads {path.name}", path=path)
