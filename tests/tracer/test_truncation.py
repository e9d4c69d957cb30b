"""No journal line over ``MAX_LINE_BYTES``: huge values are cut, and the record says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlprod_nb import fit
from mlprod_nb.journal import MAX_LINE_BYTES
from mlprod_nb.paths import Layout
from mlprod_nb.store import Store, queries

from .conftest import Traced


def _longest_line(home: Path) -> int:
    return max(
        len(line)
        for path in (home / "journal").glob("*.ndjson")
        for line in path.read_bytes().splitlines(keepends=True)
    )


def test_a_cell_with_megabytes_of_source(traced: Traced, home: Path) -> None:
    code = "big = 1\n# " + "a" * (6 << 20)
    record = traced.run(code)
    assert _longest_line(home) <= MAX_LINE_BYTES
    assert record["truncated"] == ["source"]
    assert code.startswith(record["source"])
    assert len(record["source"]) > MAX_LINE_BYTES // 2
    assert record["defines"] == ["big"]  # everything else is whole
    assert record["status"] == "ok"
    small = traced.run("y = big + 1")
    assert "truncated" not in small

    with Store.open(Layout(home)) as store:
        rows = store.query("SELECT seq, truncated FROM executions ORDER BY seq")[1]
        assert rows == [(record["seq"], ["source"]), (small["seq"], None)]
        cut, whole = queries.executions(store.con, "true ORDER BY seq", [])
        assert (cut.truncated, whole.truncated) == (("source",), ())
        assert store.journal_errors() == []


def test_a_huge_logged_parameter(traced: Traced, home: Path) -> None:
    record = traced.run(
        "import mlprod_nb\n"
        "mlprod_nb.log_param('lr', 0.1)\n"
        "mlprod_nb.log_param('weights', list(range(1_000_000)))\n"
        "mlprod_nb.log_param('note', 'n' * 9_000_000)\n"
        "names = [f'v{i}' for i in range(10)]"
    )
    assert _longest_line(home) <= MAX_LINE_BYTES
    assert sorted(record["truncated"]) == ["params.note", "params.weights"]
    params = record["params"]
    assert params["lr"] == 0.1
    assert params["weights"] == list(range(len(params["weights"])))
    assert 0 < len(params["weights"]) < 1_000_000
    assert set(params["note"]) == {"n"}

    with Store.open(Layout(home)) as store:
        [(truncated, weights)] = store.query(
            "SELECT e.truncated, json_array_length(p.value) FROM executions e "
            "JOIN params p ON p.execution = e.id WHERE p.name = 'weights'"
        )[1]
        assert sorted(truncated) == ["params.note", "params.weights"]
        assert weights == len(params["weights"])


_SMALL = {"v": 1, "kind": "execution", "id": "s:1", "seq": 1, "status": "ok"}
FIT_CASES = [
    ({"source": "s" * 50_000}, ["source"]),
    ({"source": "s" * 50_000, "error_message": "e" * 50_000}, ["source", "error_message"]),
    ({"source": "é\n" * 20_000}, ["source"]),  # escapes: 6 and 2 bytes a character
    ({"defines": [f"name{i}" for i in range(20_000)]}, ["defines"]),
    ({"params": {"lr": 0.1, "blob": list(range(20_000))}}, ["params.blob"]),
    ({"params": {f"p{i}": i for i in range(5_000)}}, ["params"]),
    ({"files": [{"path": "/" + "d" * 30_000, "mode": "read"}]}, ["files", "files[0].path"]),
    ({"source": "ok", "uses": ["u"] * 10}, []),
]


@pytest.mark.parametrize(("big", "cut"), FIT_CASES)
def test_fit_cuts_only_the_large_values(big: dict[str, Any], cut: list[str]) -> None:
    limit = 8_000 + fit._RESERVE
    record = {**_SMALL, **big}
    fitted = fit.fit(json.loads(json.dumps(record)), limit)
    assert len(json.dumps(fitted, separators=(",", ":"))) <= limit
    assert fitted.get("truncated", []) == cut
    assert {k: fitted[k] for k in _SMALL} == _SMALL
    assert set(fitted) - {"truncated"} == set(record)
    for name in cut:  # what is kept of a cut value is its beginning
        if "[" in name or any(other.startswith(f"{name}[") for other in cut):
            continue  # an item shortened in turn
        head, _, key = name.partition(".")
        kept, whole = fitted[head], record[head]
        if key and "[" not in name:
            kept, whole = kept.get(key), whole[key]
        if isinstance(whole, str | list):
            assert whole[: len(kept)] == kept
            assert len(kept) > 0
