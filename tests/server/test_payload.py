"""JSON answers: records to JSON-ready values, and memoised answers."""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlprod_nb.lineage.model import Dependency, Edge
from mlprod_nb.server.payload import Memo, encode, jsonable


class Color(enum.Enum):
    RED = "red"


@dataclass(frozen=True)
class WithToJson:
    x: int

    def to_json(self) -> dict[str, Any]:
        return {"custom": self.x}


CASES = [
    ("plain", {"a": 1, "b": "x", "c": None, "d": True}, {"a": 1, "b": "x", "c": None, "d": True}),
    ("nan-and-inf", [math.nan, math.inf, 1.5], [None, None, 1.5]),
    ("tuple", (1, (2, 3)), [1, [2, 3]]),
    ("set", frozenset({"b", "a"}), ["a", "b"]),
    ("path", Path("/x/y.csv"), "/x/y.csv"),
    ("enum", Color.RED, "red"),
    ("dataclass", Dependency("df", "s:1"), {"name": "df", "execution": "s:1"}),
    (
        "nested-dataclass",
        {"edges": (Edge("s:1", "s:2", "name", "df"),)},
        {"edges": [{"source": "s:1", "target": "s:2", "kind": "name", "label": "df"}]},
    ),
    ("to_json-wins", WithToJson(3), {"custom": 3}),
    ("int-keys", {1: "a"}, {"1": "a"}),
]


@pytest.mark.parametrize(("case", "value", "expected"), CASES, ids=[c[0] for c in CASES])
def test_jsonable(case: str, value: Any, expected: Any) -> None:
    assert jsonable(value) == expected
    assert json.loads(encode(value)) == expected


def test_memo_reuses_while_inputs_are_the_same() -> None:
    memo = Memo(size=2)
    calls: list[str] = []

    def compute(tag: str) -> str:
        calls.append(tag)
        return tag

    inputs = ({"a": 1},)
    assert memo.get("k", inputs, lambda: compute("one")) == "one"
    assert memo.get("k", ({"a": 1},), lambda: compute("two")) == "one"  # equal inputs
    assert memo.get("k", ({"a": 2},), lambda: compute("three")) == "three"  # changed
    memo.get("k2", (), lambda: compute("four"))
    memo.get("k3", (), lambda: compute("five"))  # evicts "k", the least recently used
    assert memo.get("k", ({"a": 2},), lambda: compute("six")) == "six"
    assert calls == ["one", "three", "four", "five", "six"]
