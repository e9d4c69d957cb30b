"""Artifacts: values passed between steps, saved and loaded inside step kernels.

Imported by the generated load/save cells, so it stays light: pandas, numpy and
pyarrow are only touched when a value of theirs is saved or loaded. Which file
a value becomes is the serializer registry's choice (``serializers.py``: each
one stores exactly, or refuses); what can never become a file is the
unsendable registry's (``unsendable.py``), which export reads too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from ..errors import CheckFailedError, SerializationError
from ..hashing import sha256_file
from .serializers import SERIALIZERS, Serializer, register, serializer_for
from .unsendable import (
    culprit,
    register_unsendable,
    type_name,
    unsendable_type,
    unsendable_value,
)

__all__ = [
    "INDEX",
    "SERIALIZERS",
    "Serializer",
    "check",
    "load",
    "register",
    "register_unsendable",
    "save",
    "serializer_for",
    "unsendable_type",
    "unsendable_value",
]

INDEX = "_outputs.json"
_RECREATE = "re-create it in the step that uses it (or in a setup cell)"


def save(directory: str, values: Mapping[str, object], *, step: str) -> list[dict[str, str]]:
    """Save ``values`` into ``directory``; writes an index of names, files and hashes."""
    if not directory:
        return []  # run outside the runner (plain papermill): nothing to hand on
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    saved = [_save_one(folder, name, value, step) for name, value in values.items()]
    temp = folder / f".{INDEX}.{os.getpid()}"
    temp.write_text(json.dumps(saved))
    os.replace(temp, folder / INDEX)
    return saved


def _accepts(serializer: Serializer, value: object) -> bool:
    try:
        return serializer.accepts(value)
    except Exception:  # a registered check that breaks on an odd value: let the next one try
        return False


def _save_one(folder: Path, name: str, value: object, step: str) -> dict[str, str]:
    why = unsendable_value(value)
    if why:
        raise SerializationError(
            f"value {name!r} is {why} ({type_name(type(value))}) and cannot be passed "
            "to the next step",
            step=step,
            hint=_RECREATE,
        )
    last: Exception | None = None
    for serializer in SERIALIZERS:
        if not _accepts(serializer, value):
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
        digest = sha256_file(str(path))  # the one hasher: its cache serves later checks
        if digest is None:  # removed between the rename and the read
            raise FileNotFoundError(path)
        return {
            "name": name,
            "path": str(path),
            "sha256": digest,
            "serializer": serializer.name,
        }
    raise _unsaveable(name, value, last, step)


def _unsaveable(name: str, value: object, error: Exception | None, step: str) -> SerializationError:
    """The error for a value even pickle failed on, naming the part of it that failed."""
    found = culprit(value)
    if found is None:
        what = f"{error}"
    else:
        where, part = found
        why = unsendable_value(part) or "something pickle cannot store"
        what = f"{name}{where} is {why} ({type_name(type(part))}; {error})"
    return SerializationError(
        f"value {name!r} ({type_name(type(value))}) cannot be saved: {what}",
        step=step,
        hint=f"{_RECREATE}, or register a serializer in mlprod_nb.pipeline.artifacts",
    )


def load(inputs: Mapping[str, str], name: str, *, step: str) -> object:
    """Load the input ``name`` from the file the runner gave for it."""
    if name not in inputs:
        raise SerializationError(
            f"no artifact was given for input {name!r}",
            step=step,
            hint="run step notebooks with `mlprod-nb run`, which passes their inputs",
        )
    path = Path(inputs[name])
    serializer = serializer_for(path)
    try:
        return serializer.load(path)
    except FileNotFoundError:
        raise SerializationError(
            f"the artifact for {name!r} is missing",
            path=path,
            step=step,
            hint="run the upstream steps again (mlprod-nb run --no-cache)",
        ) from None
    except (AttributeError, ImportError) as error:
        if serializer.name != "pickle":
            raise
        # a pickle names classes and functions; this kernel must have them
        raise SerializationError(
            f"the value {name!r} refers to a class or function this step does not have: {error}",
            path=path,
            step=step,
            hint="define or import it in a setup cell, or re-create the value in this step",
        ) from None


def check(value: object, message: str) -> None:
    """A ``check`` cell's verdict: a value that is not None and falsy fails the run."""
    if value is not None and not value:
        raise CheckFailedError(message, hint="fix the data or model, or relax the check")
