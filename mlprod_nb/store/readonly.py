"""SQL the user typed: plain queries only, on a connection that cannot write or read files.

``mlprod-nb sql`` runs text we did not write, so three walls stand between it and
the user's files, each enough on its own for the usual mistakes:

1. DuckDB's own parser says what each statement is. Only ``SELECT`` statements
   (which include ``WITH``, ``FROM t``, ``VALUES``, ``TABLE t``, ``DESCRIBE``,
   ``SHOW`` and ``SUMMARIZE``) and ``EXPLAIN [ANALYZE]`` of such a query run;
   anything else (``COPY``, ``EXPLAIN ANALYZE COPY``, DDL, DML, ``SET``, ``PRAGMA``,
   ``ATTACH``, ``INSTALL``/``LOAD``, ``CALL`` ...) is refused before any of the text runs.
2. The database is opened ``read_only``.
3. File access is off (``enable_external_access = false``) unless the caller
   allows reading files, and the configuration is locked, so a query cannot turn
   it back on.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import QueryRefusedError, StoreError

if TYPE_CHECKING:
    import duckdb

Rows = list[tuple[Any, ...]]

CAN = (
    "`sql` runs queries only: SELECT (also WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE) "
    "and EXPLAIN of a SELECT, over the store's tables"
)


def connect(db_path: Path, *, allow_files: bool) -> duckdb.DuckDBPyConnection:
    """The store opened read-only; no file outside it is reachable unless ``allow_files``."""
    import duckdb

    config: dict[str, Any] = {"enable_external_access": allow_files, "lock_configuration": True}
    try:
        return duckdb.connect(str(db_path), read_only=True, config=config)
    except duckdb.Error as error:
        raise StoreError(
            f"the lineage store cannot be opened read-only ({error})", path=db_path
        ) from error


def _explained(text: str) -> str | None:
    """The text of the statement an ``EXPLAIN`` wraps; None when it cannot be told."""
    import duckdb

    starts = [pos for pos, kind in duckdb.tokenize(text) if kind != duckdb.token_type.comment]
    words = [text[a:b].strip() for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    if not words or words[0].upper() != "EXPLAIN":
        return None
    at, depth = 1, 0
    if at < len(words) and words[at].startswith("("):  # EXPLAIN (ANALYZE, FORMAT json) ...
        while at < len(words):
            depth += words[at].count("(") - words[at].count(")")
            at += 1
            if depth <= 0:
                break
    if at < len(words) and words[at].upper() in ("ANALYZE", "ANALYSE"):
        at += 1
    return text[starts[at] :] if at < len(words) and depth <= 0 else None


def _kind(con: duckdb.DuckDBPyConnection, statement: duckdb.Statement) -> str:
    """What ``statement`` is, by DuckDB's parse; an EXPLAIN is named by what it explains."""
    import duckdb

    kind = statement.type.name
    if statement.type != duckdb.StatementType.EXPLAIN:
        return kind
    inner = _explained(statement.query)
    if inner is None:
        return "EXPLAIN of a statement that cannot be told"
    try:
        wrapped = con.extract_statements(inner)
    except duckdb.Error:
        return "EXPLAIN of a statement that cannot be told"
    if len(wrapped) != 1:
        return "EXPLAIN of several statements"
    inner_kind = _kind(con, wrapped[0])
    return "EXPLAIN" if inner_kind == "SELECT" else f"EXPLAIN {inner_kind}"


def plain_queries(con: duckdb.DuckDBPyConnection, sql: str) -> list[duckdb.Statement]:
    """The statements of ``sql``, parsed by DuckDB; ``QueryRefusedError`` unless all are queries."""
    import duckdb

    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as error:
        raise QueryRefusedError(
            f"the query cannot be parsed: {error}", hint=f"fix the SQL; {CAN}"
        ) from error
    if not statements:
        raise QueryRefusedError("no SQL statement given", hint=CAN)
    for number, statement in enumerate(statements, 1):
        kind = _kind(con, statement)
        if kind not in ("SELECT", "EXPLAIN"):
            where = f"statement {number} of {len(statements)}" if len(statements) > 1 else "it"
            raise QueryRefusedError(
                f"refused a {kind} statement ({where}): nothing was run",
                hint=f"{CAN}; the store is written only by ingesting the journal",
            )
    return statements


def run(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()
) -> tuple[list[str], Rows]:
    """Run the queries of ``sql`` in a read-only transaction; the last one's columns and rows."""
    import duckdb

    statements = plain_queries(con, sql)
    if params and len(statements) > 1:
        raise QueryRefusedError(
            "parameters can be bound to one statement only", hint="run the queries one by one"
        )
    con.execute("BEGIN TRANSACTION READ ONLY")
    try:
        for statement in statements:
            cursor = con.execute(statement, list(params) if params else None)
        columns = [d[0] for d in cursor.description or ()]
        rows = cursor.fetchall()
    except duckdb.PermissionException as error:
        raise QueryRefusedError(
            f"refused to read a file: {str(error).splitlines()[0]}",
            hint="`sql` reads only the store's tables; pass --allow-files to read local "
            "files too (writing them stays refused)",
        ) from error
    except duckdb.Error as error:
        raise StoreError(f"the query failed: {error}", hint="fix the SQL") from error
    finally:
        con.execute("ROLLBACK")
    return columns, rows
