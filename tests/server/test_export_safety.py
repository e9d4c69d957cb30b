"""POST export through the server gets export's protection: 409 for a folder it did not write."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

Api = Callable[..., Awaitable[tuple[int, Any]]]

FLOW = [("data = [1, 2, 3]", ["step:load"]), ("total = sum(data)", ["step:train"])]


async def test_export_refuses_a_folder_it_did_not_write(
    api: Api, make_notebook: Callable[..., Path], jp_root_dir: Path
) -> None:
    make_notebook("flow.ipynb", FLOW)
    mine = jp_root_dir / "mine"
    mine.mkdir()
    (mine / "pipeline.json").write_text("{}")
    (mine / "data.csv").write_text("1,2\n")
    status, body = await api("export", method="POST", body={"path": "flow.ipynb", "output": "mine"})
    assert status == 409, body
    assert "export may not replace it" in body["message"]
    assert "--force" in body["message"]
    assert str(mine) in body["message"]
    assert (mine / "data.csv").read_text() == "1,2\n"
    assert (mine / "pipeline.json").read_text() == "{}"


async def test_reexport_keeps_the_users_files(
    api: Api, make_notebook: Callable[..., Path], jp_root_dir: Path
) -> None:
    make_notebook("flow.ipynb", FLOW)
    status, body = await api("export", method="POST", body={"path": "flow.ipynb"})
    assert status == 200, body
    folder = jp_root_dir / "flow.pipeline"
    (folder / "params.yaml").write_text("n: 5\n")
    status, body = await api("export", method="POST", body={"path": "flow.ipynb"})
    assert (status, body["ok"]) == (200, True), body
    assert (folder / "params.yaml").read_text() == "n: 5\n"
    assert json.loads((folder / "pipeline.json").read_text())["steps"]


async def test_a_file_at_the_output_path_is_409(
    api: Api, make_notebook: Callable[..., Path], jp_root_dir: Path
) -> None:
    make_notebook("flow.ipynb", FLOW)
    (jp_root_dir / "out").write_text("a file")
    status, body = await api("export", method="POST", body={"path": "flow.ipynb", "output": "out"})
    assert status == 409, body
    assert (jp_root_dir / "out").read_text() == "a file"
