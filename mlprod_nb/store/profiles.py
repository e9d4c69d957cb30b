"""Profiles of tabular data, computed by DuckDB in one pass per table.

A table's profile is its row count and, per column, the type, null fraction,
approximate distinct count, min and max, and for numbers the mean, standard
deviation and 101 approximate percentiles (what drift is measured on), for text and
other categories with at most ``CATEGORIES`` distinct values the most frequent values
with their counts (dates and times get min and max only). CSV, TSV, parquet and JSON
files are one table; a DuckDB database file is profiled table by table (opened
read-only). A DataFrame (pandas, polars, pyarrow) is profiled through DuckDB's
scan of it, so a frame and the file it came from get the same profile.

The model of a profile (plain JSON) is ``mlprod_nb.data.profile``; this module
only runs the SQL. Column names are quoted as identifiers; file paths are bound
parameters.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

PERCENTILES = 101  # 0 %, 1 %, ..., 100 %
TOP_VALUES = 20
CATEGORIES = 1_000  # text with more distinct values (ids, free text) gets no top values
TEMPORAL = ("DATE", "TIME", "TIMESTAMP", "INTERVAL")  # min and max say enough
NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL")
UNSIGNED = ("UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT")
_PROBABILITIES = "[" + ", ".join(f"{i / (PERCENTILES - 1):g}" for i in range(PERCENTILES)) + "]"

# each tabular file format and the DuckDB reader of its path (a bound parameter)
READERS: dict[str, str] = {
    ".csv": "read_csv(?)",
    ".tsv": "read_csv(?, delim = '\t')",
    ".txt": "read_csv(?)",
    ".parquet": "read_parquet(?)",
    ".pq": "read_parquet(?)",
    ".json": "read_json(?)",
    ".jsonl": "read_json(?, format = 'newline_delimited')",
    ".ndjson": "read_json(?, format = 'newline_delimited')",
}
DATABASES = (".duckdb", ".ddb")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def is_numeric(column_type: str) -> bool:
    base = column_type.split("(")[0]
    return base in NUMERIC or base in UNSIGNED


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _table(con: duckdb.DuckDBPyConnection, source: str, params: list[Any]) -> dict[str, Any]:
    """The profile of ``SELECT * FROM source`` (``params`` bound in ``source``)."""
    columns = [
        (str(row[0]), str(row[1]))
        for row in con.execute(f"DESCRIBE SELECT * FROM {source}", params).fetchall()
    ]
    parts = ["count(*)"]
    for name, kind in columns:
        q = _quote(name)
        parts += [f"count({q})", f"approx_count_distinct({q})", f"min({q})", f"max({q})"]
        if is_numeric(kind):
            d = f"{q}::DOUBLE"
            parts += [f"avg({d})", f"stddev_samp({d})", f"approx_quantile({d}, {_PROBABILITIES})"]
    row = con.execute(f"SELECT {', '.join(parts)} FROM {source}", params).fetchone()
    assert row is not None
    rows = int(row[0])
    values = iter(row[1:])
    profiled = []
    for name, kind in columns:
        present, distinct, low, high = (next(values) for _ in range(4))
        column: dict[str, Any] = {
            "name": name,
            "type": kind,
            "nulls": (rows - int(present)) / rows if rows else 0.0,
            "distinct": int(distinct or 0),
        }
        if is_numeric(kind):
            mean, std, quantiles = next(values), next(values), next(values)
            column.update(
                min=_finite(low),
                max=_finite(high),
                mean=_finite(mean),
                std=_finite(std),
                percentiles=[_finite(v) for v in quantiles] if quantiles else [],
            )
        else:
            column.update(min=_text(low), max=_text(high))
            if column["distinct"] <= CATEGORIES and not kind.startswith(TEMPORAL):
                column["top"] = _top(con, source, params, name)
        profiled.append(column)
    return {"rows": rows, "columns": profiled}


def _top(
    con: duckdb.DuckDBPyConnection, source: str, params: list[Any], name: str
) -> list[list[Any]]:
    """The column's most frequent non-null values, ``[text, count]``, most frequent first."""
    q = _quote(name)
    found = con.execute(
        f"""SELECT {q}::VARCHAR AS v, count(*) AS n FROM {source} WHERE {q} IS NOT NULL
            GROUP BY v ORDER BY n DESC, v LIMIT {TOP_VALUES}""",
        params,
    ).fetchall()
    return [[str(v), int(n)] for v, n in found]


def _connect() -> duckdb.DuckDBPyConnection:
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    return con


def profile_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """Each table of the file and its profile (one table, named "", for a flat file).

    Raises ``duckdb.Error`` when DuckDB cannot read it (the caller says so).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    con = _connect()
    try:
        if suffix in DATABASES:
            con.execute("ATTACH ? AS profiled (READ_ONLY)", [str(path)])
            names = [
                str(r[0])
                for r in con.execute(
                    """SELECT table_name FROM duckdb_tables()
                       WHERE database_name = 'profiled' ORDER BY table_name"""
                ).fetchall()
            ]
            return {n: _table(con, f"profiled.{_quote(n)}", []) for n in names}
        reader = READERS[suffix]
        if "read_parquet" in reader:  # columnar: each pass reads only its columns
            return {"": _table(con, reader, [str(path)])}
        # text formats are parsed once, into a temporary table the passes read
        con.execute(f"CREATE TEMP TABLE profiled_file AS SELECT * FROM {reader}", [str(path)])
        return {"": _table(con, "profiled_file", [])}
    finally:
        con.close()


def profile_frame(frame: Any) -> dict[str, Any]:
    """The profile of a DataFrame (pandas, polars, pyarrow), read by DuckDB's scan of it."""
    con = _connect()
    try:
        con.register("profiled_frame", frame)
        return _table(con, "profiled_frame", [])
    finally:
        con.close()


def file_schema(path: str | Path) -> list[tuple[str, str]]:
    """``(column, DuckDB type)`` of a flat tabular file, read from its header or footer."""
    path = Path(path)
    con = _connect()
    try:
        reader = READERS[path.suffix.lower()]
        described = con.execute(f"DESCRIBE SELECT * FROM {reader}", [str(path)]).fetchall()
        return [(str(r[0]), str(r[1])) for r in described]
    finally:
        con.close()


def errors() -> tuple[type[BaseException], ...]:
    """What DuckDB raises on a file it cannot read as a table."""
    import duckdb

    return (duckdb.Error,)


def current_versions(con: duckdb.DuckDBPyConnection, since: float) -> list[tuple[str, str, float]]:
    """``(path, sha256, first_seen)`` of each dataset's latest version first seen after
    ``since`` (in the lineage store: only a file's latest version can still be on disk)."""
    found = con.execute(
        """SELECT path, arg_max(sha256, first_seen), max(first_seen) FROM dataset_versions
           GROUP BY path HAVING max(first_seen) > ? ORDER BY 3""",
        [since],
    ).fetchall()
    return [(str(p), str(s), float(t)) for p, s, t in found]
