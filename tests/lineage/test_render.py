"""The CLI's text views of lineage and stale cells."""

from __future__ import annotations

from dataclasses import replace

from mlprod_nb.lineage import graph
from mlprod_nb.lineage.model import Metric, Session, Writer
from mlprod_nb.lineage.render import lineage_text, stale_text
from mlprod_nb.lineage.staleness import stale_cells

from .test_staleness import A, B, ex


def test_lineage_text_shows_order_deps_files_and_sessions() -> None:
    failed = replace(
        ex(1, "boom", session="s2"),
        started=10.0,
        status="error",
        error_name="KeyError",
        error_message="'tenure'\nmore",
    )
    history = [
        replace(ex(1, "load", ("df",), reads={"/nb/data/in.csv": A}), params={"rows": 3}),
        replace(
            ex(2, "fit", ("m",), {"df": 1}, writes={"/elsewhere/m.pkl": B}),
            metrics=(Metric("auc", 0.91234, None),),
        ),
        failed,
    ]
    env = Session(
        "s2abcdefabcdef",
        1,
        1.0,
        None,
        None,
        "3.11.7",
        "linux",
        "box",
        2,
        None,
        ("A100",),
        "f" * 64,
        "0123456789abc",
        True,
    )
    text = lineage_text(replace(graph.build("/nb/n.ipynb", history), sessions=(env,)))
    lines = text.splitlines()
    assert lines[0] == "/nb/n.ipynb: 3 executions of 3 cells in 2 session(s)"
    assert lines[1] == (
        "  session s2abcdefabcd: Python 3.11.7 on box, git 0123456789 (dirty), "
        "packages ffffffffffff, GPUs A100"
    )
    assert "[1] cell load  ok  1 ms" in lines
    assert "    reads    data/in.csv@aaaaaaaaaaaa" in lines
    assert "    writes   /elsewhere/m.pkl@bbbbbbbbbbbb" in lines
    assert "    deps     [1] df" in lines
    assert "    params   rows=3" in lines
    assert "    metrics  auc=0.9123" in lines
    assert "[1] cell boom  error: KeyError  1 ms" in lines
    assert "    error    'tenure'" in lines
    assert "-- session s2 --" in lines
    assert text.index("cell fit") < text.index("cell boom")


def test_writers_in_other_notebooks_are_named() -> None:
    outside = Writer("/nb/data/in.csv", A, "k9:4", "/nb/prep.ipynb", "export", 0.5)
    lineage = graph.build("/nb/n.ipynb", [ex(1, "load", reads={"/nb/data/in.csv": A})], [outside])
    (row,) = [line for line in lineage_text(lineage).splitlines() if line.startswith("data/")]
    assert row.split() == ["data/in.csv", "aaaaaaaaaaaa", "1", "prep.ipynb:export", "[1]"]


def test_stale_text() -> None:
    lineage = graph.build(
        "/nb/n.ipynb", [ex(1, "a", ("x",), reads={"/d/f": A}), ex(2, "b", (), {"x": 1})]
    )
    assert stale_text(lineage, []) == "/nb/n.ipynb: no stale cells (2 cells checked)"
    text = stale_text(lineage, stale_cells(lineage, {"/d/f": B}))
    assert "2 of 2 cells are stale" in text
    assert "/d/f changed (aaaaaaaaaaaa -> bbbbbbbbbbbb)" in text
    assert "uses x from stale cell a (In [1])" in text
