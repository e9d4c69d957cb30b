"""A run started from the panel outlives the server: a new server reports it finished."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, root: Path, home: Path) -> None:
        self.root, self.home = root, home
        self.token, self.port = secrets.token_hex(8), _free_port()

    def request(self, method: str, route: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/mlprod-nb/api/{route}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


@contextmanager
def running(server: Server, tmp: Path) -> Iterator[Server]:
    argv = [
        sys.executable, "-m", "jupyter_server", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={server.port}", "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={server.root}", f"--IdentityProvider.token={server.token}",
        "--ServerApp.jpserver_extensions=mlprod_nb=True", "--allow-root",
        f"--MlprodApp.store_home={server.home}",
    ]  # fmt: skip
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "config")}
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", server.port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("jupyter server did not start")
                time.sleep(0.2)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


@pytest.mark.slow
def test_run_survives_a_server_restart(
    tmp_path: Path, make_notebook: Callable[..., Path], jp_root_dir: Path
) -> None:
    make_notebook(
        "flow.ipynb",
        [
            ("seconds = 3", ["parameters"]),
            ("import time\ntime.sleep(seconds)\ndone = True", ["step:wait"]),
        ],
    )
    server = Server(jp_root_dir, jp_root_dir / ".mlprod")
    with running(server, tmp_path):
        assert server.request("POST", "export", {"path": "flow.ipynb"})[0] == 200
        status, body = server.request("POST", "run", {"pipeline": "flow.pipeline", "params": {}})
        assert status == 202, body
        run_id = body["run_id"]
        assert server.request("GET", f"run/{run_id}")[1]["status"] == "running"
    # the server is gone; the runner is not
    with running(Server(jp_root_dir, jp_root_dir / ".mlprod"), tmp_path) as again:
        deadline = time.monotonic() + 120
        while True:
            status, body = again.request("GET", f"run/{run_id}")
            assert status == 200, body
            if body["status"] != "running" or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert body["status"] == "ok", body["log_tail"]
        assert [s["name"] for s in body["steps"]] == ["wait"]
