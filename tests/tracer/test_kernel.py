"""Through a real ipykernel: the cell id comes from the execute request's metadata."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel

from mlprod_nb import journal


@pytest.fixture
def kernel(home: Path, tmp_path: Path) -> Iterator[BlockingKernelClient]:
    env = {**os.environ, "JPY_SESSION_NAME": str(tmp_path / "churn.ipynb")}
    manager: KernelManager
    manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(tmp_path))
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def execute(client: BlockingKernelClient, code: str, **metadata: Any) -> dict[str, Any]:
    content = {
        "code": code,
        "silent": False,
        "store_history": True,
        "user_expressions": {},
        "allow_stdin": False,
        "stop_on_error": True,
    }
    request = client.session.msg("execute_request", content, metadata=metadata)
    client.shell_channel.send(request)
    while True:
        reply = client.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == request["header"]["msg_id"]:
            return dict(reply["content"])


def test_cell_ids_and_notebook_from_a_real_kernel(
    kernel: BlockingKernelClient, home: Path, tmp_path: Path
) -> None:
    assert execute(kernel, "%load_ext mlprod_nb")["status"] == "ok"
    assert execute(kernel, "x = 40", cellId="cell-a")["status"] == "ok"
    assert execute(kernel, "y = x + 2", cellId="cell-b")["status"] == "ok"
    assert execute(kernel, "1 / 0", cellId="cell-c")["status"] == "error"
    lines = [r for path in (home / "journal").glob("*.ndjson") for r in journal.records(path)]
    executions = [r for r in lines if r["kind"] == "execution"]
    assert [r["cell_id"] for r in executions] == ["cell-a", "cell-b", "cell-c"]
    assert [r["execution_count"] for r in executions] == [2, 3, 4]
    assert {r["notebook"] for r in executions} == {str(tmp_path / "churn.ipynb")}
    assert executions[1]["deps"] == [{"name": "x", "execution": executions[0]["id"]}]
    assert executions[2]["error_name"] == "ZeroDivisionError"
    assert lines[0]["kind"] == "session"


def test_a_traced_kernel_that_journaled_nothing_exits_when_asked(home: Path) -> None:
    """Closing a notebook whose tracer recorded nothing yet: the kernel ends by itself.
    ipykernel's shutdown waits for the children in its process group (~29 s), past the
    server's wait, so the kernel used to be terminated by the server, seconds later."""
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        assert execute(client, "%load_ext mlprod_nb")["status"] == "ok"  # no record yet
        assert not list((home / "journal").glob("*.ndjson"))
        process = manager.provisioner.process  # type: ignore[union-attr]
        manager.shutdown_kernel(now=False)  # asks, waits shutdown_wait_time, then signals
        assert process.wait(timeout=60) == 0  # not -15 (SIGTERM): it exited on its own
    finally:
        client.stop_channels()
        if manager.is_alive():
            manager.shutdown_kernel(now=True)
