"""``jsondata.dumps`` writes the text ``json.dumps(jsonable(value))`` writes, for every
kind of value the records hold."""

from __future__ import annotations

import enum
import json
from pathlib import PurePosixPath
from typing import Any

import pytest

from mlprod_nb.jsondata import dumps, jsonable
from mlprod_nb.lineage.model import (
    Check,
    Dependency,
    Execution,
    FileAccess,
    Metric,
    StaleCell,
    StaleReason,
)


class Mode(enum.Enum):
    READ = "read"


def _execution(**fields: Any) -> Execution:
    base: dict[str, Any] = {
        "id": "s1:1",
        "session": "s1",
        "seq": 1,
        "notebook": "/work/a.ipynb",
        "cell_id": "load",
        "execution_count": 1,
        "started": 1.5,
        "duration_ms": 2.25,
        "status": "ok",
        "error_name": None,
        "error_message": None,
        "source_hash": "h",
    }
    return Execution(**(base | fields))


CASES: dict[str, Any] = {
    "plain": {"a": [1, 2.5, "x", None, True]},
    "records": _execution(
        defines=("df",),
        deps=(Dependency("df", "s0:1"),),
        files=(FileAccess("/d.csv", "read", "f" * 64, 3, "open", 7),),
        params={"alpha": 0.5, "layers": [2, 3]},
        metrics=(Metric("auc", 0.75, None, "plan=pro"),),
        checks=(Check("rows > 0", True),),
        types={"df": "pandas.DataFrame"},
    ),
    "non-finite float in a record": Metric("loss", float("nan"), 3),
    "infinity in a list": [1.0, float("inf"), float("-inf")],
    "stale cells": [StaleCell("fit", "s1:2", 2, (StaleReason("name", "df re-bound", name="df"),))],
    "set, path and enum": {"s": {3, 1, 2}, "p": PurePosixPath("/a/b"), "e": Mode.READ},
    "text that needs escaping": {"t": 'quote " newline \n tab \t é \u2028'},
}


@pytest.mark.parametrize("value", CASES.values(), ids=CASES)
@pytest.mark.parametrize("indent", [None, 2])
def test_dumps_writes_what_the_converter_and_json_write(value: Any, indent: int | None) -> None:
    assert dumps(value, indent) == json.dumps(jsonable(value), indent=indent)


def test_what_json_cannot_hold_is_refused_as_json_refuses_it() -> None:
    with pytest.raises(TypeError):
        dumps({"x": object()})
