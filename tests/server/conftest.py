"""A real Jupyter server with the mlprod_nb extension, requiring a token.

pytest-jupyter's fixtures are imported here rather than named in ``pytest_plugins``
(allowed only in the top-level conftest), so they serve this folder only.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403


@pytest.fixture
def store_home(jp_root_dir: Path) -> Path:
    return jp_root_dir / ".mlprod"


@pytest.fixture
def jp_server_config(store_home: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"mlprod_nb": True}},
        "MlprodApp": {"store_home": str(store_home), "idle_close_seconds": 0.5},
    }


Fetch = Callable[..., Awaitable[Any]]


@pytest.fixture
def api(jp_fetch: Fetch) -> Callable[..., Awaitable[tuple[int, Any]]]:
    """``await api(route, ...)`` -> (status, JSON body), whatever the status."""

    async def call(
        route: str,
        *,
        method: str = "GET",
        params: dict[str, str] | None = None,
        body: Any = None,
        raw_body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {
            "method": method,
            "params": params,
            "headers": headers,
            "raise_error": False,
        }
        if method == "POST":
            kwargs["body"] = raw_body if raw_body is not None else json.dumps(body)
        response = await jp_fetch("mlprod-nb", "api", *route.split("/"), **kwargs)
        text = response.body.decode() if response.body else ""
        return response.code, (json.loads(text) if text.strip() else None)

    return call


@pytest.fixture
def make_notebook(jp_root_dir: Path) -> Callable[[str, list[tuple[str, list[str]]]], Path]:
    """Writes an nbformat 4.5 notebook of code cells ``(source, tags)``, ids c0, c1, ..."""

    def make(relative: str, cells: list[tuple[str, list[str]]]) -> Path:
        notebook = nbformat.v4.new_notebook()
        for index, (source, tags) in enumerate(cells):
            cell = nbformat.v4.new_code_cell(source, metadata={"tags": tags})
            cell.id = f"c{index}"
            notebook.cells.append(cell)
        path = jp_root_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, path)
        return path

    return make
