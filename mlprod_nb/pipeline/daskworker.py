"""What a Dask worker process runs for a step: the step in a kernel kept for the run's next steps.

The ``dask`` executor sends ``run_step`` as each step's task. A worker process keeps
the kernels it started for a run (``_KERNELS``), so its next step of that run reuses
one as the local runner's threads do; ``release`` shuts them down when the run ends
(the driver calls it on every worker). A kernel outlives neither its worker: ipykernel
exits when its parent process is gone, also after a SIGKILL.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..paths import Layout
from .executors import Done, Setting, Task
from .kernels import StepKernel
from .rundir import RunDir
from .worker import execute, failure, output

STARTED = "mlprod-step-started"  # the event topic a worker tells the driver on


@dataclass(frozen=True)
class Remote:
    """What a worker needs of the run's ``Setting`` (a ``RunDir`` and its lock do not travel)."""

    run_id: str
    pipeline: Path
    home: Path
    kernel_name: str
    cwd: Path
    env: dict[str, str]
    isolate: bool

    @classmethod
    def of(cls, setting: Setting) -> Remote:
        run = setting
        home = run.rundir.layout.home
        return cls(run.run_id, run.pipeline, home, run.kernel_name, run.cwd, run.env, run.isolate)

    def setting(self) -> Setting:
        rundir = RunDir(Layout(self.home), self.run_id)
        given = (self.kernel_name, self.cwd, self.env, self.isolate)
        return Setting(self.run_id, self.pipeline, rundir, *given, warm_imports=())


@dataclass(frozen=True)
class Ran:
    """A step's ``Done`` and where it ran: the worker's address and process, the kernel's pid."""

    done: Done
    worker: str
    pid: int
    kernel_pid: int | None


@dataclass
class _Kernels:
    idle: list[StepKernel]
    busy: list[StepKernel]


_LOCK = threading.Lock()
_KERNELS: dict[str, _Kernels] = {}  # run id -> this process's kernels for it


def run_step(remote: Remote, task: Task, *upstream: Ran) -> Ran:
    """The task of one step; Dask starts it once the upstream steps' tasks (its arguments) ended."""
    from distributed import get_worker

    worker = get_worker()
    setting = remote.setting()
    started = time.time()
    try:
        kernel = _take(setting)
    except Exception as error:  # the kernel did not start: the step fails with why
        done = failure(task.step, started, error, output(setting, task.step))
        return Ran(done, worker.address, os.getpid(), None)
    event = {"run": remote.run_id, "step": task.step.name, "worker": worker.address}
    worker.log_event(STARTED, {**event, "pid": os.getpid(), "kernel_pid": kernel.pid})
    try:
        done = execute(kernel, setting, task)
    finally:
        _give_back(remote, kernel)
    return Ran(done, worker.address, os.getpid(), kernel.pid)


def _take(setting: Setting) -> StepKernel:
    """An idle kernel of this run in this process, or a new one (always new with ``isolate``)."""
    with _LOCK:
        kernels = _KERNELS.setdefault(setting.run_id, _Kernels([], []))
        kernel = kernels.idle.pop() if kernels.idle and not setting.isolate else None
    if kernel is None:
        log = setting.rundir.folder / "kernels.log"
        kernel = StepKernel(setting.kernel_name, setting.cwd, setting.env, log)
        kernel.start()
    with _LOCK:
        kernels.busy.append(kernel)
    return kernel


def _give_back(remote: Remote, kernel: StepKernel) -> None:
    with _LOCK:
        kernels = _KERNELS.get(remote.run_id)
        if kernels is not None and kernel in kernels.busy:
            kernels.busy.remove(kernel)
            if kernel.km is not None and not remote.isolate:
                kernels.idle.append(kernel)
                return
    kernel.shutdown()  # isolated, broken, or its run was released meanwhile


def interrupt(run_id: str) -> None:
    """Ctrl-C for the run's running steps in this process (their cells raise KeyboardInterrupt)."""
    with _LOCK:
        kernels = _KERNELS.get(run_id)
        running = list(kernels.busy) if kernels is not None else []
    for kernel in running:
        kernel.interrupt()


def release(run_id: str) -> int:
    """Shut down this process's kernels of a run that ended; how many there were."""
    with _LOCK:
        kernels = _KERNELS.pop(run_id, None)
    found = [*kernels.idle, *kernels.busy] if kernels is not None else []
    for kernel in found:
        kernel.shutdown()
    return len(found)
