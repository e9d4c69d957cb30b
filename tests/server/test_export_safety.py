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


MALFORMED = [
    ("tags-a-string", {"tags": "step:two"}, "c1"),
    ("metadata-a-list", None, "c1"),
    ("not-python", "R", None),
]


async def test_malformed_notebooks_are_400_naming_the_cell(
    api: Api, make_notebook: Callable[..., Path], jp_root_dir: Path
) -> None:
    for case, change, cell in MALFORMED:
        path = make_notebook(f"{case}.ipynb", FLOW)
        notebook = json.loads(path.read_text())
        if case == "metadata-a-list":
            notebook["cells"][1]["metadata"] = ["step:two"]
        elif case == "not-python":
            notebook["metadata"]["kernelspec"]["language"] = change
            notebook["metadata"]["language_info"] = {"name": "R"}
        else:
            notebook["cells"][1]["metadata"] = change
        path.write_text(json.dumps(notebook))
        status, body = await api("export", method="POST", body={"path": path.name})
        assert status == 400, (case, body)
        assert body["message"], case
        assert body.get("cell_id") == cell, (case, body)
        if case == "not-python":
            assert "'R'" in body["message"] or " R " in body["message"], body
        assert not (jp_root_dir / f"{case}.pipeline").exists(), case
