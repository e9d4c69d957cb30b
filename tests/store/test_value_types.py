"""Value types from the journal to ``Execution.types``, and a v3 store migrated for them."""

from __future__ import annotations

from mlprod_nb.journal import JournalWriter
from mlprod_nb.paths import Layout
from mlprod_nb.store import Store, schema

from .records import execution


def _types(store: Store) -> dict[str, dict[str, str]]:
    return {e.id: dict(e.types) for e in store.notebook_lineage("/nb/a.ipynb").executions}


def test_types_are_stored_and_read_back(layout: Layout, writer: JournalWriter) -> None:
    writer.append(
        execution(
            "s1",
            1,
            defines=["rows", "lock"],
            types={"rows": "builtins.generator", "lock": "_thread.lock"},
        )
    )
    writer.append(execution("s1", 2))  # a record of an older tracer: no types
    writer.append(execution("s1", 3, defines=["d"], types={"d": "builtins.dict"}))
    with Store.open(layout) as store:
        assert _types(store) == {
            "s1:1": {"rows": "builtins.generator", "lock": "_thread.lock"},
            "s1:2": {},
            "s1:3": {"d": "builtins.dict"},
        }
    with Store.open(layout) as store:  # read again (not from an ingest's cache)
        assert _types(store)["s1:1"] == {"rows": "builtins.generator", "lock": "_thread.lock"}


def test_a_malformed_types_field_loses_the_types_not_the_execution(
    layout: Layout, writer: JournalWriter
) -> None:
    writer.append(execution("s1", 1, types=["not", "an", "object"]))
    writer.append(execution("s1", 2, types={"x2": None}))
    with Store.open(layout) as store:
        assert _types(store) == {"s1:1": {}, "s1:2": {}}
        assert store.journal_errors() == []


def test_a_version_3_store_is_migrated_and_keeps_its_executions(
    layout: Layout, writer: JournalWriter
) -> None:
    import duckdb

    writer.append(execution("s1", 1))
    with Store.open(layout):
        pass
    con = duckdb.connect(str(layout.db_path))  # as an mlprod-nb before value types left it
    con.execute("DROP TABLE value_types")
    con.execute("DELETE FROM schema_version WHERE version > 3")
    con.close()
    writer.append(execution("s1", 2, defines=["x2"], types={"x2": "builtins.int"}))
    with Store.open(layout) as store:
        assert schema.current_version(store.con) == schema.VERSION >= 4
        assert _types(store) == {"s1:1": {}, "s1:2": {"x2": "builtins.int"}}
