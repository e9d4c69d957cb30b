"""`mlprod-nb trace / lineage / stale / sql` on a real notebook with a real kernel."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from store.records import execution

from mlprod_nb.cli import main
from mlprod_nb.journal import JournalWriter
from mlprod_nb.paths import Layout

from .helpers import cli, write_cells


def _notebook(folder: Path, cells: list[tuple[str, str]]) -> Path:
    return write_cells(folder / "small.ipynb", cells, notes=True)


CELLS = [
    ("load", "text = open('data.txt').read()"),
    ("write", "with open('out.txt', 'w') as f:\n    f.write(text.upper())"),
    ("count", "n = len(text)"),
]


@pytest.mark.slow
def test_trace_then_lineage_and_stale(home: Path, tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("hello lineage\n")
    notebook = _notebook(tmp_path, CELLS)
    before = notebook.read_bytes()

    traced = cli("trace", notebook.name, cwd=tmp_path)
    assert traced.returncode == 0, traced.stderr
    assert "[1/3] cell load" in traced.stderr
    assert "[3/3] cell count" in traced.stderr
    assert "3 executions recorded" in traced.stdout
    assert notebook.read_bytes() == before  # the notebook itself is left alone

    shown = cli("lineage", notebook.name, "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    lineage = json.loads(shown.stdout)
    assert lineage["notebook"] == str(notebook.resolve())
    assert set(lineage["cells"]) == {"load", "write", "count"}
    by_cell = {e["cell_id"]: e for e in lineage["executions"]}
    (read,) = [f for f in by_cell["load"]["files"] if f["mode"] == "read"]
    assert read["path"] == str(tmp_path / "data.txt")
    assert read["sha256"] == hashlib.sha256(b"hello lineage\n").hexdigest()
    (written,) = [f for f in by_cell["write"]["files"] if f["mode"] == "write"]
    assert written["sha256"] == hashlib.sha256(b"HELLO LINEAGE\n").hexdigest()
    assert {"name": "text", "execution": by_cell["load"]["id"]} in by_cell["count"]["deps"]

    text = cli("lineage", notebook.name, cwd=tmp_path)
    assert text.returncode == 0
    assert f"data.txt@{read['sha256'][:12]}" in text.stdout
    assert read["sha256"] not in text.stdout  # short hashes in the table

    fresh = cli("stale", notebook.name, cwd=tmp_path)
    assert fresh.returncode == 0
    assert "no stale cells" in fresh.stdout

    (tmp_path / "data.txt").write_text("changed\n")
    stale = cli("stale", notebook.name, "--json", cwd=tmp_path)
    assert stale.returncode == 0
    reasons = {c["cell_id"]: c["reasons"] for c in json.loads(stale.stdout)["stale"]}
    assert set(reasons) == {"load", "write", "count"}
    assert reasons["load"][0]["kind"] == "file"
    assert reasons["load"][0]["path"] == str(tmp_path / "data.txt")
    assert reasons["count"][0]["name"] == "text"
    table = cli("stale", notebook.name, cwd=tmp_path)
    assert "data.txt changed" in table.stdout


@pytest.mark.slow
def test_trace_stops_at_a_failing_cell(home: Path, tmp_path: Path) -> None:
    notebook = _notebook(
        tmp_path, [("ok", "a = 1"), ("boom", "raise ValueError('bad data')"), ("never", "b = 2")]
    )
    traced = cli("trace", notebook.name, cwd=tmp_path)
    assert traced.returncode == 1
    assert "cell boom" in traced.stderr
    assert "ValueError: bad data" in traced.stderr
    assert "never" not in traced.stderr
    shown = cli("lineage", notebook.name, "--json", cwd=tmp_path)
    statuses = {e["cell_id"]: e["status"] for e in json.loads(shown.stdout)["executions"]}
    assert statuses == {"ok": "ok", "boom": "error"}


def test_lineage_of_an_unknown_notebook(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lineage", str(tmp_path / "nowhere.ipynb")]) == 3
    err = capsys.readouterr().err
    assert "nowhere.ipynb" in err
    assert "mlprod-nb trace" in err
    assert not home.exists()  # a question does not create a store

    home.mkdir()
    (tmp_path / "untraced.ipynb").write_text("{}")
    assert main(["stale", str(tmp_path / "untraced.ipynb")]) == 3
    err = capsys.readouterr().err
    assert "untraced.ipynb" in err
    assert "no executions are recorded" in err


def test_sql(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    writer = JournalWriter(Layout(home).journal_dir)
    writer.append(execution("s1", 1))
    writer.append(execution("s1", 2))
    writer.close()
    assert main(["sql", "SELECT id, seq FROM executions ORDER BY seq"]) == 0
    out = capsys.readouterr().out
    assert "s1:2" in out
    assert "(2 rows)" in out
    assert main(["sql", "SELECT count(*) AS n FROM executions", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 2}]
    assert main(["sql", "DELETE FROM executions"]) == 2
    assert "refused a DELETE statement" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["lineage", "stale", "sql", "trace"])
def test_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    assert "usage: mlprod-nb" in capsys.readouterr().out


@pytest.mark.slow
def test_example_notebook_shows_file_hashes_and_the_duckdb_scan(home: Path, tmp_path: Path) -> None:
    import shutil

    example = Path(__file__).parents[2] / "notebooks"
    shutil.copy(example / "churn.ipynb", tmp_path / "churn.ipynb")
    shutil.copytree(example / "data", tmp_path / "data")
    traced = cli("trace", "churn.ipynb", cwd=tmp_path)
    assert traced.returncode == 0, traced.stderr
    lineage = json.loads(cli("lineage", "churn.ipynb", "--json", cwd=tmp_path).stdout)
    parquet = str(tmp_path / "build" / "clean.parquet")
    sha = hashlib.sha256(Path(parquet).read_bytes()).hexdigest()
    accesses = [
        (e["cell_id"], f["mode"], f["via"])
        for e in lineage["executions"]
        for f in e["files"]
        if f["path"] == parquet and f["sha256"] == sha
    ]
    assert ("summary", "read", "duckdb") in accesses
    assert any(cell == "clean" and mode == "write" for cell, mode, _ in accesses)
    ids = lineage["cells"]
    assert {
        "source": ids["clean"],
        "target": ids["summary"],
        "kind": "file",
        "label": parquet,
    } in lineage["edges"]
    text = cli("lineage", "churn.ipynb", cwd=tmp_path).stdout
    assert f"build/clean.parquet@{sha[:12]} via duckdb" in text


def test_trace_with_an_unknown_kernel(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = _notebook(tmp_path, [("a", "x = 1")])
    assert main(["trace", str(notebook), "--kernel", "no-such-kernel"]) == 2
    err = capsys.readouterr().err
    assert "no kernel named 'no-such-kernel'" in err
    assert "small.ipynb" in err


def test_skipped_journal_lines_are_reported(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    writer = JournalWriter(Layout(home).journal_dir)
    writer.append(execution("s1", 1))
    writer.close()
    with open(writer.path, "ab") as f:
        f.write(b"{broken\n")
    assert main(["sql", "SELECT count(*) AS n FROM executions", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == [{"n": 1}]
    assert "1 journal line(s) could not be ingested" in captured.err
    assert main(["sql", "SELECT reason FROM journal_errors", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == [{"reason": "not valid JSON"}]
    assert captured.err == ""  # told once, when it was skipped
