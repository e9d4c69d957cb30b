"""records.py is the one definition: the store's tables and the lineage model agree with it.

A field added to a record without the migration that adds its column (or a column
added without a field to fill it) fails here, naming both.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import duckdb
import pytest

from mlprod_nb import records
from mlprod_nb.lineage import model
from mlprod_nb.store import ingest, layout, schema


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    path = Path(tmp_path_factory.mktemp("layout")) / "store.duckdb"
    con = duckdb.connect(str(path))
    schema.migrate(con, path)
    found: dict[str, list[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns ORDER BY ordinal_position"
    ).fetchall():
        found.setdefault(table, []).append(column)
    con.close()
    return found


@pytest.mark.parametrize("kind", list(ingest._KINDS))
def test_every_field_of_a_record_has_its_column_and_every_column_its_field(
    kind: str, tables: dict[str, list[str]]
) -> None:
    record, table = ingest._KINDS[kind]
    derived = {f.column for f in layout.columns(record)}
    if kind in ingest._JOURNALED:
        derived.add("journal")
    if kind == "session":  # where in its journal file: the context of later short lines
        derived.add("journal_offset")
    assert set(tables[table]) - derived == set(), f"columns of {table} no field of {kind} fills"
    assert derived - set(tables[table]) == set(), f"fields of {kind} with no column in {table}"


@pytest.mark.parametrize(
    ("kind", "field"),
    [(kind, f) for kind, (record, _) in ingest._KINDS.items() for f in layout.row_fields(record)],
    ids=lambda x: x if isinstance(x, str) else ".".join(x.path),
)
def test_every_list_field_has_its_table(
    kind: str, field: layout.Field, tables: dict[str, list[str]]
) -> None:
    assert field.rows is not None
    assert field.rows.table in tables, f"{kind}.{field.column}: no table {field.rows.table}"
    if field.rows.table not in ingest._OWN:  # one row per item: the key, then the item
        expected = [*ingest._KEYS[kind], *layout.item_columns(field)]
        assert tables[field.rows.table] == expected


def test_file_accesses_keep_every_field_of_the_record(tables: dict[str, list[str]]) -> None:
    fields = list(typing.get_type_hints(records.FileAccess))
    assert sorted(tables["accesses"]) == sorted(["execution", *fields])


class Inner(typing.TypedDict):
    a: int


class Outer(typing.TypedDict):
    v: int
    kind: str
    inner: Inner


def test_a_nested_record_must_say_how_it_is_stored() -> None:
    with pytest.raises(TypeError, match=r"inner needs Columns\(...\) or Rows\(...\)"):
        layout.fields(Outer)


def test_the_json_structure_follows_the_types() -> None:
    shape = layout.structure(records.ExecutionRecord)
    assert shape["seq"] == "BIGINT"
    assert shape["status"] == "VARCHAR"  # a Literal
    assert shape["types"] == "MAP(VARCHAR, VARCHAR)"
    assert shape["params"] == "JSON"
    assert shape["files"] == [
        {
            "path": "VARCHAR",
            "mode": "VARCHAR",
            "sha256": "VARCHAR",
            "size": "BIGINT",
            "via": "VARCHAR",
            "mtime_ns": "BIGINT",
        }
    ]
    assert layout.structure(records.SessionRecord)["env"]["packages"] == [["VARCHAR"]]  # type: ignore[index]


# -- the lineage model is the record as the store answers with it ----------------------

PAIRS = [
    (records.FileAccess, model.FileAccess),
    (records.Dependency, model.Dependency),
    (records.Mutation, model.Mutation),
    (records.Metric, model.Metric),
    (records.Check, model.Check),
]


@pytest.mark.parametrize(("record", "frozen"), PAIRS, ids=lambda x: x.__name__)
def test_model_items_have_the_fields_of_their_records_in_order(record: type, frozen: type) -> None:
    assert [f.name for f in dataclasses.fields(frozen)] == list(typing.get_type_hints(record))


def test_a_model_execution_has_every_field_of_the_record() -> None:
    recorded = set(typing.get_type_hints(records.ExecutionRecord)) - {"v", "kind"}
    assert recorded - {f.name for f in dataclasses.fields(model.Execution)} == set()
