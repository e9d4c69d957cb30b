"""``export --split headings``: an untagged notebook split at its markdown headings."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import papermill
import pytest

from mlprod_nb.cli import main
from mlprod_nb.errors import PipelineError
from mlprod_nb.pipeline.export import export
from mlprod_nb.pipeline.headings import headings
from mlprod_nb.pipeline.runner import RunOptions, run
from mlprod_nb.pipeline.tags import parse

from .conftest import Cell, md, project, write_notebook


@dataclass(frozen=True)
class Split:
    name: str
    cells: list[Cell]
    steps: dict[str, list[str]]  # step -> its cell ids
    setup: list[str] = field(default_factory=list)
    parameters: list[str] = field(default_factory=list)


SPLITS = [
    Split(
        # soorgeon's rule: H2 sections, the H1 title and the code under it join the first
        "h2-sections-under-one-title",
        [md("# Churn"), "seed = 1", md("## Load data"), "x = seed", md("## Train"), "y = x"],
        {"load-data": ["c1", "c3"], "train": ["c5"]},
    ),
    Split(
        "h1-sections-when-h1-repeats",
        [md("# Load"), "x = 1", md("# Train\n## details"), "y = x", md("## more"), "z = y"],
        {"load": ["c1"], "train": ["c3", "c5"]},
    ),
    Split(
        # H1 and H2 each occur once; H3 is the top level used more than once
        "deeper-level-when-upper-ones-are-single",
        [md("# Title\n## Intro"), "a = 1", md("### One"), "b = a", md("### Two"), "c = b"],
        {"one": ["c1", "c3"], "two": ["c5"]},
    ),
    Split(
        "repeated-headings-made-unique",
        [md("## Load"), "x = 1", md("## Load"), "y = x", md("## load!"), "z = y"],
        {"load": ["c1"], "load-2": ["c3"], "load-3": ["c5"]},
    ),
    Split(
        "fenced-code-in-markdown-is-not-a-heading",
        [md("## Load"), "x = 1", md("Run:\n```bash\n## not a heading\n```"), "y = x"],
        {"load": ["c1", "c3"]},
    ),
    Split(
        "links-and-html-keep-their-words",
        [md("## [Load](http://x.org/a.b) <a id='x'></a>"), "x = 1", md("## **Fit** it"), "y = x"],
        {"load": ["c1"], "fit-it": ["c3"]},
    ),
    Split(
        "a-heading-without-code-below-starts-nothing",
        [md("## Load"), "x = 1", md("## Notes"), md("## Train"), "y = x"],
        {"load": ["c1"], "train": ["c4"]},
    ),
    Split(
        "tags-keep-their-meaning",
        [
            ("import json", ["setup"]),
            ("n = 3", ["parameters"]),
            md("## Load"),
            "x = n",
            ("print(x)", ["skip"]),
            md("## Train"),
            ("import os", ["setup"]),
            "y = x",
        ],
        {"load": ["c3"], "train": ["c7"]},
        setup=["c0", "c6"],
        parameters=["c1"],
    ),
    Split(
        "a-step-tag-wins-over-its-heading",
        [md("## Load"), "x = 1", md("## Train"), ("y = x", ["step:fit"]), md("## Fit"), "z = y"],
        {"load": ["c1"], "fit": ["c3"], "fit-2": ["c5"]},
    ),
]


@pytest.mark.parametrize("case", SPLITS, ids=lambda c: c.name)
def test_headings_start_steps(tmp_path: Path, case: Split) -> None:
    tagged = parse(write_notebook(tmp_path / "nb.ipynb", case.cells), split="headings")
    assert {s.name: [c.id for c in s.cells] for s in tagged.steps} == case.steps
    assert [c.id for c in tagged.setup] == case.setup
    assert [c.id for c in tagged.parameters] == case.parameters


def test_tags_split_ignores_headings(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "nb.ipynb", [md("# Churn"), "x = 1", md("## Train"), "y = x"])
    assert [s.name for s in parse(nb).steps] == ["churn"]


@pytest.mark.parametrize(
    ("split", "cells", "fragment"),
    [
        ("headings", [md("no heading here"), "x = 1"], "found no markdown heading"),
        ("sections", [md("## Load"), "x = 1"], "unknown split 'sections'"),
    ],
    ids=["no-heading", "unknown-split"],
)
def test_split_refusals(tmp_path: Path, split: str, cells: list[Cell], fragment: str) -> None:
    with pytest.raises(PipelineError, match=fragment):
        parse(write_notebook(tmp_path / "nb.ipynb", cells), split=split)


def test_headings_reads_atx_only_outside_fences() -> None:
    text = "# One #\n    # indented code\n~~~\n# in fence\n~~~\n####### seven\n## Two"
    assert headings(text) == [(1, "One"), (2, "Two")]


def test_cli_split_headings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nb = write_notebook(tmp_path / "nb.ipynb", [md("## Load"), "x = 1", md("## Train"), "y = x"])
    assert main(["export", str(nb), "--check", "--split", "headings"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[2].split()[:2] == ["load", "1"]
    assert table.splitlines()[3].split()[0] == "train"
    assert "ok: 2 steps" in table


HANDBOOK: list[Cell] = [
    md("# Temperatures\nA notebook written without tags."),
    ("import json\nimport statistics", ["setup"]),
    ("scale = 2", ["parameters"]),
    md("## Load the readings"),
    "readings = [12.0, 15.5, 11.0, 14.5]",
    md("## Clean them"),
    "readings = [r * scale for r in readings if r > 11.5]",
    md("## Summarise"),
    "summary = {'mean': statistics.mean(readings), 'n': len(readings)}\n"
    "with open('summary.json', 'w') as fh:\n    json.dump(summary, fh)",
]


@pytest.mark.slow
def test_heading_split_notebook_runs_like_run_all(tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    nb = write_notebook(base / "temps.ipynb", HANDBOOK)
    papermill.execute_notebook(
        str(nb), str(tmp_path / "out.ipynb"), cwd=str(base), progress_bar=False
    )
    expected = json.loads((base / "summary.json").read_text())
    (base / "summary.json").unlink()
    result = export(nb, use_tracer=False, split="headings")
    assert [s.name for s in result.manifest.steps] == [
        "load-the-readings",
        "clean-them",
        "summarise",
    ]
    assert result.folder is not None
    outcome = run(result.folder, RunOptions(jobs=1))
    assert outcome.status == "ok", outcome.error
    assert json.loads((base / "summary.json").read_text()) == expected == {"mean": 28.0, "n": 3}
