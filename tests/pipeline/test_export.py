"""Export: dependency inference, errors, the manifest and the atomic write."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from mlprod_nb.cli import main
from mlprod_nb.errors import NotebookError, OutputPathError, PipelineError, SerializationError
from mlprod_nb.pipeline.compiler import compile_notebook, write
from mlprod_nb.pipeline.export import export
from mlprod_nb.pipeline.names import code
from mlprod_nb.tracer import mutations

from .conftest import Cell, md, step, write_notebook


@dataclass(frozen=True)
class Inference:
    id: str
    cells: list[Cell]
    edges: set[tuple[str, str]]
    inputs: dict[str, set[str]]  # step -> names it loads


INFERENCE = [
    Inference(
        "chain",
        [step("a", "x = 1"), step("b", "y = x + 1"), step("c", "z = y * 2")],
        {("a", "b"), ("b", "c")},
        {"a": set(), "b": {"x"}, "c": {"y"}},
    ),
    Inference(
        "fan-in",
        [step("a", "x = 1"), step("b", "y = 2"), step("c", "z = x + y")],
        {("a", "c"), ("b", "c")},
        {"c": {"x", "y"}},
    ),
    Inference(
        "independent",
        [step("a", "x = 1"), step("b", "y = 2")],
        set(),
        {"a": set(), "b": set()},
    ),
    Inference(
        "latest-definition-wins",
        [step("a", "x = 1"), step("b", "x = 2"), step("c", "z = x")],
        {("b", "c")},
        {"c": {"x"}},
    ),
    Inference(
        "mutation-makes-a-new-version",
        [step("a", "d = {}"), step("b", "d['k'] = 1"), step("c", "v = d['k']")],
        {("a", "b"), ("b", "c")},
        {"b": {"d"}, "c": {"d"}},
    ),
    Inference(
        "after-tag",
        [step("a", "x = 1"), step("b", "open('f', 'w').write('1')", "after:a")],
        {("a", "b")},
        {"b": set()},
    ),
    Inference(
        "file-written-then-read",
        [
            step("a", "open('out/x.csv', 'w').write('1')"),
            step("b", "t = open('./out/x.csv').read()"),
            step("c", "import glob\nq = glob.glob(\"SELECT * FROM 'out/*.csv'\")"),
            step("d", "open('other.csv').read()"),
        ],
        {("a", "b"), ("a", "c")},
        {"b": set()},
    ),
    Inference(
        "untagged-cells-join-step-above",
        [step("a", "x = 1"), "x2 = x * 2", step("b", "y = x2")],
        {("a", "b")},
        {"b": {"x2"}},
    ),
    Inference(
        "setup-and-parameters-are-not-edges",
        [
            ("import math", ["setup"]),
            ("n = 3", ["parameters"]),
            step("a", "r = math.sqrt(n)"),
            step("b", "s = r + n"),
        ],
        {("a", "b")},
        {"a": set(), "b": {"r"}},
    ),
    Inference(
        "skip-is-left-out",
        [step("a", "x = 1"), ("print(undefined_thing)", ["skip"]), step("b", "y = x")],
        {("a", "b")},
        {"b": {"x"}},
    ),
    Inference(
        "cells-before-first-step",
        [md("# My Analysis"), "x = 1", step("b", "y = x")],
        {("my-analysis", "b")},
        {"b": {"x"}},
    ),
]


@pytest.mark.parametrize("case", INFERENCE, ids=[c.id for c in INFERENCE])
def test_dependency_inference(case: Inference, tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "nb.ipynb", case.cells)
    manifest = compile_notebook(nb).manifest
    assert {(e.source, e.target) for e in manifest.edges} == case.edges
    for name, expected in case.inputs.items():
        assert {i.name for i in manifest.step(name).inputs} == expected


def test_a_registered_mutating_method_draws_the_export_edge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``register_mutating`` is the exporter's registry too: the step calling the method
    produces a new version of its receiver, so the reader depends on that step."""
    monkeypatch.setattr(mutations, "MUTATING", set(mutations.MUTATING))
    monkeypatch.setattr(mutations, "PURE", set(mutations.PURE))
    cells = [step("a", "m = []"), step("b", "m.frobnicate(1)"), step("c", "n = len(m)")]
    nb = write_notebook(tmp_path / "nb.ipynb", cells)
    before = compile_notebook(nb).manifest
    assert {(e.source, e.target) for e in before.edges} == {("a", "b"), ("a", "c")}
    assert code("m.frobnicate(1)").statements[0].mutates == ()  # unknown: may mutate

    mutations.register_mutating("frobnicate")
    after = compile_notebook(nb).manifest
    assert code("m.frobnicate(1)").statements[0].mutates == ("m",)
    assert {(e.source, e.target) for e in after.edges} == {("a", "b"), ("b", "c")}
    assert after.step("b").outputs == ("m",)


@dataclass(frozen=True)
class Failure:
    id: str
    cells: list[Cell]
    error: type[Exception]
    words: tuple[str, ...]  # must appear in the message
    cell_id: str | None = None


FAILURES = [
    Failure(
        "cycle",
        [step("a", "x = 1", "after:b"), step("b", "y = x")],
        PipelineError,
        ("cycle", "a", "b"),
    ),
    Failure("after-unknown", [step("a", "x = 1", "after:nope")], PipelineError, ("nope",), "c0"),
    Failure(
        "duplicate-step",
        [step("a", "x = 1"), step("a", "y = 2")],
        PipelineError,
        ("duplicate", "'a'"),
        "c1",
    ),
    Failure(
        "undefined-name",
        [step("a", "x = 1"), step("b", "y = missing + x")],
        PipelineError,
        ("missing", "'b'"),
        "c1",
    ),
    Failure(
        "defined-later",
        [step("a", "y = later"), step("b", "later = 1")],
        PipelineError,
        ("later", "'b'"),
        "c0",
    ),
    Failure(
        "non-literal-parameter",
        [("n = compute()", ["parameters"]), step("a", "x = n")],
        PipelineError,
        ("non-literal", "compute()"),
        "c0",
    ),
    Failure(
        "parameter-not-assignment",
        [("print('hi')", ["parameters"]), step("a", "x = 1")],
        PipelineError,
        ("not a simple assignment",),
        "c0",
    ),
    Failure("bad-step-name", [step("Bad Name", "x = 1")], PipelineError, ("invalid step name",)),
    Failure("syntax-error", [step("a", "x = (")], PipelineError, ("does not parse",), "c0"),
    Failure(
        "open-file-crosses",
        [step("a", "fh = open('x.txt')"), step("b", "t = fh.read()")],
        SerializationError,
        ("'fh'", "open file"),
    ),
    Failure(
        "generator-crosses",
        [step("a", "g = (i for i in range(3))"), step("b", "t = list(g)")],
        SerializationError,
        ("'g'", "generator"),
    ),
    Failure("no-code-cell", [md("# only text")], NotebookError, ("no code cell",)),
]


@pytest.mark.parametrize("case", FAILURES, ids=[c.id for c in FAILURES])
def test_export_errors(case: Failure, tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "nb.ipynb", case.cells)
    with pytest.raises(case.error) as caught:
        export(nb, use_tracer=False)
    message = str(caught.value)
    for word in case.words:
        assert word in message
    assert "hint:" in message
    if case.cell_id:
        assert caught.value.cell_id == case.cell_id  # type: ignore[attr-defined]
    assert not (tmp_path / "nb.pipeline").exists()


def test_malformed_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nb = tmp_path / "broken.ipynb"
    nb.write_text('{"cells": [')
    assert main(["export", str(nb)]) == 2
    err = capsys.readouterr().err
    assert "malformed notebook JSON" in err
    assert str(nb) in err
    assert list(tmp_path.iterdir()) == [nb]


def test_check_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nb = write_notebook(tmp_path / "nb.ipynb", [step("a", "x = 1"), step("b", "y = x")])
    assert main(["export", str(nb), "--check"]) == 0
    assert "nothing written" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == [nb]


def test_step_notebooks_and_manifest(tmp_path: Path) -> None:
    nb = write_notebook(
        tmp_path / "nb.ipynb",
        [
            ("import math", ["setup"]),
            ("n = 3\nlabel = 'x'\nrate = 0.5", ["parameters"]),
            step("a", "r = math.sqrt(n)"),
            step("b", "s = r * rate"),
            ("s > 0", ["check"]),
        ],
    )
    folder = export(nb, use_tracer=False).folder
    assert folder == tmp_path / "nb.pipeline"
    data = json.loads((folder / "pipeline.json").read_text())
    assert data["source"]["path"] == str(nb)
    assert len(data["source"]["sha256"]) == 64
    assert data["mlprod_nb_version"]
    assert [p["type"] for p in data["parameters"]] == ["int", "str", "float"]
    assert data["edges"] == [
        {
            "source": "a",
            "target": "b",
            "names": ["r"],
            "after": False,
            "files": [],
            "reason": "uses r",
        }
    ]
    assert data["values"] == [
        {"name": "r", "producer": "a", "consumers": ["b"], "serializer": "auto"}
    ]
    b = nbformat.read(folder / "steps" / "b.ipynb", as_version=4)
    nbformat.validate(b)
    assert (b.nbformat, b.nbformat_minor) == (4, 5)
    params = [c for c in b.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    assert "rate = 0.5" in params[0].source
    assert "n = 3" not in params[0].source  # only the parameters this step uses
    ids = [c.id for c in b.cells]
    assert ids.index("c0") < ids.index("mlprod-load") < ids.index("c3") < ids.index("mlprod-save")
    assert data["steps"][1]["checks"] == ["c4"]


def test_write_is_atomic(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "nb.ipynb", [step("a", "x = 1")])
    compiled = compile_notebook(nb)
    compiled.notebooks["a"]["cells"].append({"bad": {1, 2}})  # not JSON: fails mid-write
    with pytest.raises(TypeError):
        write(compiled, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.ipynb"]


def test_reexport_replaces_and_refuses_foreign_folder(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "nb.ipynb", [step("a", "x = 1"), step("b", "y = x")])
    export(nb, use_tracer=False)
    write_notebook(nb, [step("a", "x = 1")])
    folder = export(nb, use_tracer=False).folder
    assert folder is not None
    assert sorted(p.name for p in (folder / "steps").iterdir()) == ["a.ipynb"]
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("precious")
    with pytest.raises(OutputPathError, match="did not write"):
        export(nb, foreign, use_tracer=False)
    assert (foreign / "keep.txt").read_text() == "precious"


def test_export_300_cells_compiles(tmp_path: Path) -> None:
    cells: list[Cell] = []
    for i in range(300):
        source = f"v{i} = v{i - 1} + 1" if i else "v0 = 0"
        cells.append(step(f"s{i}", source) if i % 10 == 0 else source)
    manifest = compile_notebook(write_notebook(tmp_path / "big.ipynb", cells)).manifest
    assert len(manifest.steps) == 30
    assert len(manifest.edges) == 29


def test_step_notebooks_name_a_python_kernel_when_the_source_names_none(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "nb.ipynb", [step("a", "x = 1")])
    raw = json.loads(nb.read_text())
    raw["metadata"] = {}  # as written by tools that record no kernel
    nb.write_text(json.dumps(raw))
    folder = export(nb, use_tracer=False).folder
    assert folder is not None
    a = nbformat.read(folder / "steps" / "a.ipynb", as_version=4)
    assert a.metadata["kernelspec"]["name"] == "python3"
    assert a.metadata["language_info"]["name"] == "python"
