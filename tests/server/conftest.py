"""A real Jupyter server with the mlprod_nb extension, requiring a token.

pytest-jupyter's fixtures are imported here rather than named in ``pytest_plugins``
(allowed only in the top-level conftest), so they serve this folder only.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import nbformat
import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403

from mlprod_nb.journal import JournalWriter
from mlprod_nb.records import Dependency, ExecutionId, FileAccess, new_execution


@pytest.fixture
def store_home(jp_root_dir: Path) -> Path:
    return jp_root_dir / ".mlprod"


@pytest.fixture
def jp_server_config(store_home: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"mlprod_nb": True}},
        "MlprodApp": {
            "store_home": str(store_home),
            "idle_close_seconds": 0.5,
            "lock_timeout_seconds": 0.5,
        },
    }


Fetch = Callable[..., Awaitable[Any]]
Api = Callable[..., Awaitable[tuple[int, Any]]]


async def finish_run(api: Api, run_id: str, timeout: float = 120.0) -> dict[str, Any]:
    """Poll ``run/ID`` until the run is no longer running; its last status."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status, body = await api(f"run/{run_id}")
        assert status == 200, body
        if body["status"] != "running":
            return body
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"run {run_id} still running after {timeout} s: {body['log_tail']}")
        await asyncio.sleep(0.3)


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
        if method in ("POST", "PATCH"):
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
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        notebook.metadata["language_info"] = {"name": "python"}
        for index, (source, tags) in enumerate(cells):
            cell = nbformat.v4.new_code_cell(source, metadata={"tags": tags})
            cell.id = f"c{index}"
            notebook.cells.append(cell)
        path = jp_root_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, path)
        return path

    return make


class Journal:
    """Writes tracer-shaped journal records for one session into the store's journal."""

    def __init__(self, home: Path, notebook: Path, session: str = "s1") -> None:
        self.notebook = str(notebook.resolve())
        self.session = session
        self.writer = JournalWriter(home / "journal", name=f"test-{session}")
        self.seq = 0
        self.bound: dict[str, str] = {}
        self.writer.append(
            {
                "v": 1,
                "kind": "session",
                "session": session,
                "pid": os.getpid(),
                "started": time.time(),
                "notebook": self.notebook,
                "cwd": str(notebook.parent),
                "env": None,
            }
        )

    def cell(
        self,
        cell_id: str,
        source: str,
        defines: Sequence[str] = (),
        uses: Sequence[str] = (),
        files: Sequence[tuple[Path, str]] = (),
        params: dict[str, Any] | None = None,
    ) -> str:
        """Record one execution; ``files`` are ``(path, "read"|"write")`` hashed now."""
        self.seq += 1
        execution = f"{self.session}:{self.seq}"
        accesses: list[FileAccess] = []
        for path, mode in files:
            data = path.read_bytes()
            accesses.append(
                FileAccess(
                    path=str(path.resolve()),
                    mode="write" if mode == "write" else "read",
                    sha256=hashlib.sha256(data).hexdigest(),
                    size=len(data),
                    via="open",
                    mtime_ns=path.stat().st_mtime_ns,
                )
            )
        bound = self.bound
        deps = [Dependency(name=n, execution=ExecutionId(bound[n])) for n in uses if n in bound]
        self.writer.append(
            new_execution(
                session=self.session,
                seq=self.seq,
                source=source,
                started=time.time(),
                duration_ms=1.5,
                notebook=self.notebook,
                cell_id=cell_id,
                execution_count=self.seq,
                defines=list(defines),
                uses=list(uses),
                deps=deps,
                files=accesses,
                params=dict(params or {}),
            )
        )
        for name in defines:
            self.bound[name] = execution
        return execution


@pytest.fixture
def journal(store_home: Path) -> Callable[[Path], Journal]:
    return lambda notebook: Journal(store_home, notebook)
