"""Executing notebooks without JupyterLab, with the tracer on and cell ids sent.

JupyterLab puts each cell's id in the execute request's metadata (``cellId``);
nbclient does not. ``CellIdKernelClient`` does, for the id set just before each
execution (from nbclient's ``on_cell_execute`` hook), so the tracer can tell
which cell ran. ``trace_notebook`` runs a whole notebook that way, in its own
folder, with ``JPY_SESSION_NAME`` naming it and ``--ext=mlprod_nb`` loading the
tracer at kernel start. The pipeline runner reuses the client class.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from jupyter_client.asynchronous.client import AsyncKernelClient

from .errors import NotebookError, RunFailedError

TRACER_ARGUMENTS = ["--ext=mlprod_nb"]

Progress = Callable[[int, int, str | None, str], None]  # (index, total, cell id, first line)


class CellIdKernelClient(AsyncKernelClient):
    """An async kernel client that sends ``cellId`` in the next execute request's metadata.

    Set ``next_cell_id`` before ``execute``; it is used once, so silent executions in
    between (such as setting the tracer's run context) carry no cell id.
    """

    next_cell_id: str | None = None

    def execute(
        self,
        code: str,
        silent: bool = False,
        store_history: bool = True,
        user_expressions: dict[str, Any] | None = None,
        allow_stdin: bool | None = None,
        stop_on_error: bool = True,
    ) -> str:
        cell_id, self.next_cell_id = self.next_cell_id, None
        if not isinstance(code, str):
            raise ValueError(f"code {code!r} must be a string")
        content = {
            "code": code,
            "silent": silent,
            "store_history": store_history and not silent,
            "user_expressions": user_expressions or {},
            "allow_stdin": self.allow_stdin if allow_stdin is None else allow_stdin,
            "stop_on_error": stop_on_error,
        }
        metadata = {"cellId": cell_id} if cell_id and not silent else {}
        msg = self.session.msg("execute_request", content, metadata=metadata)
        self.shell_channel.send(msg)
        return str(msg["header"]["msg_id"])


@dataclass(frozen=True)
class TraceResult:
    notebook: Path
    cells: int  # code cells executed
    seconds: float
    kernel_log: str  # what the kernel wrote to stderr (its own warnings, extension errors)


def kernel_manager(kernel_name: str) -> Any:
    """An async kernel manager whose clients send cell ids."""
    from jupyter_client.manager import AsyncKernelManager

    return AsyncKernelManager(
        kernel_name=kernel_name,
        client_class="mlprod_nb.headless.CellIdKernelClient",
        client_factory=CellIdKernelClient,
    )


def kernel_env(notebook: Path) -> dict[str, str]:
    """The kernel's environment: ours, plus the notebook's path for the tracer."""
    return {**os.environ, "JPY_SESSION_NAME": str(notebook)}


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()[:60]
    return ""


def trace_notebook(
    path: str | Path,
    *,
    timeout: int = 600,
    kernel_name: str | None = None,
    progress: Progress | None = None,
    cwd: Path | None = None,
) -> TraceResult:
    """Execute every code cell of ``path`` in a new kernel with the tracer loaded, in
    ``cwd`` (default: the notebook's folder).

    The notebook file is not modified. A cell that raises ends the run with
    ``RunFailedError`` naming it; the executions before it are in the journal.
    """
    import nbformat
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    from .pipeline.source import check_notebook_path

    notebook = Path(path).expanduser().resolve()
    check_notebook_path(notebook)  # a directory or an over-long name: say so plainly
    try:
        nb = nbformat.read(notebook, as_version=4)  # type: ignore[no-untyped-call]
    except FileNotFoundError as error:
        raise NotebookError(
            "no such notebook", path=notebook, hint="check the path and try again"
        ) from error
    except Exception as error:  # nbformat raises many kinds for unreadable files
        raise NotebookError(
            f"the notebook cannot be read ({error})",
            path=notebook,
            hint="open it in JupyterLab and save it again",
        ) from error
    code_cells = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    total = len(code_cells)
    name = kernel_name or nb.metadata.get("kernelspec", {}).get("name") or "python3"
    _check_kernel(name, notebook)
    km = kernel_manager(name)
    position: dict[str, Any] = {"index": 0, "cell": None}

    def on_cell_execute(cell: Any, cell_index: int) -> None:
        position["index"] += 1
        position["cell"] = cell
        kc = client.kc
        if isinstance(kc, CellIdKernelClient):
            kc.next_cell_id = cell.get("id")
        if progress is not None:
            progress(position["index"], total, cell.get("id"), _first_line(cell.source))

    client = NotebookClient(
        nb,
        km=km,
        timeout=timeout,
        kernel_name=name,
        allow_errors=False,
        resources={"metadata": {"path": str(cwd or notebook.parent)}},
        extra_arguments=list(TRACER_ARGUMENTS),
        on_cell_execute=on_cell_execute,
    )
    began = time.monotonic()
    with tempfile.TemporaryFile() as log:
        try:
            client.execute(env=kernel_env(notebook), stderr=log)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
            raise _failure(error, position, total, timeout, notebook, _tail(log)) from error
        except NoSuchKernel as error:
            raise _no_such_kernel(name, notebook) from error
        except RuntimeError as error:  # jupyter_client: the kernel died while starting
            if position["cell"] is not None:
                raise
            raise NotebookError(
                f"the kernel {name!r} did not start ({error})\n{_tail(log)}",
                path=notebook,
                hint="check that the kernel's environment has ipykernel and mlprod-nb",
            ) from error
        return TraceResult(notebook, total, time.monotonic() - began, _tail(log))


def _no_such_kernel(name: str, notebook: Path) -> NotebookError:
    return NotebookError(
        f"no kernel named {name!r} is installed",
        path=notebook,
        hint="pass --kernel with one of `jupyter kernelspec list`",
    )


def _check_kernel(name: str, notebook: Path) -> None:
    """The kernel exists and runs IPython (the tracer is an IPython extension)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel as error:
        raise _no_such_kernel(name, notebook) from error
    if (spec.language or "").lower() != "python":
        raise NotebookError(
            f"the kernel {name!r} runs {spec.language}; the tracer needs an IPython kernel",
            path=notebook,
            hint="pass --kernel python3 (or another ipykernel)",
        )


def _failure(
    error: Exception,
    position: dict[str, Any],
    total: int,
    timeout: int,
    notebook: Path,
    kernel_log: str,
) -> RunFailedError:
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    cell = position["cell"]
    if isinstance(error, CellExecutionError):
        what = f"raised {error.ename}: {error.evalue}"
    elif isinstance(error, CellTimeoutError):
        what = f"did not finish within {timeout} s"
    else:
        what = f"killed the kernel\n{kernel_log}"
    return RunFailedError(
        f"code cell {position['index']} of {total} {what}",
        path=notebook,
        cell_id=cell.get("id") if cell is not None else None,
        hint="fix the cell and trace again; the executions before it are recorded",
    )


def _tail(log: IO[bytes], limit: int = 4000) -> str:
    log.seek(0)
    return log.read()[-limit:].decode("utf-8", "replace")
