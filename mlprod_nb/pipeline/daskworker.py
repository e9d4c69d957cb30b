"""What a Dask worker process runs for a step: the step in a kernel kept for the run's next steps.

The ``dask`` executor sends ``run_step`` as each step's task. A worker process keeps
the kernels it started for a run (``_KERNELS``), so its next step of that run reuses
one as the local runner's threads do; ``release`` shuts them down when the run ends
(the driver calls it on every worker). A kernel outlives neither its worker: ipykernel
exits when its parent process is gone, also after a SIGKILL.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from ..paths import Layout
from .artifactstore import ArtifactStore, moved, relative
from .compiler import INPUTS_VAR, OUTPUTS_VAR
from .executors import Done, Setting, Task
from .kernels import StepKernel
from .rundir import RunDir
from .steplog import journals_of
from .worker import execute, failure, output

STARTED = "mlprod-step-started"  # the event topic a worker tells the driver on
STAGING = "mlprod-home"  # with an artifact store: the worker's stand-in for the store home


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
    artifacts: str | None  # the artifact store URL; None: the driver's disk is shared

    @classmethod
    def of(cls, setting: Setting) -> Remote:
        run, url = setting, setting.options.get("artifacts") or None
        home = run.rundir.layout.home
        given = (run.kernel_name, run.cwd, run.env, run.isolate)
        return cls(run.run_id, run.pipeline, home, *given, artifacts=url)

    def setting(self, home: Path | None = None) -> Setting:
        """The run as this worker sees it: at ``home`` (a staging folder) or the driver's."""
        if home is None:
            pipeline, env = self.pipeline, self.env
        else:
            pipeline, env = home / pipeline_folder(self.run_id), {**self.env}
            env["MLPROD_NB_HOME"] = str(home)  # the kernel's journal stays in the staging folder
        rundir = RunDir(Layout(home or self.home), self.run_id)
        given = (self.kernel_name, self.cwd, env, self.isolate)
        return Setting(self.run_id, pipeline, rundir, *given, warm_imports=())


@dataclass(frozen=True)
class Ran:
    """A step's ``Done`` and where it ran: the worker's address and process, the kernel's pid."""

    done: Done
    worker: str
    pid: int
    kernel_pid: int | None
    journals: tuple[str, ...] = ()  # put in the artifact store: the kernel's journal files


@dataclass
class _Kernels:
    idle: list[StepKernel]
    busy: list[StepKernel]


_LOCK = threading.Lock()
_KERNELS: dict[str, _Kernels] = {}  # run id -> this process's kernels for it
_THREADS: ThreadPoolExecutor | None = None


def _in_own_thread() -> ThreadPoolExecutor:
    """Threads of this process that run the steps' kernel work and keep their event loops.

    jupyter_core keeps a thread's event loop in a context variable, and Dask runs every
    task in a fresh context: run in Dask's thread, each step would open an event loop
    (three file descriptors) that nothing closes, until a long-lived worker runs out.
    """
    global _THREADS
    with _LOCK:
        if _THREADS is None:
            _THREADS = ThreadPoolExecutor(thread_name_prefix="mlprod-step")
        return _THREADS


def run_step(remote: Remote, task: Task, *upstream: Ran) -> Ran:
    """The task of one step; Dask starts it once the upstream steps' tasks (its arguments) ended."""
    from distributed import get_worker

    worker = get_worker()
    return _in_own_thread().submit(_run_step, remote, task, worker).result()


def _run_step(remote: Remote, task: Task, worker: Any) -> Ran:
    if remote.artifacts is None:
        return _run(remote, remote.setting(), task, worker)
    staging = Path(worker.local_directory) / STAGING
    store = ArtifactStore(remote.artifacts)
    setting = remote.setting(staging)
    try:
        setting.rundir.steps_dir.mkdir(parents=True, exist_ok=True)
        staged = _stage(store, remote, task, staging)
    except OSError as error:
        done = _failed(task, store.unreachable(error, f"Dask worker {worker.address}").message)
        return Ran(done, worker.address, os.getpid(), None)
    ran = _run(remote, setting, staged, worker)
    try:
        journals = _hand_back(store, setting, ran)
    except OSError as error:
        done = _failed(task, store.unreachable(error, f"Dask worker {worker.address}").message)
        return Ran(done, worker.address, os.getpid(), ran.kernel_pid)
    found = [
        {**a, "path": str(remote.home / relative(Path(a["path"]), staging))}
        for a in ran.done.artifacts
    ]
    done = replace(ran.done, artifacts=found)  # where the driver gets them
    return replace(ran, done=done, journals=journals)


def _run(remote: Remote, setting: Setting, task: Task, worker: Any) -> Ran:
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


def pipeline_folder(run_id: str) -> PurePosixPath:
    """Where a run's step notebooks are in the artifact store (and a worker's staging folder)."""
    return PurePosixPath("runs", run_id, "pipeline")


def _stage(store: ArtifactStore, remote: Remote, task: Task, staging: Path) -> Task:
    """Get the step notebook and the inputs from the store; the task with their staged paths."""
    notebook = pipeline_folder(remote.run_id) / task.step.notebook
    store.get(notebook, staging / notebook)
    inputs = moved(task.parameters[INPUTS_VAR].items(), remote.home, staging)
    for path in inputs.values():
        store.get(relative(Path(path), staging), Path(path))
    outputs = moved([("", task.parameters[OUTPUTS_VAR])], remote.home, staging)[""]
    return Task(task.step, {**task.parameters, INPUTS_VAR: inputs, OUTPUTS_VAR: outputs})


def _hand_back(store: ArtifactStore, setting: Setting, ran: Ran) -> tuple[str, ...]:
    """Put what the step wrote in the store: artifacts, executed notebook, the kernel's journal."""
    home, step = setting.rundir.layout.home, ran.done.step
    written = [setting.rundir.artifacts_dir(step), setting.rundir.steps_dir / f"{step}.ipynb"]
    pids = [ran.kernel_pid] if ran.kernel_pid is not None else []
    journals = journals_of(setting.rundir.layout.journal_dir, pids)
    for path in [*written, *journals]:
        if path.exists():
            store.put(path, relative(path, home))
    return tuple(str(relative(path, home)) for path in journals)


def _failed(task: Task, error: str) -> Done:
    return Done(task.step.name, "failed", time.time(), 0.0, [], error)


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


def release(run_id: str, dask_worker: Any) -> int:
    """Shut down this process's kernels of a run that ended (and remove the files it staged
    for it); how many kernels there were. ``Client.run`` passes ``dask_worker``."""
    with _LOCK:
        kernels = _KERNELS.pop(run_id, None)
    found = [*kernels.idle, *kernels.busy] if kernels is not None else []
    for kernel in found:
        kernel.shutdown()
    staged = Path(dask_worker.local_directory) / STAGING / "runs" / run_id
    shutil.rmtree(staged, ignore_errors=True)
    return len(found)
