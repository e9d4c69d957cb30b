"""Profiles of real files (CSV, parquet, a DuckDB database) and drift between versions."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from mlprod_nb.data import drift
from mlprod_nb.data.profile import cached, profile_of
from mlprod_nb.store.profiles import PERCENTILES, profile_frame


def _column(profile: dict, name: str) -> dict:
    return next(c for c in profile["columns"] if c["name"] == name)


def test_csv_with_nulls_and_mixed_types(tmp_path: Path, home: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text("id,score,code,plan\n1,0.5,7,pro\n2,,x9,free\n3,1.5,,pro\n4,2.5,12,\n")
    found = profile_of(home, path)
    assert found is not None
    table = found["tables"][""]
    assert table["rows"] == 4
    score = _column(table, "score")
    assert (score["type"], score["nulls"], score["min"], score["max"]) == ("DOUBLE", 0.25, 0.5, 2.5)
    assert score["mean"] == pytest.approx(1.5)
    assert len(score["percentiles"]) == PERCENTILES
    code = _column(table, "code")  # numbers and text in one column: text
    assert code["type"] == "VARCHAR"
    assert code["nulls"] == 0.25
    assert "percentiles" not in code
    plan = _column(table, "plan")
    assert plan["top"] == [["pro", 2], ["free", 1]]
    assert plan["nulls"] == 0.25


def test_parquet_and_a_duckdb_database(tmp_path: Path, home: Path) -> None:
    frame = pd.DataFrame({"x": [1.0, None, 3.0, 4.0], "tag": ["a", "b", None, "a"]})
    parquet = tmp_path / "data.parquet"
    frame.to_parquet(parquet)
    table = profile_of(home, parquet)["tables"][""]  # type: ignore[index]
    assert table["rows"] == 4
    assert _column(table, "x")["nulls"] == 0.25
    assert _column(table, "tag")["top"][0] == ["a", 2]

    database = tmp_path / "features.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE TABLE users AS SELECT range AS id FROM range(10)")
        con.execute("CREATE TABLE events AS SELECT range % 3 AS kind FROM range(30)")
    tables = profile_of(home, database)["tables"]  # type: ignore[index]
    assert sorted(tables) == ["events", "users"]
    assert (tables["users"]["rows"], tables["events"]["rows"]) == (10, 30)
    assert _column(tables["users"], "id")["max"] == 9


def test_a_profile_is_computed_once_per_content(tmp_path: Path, home: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("v\n1\n2\n3\n")
    first = profile_of(home, path)
    assert first is not None
    stored = home / "profiles" / f"{first['sha256']}.json"
    assert json.loads(stored.read_text()) == first
    copy = tmp_path / "copy.csv"  # the same bytes elsewhere: the same profile, not recomputed
    copy.write_bytes(path.read_bytes())
    assert profile_of(home, copy) == first
    old = first["sha256"]
    path.write_text("v\n10\n20\n")  # a new version: profiled anew; the old one is still known
    second = profile_of(home, path)
    assert second is not None
    assert second["sha256"] != old
    assert cached(home, old) == first
    assert profile_of(home, path, old) == first
    path.write_text("v\n99\n")
    assert profile_of(home, path, "0" * 64) is None  # that version is gone and was not profiled


@pytest.mark.parametrize(
    ("what", "flagged"),
    [
        ("resample", set()),
        ("shift", {"x", "plan"}),
        ("schema", {"plan", "extra", "k"}),
    ],
)
def test_drift_flags_shifts_and_schema_changes_not_resamples(what: str, flagged: set[str]) -> None:
    rng = np.random.default_rng(7)

    def sample(mean: float = 0.0, shares: tuple[float, ...] = (0.6, 0.3, 0.1)) -> pd.DataFrame:
        n = 20_000
        return pd.DataFrame(
            {
                "x": rng.normal(mean, 1.0, n),
                "k": rng.integers(0, 5, n),
                "plan": rng.choice(["free", "pro", "team"], n, p=list(shares)),
            }
        )

    base = profile_frame(sample())
    if what == "resample":
        new = sample()
    elif what == "shift":
        new = sample(0.5, (0.3, 0.3, 0.4))
    else:
        new = sample().drop(columns="plan").assign(extra=1.0, k=lambda f: f["k"].astype(float))
    found = {d.column: d for d in drift.table_drift(base, profile_frame(new))}
    assert {name for name, d in found.items() if d.flagged} == flagged
    if what == "resample":
        assert all(d.psi is not None and d.psi < drift.MODERATE for d in found.values())
    if what == "schema":
        assert found["plan"].describe() == "plan: removed (was VARCHAR)"
        assert found["extra"].change == "added"
        assert found["k"].describe().startswith("k: BIGINT -> DOUBLE")
