"""``export --verify``: real top-to-bottom runs and real pipeline runs, compared."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlprod_nb.cli import main
from mlprod_nb.errors import VerifyError
from mlprod_nb.pipeline.compare import Tolerance
from mlprod_nb.pipeline.export import export
from mlprod_nb.pipeline.verify import verify

from .conftest import Cell, project, step, write_notebook

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SETUP: Cell = ("import json\nimport pandas as pd", ["setup"])


def files_in(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def exported(base: Path, cells: list[Cell]) -> Path:
    notebook = write_notebook(base / "nb.ipynb", cells)
    folder = export(notebook, use_tracer=False).folder
    assert folder is not None
    return folder


SAME: list[Cell] = [
    ("import json\nimport os\nimport pandas as pd", ["setup"]),
    ("scale = 2", ["parameters"]),
    step("load", "frame = pd.read_csv('data.csv')\nrate = 0.1 * scale"),
    step("clean", "clean = frame[frame['a'] > 1].reset_index(drop=True)"),
    ("os.makedirs('build', exist_ok=True)\nclean.to_csv('build/clean.csv', index=False)", []),
    step("report", "total = float(clean['a'].sum() * rate)"),
    (
        "with open('build/total.json', 'w') as fh:\n    json.dump({'total': total}, fh)",
        [],
    ),
]


def test_a_pipeline_equal_to_the_notebook_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = project(tmp_path / "p")
    (base / "data.csv").write_text("a\n1\n2\n3\n")
    write_notebook(base / "nb.ipynb", SAME)
    before = files_in(base)

    assert main(["export", str(base / "nb.ipynb"), "--verify"]) == 0
    out = capsys.readouterr().out
    assert "verified: 3 values and 2 files identical" in out  # frame, rate, clean
    assert "[notebook" in out  # progress from both runs
    assert "[pipeline" in out
    # neither run left a file in the notebook's folder, nor a run in the user's store
    new = {p for p in files_in(base) - before if not p.startswith((".mlprod/", "nb.pipeline"))}
    assert new == set()
    assert not (base / ".mlprod" / "runs").exists()


@dataclass(frozen=True)
class Differs:
    name: str
    cells: list[Cell]
    step: str
    what: str  # "value 'x'" or "file 'log.txt'"
    cell: str  # the cell the report names
    says: str  # a part of the detail


DIFFERS = [
    Differs(
        "a skip cell between steps changes an input",
        [
            step("a", "x = 1"),
            ("x = x + 1", ["skip"]),
            step("b", "y = x * 10"),
            step("c", "z = y + 1"),
        ],
        "b",
        "value 'x'",
        "c1",
        "notebook 2, pipeline 1; an input from step 'a', which matched at its end",
    ),
    Differs(
        "a skip cell inside a step changes its output",
        [
            step("a", "x = 1"),
            ("x = 5", ["skip"]),
            ("w = 0", []),  # still step a: the skip cell is inside it
            step("b", "y = x * 10"),
        ],
        "a",
        "value 'x'",
        "c1",
        "notebook 5, pipeline 1",
    ),
    Differs(
        "a later step changes an earlier frame in place",
        [
            SETUP,
            step("a", "frame = pd.DataFrame({'v': [1.0, 2.0]})"),
            step("b", "import operator\noperator.setitem(frame, 'v', [1.0, 9.0])\nlabel = 'b'"),
            step("c", "out = float(frame['v'].sum())\nname = label"),
        ],
        "c",
        "value 'frame'",
        "c2",
        "column 'v', row 1: notebook 9.0, pipeline 2.0",
    ),
    Differs(
        "a skip cell writes a file a step appends to",
        [
            ("open('log.txt', 'w').write('skip;')", ["skip"]),
            step("a", "open('log.txt', 'a').write('a;')\nx = 1"),
            step("b", "y = x"),
        ],
        "a",
        "file 'log.txt'",
        "c1",
        "contents differ",
    ),
    Differs(
        "an object of a class the notebook defines",
        [
            ("class Box:\n    def __init__(self, v):\n        self.v = v", ["setup"]),
            step("a", "box = Box(1)"),
            ("box.v = 2", ["skip"]),
            step("b", "w = box.v"),
        ],
        "b",
        "value 'box'",
        "c2",
        "compared as pickled bytes",
    ),
]


@pytest.mark.parametrize("case", DIFFERS, ids=[c.name for c in DIFFERS])
def test_a_difference_is_reported_by_step_cell_and_name(tmp_path: Path, case: Differs) -> None:
    base = project(tmp_path / "p")
    folder = exported(base, case.cells)
    before = files_in(base)

    result = verify(folder)
    assert result.difference is not None, result.summary()
    text = result.difference.text()
    assert text.startswith(f"step {case.step!r}, {case.what} (cell {case.cell}): "), text
    assert case.says in text
    assert files_in(base) == before


def test_the_cli_exits_1_at_a_difference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = project(tmp_path / "p")
    write_notebook(base / "nb.ipynb", DIFFERS[0].cells)
    assert main(["export", str(base / "nb.ipynb"), "--verify"]) == 1
    err = capsys.readouterr().err
    assert "the pipeline differs from Run All: step 'b', value 'x' (cell c1)" in err
    assert "hint:" in err


def test_floats_compare_within_the_tolerance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = project(tmp_path / "p")
    cells: list[Cell] = [
        SETUP,
        step("a", "frame = pd.DataFrame({'v': [0.25, 0.5]})\nscore = 0.8123"),
        ("score = score * (1 + 1e-12)\nframe['v'] = frame['v'] * (1 + 1e-12)", ["skip"]),
        step("b", "out = [score, float(frame['v'].sum())]"),
    ]
    folder = exported(base, cells)
    assert verify(folder).summary() == "verified: 2 values and 0 files identical"
    strict = verify(folder, tolerance=Tolerance(rtol=1e-15)).difference
    assert strict is not None
    assert (strict.step, strict.name) == ("b", "score")  # the first value b takes
    assert main(["export", str(base / "nb.ipynb"), "--verify", "--tolerance", "1e-15"]) == 1
    err = capsys.readouterr().err
    assert "step 'b', value 'score' (cell c2): notebook 0.8123000000008124, pipeline 0.8123;" in err


def test_a_notebook_that_fails_top_to_bottom_is_named(tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    folder = exported(base, [step("a", "x = 1"), ("1 / 0", ["skip"]), step("b", "y = x")])
    with pytest.raises(VerifyError) as caught:
        verify(folder)
    assert caught.value.cell_id == "c1"
    assert "ZeroDivisionError" in caught.value.message


def test_a_failing_pipeline_step_is_a_difference(tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    cells: list[Cell] = [
        ("open('made.txt', 'w').write('only Run All makes me')", ["skip"]),
        step("a", "text = open('made.txt').read()"),
        step("b", "n = len(text)"),
    ]
    result = verify(exported(base, cells))
    assert result.difference is not None
    assert result.difference.kind == "failure"
    assert result.difference.text().startswith("step 'a' (cell c1): the pipeline's step failed")
    assert "FileNotFoundError" in result.difference.text()


def test_verify_with_check_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = project(tmp_path / "p")
    write_notebook(base / "nb.ipynb", [step("a", "x = 1")])
    assert main(["export", str(base / "nb.ipynb"), "--verify", "--check"]) == 2
    assert "--check writes nothing" in capsys.readouterr().err
    assert not (base / "nb.pipeline").exists()


def shipped_notebooks() -> list[Path]:
    """Every example and test notebook kept in the repository."""
    found = sorted((REPO / "notebooks").glob("*.ipynb"))
    found += sorted(
        p for p in (REPO / "tests").rglob("*.ipynb") if ".ipynb_checkpoints" not in str(p)
    )
    return found


@pytest.mark.parametrize(
    "notebook", shipped_notebooks(), ids=lambda p: p.relative_to(REPO).as_posix()
)
def test_every_shipped_notebook_verifies(tmp_path: Path, notebook: Path) -> None:
    base = project(tmp_path / "p")
    copy = base / notebook.parent.name
    shutil.copytree(notebook.parent, copy, ignore=shutil.ignore_patterns("*.pipeline", "build"))
    result = export(copy / notebook.name, use_tracer=False)
    assert result.folder is not None
    outcome = verify(result.folder)
    assert outcome.ok, outcome.summary()
    assert outcome.values == len({(v.producer, v.name) for v in result.manifest.values})


def test_each_run_has_its_own_copy_and_the_folder_above_still_reads(tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    (base / "data").mkdir()
    (base / "data" / "rows.csv").write_text("a\n1\n2\n")
    folder = base / "notebooks"
    (folder / "build").mkdir(parents=True)
    (folder / "build" / "out.csv").write_text("the user's own output\n")
    cells: list[Cell] = [
        SETUP,
        step("load", "frame = pd.read_csv('../data/rows.csv')"),
        # a step reading a file before any run wrote it sees the user's copy, on both sides
        step("save", "seen = open('build/out.csv').read()\nframe.to_csv('build/out.csv')"),
        step("count", "n = len(frame) + len(seen)"),
    ]
    pipeline = exported(folder, cells)
    before = {p: p.read_bytes() for p in base.rglob("*") if p.is_file()}

    result = verify(pipeline)
    assert result.summary() == "verified: 2 values and 1 files identical"  # frame, seen
    after = {p: p.read_bytes() for p in base.rglob("*") if p.is_file()}
    assert after == before


def test_a_step_with_cells_export_generated_verifies(tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    cells: list[Cell] = [
        ("import math", ["imports"]),
        ("x = 2.0", ["block:load"]),
        ("score = math.sqrt(x)", ["block:fit", "prev:load"]),
        ("print(score)", ["pipeline-metrics"]),  # Kale's: a generated metrics step
    ]
    assert verify(exported(base, cells)).summary() == "verified: 2 values and 0 files identical"
