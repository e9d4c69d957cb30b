"""Journal ingest into the DuckDB store, next to DuckDB's own ``read_json`` of the same bytes.

Writes realistic execution records (32-hex session ids like the tracer's, names, a
dependency, a file read, a param and a metric each) into several journal files, each
opened by its session record, in three forms: as written now (short keys, the file's
session left out: ``journal.line_of``), the long form with nulls and empty lists left
out (``journal.long_form``, the writer's lines before the short form), and as before
issue 14 (every field spelled out: ``journal.dumps``). Then, in interleaved
rounds on fresh stores over the same files (page cache warm for both):

- ours: ``Store.open`` (lock, connect, migrate, ingest every line, close);
- the physical reference: ``CREATE TABLE ... AS SELECT * FROM read_json(files)`` into a
  fresh DuckDB file, closed: parsing the same bytes into one table, nothing else.

Target: >= 100,000 executions/s (wall) at 100k and 1M executions, and journal bytes
per execution halved against the lines before issue 14. ``BENCH_TOTALS=100000`` runs
only some sizes (default ``100000,1000000``).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from mlprod_nb.journal import FileContext, dumps, line_of, long_form
from mlprod_nb.paths import Layout
from mlprod_nb.records import (
    SCHEMA,
    Dependency,
    ExecutionId,
    ExecutionRecord,
    FileAccess,
    Metric,
    Mutation,
    SessionId,
    SessionRecord,
    new_execution,
)
from mlprod_nb.store import Store

TARGET = 100_000  # executions per second, wall


def _record(session: str, seq: int, notebook: str) -> ExecutionRecord:
    return new_execution(
        session=session,
        seq=seq,
        source=f"df{seq % 40} = df{(seq - 1) % 40}.groupby('k').sum()",
        first=seq <= 40,
        started=1.7e9 + seq,
        duration_ms=12.5,
        notebook=notebook,
        cell_id=f"cell-{seq % 40}",
        execution_count=seq,
        defines=[f"df{seq % 40}"],
        uses=[f"df{(seq - 1) % 40}", "pd"],
        mutations=[Mutation(name=f"df{seq % 40}", how="item", known=True)],
        deps=[
            Dependency(name=f"df{(seq - 1) % 40}", execution=ExecutionId(f"{session}:{seq - 1}"))
        ],
        files=[
            FileAccess(
                path=f"/home/user/project/data/part-{seq % 10}.parquet",
                mode="read",
                sha256=f"{seq % 10:064x}",
                size=123456,
                via="pyarrow",
                mtime_ns=1_700_000_000_000_000_000,
            )
        ],
        params={"alpha": 0.1},
        metrics=[Metric(name="rmse", value=0.25, step=None)],
    )


FORMS = {
    "before": "before (every field)",
    "slim": "slim (long keys)",
    "short": "now (short keys)",
}


def _session(session: str, notebook: str) -> SessionRecord:
    return SessionRecord(
        v=SCHEMA,
        kind="session",
        session=SessionId(session),
        pid=4242,
        started=1.7e9,
        notebook=notebook,
        cwd="/home/user/project/notebooks",
        env=None,
    )


def _write(journal: Path, sessions: int, per_session: int, form: str) -> int:
    """``sessions`` journal files, each one kernel's life on its own notebook (its session
    record first), its lines in ``form``: "before" (``journal.dumps`` of every field, as
    before issue 14), "slim" (the long form: long keys, nulls and empty lists left out)
    or "short" (as the writer writes now: short keys, the file's session left out); bytes."""
    journal.mkdir(parents=True)
    size = 0
    for s in range(sessions):
        session = f"{s:04d}" + "5e55" * 7  # 32 hex characters, like the tracer's
        notebook = f"/home/user/project/notebooks/analysis-{s}.ipynb"
        context = FileContext()
        head = _session(session, notebook)
        context.learn(head)
        records = (_record(session, seq, notebook) for seq in range(1, per_session + 1))
        if form == "before":
            body = b"".join(dumps(r) for r in records)
        elif form == "slim":
            body = b"".join(dumps(long_form(r)) for r in records)
        else:
            body = b"".join(line_of(r, context) for r in records)
        lines = dumps(head) + body
        (journal / f"bench-{s}.ndjson").write_bytes(lines)
        size += len(lines)
    return size


def _ours(journal: Path, work: Path) -> float:
    home = work / ".mlprod"
    home.mkdir()
    (home / "journal").symlink_to(journal)
    began = time.perf_counter()
    with Store.open(Layout(home)) as store:
        seconds = time.perf_counter() - began
        _, rows = store.query("SELECT count(*) FROM executions")
    shutil.rmtree(home)
    return seconds if rows[0][0] else float("nan")


def _reference(journal: Path, work: Path) -> float:
    import duckdb

    db = work / "reference.duckdb"
    began = time.perf_counter()
    con = duckdb.connect(str(db))
    files = str(journal / "*.ndjson").replace("'", "''")
    con.execute(
        f"CREATE TABLE lines AS SELECT * FROM read_json('{files}', format='newline_delimited')"
    )
    con.close()
    seconds = time.perf_counter() - began
    db.unlink()
    return seconds


def _latency(total: int) -> dict[str, float]:
    """Median ms of open (nothing new to ingest), a SQL query and the lineage of one
    notebook of 1,000 executions, on a store of ``total`` executions."""
    with tempfile.TemporaryDirectory() as tmp:
        layout = Layout(Path(tmp) / ".mlprod")
        _write(layout.journal_dir, total // 1000, 1000, "short")
        with Store.open(layout):
            pass
        opens, lineages, sqls = [], [], []
        for _ in range(5):
            t0 = time.perf_counter()
            store = Store.open(layout)
            t1 = time.perf_counter()
            store.query("SELECT count(*) FROM executions WHERE status = ?", ["ok"])
            t2 = time.perf_counter()
            store.close()
            opens.append((t1 - t0) * 1000)
            sqls.append((t2 - t1) * 1000)
        with Store.open(layout) as store:
            for _ in range(3):
                t0 = time.perf_counter()
                store.notebook_lineage("/home/user/project/notebooks/analysis-0.ipynb")
                lineages.append((time.perf_counter() - t0) * 1000)
        return {
            "open": statistics.median(opens),
            "sql": statistics.median(sqls),
            "lineage": statistics.median(lineages),
        }


def _stats(values: list[float]) -> str:
    return f"{min(values):.2f} | {statistics.median(values):.2f} | {max(values) - min(values):.2f}"


def main() -> int:
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        _write(Path(tmp) / "j", 1, 100, "short")
        _ours(Path(tmp) / "j", Path(tmp))  # imports duckdb, pyarrow: once per process
    print(
        "first open in a fresh process (imports duckdb, pyarrow): "
        f"{time.perf_counter() - began:.2f} s"
    )
    print()
    print(
        "| executions | lines | bytes/execution | ours s: min / median / spread "
        "| read_json s: min / median / spread | ours / read_json (median) "
        "| ours executions/s (median) | vs target 100,000/s |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    worst = float("inf")
    per_form: dict[tuple[int, str], float] = {}
    totals = [int(t) for t in os.environ.get("BENCH_TOTALS", "100000,1000000").split(",")]
    for total in totals:
        sessions, rounds = (8, 5) if total <= 100_000 else (50, 3)
        for form, label in FORMS.items():
            with tempfile.TemporaryDirectory() as tmp:
                journal = Path(tmp) / "journal"
                size = _write(journal, sessions, total // sessions, form)
                ours: list[float] = []
                reference: list[float] = []
                runs: list[tuple[list[float], Callable[[Path, Path], float]]] = [
                    (ours, _ours),
                    (reference, _reference),
                ]
                for i in range(rounds):  # interleaved, the order alternating
                    for times, run in runs if i % 2 == 0 else runs[::-1]:
                        times.append(run(journal, Path(tmp)))
            per = size / total
            rate = total / statistics.median(ours)
            per_form[total, form] = per
            if form == "short":
                worst = min(worst, rate)
            ratio = statistics.median(ours) / statistics.median(reference)
            print(
                f"| {total:,} | {label} | {per:,.0f} "
                f"| {_stats(ours)} | {_stats(reference)} | {ratio:.2f}x | {rate:,.0f} "
                f"| {rate / TARGET:.2f}x |"
            )
    print()
    for total in totals:
        before = per_form[total, "before"]
        print(
            f"journal bytes per execution at {total:,}: {per_form[total, 'short']:,.0f} now, "
            f"{per_form[total, 'slim']:,.0f} slim (long keys), {before:,.0f} before "
            f"({per_form[total, 'short'] / before:.2f}x of before; target 0.50x)"
        )
    print()
    print(
        "| store size | open (lock, connect, nothing new) ms | SQL count ms "
        "| lineage of one notebook (1,000 executions) ms |"
    )
    print("|---:|---:|---:|---:|")
    for total in (10_000, 100_000):
        lat = _latency(total)
        print(
            f"| {total:,} executions | {lat['open']:.1f} | {lat['sql']:.1f} "
            f"| {lat['lineage']:.0f} |"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0 if worst >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
