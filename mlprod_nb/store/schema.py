"""The store's tables, versioned; migrations only ever add.

``MIGRATIONS[i]`` takes the schema from version ``i`` to ``i + 1``. A store made
by a newer mlprod-nb (a higher version than we know) is refused rather than
guessed at.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..errors import StoreError

if TYPE_CHECKING:
    from pathlib import Path

    import duckdb

_V1 = [
    """CREATE TABLE schema_version (version INTEGER NOT NULL, applied DOUBLE NOT NULL)""",
    """CREATE TABLE journal_offsets (
        file VARCHAR PRIMARY KEY, "offset" BIGINT NOT NULL, updated DOUBLE NOT NULL)""",
    """CREATE TABLE journal_errors (
        file VARCHAR NOT NULL, "offset" BIGINT NOT NULL, reason VARCHAR NOT NULL,
        excerpt VARCHAR, ingested DOUBLE NOT NULL)""",
    """CREATE TABLE sessions (
        id VARCHAR NOT NULL, pid BIGINT, started DOUBLE, notebook VARCHAR, cwd VARCHAR,
        python VARCHAR, implementation VARCHAR, platform VARCHAR, hostname VARCHAR,
        cpu_count INTEGER, memory_bytes BIGINT, gpus VARCHAR[], packages_hash VARCHAR,
        git_root VARCHAR, git_commit VARCHAR, git_dirty BOOLEAN, journal VARCHAR)""",
    """CREATE TABLE packages (packages_hash VARCHAR NOT NULL, name VARCHAR, version VARCHAR)""",
    """CREATE TABLE executions (
        id VARCHAR NOT NULL, session VARCHAR NOT NULL, seq BIGINT NOT NULL, notebook VARCHAR,
        cell_id VARCHAR, execution_count BIGINT, source_hash VARCHAR, started DOUBLE,
        duration_ms DOUBLE, status VARCHAR, error_name VARCHAR, error_message VARCHAR,
        run VARCHAR, step VARCHAR, journal VARCHAR)""",
    """CREATE TABLE sources (hash VARCHAR PRIMARY KEY, text VARCHAR)""",
    """CREATE TABLE definitions (execution VARCHAR NOT NULL, name VARCHAR NOT NULL)""",
    """CREATE TABLE uses (execution VARCHAR NOT NULL, name VARCHAR NOT NULL)""",
    """CREATE TABLE deletes (execution VARCHAR NOT NULL, name VARCHAR NOT NULL)""",
    """CREATE TABLE mutations (
        execution VARCHAR NOT NULL, name VARCHAR NOT NULL, how VARCHAR, known BOOLEAN)""",
    """CREATE TABLE edges (
        execution VARCHAR NOT NULL, name VARCHAR NOT NULL, source VARCHAR NOT NULL)""",
    """CREATE TABLE accesses (
        execution VARCHAR NOT NULL, path VARCHAR NOT NULL, mode VARCHAR NOT NULL,
        sha256 VARCHAR, size BIGINT, mtime_ns BIGINT, via VARCHAR)""",
    """CREATE TABLE datasets (path VARCHAR PRIMARY KEY, first_seen DOUBLE)""",
    """CREATE TABLE dataset_versions (
        path VARCHAR NOT NULL, sha256 VARCHAR NOT NULL, size BIGINT, mtime_ns BIGINT,
        first_seen DOUBLE, PRIMARY KEY (path, sha256))""",
    """CREATE TABLE params (execution VARCHAR NOT NULL, name VARCHAR NOT NULL, value JSON)""",
    """CREATE TABLE metrics (
        execution VARCHAR NOT NULL, name VARCHAR NOT NULL, value DOUBLE, step BIGINT)""",
    """CREATE TABLE checks (execution VARCHAR NOT NULL, message VARCHAR, passed BOOLEAN)""",
    """CREATE TABLE runs (
        id VARCHAR NOT NULL, pipeline VARCHAR, pipeline_hash VARCHAR, source_notebook VARCHAR,
        params JSON, started DOUBLE, steps VARCHAR[], resumed_from VARCHAR)""",
    """CREATE TABLE run_ends (
        id VARCHAR NOT NULL, status VARCHAR, finished DOUBLE, error VARCHAR)""",
    """CREATE TABLE run_steps (
        run VARCHAR NOT NULL, name VARCHAR NOT NULL, status VARCHAR, started DOUBLE,
        duration_ms DOUBLE, cache_key VARCHAR, cached_from VARCHAR, notebook VARCHAR,
        params JSON, error VARCHAR, cell_id VARCHAR)""",
    """CREATE TABLE step_artifacts (
        run VARCHAR NOT NULL, step VARCHAR NOT NULL, name VARCHAR, path VARCHAR,
        sha256 VARCHAR, serializer VARCHAR)""",
]

# v2: how long each skipped journal line was; what the writer cut to fit a line
# (``truncated``: names of the fields whose values were shortened, see ``mlprod_nb.fit``)
_V2 = [
    "ALTER TABLE journal_errors ADD COLUMN length BIGINT",
    *(
        f"ALTER TABLE {table} ADD COLUMN truncated VARCHAR[]"
        for table in ("sessions", "executions", "runs", "run_steps", "run_ends")
    ),
]

# v3: notebooks renamed or moved (in JupyterLab, or with ``mlprod-nb mv``)
_V3 = [
    """CREATE TABLE renames (
        old_path VARCHAR NOT NULL, new_path VARCHAR NOT NULL, renamed DOUBLE)"""
]

# v4: the type ("module.QualName") of each value a cell bound, as the tracer saw it after
# the cell: the exporter refuses a value no serializer can pass between steps
_V4 = [
    """CREATE TABLE value_types (
        execution VARCHAR NOT NULL, name VARCHAR NOT NULL, type VARCHAR NOT NULL)"""
]

# v5: the schedule that fired a run and why (``mlprod_nb.schedule``)
_V5 = [
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS schedule VARCHAR",
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS reason VARCHAR",
]

# v6: schedules, the states of their fire times, and the input hashes their data triggers
# last fired on (``mlprod_nb.schedule``): every version a row, the highest ``seq`` the latest
# (IF NOT EXISTS: a store whose version rows were rolled back keeps its tables, as in v5)
_V6 = [
    """CREATE TABLE IF NOT EXISTS schedules (
        seq BIGINT NOT NULL, id VARCHAR NOT NULL, name VARCHAR, pipeline VARCHAR, cron VARCHAR,
        tz VARCHAR, on_new_data BOOLEAN, params JSON, catch_up VARCHAR, on_failure VARCHAR,
        retries BIGINT, retry_delay DOUBLE, paused BOOLEAN, created DOUBLE, updated DOUBLE,
        resumed DOUBLE, removed BOOLEAN, truncated VARCHAR[])""",
    """CREATE TABLE IF NOT EXISTS schedule_fires (
        seq BIGINT NOT NULL, schedule VARCHAR NOT NULL, due DOUBLE NOT NULL,
        attempt BIGINT NOT NULL, reason VARCHAR, status VARCHAR, run VARCHAR, detail VARCHAR,
        after DOUBLE, hashes MAP(VARCHAR, VARCHAR), claimer_host VARCHAR, claimer_boot VARCHAR,
        claimer_pid BIGINT, claimer_start BIGINT, hook VARCHAR, truncated VARCHAR[])""",
    """CREATE TABLE IF NOT EXISTS schedule_seen (
        seq BIGINT NOT NULL, schedule VARCHAR NOT NULL, hashes MAP(VARCHAR, VARCHAR))""",
]

# v7: the slice of the data a metric is measured on (``log_metric(..., slice="plan=pro")``)
_V7 = ["ALTER TABLE metrics ADD COLUMN IF NOT EXISTS slice VARCHAR"]

# v8: where in its journal file each session record is: an execution's short line that
# leaves its session and notebook out has those of the file's latest session record before
# it (``journal.slim``), found by (journal, journal_offset) even after a later ingest
_V8 = ["ALTER TABLE sessions ADD COLUMN IF NOT EXISTS journal_offset BIGINT"]

MIGRATIONS: list[list[str]] = [_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8]
VERSION = len(MIGRATIONS)


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    found = con.execute(  # duckdb_tables(), not information_schema: ~1 ms instead of ~15
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_version' AND NOT temporary"
    ).fetchone()
    if not found or not found[0]:
        return 0
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(con: duckdb.DuckDBPyConnection, db_path: Path) -> int:
    """Bring the schema up to ``VERSION``, each step in its own transaction."""
    version = current_version(con)
    if version > VERSION:
        raise StoreError(
            f"the lineage store has schema version {version}, newer than this mlprod-nb "
            f"understands ({VERSION})",
            path=db_path,
            hint="upgrade mlprod-nb, or move the store aside to rebuild it from the journal",
        )
    for target in range(version + 1, VERSION + 1):
        con.execute("BEGIN TRANSACTION")
        for statement in MIGRATIONS[target - 1]:
            con.execute(statement)
        con.execute("INSERT INTO schema_version VALUES (?, ?)", [target, time.time()])
        con.execute("COMMIT")
    return VERSION
