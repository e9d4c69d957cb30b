"""The stamp of a saved answer (``store/answers.py``): what makes it unusable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlprod_nb.journal import JournalWriter
from mlprod_nb.paths import Layout
from mlprod_nb.store import Store, answers
from mlprod_nb.store.answers import Answers

from .records import execution, session

NB = "/work/churn.ipynb"


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    found = Layout(tmp_path / ".mlprod")
    writer = JournalWriter(found.journal_dir, "w")
    writer.append(session("s1", NB))
    writer.append(execution("s1", 1, NB))
    writer.close()
    with Store.open(found):
        pass
    return found


def test_a_line_journaled_while_the_answer_was_made_keeps_it_from_being_used(
    layout: Layout,
) -> None:
    saved = Answers(layout, NB, NB)
    before = saved.journal()  # taken before the store is opened to make the answer
    writer = JournalWriter(layout.journal_dir, "w")
    writer.append(execution("s1", 2, NB))  # a kernel appends meanwhile; the ingest takes it
    writer.close()
    with Store.open(layout):
        pass
    saved.put("lineage", before, "the answer")
    assert saved.get("lineage") is None  # it may lack what the journal holds since
    saved.put("lineage", saved.journal(), "the answer")
    assert saved.get("lineage") == "the answer"


def test_another_store_file_or_an_edit_of_the_code_keeps_it_from_being_used(
    layout: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "package"
    package.mkdir()
    (package / "queries.py").write_text("A = 1\n")
    monkeypatch.setattr(answers, "_PACKAGE", str(package))
    saved = Answers(layout, NB, NB)
    saved.put("lineage", saved.journal(), "the answer")
    assert saved.get("lineage") == "the answer"
    (package / "queries.py").write_text("A = 22\n")
    assert saved.get("lineage") is None

    saved.put("lineage", saved.journal(), "the answer")
    layout.db_path.rename(layout.db_path.with_name("aside.duckdb"))
    with Store.open(layout):  # rebuilt from the journal: another file
        pass
    assert saved.get("lineage") is None


def test_answers_are_kept_per_notebook_and_kind_and_the_oldest_go(layout: Layout) -> None:
    first = Answers(layout, NB, NB)
    other = Answers(layout, "/work/other.ipynb", "/work/other.ipynb")
    first.put("lineage", first.journal(), "mine")
    other.put("lineage", other.journal(), "theirs")
    first.put("stale-any", first.journal(), "stale", ["/work/data.csv"], "inputs")
    assert first.get("lineage") == "mine"
    assert other.get("lineage") == "theirs"
    assert first.get("stale-any", lambda reads: "inputs" if reads == ["/work/data.csv"] else "")
    assert first.get("stale-any", lambda reads: "other inputs") is None

    for n in range(answers.MAX_FILES + 5):
        first.put(f"kind-{n}", first.journal(), str(n))
    assert len(os.listdir(layout.answers_dir)) == answers.MAX_FILES
    assert first.get(f"kind-{answers.MAX_FILES + 4}") == str(answers.MAX_FILES + 4)
