"""Artifacts: values passed between steps, saved and loaded inside step kernels.

Imported by the generated load/save cells, so it stays light: pandas, numpy and
pyarrow are only touched when a value of theirs is saved or loaded. The
serializer registry is tried in order; the first that accepts a value wins.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import pickle
import sys
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CheckFailedError, SerializationError

INDEX = "_outputs.json"


@dataclass(frozen=True)
class Serializer:
    name: str
    suffix: str
    accepts: Callable[[object], bool]
    dump: Callable[[object, Path], None]
    load: Callable[[Path], object]


def _is(value: object, module: str, cls: str) -> bool:
    """``isinstance(value, module.cls)`` without importing ``module``."""
    mod = sys.modules.get(module)
    return mod is not None and isinstance(value, getattr(mod, cls))


def _dump_frame(value: Any, path: Path) -> None:
    value.to_parquet(path)


def _load_frame(path: Path) -> object:
    import pandas as pd

    return pd.read_parquet(path)


_SERIES = "__series__"


def _dump_series(value: Any, path: Path) -> None:
    value.to_frame(_SERIES if value.name is None else value.name).to_parquet(path)


def _load_series(path: Path) -> object:
    import pandas as pd

    series = pd.read_parquet(path).iloc[:, 0]
    return series.rename(None) if series.name == _SERIES else series


def _is_array(value: object) -> bool:
    return _is(value, "numpy", "ndarray") and getattr(value, "dtype", None).kind != "O"  # type: ignore[union-attr]


def _dump_array(value: Any, path: Path) -> None:
    import numpy as np

    np.save(path, value, allow_pickle=False)


def _load_array(path: Path) -> object:
    import numpy as np

    return np.load(path, allow_pickle=False)


def _jsonable(value: object, depth: int = 0) -> bool:
    if depth > 50:
        return False
    if value is None or type(value) in (bool, int, str):
        return True
    if type(value) is float:
        return math.isfinite(value)
    if type(value) is list:
        return all(_jsonable(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _jsonable(v, depth + 1) for k, v in value.items())
    return False


def _dump_json(value: object, path: Path) -> None:
    path.write_text(json.dumps(value))


def _load_json(path: Path) -> object:
    return json.loads(path.read_text())


def _dump_pickle(value: object, path: Path) -> None:
    with path.open("wb") as handle:
        pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)


def _load_pickle(path: Path) -> object:
    with path.open("rb") as handle:
        return pickle.load(handle)


SERIALIZERS: list[Serializer] = [
    Serializer(
        "parquet",
        ".parquet",
        lambda v: _is(v, "pandas", "DataFrame"),
        _dump_frame,
        _load_frame,
    ),
    Serializer(
        "parquet-series",
        ".series.parquet",
        lambda v: _is(v, "pandas", "Series"),
        _dump_series,
        _load_series,
    ),
    Serializer("npy", ".npy", _is_array, _dump_array, _load_array),
    Serializer("json", ".json", _jsonable, _dump_json, _load_json),
    Serializer("pickle", ".pkl", lambda v: True, _dump_pickle, _load_pickle),
]


def register(serializer: Serializer, *, first: bool = True) -> None:
    """Add a serializer (tried before the built-in ones unless ``first=False``)."""
    if first:
        SERIALIZERS.insert(0, serializer)
    else:
        SERIALIZERS.insert(len(SERIALIZERS) - 1, serializer)


def _refusal(value: object) -> str | None:
    """Why a value can never cross a step boundary, or None."""
    if isinstance(value, types.ModuleType):
        return "a module"
    if isinstance(value, io.IOBase):
        return "an open file"
    if isinstance(value, types.GeneratorType | types.AsyncGeneratorType | types.CoroutineType):
        return "a generator"
    if isinstance(value, types.LambdaType) and value.__name__ == "<lambda>":
        return "a lambda"
    name = type(value).__name__
    if "Connection" in name or "Cursor" in name:
        return "a connection"
    return None


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def save(directory: str, values: Mapping[str, object], *, step: str) -> list[dict[str, str]]:
    """Save ``values`` into ``directory``; writes an index of names, files and hashes."""
    if not directory:
        return []  # run outside the runner (plain papermill): nothing to hand on
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    saved: list[dict[str, str]] = []
    last: Exception | None = None
    for name, value in values.items():
        why = _refusal(value)
        if why:
            raise SerializationError(
                f"value {name!r} is {why} ({type(value).__name__}) and cannot be passed "
                "to the next step",
                step=step,
                hint="re-create it in the step that uses it, or in a setup cell",
            )
        for serializer in SERIALIZERS:
            if not serializer.accepts(value):
                continue
            path = folder / f"{name}{serializer.suffix}"
            # written aside and renamed: a step killed while saving never leaves a torn file
            temp = folder / f".{name}.{os.getpid()}.tmp{serializer.suffix}"
            try:
                serializer.dump(value, temp)
            except Exception as error:  # a serializer's own failure: try the next one
                temp.unlink(missing_ok=True)
                last = error
                continue
            os.replace(temp, path)
            saved.append(
                {
                    "name": name,
                    "path": str(path),
                    "sha256": file_sha256(path),
                    "serializer": serializer.name,
                }
            )
            break
        else:
            raise SerializationError(
                f"value {name!r} ({type(value).__name__}) cannot be saved: {last}",
                step=step,
                hint="return plain data (frames, arrays, builtins) from the step, "
                "or register a serializer in mlprod_nb.pipeline.artifacts",
            )
    temp = folder / f".{INDEX}.{os.getpid()}"
    temp.write_text(json.dumps(saved))
    os.replace(temp, folder / INDEX)
    return saved


def serializer_for(path: Path) -> Serializer:
    for serializer in sorted(SERIALIZERS, key=lambda s: -len(s.suffix)):
        if path.name.endswith(serializer.suffix):
            return serializer
    raise SerializationError(f"no serializer reads {path.name}", path=path)


def load(inputs: Mapping[str, str], name: str, *, step: str) -> object:
    """Load the input ``name`` from the file the runner gave for it."""
    if name not in inputs:
        raise SerializationError(
            f"no artifact was given for input {name!r}",
            step=step,
            hint="run step notebooks with `mlprod-nb run`, which passes their inputs",
        )
    path = Path(inputs[name])
    try:
        return serializer_for(path).load(path)
    except FileNotFoundError:
        raise SerializationError(
            f"the artifact for {name!r} is missing",
            path=path,
            step=step,
            hint="run the upstream steps again (mlprod-nb run --no-cache)",
        ) from None


def check(value: object, message: str) -> None:
    """A ``check`` cell's verdict: a value that is not None and falsy fails the run."""
    if value is not None and not value:
        raise CheckFailedError(message, hint="fix the data or model, or relax the check")
