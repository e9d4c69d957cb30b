"""POST export and POST pipeline with the notebook's content: the editor's unsaved edits.

The panel sends the notebook as JupyterLab holds it; the server checks it as it would
a file, compiles it instead of the file, and keeps the path for where it lives.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

Api = Callable[..., Awaitable[tuple[int, Any]]]

FLOW = [
    ("alpha = 2", ["parameters"]),
    ("data = [1, 2, 3]", ["step:load"]),
    ("total = sum(data) * alpha", ["step:train"]),
]


def content_of(cells: list[tuple[str, list[str]]]) -> dict[str, Any]:
    """A notebook as the panel sends it: cells without outputs, ids c0, c1, ..."""
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "language": "python"}},
        "cells": [
            {"cell_type": "code", "id": f"c{i}", "source": source, "metadata": {"tags": tags}}
            for i, (source, tags) in enumerate(cells)
        ],
    }


def renamed(step: str) -> dict[str, Any]:
    """FLOW with its last step renamed in the editor, not saved."""
    return content_of([*FLOW[:2], ("total = sum(data) * alpha", [f"step:{step}"])])


async def test_check_uses_the_content_not_the_file(
    api: Api, make_notebook: Callable[..., Path], jp_root_dir: Path
) -> None:
    saved = make_notebook("work/flow.ipynb", FLOW).read_bytes()
    status, body = await api(
        "export",
        method="POST",
        body={"path": "work/flow.ipynb", "check": True, "content": renamed("fit")},
    )
    assert status == 200, body
    assert (body["ok"], body["source"], body["pipeline"]) == (True, "editor", None)
    assert [s["name"] for s in body["steps"]] == ["load", "fit"]
    assert (jp_root_dir / "work/flow.ipynb").read_bytes() == saved
    assert not (jp_root_dir / "work/flow.pipeline").exists()


async def test_export_of_content_goes_next_to_the_notebook(
    api: Api, make_notebook: Callable[..., Path], jp_root_dir: Path
) -> None:
    make_notebook("work/flow.ipynb", FLOW)
    status, body = await api(
        "export", method="POST", body={"path": "work/flow.ipynb", "content": renamed("fit")}
    )
    assert (status, body["pipeline"]) == (200, "work/flow.pipeline"), body
    manifest = json.loads((jp_root_dir / "work/flow.pipeline/pipeline.json").read_text())
    assert [s["name"] for s in manifest["steps"]] == ["load", "fit"]
    assert manifest["source"]["path"] == str((jp_root_dir / "work/flow.ipynb").resolve())


async def test_without_content_the_file_is_exported(
    api: Api, make_notebook: Callable[..., Path]
) -> None:
    make_notebook("flow.ipynb", FLOW)
    status, body = await api("export", method="POST", body={"path": "flow.ipynb", "check": True})
    assert (status, body["source"]) == (200, "file")
    assert [s["name"] for s in body["steps"]] == ["load", "train"]


async def test_outline_of_the_content(api: Api, make_notebook: Callable[..., Path]) -> None:
    make_notebook("flow.ipynb", FLOW)
    status, body = await api(
        "pipeline", method="POST", body={"path": "flow.ipynb", "content": renamed("fit")}
    )
    assert status == 200, body
    assert [s["name"] for s in body["steps"]] == ["load", "fit"]
    assert body["cells"] == {"c1": "load", "c2": "fit"}
    assert body["parameter_cells"] == ["c0"]


async def test_content_of_a_notebook_not_on_disk_yet(api: Api) -> None:
    status, body = await api(
        "export",
        method="POST",
        body={"path": "new.ipynb", "check": True, "content": renamed("fit")},
    )
    assert (status, body["ok"]) == (200, True), body


@dataclass(frozen=True)
class Cycle:
    id: str
    cells: list[tuple[str, list[str]]]
    marked: list[str]  # every cell the error names, in notebook order


CYCLES = [
    Cycle("two-steps", [("a = 1", ["step:a", "after:b"]), ("b = a", ["step:b"])], ["c0", "c1"]),
    Cycle(
        "after-on-a-later-cell",
        [
            ("a = 1", ["step:one"]),
            ("z = 3", ["after:three"]),
            ("b = a", ["step:two"]),
            ("c = b", ["step:three"]),
            ("d = 4", ["step:four"]),
        ],
        ["c0", "c1", "c2", "c3"],
    ),
]


@pytest.mark.parametrize("case", CYCLES, ids=[c.id for c in CYCLES])
async def test_a_cycle_names_every_cell_to_edit(
    api: Api, make_notebook: Callable[..., Path], case: Cycle
) -> None:
    make_notebook("flow.ipynb", FLOW)
    status, body = await api(
        "export",
        method="POST",
        body={"path": "flow.ipynb", "check": True, "content": content_of(case.cells)},
    )
    assert (status, body["ok"]) == (200, False), body
    [error] = body["errors"]
    assert "cycle" in error["message"]
    assert error["cells"] == case.marked
    assert error["cell_id"] == case.marked[0]


def _cell(content: dict[str, Any], **changes: Any) -> dict[str, Any]:
    content["cells"][1].update(changes)
    return content


@dataclass(frozen=True)
class Bad:
    id: str
    content: Any
    words: tuple[str, ...]  # in the message
    cell_id: str | None = None


BAD = [
    Bad("a-list", [1, 2], ("'content' must be",)),
    Bad("a-string", "{}", ("'content' must be",)),
    Bad("no-cells", {"nbformat": 4, "metadata": {}}, ("no 'cells' list",)),
    Bad("nbformat-3", {**content_of(FLOW), "nbformat": 3}, ("nbformat 3",)),
    Bad("tags-a-string", _cell(content_of(FLOW), metadata={"tags": "step:x"}), ("tags",), "c1"),
    Bad("cell-type", _cell(content_of(FLOW), cell_type="cod"), ("cell_type",), "c1"),
    Bad("source-a-number", _cell(content_of(FLOW), source=7), ("source",), "c1"),
    Bad(
        "not-python",
        {**content_of(FLOW), "metadata": {"kernelspec": {"name": "ir", "language": "R"}}},
        ("'R'",),
    ),
]


@pytest.mark.parametrize("route", ["export", "pipeline"])
@pytest.mark.parametrize("case", BAD, ids=[c.id for c in BAD])
async def test_bad_content_is_400_naming_the_problem(
    api: Api, make_notebook: Callable[..., Path], jp_root_dir: Path, route: str, case: Bad
) -> None:
    make_notebook("flow.ipynb", FLOW)
    status, body = await api(
        route, method="POST", body={"path": "flow.ipynb", "check": False, "content": case.content}
    )
    assert status == 400, body
    for word in case.words:
        assert word in body["message"], body
    assert body.get("cell_id") == case.cell_id, body
    assert not (jp_root_dir / "flow.pipeline").exists()


async def test_a_body_over_the_limit_is_413(api: Api, make_notebook: Callable[..., Path]) -> None:
    make_notebook("flow.ipynb", FLOW)
    content = content_of([("x = '" + "a" * (17 * 2**20) + "'", ["step:a"])])
    status, body = await api(
        "export", method="POST", body={"path": "flow.ipynb", "check": True, "content": content}
    )
    assert status == 413, body
    assert "MiB" in body["message"]


@pytest.mark.parametrize("route", ["export", "pipeline"])
@pytest.mark.parametrize(
    "path", ["../outside.ipynb", "sub/../../outside.ipynb", "/etc/outside.ipynb"]
)
async def test_content_path_stays_confined_to_the_root(
    api: Api, jp_root_dir: Path, route: str, path: str
) -> None:
    status, body = await api(
        route, method="POST", body={"path": path, "check": True, "content": renamed("fit")}
    )
    assert status == 403, body
    assert not (jp_root_dir.parent / "outside.pipeline").exists()


@pytest.mark.parametrize("route", ["export", "pipeline"])
@pytest.mark.parametrize("token", ["", "token wrong"], ids=["no-token", "wrong-token"])
async def test_content_routes_require_a_token(
    api: Api, make_notebook: Callable[..., Path], jp_root_dir: Path, route: str, token: str
) -> None:
    make_notebook("flow.ipynb", FLOW)
    status, _ = await api(
        route,
        method="POST",
        body={"path": "flow.ipynb", "content": renamed("fit")},
        headers={"Authorization": token},
    )
    assert status == 403
    assert not (jp_root_dir / "flow.pipeline").exists()


async def test_a_refused_outline_names_its_cells(
    api: Api, make_notebook: Callable[..., Path]
) -> None:
    make_notebook("flow.ipynb", FLOW)
    status, body = await api(
        "pipeline", method="POST", body={"path": "flow.ipynb", "content": renamed("Fit")}
    )
    assert status == 422, body
    assert "invalid step name 'Fit'" in body["message"]
    assert (body["cell_id"], body["cells"]) == ("c2", ["c2"])
