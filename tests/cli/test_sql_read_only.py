"""`mlprod-nb sql` runs queries only: nothing it is given can write a file or the store."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from store.records import execution, session

from mlprod_nb.cli import main
from mlprod_nb.journal import JournalWriter
from mlprod_nb.paths import Layout


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.fixture
def journal(home: Path) -> Path:
    writer = JournalWriter(Layout(home).journal_dir, "w")
    writer.append(session("s1", "/nb/a.ipynb"))
    for seq in (1, 2, 3):
        writer.append(execution("s1", seq))
    writer.close()
    assert main(["sql", "SELECT 1"]) == 0  # ingested once, before anything is tried
    return writer.path


def _executions(capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    assert main(["sql", "SELECT id FROM executions ORDER BY seq", "--json"]) == 0
    return [row["id"] for row in json.loads(capsys.readouterr().out)]


# {out}: a file outside the store; {journal}: the journal file (the data loss seen)
REFUSED = [
    ("COPY (SELECT 1) TO '{out}'", "COPY"),
    ("COPY executions TO '{journal}'", "COPY"),
    ("EXPLAIN ANALYZE COPY (SELECT 1 AS x) TO '{journal}'", "EXPLAIN COPY"),
    ("EXPLAIN ANALYSE COPY (SELECT 1 AS x) TO '{out}'", "EXPLAIN COPY"),
    ("/* hi */ EXPLAIN (ANALYZE, FORMAT json) COPY executions TO '{out}'", "EXPLAIN COPY"),
    ("EXPLAIN COPY (SELECT 1) TO '{out}'", "EXPLAIN COPY"),
    ("EXPLAIN ANALYZE INSERT INTO sources VALUES ('h', 't')", "EXPLAIN INSERT"),
    ("EXPORT DATABASE '{out}'", "EXPORT"),
    ("INSERT INTO executions (id, session, seq) VALUES ('x', 'y', 9)", "INSERT"),
    ("UPDATE executions SET status = 'error'", "UPDATE"),
    ("DELETE FROM executions", "DELETE"),
    ("DROP TABLE executions", "DROP"),
    ("CREATE TABLE t AS SELECT 1", "CREATE"),
    ("CREATE TEMP TABLE t AS SELECT 1", "CREATE"),
    ("ATTACH '{out}' AS other", "ATTACH"),
    ("SET enable_external_access = true", "SET"),
    ("SET enable_external_access = true; SELECT * FROM read_csv('{out}')", "SET"),
    ("SELECT 1; DELETE FROM executions", "DELETE"),
    ("PRAGMA enable_profiling", "PRAGMA"),
    ("INSTALL httpfs", "LOAD"),
    ("LOAD httpfs", "LOAD"),
    ("CALL pragma_version()", "CALL"),
    ("CHECKPOINT", "CALL"),
    ("VACUUM", "VACUUM"),
]


@pytest.mark.parametrize("allow_files", [False, True], ids=["plain", "allow-files"])
@pytest.mark.parametrize(("sql", "kind"), REFUSED, ids=[k for _, k in REFUSED])
def test_anything_but_a_query_is_refused_and_writes_nothing(
    journal: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    sql: str,
    kind: str,
    allow_files: bool,
) -> None:
    out = tmp_path / "out.csv"
    text = sql.format(out=out, journal=journal)
    before = _digest(journal)
    store = Layout(journal.parent.parent).db_path
    assert _executions(capsys) == ["s1:1", "s1:2", "s1:3"]

    code = main(["sql", text, *(["--allow-files"] if allow_files else [])])

    err = capsys.readouterr().err
    assert code == 2
    assert f"refused a {kind} statement" in err
    assert "nothing was run" in err
    assert "hint: `sql` runs queries only" in err
    assert "Traceback" not in err
    assert not out.exists()
    assert _digest(journal) == before
    assert store.exists()
    assert _executions(capsys) == ["s1:1", "s1:2", "s1:3"]


def test_files_are_read_only_with_allow_files(
    journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    sql = f"SELECT * FROM read_csv('{data}')"
    capsys.readouterr()

    assert main(["sql", sql]) == 2
    err = capsys.readouterr().err
    assert "refused to read a file" in err
    assert "--allow-files" in err

    assert main(["sql", sql, "--json", "--allow-files"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"a": 1, "b": 2}]


def test_etc_passwd_needs_allow_files(journal: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not Path("/etc/passwd").is_file():
        pytest.skip("no /etc/passwd here")
    sql = "SELECT count(*) AS n FROM read_csv('/etc/passwd', header = false)"
    capsys.readouterr()
    assert main(["sql", sql]) == 2
    assert 'Cannot access file "/etc/passwd"' in capsys.readouterr().err
    assert main(["sql", sql, "--json", "--allow-files"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["n"] >= 1


@pytest.mark.parametrize(
    ("sql", "rows"),
    [
        ("SELECT id FROM executions ORDER BY seq", [["s1:1"], ["s1:2"], ["s1:3"]]),
        ("SELECT count(*) FROM executions;", [[3]]),
        ("  SELECT count(*) FROM executions ;  ", [[3]]),
        ("WITH e AS (SELECT * FROM executions) SELECT max(seq) FROM e", [[3]]),
        ("FROM sessions SELECT id", [["s1"]]),
        ("SELECT 1; SELECT count(*) FROM executions;", [[3]]),  # the last one's rows
        ("DESCRIBE sources", [["hash"], ["text"]]),
    ],
)
def test_queries_over_the_store_work(
    journal: Path, capsys: pytest.CaptureFixture[str], sql: str, rows: list[list[object]]
) -> None:
    capsys.readouterr()
    assert main(["sql", sql, "--json"]) == 0
    got = [list(r.values()) for r in json.loads(capsys.readouterr().out)]
    assert [r[: len(rows[0])] for r in got] == rows


def test_explain_of_a_query_works(journal: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["sql", "EXPLAIN SELECT id FROM executions WHERE seq > 1", "--json"]) == 0
    [plan] = json.loads(capsys.readouterr().out)
    assert "executions" in plan["explain_value"].lower()
    assert main(["sql", "EXPLAIN ANALYZE SELECT count(*) FROM executions", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["explain_key"] == "analyzed_plan"


def test_new_journal_lines_are_ingested_before_the_query(
    journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    writer = JournalWriter(journal.parent, "w")
    writer.append(execution("s1", 4))
    writer.close()
    assert _executions(capsys) == ["s1:1", "s1:2", "s1:3", "s1:4"]
