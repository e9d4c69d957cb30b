"""`mlprod-nb lineage` and `stale` print a saved answer only while nothing it depends on
has changed: each case below changes one thing and the next answer must be the one a
store without saved answers gives."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from store.records import execution, session

from mlprod_nb.journal import JournalWriter
from mlprod_nb.paths import Layout
from mlprod_nb.records import SCHEMA, RenameRecord

from .helpers import cli, write_cells

CELLS = [("load", "df = read(DATA)"), ("fit", "model = fit(df)"), ("save", "save(model)")]


@dataclass
class Project:
    folder: Path
    layout: Layout
    notebook: Path
    data: Path

    def file(self, mode: str, path: Path, text: str) -> dict[str, object]:
        sha = hashlib.sha256(text.encode()).hexdigest()
        return {"path": str(path), "mode": mode, "sha256": sha, "size": len(text), "via": "open"}

    def journal(self, name: str, *records: object) -> None:
        writer = JournalWriter(self.layout.journal_dir, name)
        for record in records:
            writer.append(record)  # type: ignore[arg-type]
        writer.close()


def _run(project: Project, seq: int, cell: str, *, started: float, **fields: object) -> object:
    return execution("s1", seq, str(project.notebook), cell_id=cell, started=started, **fields)


@pytest.fixture
def project(home: Path, tmp_path: Path) -> Project:
    """A notebook of three cells that ran once: load read the data file, fit used df."""
    notebook = write_cells(tmp_path / "churn.ipynb", CELLS)
    data = tmp_path / "customers.csv"
    data.write_text("id,plan\n1,pro\n")
    found = Project(tmp_path, Layout(home), notebook, data)
    found.journal(
        "first",
        session("s1", str(notebook)),
        _run(found, 1, "load", started=1010.0, files=[found.file("read", data, data.read_text())]),
        _run(
            found,
            2,
            "fit",
            started=1020.0,
            defines=["model"],
            deps=[{"name": "df", "execution": "s1:1"}],
        ),
        _run(
            found,
            3,
            "save",
            started=1030.0,
            uses=["model"],
            deps=[{"name": "model", "execution": "s1:2"}],
        ),
    )
    return found


def _answer(project: Project, *args: str) -> str:
    done = cli(*args, str(project.notebook), cwd=project.folder)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _fresh(project: Project, *args: str) -> str:
    """The answer computed from the store, no saved answer there to use."""
    shutil.rmtree(project.layout.answers_dir, ignore_errors=True)
    return _answer(project, *args)


def _new_execution(project: Project) -> None:
    project.journal("second", _run(project, 4, "fit", started=1040.0, defines=["model"]))


def _renamed_into_it(project: Project) -> None:
    """A notebook renamed to this one: its executions are now this notebook's."""
    old = str(project.folder / "draft.ipynb")
    rename: RenameRecord = {
        "v": SCHEMA,
        "kind": "rename",
        "old_path": old,
        "new_path": str(project.notebook),
        "renamed": 2000.0,
    }
    project.journal("draft", session("d1", old), execution("d1", 1, old, started=900.0), rename)


def _new_file_version(project: Project) -> None:
    """Another notebook wrote the data file at the content this one read."""
    text = project.data.read_text()
    other = str(project.folder / "prep.ipynb")
    write = project.file("write", project.data, text)
    project.journal("prep", session("p1", other), execution("p1", 1, other, files=[write]))


def _data_file_changed(project: Project) -> None:
    project.data.write_text("id,plan\n1,pro\n2,free\n")


def _cells_reordered(project: Project) -> None:
    write_cells(project.notebook, [CELLS[1], CELLS[0], CELLS[2]])


@dataclass(frozen=True)
class Case:
    change: Callable[[Project], None]
    command: tuple[str, ...]
    shows: str  # in the new answer, not in the old one


CASES = {
    "new execution": Case(_new_execution, ("lineage",), "4 executions"),
    "new execution, json": Case(_new_execution, ("lineage", "--json"), '"s1:4"'),
    "rename": Case(_renamed_into_it, ("lineage",), "session d1"),
    "new file version": Case(_new_file_version, ("lineage", "--json"), '"p1:1"'),
    "new execution, stale": Case(_new_execution, ("stale",), "model"),
    "data file changed": Case(_data_file_changed, ("stale", "--json"), "customers.csv changed"),
    "page order": Case(_cells_reordered, ("stale",), "out of order"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES)
def test_a_change_is_in_the_next_answer(project: Project, case: Case) -> None:
    before = _answer(project, *case.command)
    assert _answer(project, *case.command) == before  # saved, and printed again
    assert case.shows not in before
    case.change(project)
    after = _answer(project, *case.command)
    assert case.shows in after
    assert after == _fresh(project, *case.command)


_IMPORTED = """
import contextlib, io, json, sys
from mlprod_nb.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    assert main(sys.argv[1:]) == 0
print(json.dumps(["duckdb" in sys.modules, out.getvalue()]))
"""


@pytest.mark.parametrize("command", [("lineage",), ("stale", "--json")])
def test_a_saved_answer_is_printed_without_opening_the_store(
    project: Project, command: tuple[str, ...]
) -> None:
    def run() -> tuple[bool, str]:
        done = subprocess.run(
            [sys.executable, "-c", _IMPORTED, *command, str(project.notebook)],
            env=dict(os.environ),
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        opened, printed = json.loads(done.stdout)
        return opened, printed

    assert run()[0] is True  # the first answer is read from the store
    opened, printed = run()
    assert opened is False
    assert printed == _fresh(project, *command)


def test_compaction_and_a_restore_remove_saved_answers(project: Project) -> None:
    # a file compaction folds into a backup (an interrupted run's: written once)
    project.journal("run-r1-interrupted", _run(project, 4, "fit", started=1040.0))
    before = _answer(project, "lineage")
    assert "4 executions" in before
    compacted = cli("compact", cwd=project.folder)
    assert compacted.returncode == 0, compacted.stderr
    assert "1 journal file(s) folded" in compacted.stdout
    assert not project.layout.answers_dir.exists()

    assert _answer(project, "lineage") == before
    stale = _answer(project, "stale")
    assert len(list(project.layout.answers_dir.iterdir())) == 2
    project.layout.db_path.unlink()  # the store is rebuilt from the backup and the journal
    assert _answer(project, "lineage") == before
    assert len(list(project.layout.answers_dir.iterdir())) == 1  # stale's went too
    assert _answer(project, "stale") == stale
