"""Each way of reading or writing a file yields the right ``files`` entries and hashes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from mlprod_nb import journal

from .conftest import Traced

SETUP = """
from pathlib import Path
import pandas as pd, numpy as np, pyarrow as pa, pyarrow.parquet as pq
Path('a.txt').write_text('hello')
Path('mod.py').write_text('x = 1')
frame = pd.DataFrame({'id': [1, 2, 3], 'v': [0.5, 1.5, 2.5]})
frame.to_csv('data.csv', index=False)
frame.to_json('data.json')
frame.to_pickle('data.pkl')
frame.to_parquet('data.parquet')
np.save('arr.npy', np.arange(4))
np.savetxt('arr.txt', np.arange(4))
Path('parts').mkdir()
frame.to_parquet('parts/p1.parquet')
frame.to_parquet('parts/p2.parquet')
import sqlite3
with sqlite3.connect('ro.sqlite') as con:
    con.execute('create table t(x)')
con.close()
"""


@dataclass(frozen=True)
class FileCase:
    name: str
    cell: str
    expected: tuple[tuple[str, str, str], ...]  # (relative path, mode, via)


def fc(name: str, cell: str, *expected: tuple[str, str, str]) -> FileCase:
    return FileCase(name, textwrap.dedent(cell).strip(), expected)


CASES = [
    fc("open read", "text = open('a.txt').read()", ("a.txt", "read", "open")),
    fc(
        "open write",
        "with open('b.txt', 'w') as f:\n    f.write('data')",
        ("b.txt", "write", "open"),
    ),
    fc(
        "open append", "with open('a.txt', 'a') as f:\n    f.write('!')", ("a.txt", "write", "open")
    ),
    fc(
        "open r+ reads and writes",
        "with open('a.txt', 'r+') as f:\n    f.read()\n    f.write('!')",
        ("a.txt", "read", "open"),
        ("a.txt", "write", "open"),
    ),
    fc("pathlib", "t = Path('a.txt').read_text()", ("a.txt", "read", "open")),
    fc(
        "repeated opens merge",
        "for _ in range(3):\n    open('a.txt').read()",
        ("a.txt", "read", "open"),
    ),
    fc("pandas read_csv", "d = pd.read_csv('data.csv')", ("data.csv", "read", "open")),
    fc("pandas to_csv", "frame.to_csv('out.csv')", ("out.csv", "write", "open")),
    fc("pandas read_json", "d = pd.read_json('data.json')", ("data.json", "read", "open")),
    fc("pandas read_pickle", "d = pd.read_pickle('data.pkl')", ("data.pkl", "read", "open")),
    fc("pandas to_pickle", "frame.to_pickle('out.pkl')", ("out.pkl", "write", "open")),
    fc(
        "pandas read_parquet",
        "d = pd.read_parquet('data.parquet')",
        ("data.parquet", "read", "pyarrow"),
    ),
    fc("pandas to_parquet", "frame.to_parquet('out.parquet')", ("out.parquet", "write", "pyarrow")),
    fc("numpy load", "a = np.load('arr.npy')", ("arr.npy", "read", "open")),
    fc("numpy save", "np.save('out.npy', np.ones(3))", ("out.npy", "write", "open")),
    fc("numpy loadtxt", "a = np.loadtxt('arr.txt')", ("arr.txt", "read", "open")),
    fc(
        "pyarrow read_table",
        "t = pq.read_table('data.parquet')",
        ("data.parquet", "read", "pyarrow"),
    ),
    fc(
        "pyarrow ParquetFile",
        "m = pq.ParquetFile('data.parquet').metadata",
        ("data.parquet", "read", "pyarrow"),
    ),
    fc(
        "pyarrow write_table",
        "pq.write_table(pa.table({'x': [1]}), 'w.parquet')",
        ("w.parquet", "write", "pyarrow"),
    ),
    fc(
        "pyarrow csv",
        "import pyarrow.csv as pcsv\nt = pcsv.read_csv('data.csv')",
        ("data.csv", "read", "pyarrow"),
    ),
    fc(
        "pyarrow dataset resolves files",
        "import pyarrow.dataset as ds\nt = ds.dataset('parts').to_table()",
        ("parts/p1.parquet", "read", "pyarrow"),
        ("parts/p2.parquet", "read", "pyarrow"),
    ),
    fc(
        "polars read_csv",
        "import polars as pl\nd = pl.read_csv('data.csv')",
        ("data.csv", "read", "polars"),
    ),
    fc(
        "polars scan with a glob",
        "import polars as pl\nd = pl.scan_parquet('parts/*.parquet').collect()",
        ("parts/p1.parquet", "read", "polars"),
        ("parts/p2.parquet", "read", "polars"),
    ),
    fc(
        "polars write_parquet",
        "import polars as pl\npl.DataFrame({'x': [1]}).write_parquet('pl.parquet')",
        ("pl.parquet", "write", "polars"),
    ),
    fc(
        "sqlite3 connect",
        "import sqlite3\ncon = sqlite3.connect('db.sqlite')\ncon.execute('create table t(x)')\n"
        "con.commit()\ncon.close()",
        ("db.sqlite", "write", "sqlite3"),
    ),
    fc(
        "sqlite3 read only",
        "import sqlite3\ncon = sqlite3.connect('ro.sqlite')\n"
        "n = con.execute('select * from t').fetchall()\ncon.close()",
        ("ro.sqlite", "read", "sqlite3"),
    ),
    fc(
        "duckdb relation fetched",
        "import duckdb\nrel = duckdb.read_csv('data.csv')\nrel.fetchall()",
        ("data.csv", "read", "duckdb"),
    ),
    fc(
        "duckdb.sql with a glob",
        "import duckdb\n"
        "n = duckdb.sql(\"select count(*) from read_parquet('parts/*.parquet')\").fetchall()",
        ("parts/p1.parquet", "read", "duckdb"),
        ("parts/p2.parquet", "read", "duckdb"),
    ),
    fc(
        "duckdb.read_csv",
        "import duckdb\nrows = duckdb.read_csv('data.csv').fetchall()",
        ("data.csv", "read", "duckdb"),
    ),
    fc(
        "duckdb connection execute",
        "import duckdb\ncon = duckdb.connect()\n"
        "rows = con.execute(\"select * from 'data.csv'\").fetchall()",
        ("data.csv", "read", "duckdb"),
    ),
    fc(
        "duckdb COPY writes",
        "import duckdb\nduckdb.sql(\"copy (select 1 as x) to 'dk.csv'\")",
        ("dk.csv", "write", "duckdb"),
    ),
    fc("python sources are noise", "src = open('mod.py').read()"),
    fc(
        "folders and /proc are noise",
        "import os\nn = os.listdir('.')\ns = open('/proc/self/status').read()",
    ),
    fc("a failed open is not a read", "try:\n    open('missing.txt')\nexcept OSError:\n    pass"),
]


@pytest.fixture
def workdir(traced: Traced, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    traced.run(SETUP)
    return tmp_path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_reads_and_writes(traced: Traced, workdir: Path, c: FileCase) -> None:
    record = traced.run(c.cell)
    assert record["status"] == "ok", record["error_message"]
    got = [(f["path"], f["mode"], f["via"]) for f in record["files"]]
    want = [(str(workdir / rel), mode, via) for rel, mode, via in c.expected]
    assert sorted(got) == sorted(want)
    for entry in record["files"]:
        path = Path(entry["path"])
        if entry["mode"] == "write" or "r+" not in c.cell:
            assert entry["sha256"] == sha(path)
            assert entry["size"] == path.stat().st_size
    assert traced.tracer.failures == 0
    assert not traced.tracer.duck.used  # DuckDB's log is read once, in the cell that used it


def test_read_and_write_in_one_cell_names_both_versions(traced: Traced, workdir: Path) -> None:
    old = sha(workdir / "a.txt")
    record = traced.run("with open('a.txt', 'r+') as f:\n    f.read()\n    f.write('!')")
    by_mode = {f["mode"]: f["sha256"] for f in record["files"]}
    assert by_mode == {"read": old, "write": sha(workdir / "a.txt")}


def test_unchanged_file_is_not_hashed_again(traced: Traced, workdir: Path) -> None:
    hasher = traced.tracer.hasher
    hasher.racy_ns = 0  # trust entries at once: the file was written moments ago
    first = traced.run("t = open('a.txt').read()")
    calls = hasher.calls
    second = traced.run("t = open('a.txt').read()")
    assert hasher.calls == calls
    assert second["files"] == first["files"]
    (workdir / "a.txt").write_text("changed")
    third = traced.run("t = open('a.txt').read()")
    assert hasher.calls == calls + 1
    assert third["files"][0]["sha256"] == sha(workdir / "a.txt") != first["files"][0]["sha256"]


def test_a_large_file_read_is_hashed_once_beside_the_reader(
    traced: Traced, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlprod_nb.tracer import files

    monkeypatch.setattr(files, "PREFETCH_BYTES", 1 << 16)
    hasher = traced.tracer.hasher
    hasher.racy_ns = 0
    big = workdir / "big.bin"
    big.write_bytes(os.urandom(1 << 18))
    calls = hasher.calls
    record = traced.run("with open('big.bin', 'rb') as f:\n    size = len(f.read())")
    assert hasher.calls == calls + 1  # by the thread started at open; finish waited for it
    assert [(f["mode"], f["sha256"]) for f in record["files"]] == [("read", sha(big))]
    big.write_bytes(os.urandom(1 << 18))  # a new version is hashed anew
    record = traced.run("with open('big.bin', 'rb') as f:\n    size = len(f.read())")
    assert record["files"][0]["sha256"] == sha(big)


def test_racy_entries_are_hashed_again(traced: Traced, workdir: Path) -> None:
    hasher = traced.tracer.hasher
    hasher.racy_ns = 3600 * 10**9  # "just changed" however slow this machine is
    (workdir / "fresh.txt").write_text("just written")
    traced.run("t = open('fresh.txt').read()")
    calls = hasher.calls
    traced.run("t = open('fresh.txt').read()")
    assert hasher.calls == calls + 1  # changed within the racy window: not trusted yet
    hasher.racy_ns = 0
    traced.run("t = open('fresh.txt').read()")
    calls = hasher.calls
    traced.run("t = open('fresh.txt').read()")
    assert hasher.calls == calls  # once trusted, the stat data is enough


def test_rename_records_the_final_path(traced: Traced, workdir: Path) -> None:
    record = traced.run(
        "import os\nwith open('tmp.part', 'w') as f:\n    f.write('x')\n"
        "os.replace('tmp.part', 'final.txt')"
    )
    assert [(f["path"], f["mode"]) for f in record["files"]] == [
        (str(workdir / "final.txt"), "write")
    ]


IMPORT_HOOK = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config
config = Config()
config.HistoryManager.enabled = False
shell = InteractiveShell(config=config)
shell.run_line_magic("load_ext", "mlprod_nb")
heavy = sorted(m for m in ("pandas", "pyarrow", "duckdb", "polars", "numpy") if m in sys.modules)
shell.run_cell("from pyarrow.parquet import read_table, write_table\\nimport pyarrow as pa")
shell.run_cell("write_table(pa.table({'x': [1, 2]}), 'hook.parquet')")
shell.run_cell("t = read_table('hook.parquet')")
print(json.dumps(heavy))
"""


def test_native_readers_are_patched_at_import(tmp_path: Path) -> None:
    env = {**os.environ, "MLPROD_NB_HOME": str(tmp_path / ".mlprod")}
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_HOOK],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []  # the tracer imports none
    lines = [r for p in (tmp_path / ".mlprod/journal").glob("*.ndjson") for r in journal.records(p)]
    files = [
        (f["path"], f["mode"], f["via"])
        for r in lines
        if r["kind"] == "execution"
        for f in r["files"]
    ]
    target = str(tmp_path / "hook.parquet")
    assert files == [(target, "write", "pyarrow"), (target, "read", "pyarrow")]


def test_duckdb_connection_made_before_loading(
    shell: InteractiveShell, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "early.csv").write_text("a,b\n1,2\n")
    shell.run_cell("import duckdb\ncon = duckdb.connect()")  # before %load_ext
    shell.run_line_magic("load_ext", "mlprod_nb")
    record = Traced(shell, home).run("rows = con.sql(\"select * from 'early.csv'\").fetchall()")
    assert [(f["path"], f["mode"], f["via"]) for f in record["files"]] == [
        (str(tmp_path / "early.csv"), "read", "duckdb")
    ]


def test_the_stores_own_files_are_noise(traced: Traced, workdir: Path) -> None:
    journal = next((traced.home / "journal").glob("*.ndjson"))
    record = traced.run(f"t = open({str(journal)!r}).read()\nopen('a.txt').read()")
    assert [f["path"] for f in record["files"]] == [str(workdir / "a.txt")]


def test_partitioned_writes_name_the_files_written(traced: Traced, workdir: Path) -> None:
    (workdir / "part_out").mkdir()
    old = workdir / "part_out" / "old.txt"
    old.write_text("there before")
    os.utime(old, (1_700_000_000, 1_700_000_000))
    record = traced.run("frame.to_parquet('part_out', partition_cols=['id'])")
    written = sorted(p for p in (workdir / "part_out").rglob("*.parquet"))
    assert len(written) == 3
    assert sorted((f["path"], f["mode"], f["via"], f["sha256"]) for f in record["files"]) == [
        (str(p), "write", "pyarrow", sha(p)) for p in written
    ]
