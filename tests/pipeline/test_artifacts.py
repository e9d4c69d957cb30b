"""Artifacts: the index of saved values, and values no serializer can store (refused by type)."""

from __future__ import annotations

import json
import pickle
import socket
import sqlite3
import sys
import threading
import types
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from mlprod_nb.errors import CheckFailedError, SerializationError
from mlprod_nb.hashing import sha256_file
from mlprod_nb.pipeline import artifacts, unsendable
from mlprod_nb.pipeline.unsendable import type_name

FRAME = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None], "c": [0.5, np.nan, 2.0]})


def test_save_writes_an_index_with_hashes(tmp_path: Path) -> None:
    values = {"frame": FRAME, "series": FRAME["c"], "array": np.eye(2), "n": 42, "pair": (1, 2)}
    saved = artifacts.save(str(tmp_path), values, step="s")
    assert [s["serializer"] for s in saved] == [
        "parquet",
        "parquet-series",
        "npy",
        "json",
        "pickle",
    ]
    index = json.loads((tmp_path / artifacts.INDEX).read_text())
    assert index == saved
    for entry in index:
        assert entry["sha256"] == sha256_file(entry["path"])
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@dataclass(frozen=True)
class Named:
    type_name: str
    reason: str | None  # a word of the reason, or None: sendable


NAMES = [
    Named("xgboost.core.DMatrix", "native handle"),
    Named("xgboost.core.QuantileDMatrix", "native handle"),
    Named("_thread.lock", "lock"),
    Named("_thread.RLock", "lock"),
    Named("threading.Event", "lock"),
    Named("builtins.generator", "generator"),
    Named("builtins.module", "module"),
    Named("_io.TextIOWrapper", "open file"),
    Named("_io.BufferedReader", "open file"),
    Named("socket.socket", "socket"),
    Named("sqlite3.Connection", "database connection"),
    Named("sqlite3.Cursor", "database connection"),
    Named("duckdb.DuckDBPyConnection", "DuckDB"),
    Named("_duckdb.DuckDBPyConnection", "DuckDB"),
    Named("psycopg2.extensions.connection", "database connection"),
    Named("pyspark.sql.session.SparkSession", "Spark"),
    Named("__main__.make.<locals>.Thing", "class defined inside a function"),
    Named("sqlite3.connect", "database connection"),  # factories, as code calls them
    Named("duckdb.connect", "DuckDB"),
    Named("xgboost.DMatrix", "native handle"),
    Named("builtins.open", "open file"),
    Named("pandas.core.frame.DataFrame", None),
    Named("sklearn.linear_model._base.LinearRegression", None),
    Named("xgboost.core.Booster", None),  # pickles: it has __getstate__
    Named("xgboost.core.DMatrixish", None),  # a prefix is matched on dots only
    Named("duckdbx.Thing", None),
    Named("_io.StringIO", None),  # pickles, with its position
    Named("builtins.function", None),  # a module-level function pickles by reference
    Named("builtins.dict", None),
]


@pytest.mark.parametrize("case", NAMES, ids=[c.type_name for c in NAMES])
def test_unsendable_type_from_its_name(case: Named) -> None:
    reason = artifacts.unsendable_type(case.type_name)
    if case.reason is None:
        assert reason is None
    else:
        assert reason is not None
        assert case.reason in reason


def _gen() -> Any:
    yield 1


@dataclass(frozen=True)
class Live:
    name: str
    make: Callable[[ExitStack], object]
    why: str


def _closing(stack: ExitStack, value: Any) -> Any:
    stack.callback(value.close)
    return value


LIVE = [
    Live("module", lambda stack: json, "a module"),
    Live("file", lambda stack: stack.enter_context(open(__file__)), "an open file"),  # noqa: SIM115
    Live("binary-file", lambda stack: stack.enter_context(open(__file__, "rb")), "an open file"),  # noqa: SIM115
    Live("generator", lambda stack: _gen(), "a generator"),
    Live("lock", lambda stack: threading.Lock(), "a lock"),
    Live("event", lambda stack: threading.Event(), "a lock"),
    Live("socket", lambda stack: _closing(stack, socket.socket()), "a socket"),
    Live("sqlite", lambda stack: _closing(stack, sqlite3.connect(":memory:")), "a database"),
    Live("duckdb", lambda stack: _closing(stack, duckdb.connect()), "a DuckDB connection"),
    Live(
        "duckdb-relation", lambda stack: _closing(stack, duckdb.connect()).sql("select 1"), "DuckDB"
    ),
]


@pytest.mark.parametrize("case", LIVE, ids=[c.name for c in LIVE])
def test_unsendable_values_fail_clearly(tmp_path: Path, case: Live) -> None:
    with ExitStack() as stack:
        value = case.make(stack)
        static = artifacts.unsendable_type(type_name(type(value)))
        with pytest.raises(SerializationError) as caught:
            artifacts.save(str(tmp_path), {case.name: value}, step="producer")
        with pytest.raises(Exception):  # noqa: B017 (the registry only names what pickle cannot store)
            pickle.dumps(value)
    assert static is not None
    assert case.why in static
    assert f"value '{case.name}' is {static} ({type_name(type(value))})" in str(caught.value)
    assert "re-create it in the step that uses it" in str(caught.value)
    assert caught.value.step == "producer"
    assert not (tmp_path / artifacts.INDEX).exists()


class DMatrix:
    """Stands for xgboost's, which is not installed here: same module and name."""


DMatrix.__module__ = "xgboost.core"


class ProjectMatrix(DMatrix):
    pass


def test_a_subclass_of_an_unsendable_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SerializationError, match=r"'m' is a native handle.*ProjectMatrix"):
        artifacts.save(str(tmp_path), {"m": ProjectMatrix()}, step="s")


def test_registered_unsendable_types_are_refused_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(unsendable, "UNSENDABLE", dict(unsendable.UNSENDABLE))
    artifacts.register_unsendable(f"{__name__}.Licence", "a licence server session")
    assert artifacts.unsendable_type(f"{__name__}.Licence") == "a licence server session"
    with pytest.raises(SerializationError, match="'lic' is a licence server session"):
        artifacts.save(str(tmp_path), {"lic": Licence()}, step="s")


class Licence:
    pass


def test_lambdas_and_local_things_are_refused(tmp_path: Path) -> None:
    class Local:
        pass

    def inner() -> int:
        return 1

    for value, why in [
        (lambda v: v, "a lambda"),
        (inner, "a function defined inside"),
        (Local(), "a class defined inside"),
    ]:
        with pytest.raises(SerializationError, match=why):
            artifacts.save(str(tmp_path), {"f": value}, step="s")


class Holder:
    def __init__(self, source: object) -> None:
        self.source = source


@pytest.mark.parametrize(
    ("value", "part"),
    [
        (types.SimpleNamespace(fn=lambda: 1), "thing.fn is a lambda (builtins.function"),
        ({"a": [1, threading.Lock()]}, "thing['a'][1] is a lock or thread (_thread.lock"),
        ([Holder(_gen())], "thing[0].source is a generator (builtins.generator"),
    ],
    ids=["attribute", "nested", "object-in-list"],
)
def test_unpicklable_value_names_the_part_that_failed(
    tmp_path: Path, value: object, part: str
) -> None:
    with pytest.raises(SerializationError) as caught:
        artifacts.save(str(tmp_path), {"thing": value}, step="s")
    message = str(caught.value)
    assert f"value 'thing' ({type_name(type(value))}) cannot be saved" in message
    assert part in message
    assert "re-create it in the step that uses it" in message


def test_loading_a_value_whose_class_this_step_lacks(tmp_path: Path) -> None:
    module = types.ModuleType("mlprod_gone")
    exec("class Model:\n    pass", module.__dict__)
    sys.modules["mlprod_gone"] = module
    try:
        saved = artifacts.save(str(tmp_path), {"model": module.Model()}, step="fit")
    finally:
        del sys.modules["mlprod_gone"]
    with pytest.raises(SerializationError, match="'model' refers to a class or function") as caught:
        artifacts.load({"model": saved[0]["path"]}, "model", step="report")
    assert caught.value.step == "report"
    assert "setup cell" in str(caught.value)


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
