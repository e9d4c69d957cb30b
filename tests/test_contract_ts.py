"""The panel's TypeScript interfaces name only fields the Python records serialise.

The REST answers are ``jsonable`` of the frozen records in ``lineage/model.py`` (which
``tests/store/test_layout.py`` ties to ``records.py``). Each interface in
``labextension/src/api.ts`` that mirrors a record may name only that record's fields
(plus the few the server adds to an answer), and must name every field the panel
relies on: a field renamed or dropped in Python fails here, not in a user's browser.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from mlprod_nb.lineage import model

API = Path(__file__).resolve().parents[1] / "labextension" / "src" / "api.ts"

# interface -> (record, fields the server adds to that record's JSON)
MIRRORS: dict[str, tuple[type, set[str]]] = {
    "IFileAccess": (model.FileAccess, set()),
    "IExecution": (model.Execution, {"stale"}),
    "IDatasetVersion": (model.DatasetVersion, set()),
    "IDataset": (model.Dataset, set()),
    "IEdge": (model.Edge, set()),
    "IStaleReason": (model.StaleReason, set()),
    "IStaleCell": (model.StaleCell, set()),
    "IRun": (model.RunSummary, set()),
}
FIELD = re.compile(r"^\s*(\w+)\??:", re.M)


def interface_fields(name: str) -> set[str]:
    """The fields of ``interface name`` in api.ts."""
    text = API.read_text()
    found = re.search(r"export interface " + name + r"\b[^{]*\{(.*?)\n  \}", text, re.S)
    assert found, f"api.ts has no interface {name}"
    body = re.sub(r"/\*.*?\*/", "", found.group(1), flags=re.S)
    body = re.sub(r"\{[^{}]*\}", "{}", body)  # inline object types: not fields of ours
    return {m.group(1) for m in FIELD.finditer(body)}


@pytest.mark.parametrize("interface", list(MIRRORS))
def test_an_interface_names_only_fields_its_record_serialises(interface: str) -> None:
    record, added = MIRRORS[interface]
    python = {f.name for f in dataclasses.fields(record)} | added
    assert set(interface_fields(interface)) - python == set()
