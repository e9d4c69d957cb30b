"""Executions built from store rows without the frozen ``__init__`` behave as built usually."""

from __future__ import annotations

import dataclasses

import pytest

from mlprod_nb.lineage.model import Dependency, Execution, FileAccess, execution_of


def _usual() -> Execution:
    return Execution(
        id="s:2",
        session="s",
        seq=2,
        notebook="/nb/a.ipynb",
        cell_id="c2",
        execution_count=2,
        started=12.0,
        duration_ms=1.5,
        status="ok",
        error_name=None,
        error_message=None,
        source_hash="h",
        defines=("y",),
        uses=("x",),
        deps=(Dependency("x", "s:1"),),
        files=(FileAccess("/d.csv", "read", "a" * 64, 3, "open"),),
        params={"alpha": 0.5},
        source="y = x + 1",
        types={"y": "builtins.int"},
    )


def test_an_execution_built_from_its_fields_equals_one_built_usually_and_stays_frozen() -> None:
    usual = _usual()
    built = execution_of({f.name: getattr(usual, f.name) for f in dataclasses.fields(usual)})
    assert built == usual
    assert built.cell_key == "c2"
    assert built.reads() == usual.reads()
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.status = "error"  # type: ignore[misc]


def test_an_execution_with_a_field_missing_is_refused() -> None:
    usual = _usual()
    values = {f.name: getattr(usual, f.name) for f in dataclasses.fields(usual)}
    del values["source"]
    with pytest.raises(TypeError, match="source"):
        execution_of(values)
