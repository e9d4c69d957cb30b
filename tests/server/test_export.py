"""POST export through the server: a real compile of a small tagged notebook."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

Api = Callable[..., Awaitable[tuple[int, Any]]]

FLOW = [
    ("alpha = 2", ["parameters"]),
    ("data = [1, 2, 3]", ["step:load"]),
    ("total = sum(data) * alpha", ["step:train"]),
]


async def test_export_writes_a_pipeline(
    api: Api, make_notebook: Callable[..., Path], jp_root_dir: Path
) -> None:
    make_notebook("work/flow.ipynb", FLOW)
    status, body = await api("export", method="POST", body={"path": "work/flow.ipynb"})
    assert status == 200, body
    assert body["ok"] is True
    assert body["errors"] == []
    assert body["pipeline"] == "work/flow.pipeline"
    assert [s["name"] for s in body["steps"]] == ["load", "train"]
    train = body["steps"][1]
    assert (train["after"], train["inputs"], train["parameters"]) == (["load"], ["data"], ["alpha"])
    manifest = json.loads((jp_root_dir / "work/flow.pipeline/pipeline.json").read_text())
    assert [s["name"] for s in manifest["steps"]] == ["load", "train"]


async def test_export_check_writes_nothing(
    api: Api, make_notebook: Callable[..., Path], jp_root_dir: Path
) -> None:
    make_notebook("flow.ipynb", FLOW)
    status, body = await api("export", method="POST", body={"path": "flow.ipynb", "check": True})
    assert (status, body["ok"], body["pipeline"]) == (200, True, None)
    assert not (jp_root_dir / "flow.pipeline").exists()


async def test_export_to_a_chosen_folder(
    api: Api, make_notebook: Callable[..., Path], jp_root_dir: Path
) -> None:
    make_notebook("flow.ipynb", FLOW)
    status, body = await api(
        "export", method="POST", body={"path": "flow.ipynb", "output": "out/p1"}
    )
    assert (status, body["pipeline"]) == (200, "out/p1")
    assert (jp_root_dir / "out/p1/pipeline.json").is_file()


@pytest.mark.parametrize(
    ("cells", "cell_id", "fragment"),
    [
        ([("x = undefined_name", ["step:a"])], "c0", "undefined_name"),
        ([("a = 1", ["step:x"]), ("b = a", ["step:x"])], "c1", "duplicate step name"),
        ([("alpha = len('x')", ["parameters"]), ("y = alpha", ["step:a"])], "c0", "non-literal"),
    ],
    ids=["undefined-name", "duplicate-step", "non-literal-parameter"],
)
async def test_export_errors_name_the_cell(
    api: Api,
    make_notebook: Callable[..., Path],
    jp_root_dir: Path,
    cells: list[tuple[str, list[str]]],
    cell_id: str,
    fragment: str,
) -> None:
    make_notebook("bad.ipynb", cells)
    status, body = await api("export", method="POST", body={"path": "bad.ipynb"})
    assert status == 200, body
    assert body["ok"] is False
    [error] = body["errors"]
    assert error["cell_id"] == cell_id
    assert fragment in error["message"]
    assert not (jp_root_dir / "bad.pipeline").exists()


async def test_export_output_outside_root_is_refused(
    api: Api, make_notebook: Callable[..., Path]
) -> None:
    make_notebook("flow.ipynb", FLOW)
    status, body = await api(
        "export", method="POST", body={"path": "flow.ipynb", "output": "../escape"}
    )
    assert status == 403, body
