"""A server whose run_command cannot start answers 503 with the setting to fix."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

Api = Callable[..., Awaitable[tuple[int, Any]]]


@pytest.fixture
def jp_server_config(store_home: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"mlprod_nb": True}},
        "MlprodApp": {"store_home": str(store_home), "run_command": ["/no/such/runner"]},
    }


async def test_unstartable_runner_is_503(
    api: Api, make_notebook: Callable[..., Path], store_home: Path
) -> None:
    make_notebook("flow.ipynb", [("alpha = 1", ["parameters"]), ("b = alpha", ["step:a"])])
    status, body = await api("export", method="POST", body={"path": "flow.ipynb"})
    assert status == 200, body
    status, body = await api("run", method="POST", body={"pipeline": "flow.pipeline"})
    assert status == 503, body
    assert "MlprodApp.run_command" in body["message"]
    assert list((store_home / "runs").iterdir()) == []  # no half-made run left behind
