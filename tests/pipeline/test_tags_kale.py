"""Kale's tags read as ours: a notebook tagged for Kale exports unchanged and runs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import papermill
import pytest

from mlprod_nb.errors import PipelineError
from mlprod_nb.pipeline.export import export
from mlprod_nb.pipeline.runner import RunOptions, run
from mlprod_nb.pipeline.tags import parse

from .conftest import Cell, md, project, write_notebook


@dataclass(frozen=True)
class Grouping:
    name: str
    cells: list[Cell]
    steps: dict[str, list[str]]  # step -> its cell ids, in pipeline order
    setup: list[str] = field(default_factory=list)
    parameters: list[str] = field(default_factory=list)
    after: dict[str, list[str]] = field(default_factory=dict)
    kale_metadata: bool = False


GROUPINGS = [
    Grouping(
        "kale-roles",
        [
            ("import json", ["imports"]),
            ("def double(v):\n    return 2 * v", ["functions"]),
            ("rate = 0.5", ["pipeline-parameters"]),
            ("data = [1, 2]", ["block:load"]),
            "data.append(3)",
            ("print(data)", ["skip"]),
            ("total = double(sum(data))", ["block:train", "prev:load"]),
        ],
        {"load": ["c3", "c4"], "train": ["c6"]},
        setup=["c0", "c1"],
        parameters=["c2"],
        after={"train": ["load"]},
    ),
    Grouping(
        # in Kale an untagged cell takes the role of the cell above it
        "untagged-cells-carry-the-role-above",
        [
            ("import json", ["imports"]),
            "import math",
            ("rate = 0.5", ["pipeline-parameters"]),
            "size = 3",
            ("x = rate * size", ["block:a"]),
        ],
        {"a": ["c4"]},
        setup=["c0", "c1"],
        parameters=["c2", "c3"],
    ),
    Grouping(
        # skip passes no role on: the cell after it is an import cell again
        "skip-passes-nothing-on",
        [("import json", ["imports"]), ("print(1)", ["skip"]), "import os", ("x = 1", ["block:a"])],
        {"a": ["c3"]},
        setup=["c0", "c2"],
    ),
    Grouping(
        "our-setup-still-does-not-carry",
        [("import json", ["setup"]), ("x = 1", ["block:a"]), ("import os", ["imports"])],
        {"a": ["c1"]},
        setup=["c0", "c2"],
    ),
    Grouping(
        "names-normalised-with-slug",
        [("x = 1", ["block:LoadData"]), ("y = x", ["block:_Train", "prev:LoadData"])],
        {"loaddata": ["c0"], "train": ["c1"]},
        after={"train": ["loaddata"]},
    ),
    Grouping(
        "empty-block-tag-is-no-tag",
        [("x = 1", ["block:a"]), ("y = x", ["block:"]), ("z = y", ["block:b"])],
        {"a": ["c0", "c1"], "b": ["c2"]},
    ),
    Grouping(
        "adjacent-repeat-merged",
        [("x = 1", ["block:a"]), ("y = x", ["block:a"]), ("z = y", ["block:b"])],
        {"a": ["c0", "c1"], "b": ["c2"]},
    ),
    Grouping(
        # c2 only reads x, and b neither reads nor binds anything c2 binds: they commute
        "non-adjacent-repeat-merged-when-order-does-not-matter",
        [
            ("x = 1", ["block:a"]),
            ("y = x + 1", ["block:b"]),
            ("z = x * 10", ["block:a"]),
            "w = z",
        ],
        {"a": ["c0", "c2", "c3"], "b": ["c1"]},
    ),
    Grouping(
        "kale-metadata-makes-step-tags-kale",
        [("x = 1", ["step:a"]), ("y = x", ["step:a"])],
        {"a": ["c0", "c1"]},
        kale_metadata=True,
    ),
    Grouping(
        "pod-settings-ignored",
        [("x = 1", ["block:a", "limit:nvidia.com/gpu:1", "annotation:team:ml", "label:k:v"])],
        {"a": ["c0"]},
    ),
    Grouping(
        "metrics-become-a-last-step",
        [
            ("acc = 0.9", ["block:train"]),
            ("print(acc)", ["pipeline-metrics"]),
            "loss",
        ],
        {"train": ["c0"], "metrics": ["c1", "c2", "mlprod-metrics"]},
    ),
    Grouping(
        "metrics-step-name-taken",
        [("acc = 0.9", ["block:metrics"]), ("print(acc)", ["pipeline-metrics"])],
        {"metrics": ["c0"], "metrics-2": ["c1", "mlprod-metrics"]},
    ),
    Grouping(
        # Kale drops them; Run All runs them, so they form a first step as usual
        "cells-before-the-first-block-kept",
        [md("# Titanic"), "seed = 1", ("x = seed", ["block:a"])],
        {"titanic": ["c1"], "a": ["c2"]},
    ),
    Grouping(
        "our-tags-work-alongside",
        [("x = 1", ["block:a"]), ("assert x", ["check"]), ("y = 2", ["block:b", "after:a"])],
        {"a": ["c0", "c1"], "b": ["c2"]},
        after={"b": ["a"]},
    ),
]


def _write(path: Path, case_cells: list[Cell], kale_metadata: bool) -> Path:
    nb = write_notebook(path, case_cells)
    if kale_metadata:
        data = nbformat.read(nb, as_version=4)
        data.metadata["kubeflow_notebook"] = {"experiment_name": "demo"}
        nbformat.write(data, nb)
    return nb


@pytest.mark.parametrize("case", GROUPINGS, ids=lambda c: c.name)
def test_kale_tags_group_cells_as_kale_does(tmp_path: Path, case: Grouping) -> None:
    tagged = parse(_write(tmp_path / "nb.ipynb", case.cells, case.kale_metadata))
    assert {s.name: [c.id for c in s.cells] for s in tagged.steps} == case.steps
    assert [c.id for c in tagged.setup] == case.setup
    assert [c.id for c in tagged.parameters] == case.parameters
    after = {s.name: [t for t, _ in s.after] for s in tagged.steps if s.after}
    assert after == case.after


def test_metrics_cell_logs_each_listed_variable(tmp_path: Path) -> None:
    cells: list[Cell] = [
        ("acc = 0.9\nmean_loss = 0.1", ["block:train"]),
        ("print(acc)\n# the loss too\nprint(mean_loss)", ["pipeline-metrics"]),
    ]
    step = parse(write_notebook(tmp_path / "nb.ipynb", cells)).steps[-1]
    log = step.cells[-1].source.splitlines()[1:]
    assert log == [
        "__import__('mlprod_nb').log_metric('acc', acc)",
        "__import__('mlprod_nb').log_metric('mean_loss', mean_loss)",
    ]


@dataclass(frozen=True)
class Refusal:
    name: str
    cells: list[Cell]
    fragments: tuple[str, ...]
    cell_id: str | None = None


REFUSALS = [
    Refusal(
        "two-names-one-slug",
        [("x = 1", ["block:Load"]), ("y = 2", ["block:load"])],
        ("'Load' (cell c0) and 'load' both become step 'load'",),
        "c1",
    ),
    Refusal(
        "name-without-letters",
        [("x = 1", ["block:___"])],
        ("block name '___' has no letter or digit",),
        "c0",
    ),
    Refusal(
        "prev-unknown",
        [("x = 1", ["block:a"]), ("y = x", ["block:b", "prev:nope"])],
        ("prev:nope names no block above", "blocks above: a"),
        "c1",
    ),
    Refusal(
        "prev-names-a-block-below",
        [("x = 1", ["block:a", "prev:b"]), ("y = 2", ["block:b"])],
        ("prev:b names no block above",),
        "c0",
    ),
    Refusal(
        # merged as Kale does, c2 would change x before b reads it
        "non-adjacent-repeat-that-changes-the-result",
        [("x = 1", ["block:a"]), ("y = x + 1", ["block:b"]), ("x = 5", ["block:a"])],
        ("block 'a' has cells on both sides of block 'b'", "cell c2 would run before cell c1"),
        "c2",
    ),
    Refusal(
        "non-adjacent-repeat-needing-a-later-value",
        [("x = 1", ["block:a"]), ("y = x + 1", ["block:b"]), ("z = y * 2", ["block:a"])],
        ("both touch 'y'", "block:a_2"),
        "c2",
    ),
    Refusal(
        "non-adjacent-repeat-through-a-function",
        [
            ("def bump():\n    global n\n    n += 1", ["functions"]),
            ("n = 0", ["block:a"]),
            ("seen = n", ["block:b"]),
            ("bump()", ["block:a"]),
        ],
        ("both touch 'n'",),
        "c3",
    ),
    Refusal(
        "non-adjacent-repeat-sharing-a-file",
        [
            ("open('out.txt', 'w').write('1')", ["block:a"]),
            ("text = open('out.txt').read()", ["block:b"]),
            ("open('out.txt', 'w').write('2')", ["block:a"]),
        ],
        ("the file 'out.txt'",),
        "c2",
    ),
    Refusal(
        "block-after-metrics",
        [("acc = 1.0", ["block:a"]), ("print(acc)", ["pipeline-metrics"]), ("y = 1", ["block:b"])],
        ("block 'b' comes after the pipeline-metrics cell c1", "end of the notebook"),
        "c2",
    ),
    Refusal(
        "metrics-cell-with-code",
        [("acc = 1.0", ["block:a"]), ("print(acc)\nacc2 = acc * 2", ["pipeline-metrics"])],
        ("line 2 is not print(<variable>)", "one print(<variable>) per line"),
        "c1",
    ),
    Refusal(
        "two-roles",
        [("import os", ["imports", "block:a"])],
        ("cannot carry both setup and step:",),
        "c0",
    ),
    Refusal(
        "kale-tag-typo",
        [("import os", ["import"]), ("x = 1", ["block:a"])],
        ("unknown tag 'import'", "did you mean imports"),
        "c0",
    ),
    Refusal(
        # without Kale's tags or metadata, step: keeps our meaning: one step per name
        "our-duplicate-step-names-still-refused",
        [("x = 1", ["step:a"]), ("y = 2", ["step:a"])],
        ("duplicate step name 'a'",),
        "c1",
    ),
]


@pytest.mark.parametrize("case", REFUSALS, ids=lambda c: c.name)
def test_kale_notebooks_that_cannot_be_faithful_are_refused(tmp_path: Path, case: Refusal) -> None:
    with pytest.raises(PipelineError) as caught:
        parse(write_notebook(tmp_path / "nb.ipynb", case.cells))
    rendered = caught.value.render()
    for fragment in case.fragments:
        assert fragment in rendered
    assert caught.value.cell_id == case.cell_id


def test_kale_tags_are_not_unknown_tags(tmp_path: Path) -> None:
    """Every tag of Kale's language passes the unknown-tag check."""
    tags = [
        "imports",
        "functions",
        "pipeline-parameters",
        "skip",
        "block:a",
        "step:b",
        "prev:a",
        "annotation:x:y",
        "label:x:y",
        "limit:cpu:1",
        "pipeline-metrics",
    ]
    cells: list[Cell] = [("x = 1", [tag]) for tag in tags[:4]]
    cells += [("y = 1", ["block:a"]), ("z = 1", ["step:b", "prev:a"]), ("w = 1", tags[7:10])]
    cells += [("print(w)", ["pipeline-metrics"])]
    assert [s.name for s in parse(write_notebook(tmp_path / "nb.ipynb", cells)).steps] == [
        "a",
        "b",
        "metrics",
    ]


# -- a real run ----------------------------------------------------------------------

KALE_NOTEBOOK: list[Cell] = [
    md("# Iris, tagged for Kale"),
    ("!echo installing", ["skip"]),
    ("import json\nimport statistics", ["imports"]),
    "import math",
    ("def scale(values, by):\n    return [v * by for v in values]", ["functions"]),
    ("factor = 3\nlabel = 'iris'", ["pipeline-parameters"]),
    ("raw = [4.0, 1.0, 3.0, 2.0]", ["block:LoadData"]),
    "raw.append(5.0)",
    ("print(raw)", ["skip"]),
    ("scaled = scale(raw, factor)", ["block:features", "prev:LoadData"]),
    ("mean = statistics.mean(scaled)\nspread = max(scaled) - min(scaled)", ["block:train"]),
    ("count = len(raw)", ["block:LoadData"]),  # Kale merges it into loaddata: it commutes
    (
        "with open('result.json', 'w') as fh:\n"
        "    json.dump({'mean': mean, 'spread': spread, 'count': count, 'label': label,"
        " 'root': math.sqrt(mean)}, fh)",
        ["block:report", "prev:train"],
    ),
    ("print(mean)\nprint(spread)", ["pipeline-metrics"]),
]


@pytest.mark.slow
def test_kale_notebook_runs_like_run_all(tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    nb = write_notebook(base / "iris.ipynb", KALE_NOTEBOOK)
    papermill.execute_notebook(
        str(nb), str(tmp_path / "out.ipynb"), cwd=str(base), progress_bar=False
    )
    expected = json.loads((base / "result.json").read_text())
    (base / "result.json").unlink()
    result = export(nb, use_tracer=False)
    assert result.folder is not None
    names = [s.name for s in result.manifest.steps]
    assert names == ["loaddata", "features", "train", "report", "metrics"]
    assert [p.name for p in result.manifest.parameters] == ["factor", "label"]
    outcome = run(result.folder, RunOptions(jobs=1))
    assert outcome.status == "ok", outcome.error
    assert json.loads((base / "result.json").read_text()) == expected
    assert expected["count"] == 5
    summary = json.loads((outcome.folder / "summary.json").read_text())
    assert summary["metrics"] == {"mean": expected["mean"], "spread": expected["spread"]}
