"""A notebook's lineage read from the store does not depend on what else the store holds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlprod_nb.journal import JournalWriter
from mlprod_nb.lineage.model import NotebookLineage
from mlprod_nb.paths import Layout
from mlprod_nb.records import SCHEMA, RenameRecord
from mlprod_nb.store import Store

from .records import execution, session

NB = "/work/churn.ipynb"
DATA = "/work/data/customers.csv"


def _file(mode: str, sha: str, path: str = DATA) -> dict[str, Any]:
    return {"path": path, "mode": mode, "sha256": sha * 64, "size": 3, "mtime_ns": 1, "via": "open"}


def _notebook(writer: JournalWriter, name: str, notebook: str, *, at: float = 0.0) -> None:
    """Three cells: load the data file, build a frame from it, write a model."""
    writer.append(session(name, notebook))
    writer.append(
        execution(name, 1, notebook, started=at + 10.0, files=[_file("read", "a")], defines=["df"])
    )
    writer.append(
        execution(
            name,
            2,
            notebook,
            started=at + 20.0,
            defines=["X"],
            uses=["df", "len"],
            deps=[{"name": "df", "execution": f"{name}:1"}],
            mutations=[{"name": "df", "how": "item", "known": True}],
            params={"alpha": 0.5},
        )
    )
    writer.append(
        execution(
            name,
            3,
            notebook,
            started=at + 30.0,
            uses=["X"],
            deps=[{"name": "X", "execution": f"{name}:2"}],
            files=[_file("write", "m", f"{notebook}.model")],
            metrics=[{"name": "auc", "value": 0.8, "step": None}],
        )
    )


def _prep(writer: JournalWriter) -> None:
    """Another notebook that wrote the data file the notebook read, at that content."""
    writer.append(session("prep", "/work/prep.ipynb"))
    writer.append(
        execution("prep", 1, "/work/prep.ipynb", started=1.0, files=[_file("write", "a")])
    )


def _lineage(home: Path, fill: Any) -> NotebookLineage:
    layout = Layout(home)
    writer = JournalWriter(layout.journal_dir, "w")
    fill(writer)
    writer.close()
    with Store.open(layout) as store:
        return store.notebook_lineage(NB)


def test_other_notebooks_in_the_store_change_nothing_in_a_notebooks_lineage(
    tmp_path: Path,
) -> None:
    def alone(writer: JournalWriter) -> None:
        _prep(writer)
        _notebook(writer, "s1", NB)

    def crowded(writer: JournalWriter) -> None:
        # the same cell ids, names and data file, written before, between and after
        for n in range(30):
            _notebook(writer, f"other{n}", f"/work/other{n}.ipynb", at=n * 5.0)
        _prep(writer)
        _notebook(writer, "s1", NB)
        for n in range(30, 40):
            _notebook(writer, f"other{n}", f"/work/other{n}.ipynb", at=n * 5.0)
        # another version of the data file, written by another notebook, read by none of ours
        writer.append(execution("other0", 4, "/work/other0.ipynb", files=[_file("write", "b")]))

    by_itself = _lineage(tmp_path / "alone" / ".mlprod", alone)
    among_others = _lineage(tmp_path / "crowded" / ".mlprod", crowded)
    assert among_others == by_itself
    assert [e.id for e in by_itself.executions] == ["s1:1", "s1:2", "s1:3"]
    assert [w.execution for w in by_itself.writers] == ["prep:1"]
    (data,) = [d for d in by_itself.datasets if d.path == DATA]
    (version,) = data.versions
    assert version.writers == ("prep:1",)
    assert version.readers == ("s1:1",)
    second = by_itself.executions[1]
    assert second.params == {"alpha": 0.5}
    assert second.mutations[0].name == "df"
    assert second.source == "x2 = 2"
    assert [s.id for s in by_itself.sessions] == ["s1"]


def test_a_renamed_notebook_keeps_its_lineage_and_a_new_one_at_its_old_path_is_not_in_it(
    tmp_path: Path,
) -> None:
    old = "/work/Untitled.ipynb"

    def renamed(writer: JournalWriter) -> None:
        _prep(writer)
        _notebook(writer, "before", old, at=0.0)
        rename: RenameRecord = {
            "v": SCHEMA,
            "kind": "rename",
            "old_path": old,
            "new_path": NB,
            "renamed": 100.0,
        }
        writer.append(rename)
        _notebook(writer, "after", NB, at=200.0)
        _notebook(writer, "newcomer", old, at=300.0)  # a new notebook at the old path

    lineage = _lineage(tmp_path / ".mlprod", renamed)
    assert [e.id for e in lineage.executions] == [
        *(f"before:{n}" for n in (1, 2, 3)),
        *(f"after:{n}" for n in (1, 2, 3)),
    ]
    assert [s.id for s in lineage.sessions] == ["after", "before"]
    # the newcomer wrote no file this notebook read: only prep is an outside writer
    assert [w.execution for w in lineage.writers] == ["prep:1"]


HEAVY = ("pyarrow", "pandas", "numpy", "networkx", "nbformat", "jupyter_server", "IPython")
_IMPORTED = """
import contextlib, io, sys
from mlprod_nb.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    assert main(sys.argv[2:]) == 0
print(" ".join(m for m in sys.argv[1].split(",") if m in sys.modules))
"""


@pytest.mark.parametrize("command", ["lineage", "stale"])
def test_lineage_and_stale_load_no_heavy_package(tmp_path: Path, command: str) -> None:
    """What a reading command imports is what it needs: duckdb, not pyarrow or pandas
    (ingest needs pyarrow only when there are new journal lines)."""
    layout = Layout(tmp_path / ".mlprod")
    writer = JournalWriter(layout.journal_dir, "w")
    _notebook(writer, "s1", NB)
    writer.close()
    with Store.open(layout):
        pass  # ingested: the command finds nothing new
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTED, ",".join(HEAVY), command, NB, "--json"],
        env=os.environ | {"MLPROD_NB_HOME": str(layout.home)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []
