"""Step kernels: one Jupyter kernel per worker thread, reused across steps.

Each worker thread owns its kernel and its own event loop (``run_sync`` keeps
one loop per thread), so papermill runs in the worker and never touches the
main thread's signal handlers. Before a step, a silent execution resets the
namespace (when the kernel is reused), returns to the run's working directory,
loads the tracer and tells it the run and step.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import RunFailedError

# Sent silently before every step (silent executions fire no cell events).
_PREPARE = """\
{reset}import os as _mlprod_os
_mlprod_os.chdir({cwd!r})
del _mlprod_os
try:
    get_ipython().run_line_magic("load_ext", "mlprod_nb")
    from mlprod_nb.tracer.context import set_context as _mlprod_set_context
    _mlprod_set_context(run={run!r}, step={step!r})
    del _mlprod_set_context
    __import__("mlprod_nb.pipeline.handoff").pipeline.handoff.take()  # secrets off os.environ
except ImportError:
    pass
"""
# Like ``%reset -f`` (drop every user name and the output history) without its full
# ``gc.collect()``, which costs ~50 ms a step once pandas is loaded.
_RESET = """\
def _mlprod_reset(ip):  # deletes itself with the rest of the user names
    for name in [n for n in ip.user_ns if n not in ip.user_ns_hidden]:
        del ip.user_ns[name]
    ip.user_ns["Out"].clear()
    ip.user_ns.update({"_": "", "__": "", "___": ""})
_mlprod_reset(get_ipython())
"""


async def _wait_for_ready(client: Any, timeout: float) -> None:
    """jupyter_client's readiness check without its fixed 0.2 s IOPub drain at the end.

    A kernel_info reply on shell plus any IOPub message (the kernel's busy status for
    that request) proves both channels are connected; then drain what is queued.
    """
    from queue import Empty

    deadline = time.monotonic() + timeout
    while True:
        client.kernel_info()
        try:
            msg = await client.shell_channel.get_msg(timeout=1)
        except Empty:
            msg = None
        if msg is not None and msg["msg_type"] == "kernel_info_reply":
            try:
                await client.iopub_channel.get_msg(timeout=0.2)
            except Empty:
                pass
            else:
                client._handle_kernel_info_reply(msg)
                break
        if not await client._async_is_alive():
            raise RuntimeError("Kernel died before replying to kernel_info")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")
    while True:
        try:
            await client.iopub_channel.get_msg(timeout=0.02)
        except Empty:
            break


class StepKernel:
    """A kernel started in ``cwd`` with ``env``; used by one thread at a time."""

    def __init__(
        self, kernel_name: str, cwd: Path, env: Mapping[str, str], log: Path | None = None
    ) -> None:
        self.kernel_name = kernel_name
        self.cwd = cwd
        self.env = dict(env)
        self.km: Any = None
        self.log = log
        self._client: Any = None
        self.steps_run = 0

    def start(self) -> None:
        from jupyter_core.utils import run_sync

        from ..headless import CellIdKernelClient, kernel_manager

        km = kernel_manager(self.kernel_name)

        owner = self

        class Client(CellIdKernelClient):
            """Remembers itself, so the cell hook reaches papermill's client."""

            def __init__(self, **kwargs: Any) -> None:
                super().__init__(**kwargs)
                owner._client = self

            async def wait_for_ready(self, timeout: float | None = None) -> None:
                await _wait_for_ready(self, 60.0 if timeout is None else timeout)

        km.client_factory = Client
        log = self.log.open("ab") if self.log is not None else subprocess.DEVNULL
        try:  # the kernel's own chatter goes to the run's kernels.log, not the terminal
            run_sync(km.start_kernel)(cwd=str(self.cwd), env=self.env, stdout=log, stderr=log)
        finally:
            if not isinstance(log, int):
                log.close()
        self.km = km

    @property
    def pid(self) -> int | None:
        pid = getattr(getattr(self.km, "provisioner", None), "pid", None)
        return pid if isinstance(pid, int) else None

    def _on_cell_execute(self, cell: Any, cell_index: int) -> None:
        """nbclient's hook: the next execute request carries this cell's id."""
        if self._client is not None:
            self._client.next_cell_id = cell.get("id")

    def prepare(self, run_id: str, step: str) -> None:

        code = _PREPARE.format(
            reset=_RESET if self.steps_run else "", cwd=str(self.cwd), run=run_id, step=step
        )
        client = self.km.client()
        client.start_channels()
        try:  # shell only: requests queue until connected, so no readiness dance is needed
            msg_id = client.execute(code, silent=True, store_history=False)
            reply = self._reply(client, msg_id, 120, step=step, run_id=run_id)
        finally:
            self._close_client()
        content = reply.get("content", {})
        if content.get("status") != "ok":
            raise RunFailedError(
                f"could not prepare the kernel: {content.get('ename')}: {content.get('evalue')}",
                step=step,
                run_id=run_id,
                hint="check that mlprod-nb is installed in the kernel's environment",
            )

    def _reply(self, client: Any, msg_id: str, timeout: float, **facts: str) -> dict[str, Any]:
        """The reply to ``msg_id``; fails within a second or so when the kernel dies."""
        from jupyter_core.utils import run_sync

        deadline = time.monotonic() + timeout
        while True:
            try:
                reply: dict[str, Any] = run_sync(client._async_recv_reply)(msg_id, timeout=1)
                return reply
            except TimeoutError:
                if not run_sync(self.km.is_alive)():
                    raise RunFailedError(
                        "the step's kernel died (killed, or out of memory)",
                        hint="run again; if it recurs, check the step's memory use",
                        **facts,
                    ) from None
                if time.monotonic() > deadline:
                    raise

    def warm(self, modules: Sequence[str]) -> None:
        """Import the setup cells' modules silently (binding no names), ahead of the steps."""

        code = f"for _m in {list(modules)!r}:\n    try:\n        __import__(_m)\n"
        code += "    except Exception:\n        pass\ndel _m\n"
        client = self.km.client()
        client.start_channels()
        try:
            msg_id = client.execute(code, silent=True, store_history=False)
            self._reply(client, msg_id, 300)
        finally:
            self._close_client()

    def execute(self, notebook: Path, output: Path, parameters: Mapping[str, Any]) -> None:
        """Run a step notebook with papermill in this kernel (raises papermill's errors)."""
        import papermill

        from .handoff import step_input

        self.steps_run += 1
        source, given = step_input(notebook, parameters)  # secrets come from the env
        try:
            papermill.execute_notebook(
                source,
                str(output),
                parameters=given,
                kernel_name=self.kernel_name,
                km=self.km,
                progress_bar=False,
                log_output=False,
                request_save_on_cell_execute=False,  # one write at the end (or on error)
                on_cell_execute=self._on_cell_execute,
            )
        finally:
            self._close_client()

    def _close_client(self) -> None:
        """papermill leaves its client open on a kernel it does not own: close it here."""
        client, self._client = self._client, None
        if client is not None:
            client.stop_channels()
            if client._created_context:
                client.context.destroy(linger=0)
                client._created_context = False

    def interrupt(self) -> None:
        from jupyter_core.utils import run_sync

        if self.km is not None:
            try:
                run_sync(self.km.interrupt_kernel)()
            except RuntimeError:
                pass

    def shutdown(self) -> None:
        from jupyter_core.utils import run_sync

        if self.km is not None:
            try:
                run_sync(self.km.shutdown_kernel)(now=True)
            except RuntimeError:
                pass
            self.km = None


def kernel_name(notebook: Path) -> str:
    """The kernel a step notebook asks for (``python3`` when it does not say)."""
    try:
        meta = json.loads(notebook.read_text()).get("metadata", {})
        return str(meta.get("kernelspec", {}).get("name") or "python3")
    except (OSError, ValueError, AttributeError):
        return "python3"


def kernel_env(home: Path) -> dict[str, str]:
    """The kernel's environment: ours, with the store pinned so lineage lands in it."""
    env = dict(os.environ)
    env["MLPROD_NB_HOME"] = str(home)
    env.pop("JPY_SESSION_NAME", None)  # steps are not the notebook a parent kernel runs
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env
