"""Run comparison: rows, ``differs`` flags and step code diffs (pure, table-driven)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from mlprod_nb.lineage.diff import RunFacts, compare

SOURCES = {
    "h1": "df = load()\nmodel = fit(df, alpha)\n",
    "h2": "df = load()\nmodel = fit(df, alpha * 2)\n",
    "h3": "print('x')\n",
}


@dataclass(frozen=True)
class RowCase:
    id: str
    kind: str  # "params" | "metrics" | "datasets"
    values: list[dict[str, Any]]
    expected: list[tuple[str, list[Any], bool]] = field(default_factory=list)


ROW_CASES = [
    RowCase("same", "params", [{"a": 1}, {"a": 1}], [("a", [1, 1], False)]),
    RowCase("changed", "params", [{"a": 1}, {"a": 2}], [("a", [1, 2], True)]),
    RowCase("int-vs-float-equal", "params", [{"a": 1}, {"a": 1.0}], [("a", [1, 1.0], False)]),
    RowCase("bool-is-not-int", "params", [{"a": True}, {"a": 1}], [("a", [True, 1], True)]),
    RowCase("missing-in-one", "metrics", [{"auc": 0.9}, {}], [("auc", [0.9, None], True)]),
    RowCase("explicit-none-vs-missing", "params", [{"a": None}, {}], [("a", [None, None], True)]),
    RowCase(
        "dict-order-ignored",
        "params",
        [{"a": {"x": 1, "y": 2}}, {"a": {"y": 2, "x": 1}}],
        [("a", [{"x": 1, "y": 2}, {"y": 2, "x": 1}], False)],
    ),
    RowCase(
        "sorted-by-name",
        "metrics",
        [{"b": 1, "a": 2}, {"a": 2, "c": 3}],
        [("a", [2, 2], False), ("b", [1, None], True), ("c", [None, 3], True)],
    ),
    RowCase(
        "three-runs-one-differs",
        "datasets",
        [{"/d.csv": "s1"}, {"/d.csv": "s1"}, {"/d.csv": "s2"}],
        [("/d.csv", ["s1", "s1", "s2"], True)],
    ),
    RowCase("nothing", "metrics", [{}, {}], []),
]


@pytest.mark.parametrize("case", ROW_CASES, ids=lambda c: c.id)
def test_rows(case: RowCase) -> None:
    runs = [RunFacts(id=f"r{i}", **{case.kind: v}) for i, v in enumerate(case.values)]
    result = compare(runs, SOURCES.get)
    rows = getattr(result, case.kind)
    assert [(r.name, list(r.values), r.differs) for r in rows] == case.expected
    assert result.runs == tuple(f"r{i}" for i in range(len(case.values)))


@dataclass(frozen=True)
class StepCase:
    id: str
    steps: list[dict[str, str | None]]
    differs: dict[str, bool]
    diff_has: dict[str, list[str]] = field(default_factory=dict)


STEP_CASES = [
    StepCase("same-code", [{"train": "h1"}, {"train": "h1"}], {"train": False}),
    StepCase(
        "changed-code",
        [{"train": "h1"}, {"train": "h2"}],
        {"train": True},
        {
            "train": [
                "--- r0/train",
                "+++ r1/train",
                "-model = fit(df, alpha)",
                "+model = fit(df, alpha * 2)",
            ]
        },
    ),
    StepCase(
        "step-added",
        [{"load": "h3"}, {"load": "h3", "train": "h1"}],
        {"load": False, "train": True},
        {"train": ["+df = load()"]},
    ),
    StepCase(
        "source-not-recorded",
        [{"train": "h1"}, {"train": "unknown"}],
        {"train": True},
        {"train": ["source unknown was not recorded"]},
    ),
    StepCase(
        "three-runs-diff-against-first",
        [{"train": "h1"}, {"train": "h1"}, {"train": "h2"}],
        {"train": True},
        {"train": ["+++ r2/train"]},
    ),
]


@pytest.mark.parametrize("case", STEP_CASES, ids=lambda c: c.id)
def test_steps(case: StepCase) -> None:
    runs = [RunFacts(id=f"r{i}", steps=s) for i, s in enumerate(case.steps)]
    result = compare(runs, SOURCES.get)
    assert {s.name: s.differs for s in result.steps} == case.differs
    for step in result.steps:
        if not step.differs:
            assert step.diff == ""
        for fragment in case.diff_has.get(step.name, []):
            assert fragment in step.diff


def test_step_order_follows_runs_and_json_shape() -> None:
    runs = [
        RunFacts("a", params={"alpha": 1}, steps={"load": "h3", "train": "h1"}),
        RunFacts("b", params={"alpha": 2}, steps={"load": "h3", "train": "h2"}),
    ]
    data = compare(runs, SOURCES.get).to_json()
    assert [s["name"] for s in data["steps"]] == ["load", "train"]
    assert data["runs"] == ["a", "b"]
    assert data["params"] == [{"name": "alpha", "values": [1, 2], "differs": True}]
    assert data["steps"][1]["hashes"] == ["h1", "h2"]
    assert "+++ b/train" not in data["steps"][0]["diff"]
