"""Reading the store back into lineage records (all SQL parameterised)."""

from __future__ import annotations

import gc
import itertools
import json
import os
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NotFoundError
from ..lineage import graph
from ..lineage.model import (
    Check,
    Dependency,
    Execution,
    FileAccess,
    Metric,
    Mutation,
    NotebookLineage,
    RunDetail,
    RunFile,
    RunMetric,
    RunSummary,
    Session,
    StepSummary,
    Writer,
    execution_of,
)
from ..lineage.renames import Rename, Renames
from ..records import metric_key, redact

if TYPE_CHECKING:
    import duckdb


def _json(value: Any) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def normalise(path: str | Path) -> str:
    return str(Path(path).expanduser().resolve())


def _grouped(
    con: duckdb.DuckDBPyConnection, sql: str, make: Callable[..., Any]
) -> dict[str, list[Any]]:
    """``make(*rest)`` of each row of ``sql`` (its first column an execution id, ``rest``
    the others), grouped by that id, in row order."""
    found: dict[str, list[Any]] = defaultdict(list)
    for key, *rest in con.execute(sql).fetchall():
        found[key].append(make(*rest))
    return found


def _values(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, list[Any]]:
    """The second column of each row of ``sql``, grouped by the first (an execution id),
    in row order: ``_grouped`` without a call per row (most child rows are one name)."""
    found: dict[str, list[Any]] = defaultdict(list)
    for key, value in con.execute(sql).fetchall():
        found[key].append(value)
    return found


def _mappings(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, dict[Any, Any]]:
    """``{second column: third}`` of the rows of ``sql``, grouped by the first."""
    found: dict[str, dict[Any, Any]] = defaultdict(dict)
    for key, name, value in con.execute(sql).fetchall():
        found[key][name] = value
    return found


def _access(
    path: str, mode: str, sha256: str | None, size: int | None, via: str | None, mtime: int | None
) -> FileAccess:
    return FileAccess(path, "write" if mode == "write" else "read", sha256, size, via or "", mtime)


_id_tables = itertools.count()


@contextmanager
def _id_table(con: duckdb.DuckDBPyConnection, ids: list[str]) -> Iterator[str]:
    """A temporary table (of this connection only) holding ``ids``, dropped after the block.

    The child tables are read by these ids: binding a list of 10,000 of them costs
    ~8 ms a query, and selecting them again from the executions table scans it once
    per child table.
    """
    name = f"lineage_ids_{next(_id_tables)}"
    con.execute(f"CREATE TEMP TABLE {name} AS SELECT unnest(?::VARCHAR[]) AS id", [ids])
    try:
        yield name
    finally:
        con.execute(f"DROP TABLE IF EXISTS {name}")


# Execution fields read from the executions table, in the order its SELECT names them.
_EXECUTION_COLUMNS = (
    "id", "session", "seq", "notebook", "cell_id", "execution_count", "started",
    "duration_ms", "status", "error_name", "error_message", "source_hash", "run", "step",
    "truncated",
)  # fmt: skip


@contextmanager
def no_collection() -> Iterator[None]:
    """The cyclic garbage collector off for the block: reading 10,000 executions makes
    ~300,000 objects, none in a cycle, and the collections they trigger (each walking
    every object made so far) cost a fifth to a quarter of the read."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def executions(
    con: duckdb.DuckDBPyConnection, where: str, params: Sequence[Any]
) -> list[Execution]:
    """Executions matching ``where`` (a condition on ``executions``), in run order, with
    everything they did."""
    with no_collection():
        return _executions(con, where, params)


def _executions(
    con: duckdb.DuckDBPyConnection, where: str, params: Sequence[Any]
) -> list[Execution]:
    # the rows chosen by rowid first: DuckDB then reads the other columns of those rows
    # only, where a join on ``where`` read every column of all rows (0.2 s at 1M executions)
    base = con.execute(
        f"""SELECT {", ".join(_EXECUTION_COLUMNS)} FROM executions
            WHERE rowid IN (SELECT rowid FROM executions WHERE {where})
            ORDER BY started, session, seq""",
        list(params),
    ).fetchall()
    if not base:
        return []
    ids = [values[0] for values in base]
    hashes = sorted({values[11] for values in base if values[11]})
    texts: dict[str, str | None] = dict(
        con.execute(
            "SELECT hash, text FROM sources WHERE hash IN (SELECT unnest(?::VARCHAR[]))",
            [hashes],
        ).fetchall()
    )

    with _id_table(con, ids) as table_of_ids:

        def rows(columns: str, table: str) -> str:
            return (
                f"SELECT execution, {columns} FROM {table} "
                f"WHERE execution IN (SELECT id FROM {table_of_ids}) ORDER BY rowid"
            )

        def child(columns: str, table: str, make: Callable[..., Any]) -> dict[str, list[Any]]:
            return _grouped(con, rows(columns, table), make)

        defines = _values(con, rows("name", "definitions"))
        types = _mappings(con, rows("name, type", "value_types"))
        uses = _values(con, rows("name", "uses"))
        deletes = _values(con, rows("name", "deletes"))
        mutations = child(
            "name, how, known",
            "mutations",
            lambda n, how, known: Mutation(n, how or "", bool(known)),
        )
        deps = child("name, source", "edges", Dependency)
        files = child("path, mode, sha256, size, via, mtime_ns", "accesses", _access)
        params_ = child("name, value", "params", lambda name, value: (name, _json(value)))
        metrics = child("name, value, step, slice", "metrics", Metric)
        checks = child("message, passed", "checks", lambda m, ok: Check(m or "", bool(ok)))
    result = []
    for (
        key, session, seq, notebook, cell_id, count, started, duration_ms, status,
        error_name, error_message, source_hash, run, step, truncated,
    ) in base:  # fmt: skip
        result.append(
            execution_of(
                {
                    "id": key,
                    "session": session,
                    "seq": seq,
                    "notebook": notebook,
                    "cell_id": cell_id,
                    "execution_count": count,
                    "started": started or 0.0,
                    "duration_ms": duration_ms or 0.0,
                    "status": status or "ok",
                    "error_name": error_name,
                    "error_message": error_message,
                    "source_hash": source_hash or "",
                    "run": run,
                    "step": step,
                    "source": texts.get(source_hash) if source_hash else None,
                    "truncated": tuple(truncated) if truncated else (),
                    "defines": tuple(defines.get(key, ())),
                    "types": types.get(key) or {},
                    "uses": tuple(uses.get(key, ())),
                    "deletes": tuple(deletes.get(key, ())),
                    "mutations": tuple(mutations.get(key, ())),
                    "deps": tuple(deps.get(key, ())),
                    "files": tuple(files.get(key, ())),
                    "params": redact(dict(params_[key])) if key in params_ else {},
                    "metrics": tuple(metrics.get(key, ())),
                    "checks": tuple(checks.get(key, ())),
                }
            )
        )
    return result


_OF_NOTEBOOK = "notebook IN (SELECT unnest(?::VARCHAR[]))"


@dataclass
class _Known:
    """A notebook's executions read so far: its ``executions`` rows up to ``rowid``."""

    rowid: int = -1  # the table's last row when read
    last_id: str | None = None  # the id in that row, to notice a store rebuilt meanwhile
    rows: int = 0  # the notebook's rows up to there
    executions: list[Execution] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)


_NEWEST = """SELECT max(rowid), arg_max(id, rowid),
                    count(*) FILTER (
                        WHERE rowid <= ? AND notebook IN (SELECT unnest(?::VARCHAR[]))),
                    (SELECT id FROM executions WHERE rowid = ?)
             FROM executions"""


class LineageCache:
    """The executions of the notebooks read last, for reading only what was ingested since.

    Ingesting only appends, and all rows of an execution are written in one
    transaction, so an execution once read never changes: what a notebook ran since
    is its ``executions`` rows past the last row seen. Kept across closing and
    reopening the store (the server closes it when idle); a store rebuilt meanwhile
    is noticed (another id in the last row seen, another row count) and read again.
    The one later change, a source text recorded after an execution whose own
    record had none, is looked up again.
    """

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._known: OrderedDict[tuple[str, ...], _Known] = OrderedDict()

    def executions(self, con: duckdb.DuckDBPyConnection, names: list[str]) -> list[Execution]:
        key = tuple(names)
        known = self._known.pop(key, None) or _Known()
        row = con.execute(_NEWEST, [known.rowid, names, known.rowid]).fetchone()
        last, last_id, rows, then_id = row if row is not None else (None, None, 0, None)
        last = -1 if last is None else int(last)
        if known.rowid >= 0 and (then_id != known.last_id or rows != known.rows):
            known = _Known()
        if known.rowid < last:
            new = executions(
                con,
                "rowid > ? AND rowid <= ? AND notebook IN (SELECT unnest(?::VARCHAR[]))",
                [known.rowid, last, names],
            )
            if known.ids & {e.id for e in new}:  # an id ingested twice: read everything
                known, new = _Known(), executions(con, _OF_NOTEBOOK, [names])
            known.executions.extend(new)
            known.ids.update(e.id for e in new)
            known.rows = len(known.executions)
            known.rowid, known.last_id = last, last_id
            _fill_sources(con, known.executions)
        self._known[key] = known
        while len(self._known) > self.size:
            self._known.popitem(last=False)
        return list(known.executions)

    def clear(self) -> None:
        self._known.clear()


def _fill_sources(con: duckdb.DuckDBPyConnection, found: list[Execution]) -> None:
    """Source texts recorded after the executions that ran them were read."""
    missing = {e.source_hash for e in found if e.source is None and e.source_hash}
    if not missing:
        return
    texts = dict(
        con.execute(
            "SELECT hash, text FROM sources WHERE hash IN (SELECT unnest(?::VARCHAR[]))",
            [sorted(missing)],
        ).fetchall()
    )
    if not texts:
        return
    for index, e in enumerate(found):
        if e.source is None and texts.get(e.source_hash) is not None:
            found[index] = replace(e, source=texts[e.source_hash])


def _outside_writers(con: duckdb.DuckDBPyConnection, found: list[Execution]) -> list[Writer]:
    """Executions outside ``found`` that wrote a file at the content one of ``found`` read.

    Looked up by the read paths: the accesses table is scanned once for their writes,
    and only the few writers found are looked up in the executions table.
    """
    reads = {(f.path, f.sha256) for e in found for f in e.files if f.mode == "read" and f.sha256}
    if not reads:
        return []
    own = {e.id for e in found}
    writes = [
        (path, sha, execution)
        for path, sha, execution in con.execute(
            """SELECT DISTINCT path, sha256, execution FROM accesses
               WHERE mode = 'write' AND sha256 IS NOT NULL
                 AND path IN (SELECT unnest(?::VARCHAR[]))""",
            [sorted({path for path, _ in reads})],
        ).fetchall()
        if (path, sha) in reads and execution not in own
    ]
    if not writes:
        return []
    where = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT id, notebook, cell_id, started FROM executions "
            "WHERE id IN (SELECT unnest(?::VARCHAR[]))",
            [sorted({w[2] for w in writes})],
        ).fetchall()
    }
    found_writers = []
    for path, sha, execution in writes:
        if execution in where:
            notebook, cell_id, started = where[execution]
            found_writers.append(Writer(path, sha, execution, notebook, cell_id, started or 0.0))
    return found_writers


def notebook_lineage(
    con: duckdb.DuckDBPyConnection, path: str | Path, cache: LineageCache | None = None
) -> NotebookLineage:
    # the tracer keeps the path it was given (absolute, normalised, symlinks kept)
    given = os.path.normpath(os.path.abspath(os.path.expanduser(path)))
    here = {given, normalise(path)}
    moves = renames(con)
    names = sorted(set().union(*(moves.earlier_names(n) for n in here)))
    if cache is None:
        found = executions(con, _OF_NOTEBOOK, [names])
    else:
        found = cache.executions(con, names)
    if moves:  # only what is this notebook now: not a later notebook at an old name
        found = [e for e in found if e.notebook and moves.now(e.notebook, e.started) in here]
    if not found:
        raise NotFoundError(
            "no executions are recorded for this notebook",
            path=given,
            hint=(
                "run it with the tracer on (`%load_ext mlprod_nb` in the notebook) "
                "or trace it headlessly with `mlprod-nb trace NOTEBOOK`; if it was renamed "
                "while JupyterLab was closed: `mlprod-nb mv --record-only OLD_PATH NOTEBOOK`"
            ),
        )
    lineage = graph.build(given, found, _outside_writers(con, found))
    return replace(lineage, sessions=tuple(sessions(con, sorted({e.session for e in found}))))


def session_executions(con: duckdb.DuckDBPyConnection, session_id: str) -> list[Execution]:
    """Every execution of one kernel session, in the order it ran them, with sources."""
    found = executions(con, "session = ?", [session_id])
    _fill_sources(con, found)
    return sorted(found, key=lambda e: e.seq)


def session_ids(con: duckdb.DuckDBPyConnection, prefix: str) -> list[str]:
    """The ids of the sessions starting with ``prefix`` (the CLI shows 12 characters)."""
    rows = con.execute(
        "SELECT DISTINCT id FROM sessions WHERE starts_with(id, ?) ORDER BY id", [prefix]
    ).fetchall()
    return [str(r[0]) for r in rows]


def renames(con: duckdb.DuckDBPyConnection) -> Renames:
    """Every rename and move of a notebook recorded in the store."""
    rows = con.execute("SELECT old_path, new_path, renamed FROM renames").fetchall()
    return Renames(Rename(old, new, at or 0.0) for old, new, at in rows)


def sessions(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> list[Session]:
    rows = con.execute(
        """SELECT id, any_value(pid), min(started), any_value(notebook), any_value(cwd),
                  any_value(python), any_value(platform), any_value(hostname),
                  any_value(cpu_count), any_value(memory_bytes), any_value(gpus),
                  any_value(packages_hash), any_value(git_commit), any_value(git_dirty)
           FROM sessions WHERE id IN (SELECT unnest(?::VARCHAR[]))
           GROUP BY id ORDER BY min(started), id""",
        [list(ids)],
    ).fetchall()
    return [
        Session(
            id=r[0],
            pid=r[1],
            started=r[2],
            notebook=r[3],
            cwd=r[4],
            python=r[5],
            platform=r[6],
            hostname=r[7],
            cpu_count=r[8],
            memory_bytes=r[9],
            gpus=tuple(r[10] or ()),
            packages_hash=r[11],
            git_commit=r[12],
            git_dirty=r[13],
        )
        for r in rows
    ]


_STEP_COLUMNS = (
    "run", "name", "status", "duration_ms", "started", "cache_key", "cached_from", "notebook",
    "error", "cell_id", "params",
)  # fmt: skip
_RUN_COLUMNS = {
    "id": "r.id",
    "pipeline": "r.pipeline",
    "status": "coalesce(e.status, 'running')",
    "started": "r.started",
    "finished": "e.finished",
    "params": "r.params",
    "source_notebook": "r.source_notebook",
    "pipeline_hash": "r.pipeline_hash",
    "resumed_from": "r.resumed_from",
    "error": "e.error",
    "planned_steps": "r.steps",
    "schedule": "r.schedule",
    "reason": "r.reason",
}


def _named(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any], columns: Sequence[str]
) -> list[dict[str, Any]]:
    """The rows of ``sql`` as dicts keyed by ``columns`` (the order its SELECT names them)."""
    return [
        dict(zip(columns, row, strict=True)) for row in con.execute(sql, list(params)).fetchall()
    ]


def _steps(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> dict[str, list[StepSummary]]:
    artifacts: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for run, step, name, path, sha, serializer in con.execute(
        "SELECT run, step, name, path, sha256, serializer FROM step_artifacts "
        "WHERE run IN (SELECT unnest(?::VARCHAR[])) ORDER BY rowid",
        [run_ids],
    ).fetchall():
        artifacts[(run, step)].append(
            {"name": name, "path": path, "sha256": sha, "serializer": serializer}
        )
    latest: dict[str, dict[str, StepSummary]] = defaultdict(dict)
    for row in _named(
        con,
        f"SELECT {', '.join(_STEP_COLUMNS)} FROM run_steps "
        "WHERE run IN (SELECT unnest(?::VARCHAR[])) ORDER BY started, rowid",
        [run_ids],
        _STEP_COLUMNS,
    ):
        run, name = row["run"], row["name"]
        latest[run][name] = StepSummary(
            name=name,
            status=row["status"] or "ok",
            duration_ms=row["duration_ms"],
            cached=row["status"] == "cached",
            started=row["started"],
            cache_key=row["cache_key"],
            cached_from=row["cached_from"],
            notebook=row["notebook"],
            error=row["error"],
            cell_id=row["cell_id"],
            artifacts=tuple(artifacts.get((run, name), ())),
            params=_json(row["params"]) or {},
        )
    return {run: list(steps.values()) for run, steps in latest.items()}


def _last_metrics(
    con: duckdb.DuckDBPyConnection, run_ids: list[str]
) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = defaultdict(dict)
    for run, name, part, value in con.execute(
        """SELECT e.run, m.name, m.slice, m.value
           FROM metrics m JOIN executions e ON e.id = m.execution
           WHERE e.run IN (SELECT unnest(?::VARCHAR[])) ORDER BY e.started, e.seq, m.rowid""",
        [run_ids],
    ).fetchall():
        found[run][metric_key(name, part)] = value
    return found


def _summaries(
    con: duckdb.DuckDBPyConnection, where: str, params: Sequence[Any]
) -> list[RunSummary]:
    rows = _named(
        con,
        f"""SELECT {", ".join(_RUN_COLUMNS.values())}
            FROM runs r LEFT JOIN (
                SELECT id, arg_max(status, finished) AS status, max(finished) AS finished,
                       arg_max(error, finished) AS error
                FROM run_ends GROUP BY id) e ON e.id = r.id
            WHERE {where} ORDER BY r.started DESC, r.id""",
        params,
        tuple(_RUN_COLUMNS),
    )
    ids = [r["id"] for r in rows]
    steps = _steps(con, ids)
    metrics = _last_metrics(con, ids)
    result = []
    for row in rows:
        run_steps = steps.get(row["id"], [])
        started, finished = row["started"] or 0.0, row["finished"]
        result.append(
            RunSummary(
                id=row["id"],
                pipeline=row["pipeline"] or "",
                status=row["status"],
                started=started,
                finished=finished,
                duration_ms=(finished - started) * 1000.0 if finished is not None else None,
                params=redact(_json(row["params"]) or {}),
                metrics=metrics.get(row["id"], {}),
                steps=tuple(run_steps),
                cached_steps=sum(1 for s in run_steps if s.cached),
                source_notebook=row["source_notebook"],
                pipeline_hash=row["pipeline_hash"],
                resumed_from=row["resumed_from"],
                error=row["error"],
                planned_steps=tuple(row["planned_steps"] or ()),
                schedule=row["schedule"],
                reason=row["reason"],
            )
        )
    return result


def runs(con: duckdb.DuckDBPyConnection, pipeline: str | Path | None = None) -> list[RunSummary]:
    """Runs, newest first; only those of ``pipeline`` (a folder) when given."""
    if pipeline is None:
        return _summaries(con, "true", [])
    return _summaries(con, "r.pipeline = ?", [normalise(pipeline)])


# the fields of each, in the order its SELECT below names them
_RUN_METRIC_COLUMNS = ("name", "value", "step", "pipeline_step", "execution", "slice")
_RUN_FILE_COLUMNS = ("pipeline_step", "execution", "path", "mode", "sha256", "size")


def run(con: duckdb.DuckDBPyConnection, run_id: str) -> RunDetail:
    found = _summaries(con, "r.id = ?", [run_id])
    if not found:
        raise NotFoundError(
            "no such run in the lineage store",
            run_id=run_id,
            hint="list the runs with `mlprod-nb runs`",
        )
    history = [
        RunMetric(**row)
        for row in _named(
            con,
            """SELECT m.name, m.value, m.step, e.step, e.id, m.slice
               FROM metrics m JOIN executions e ON e.id = m.execution
               WHERE e.run = ? ORDER BY e.started, e.seq, m.rowid""",
            [run_id],
            _RUN_METRIC_COLUMNS,
        )
    ]
    files = [
        RunFile(**row)
        for row in _named(
            con,
            """SELECT e.step, a.execution, a.path, a.mode, a.sha256, a.size
               FROM accesses a JOIN executions e ON e.id = a.execution
               WHERE e.run = ? ORDER BY e.started, e.seq, a.rowid""",
            [run_id],
            _RUN_FILE_COLUMNS,
        )
    ]
    ids = [
        r[0]
        for r in con.execute(
            "SELECT id FROM executions WHERE run = ? ORDER BY started, seq", [run_id]
        ).fetchall()
    ]
    return RunDetail(found[0], tuple(history), tuple(files), tuple(ids))


def journal_errors(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, str]]:
    return [
        (str(r[0]), int(r[1]), str(r[2]))
        for r in con.execute(
            'SELECT file, "offset", reason FROM journal_errors ORDER BY file, "offset"'
        ).fetchall()
    ]


def step_sessions(
    con: duckdb.DuckDBPyConnection, run_ids: Sequence[str]
) -> list[tuple[str, str | None, Session]]:
    """``(run, step, session)``: the kernel sessions that ran each step of the runs."""
    rows = con.execute(
        "SELECT DISTINCT run, step, session FROM executions "
        "WHERE run IN (SELECT unnest(?::VARCHAR[])) ORDER BY run, step, session",
        [list(run_ids)],
    ).fetchall()
    found = {s.id: s for s in sessions(con, sorted({str(r[2]) for r in rows}))}
    return [(str(r[0]), r[1], found[r[2]]) for r in rows if r[2] in found]


def package_versions(
    con: duckdb.DuckDBPyConnection, hashes: Sequence[str]
) -> dict[str, dict[str, str]]:
    """The installed packages (name -> version) each environment's packages hash stands for."""
    found: dict[str, dict[str, str]] = {h: {} for h in hashes}
    for digest, name, version in con.execute(
        "SELECT packages_hash, name, version FROM packages "
        "WHERE packages_hash IN (SELECT unnest(?::VARCHAR[])) ORDER BY name",
        [list(hashes)],
    ).fetchall():
        found[digest][str(name)] = str(version)
    return found
