"""The ``local`` executor: threads of the driver that each drive their own kernel through papermill.

A worker owns one kernel for the whole run (or a fresh one per step with
``isolate``) and its own event loop, so papermill never runs on the main thread
(which keeps Ctrl-C for the driver). Results go back to the driver as ``Done``.
The ``Pool`` starts workers as the run can keep them busy: a kernel costs about
as much as a short step, so one is added only for a step expected to be long.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from pathlib import Path

from ..errors import MlprodError
from . import manifest as mf
from .artifacts import INDEX
from .executors import Capacity, Done, Setting, Task
from .kernels import StepKernel

NEW_KERNEL_MS = 1500.0  # about what starting and warming one more kernel costs here


class Worker(threading.Thread):
    """Owns one kernel (or a fresh one per step with ``isolate``) and runs tasks."""

    def __init__(self, setting: Setting, events: queue.Queue[Done], index: int) -> None:
        super().__init__(name=f"mlprod-step-{index}", daemon=True)
        self.setting = setting
        self.events = events
        self.start_error: Exception | None = None
        self.tasks: queue.Queue[Task | None] = queue.Queue()
        self.kernel: StepKernel | None = None
        self.busy: str | None = None

    def run(self) -> None:
        try:
            if not self.setting.isolate:
                try:  # start the kernel now, while other work goes on
                    kernel = self._kernel()
                    import papermill  # noqa: F401  (~0.6 s, while the kernel boots)

                    if self.setting.warm_imports and self.tasks.empty():
                        kernel.warm(self.setting.warm_imports)
                except Exception as error:
                    self.start_error = error

            while (task := self.tasks.get()) is not None:
                self.events.put(self._step(task))
        finally:
            if self.kernel is not None:
                self.kernel.shutdown()

    def _kernel(self) -> StepKernel:
        if self.kernel is None:
            run = self.setting
            log = run.rundir.folder / "kernels.log"
            kernel = StepKernel(run.kernel_name, run.cwd, run.env, log)
            kernel.start()
            self.kernel = kernel
            if kernel.pid is not None:
                run.kernel_pids.add(kernel.pid)
        return self.kernel

    def _step(self, task: Task) -> Done:
        started = time.time()
        try:
            error, self.start_error = self.start_error, None
            if error is not None:
                raise error
            if self.kernel is not None and self.setting.isolate:
                self.kernel.shutdown()
                self.kernel = None
            kernel = self._kernel()
        except Exception as error:
            if self.kernel is not None:
                self.kernel.shutdown()  # maybe dead or stuck: the next step gets a new one
                self.kernel = None
            return failure(task.step, started, error, output(self.setting, task.step))
        done = execute(kernel, self.setting, task)
        if kernel.km is None:  # shut down after a failure outside the cells
            self.kernel = None
        return done


def execute(kernel: StepKernel, run: Setting, task: Task) -> Done:
    """Run ``task`` in a started ``kernel``: ok with its artifacts, or failed with where and why.

    A kernel that failed other than in a cell (dead, stuck) is shut down: its ``km``
    is None after, so its owner starts a new one for the next step.
    """
    step = task.step
    started = time.time()
    try:
        kernel.prepare(run.run_id, step.name)
        started = time.time()  # a step's time excludes waiting for its kernel to boot
        kernel.execute(run.pipeline / step.notebook, output(run, step), task.parameters)
    except Exception as error:
        if getattr(error, "ename", None) is None:
            kernel.shutdown()  # maybe dead or stuck: the next step gets a new one
        return failure(step, started, error, output(run, step))
    duration = (time.time() - started) * 1000
    try:
        index = run.rundir.artifacts_dir(step.name) / INDEX
        artifacts = json.loads(index.read_text()) if step.outputs else []
    except (OSError, ValueError) as error:
        return Done(step.name, "failed", started, duration, [], f"no artifacts: {error}")
    return Done(step.name, "ok", started, duration, artifacts)


def output(run: Setting, step: mf.Step) -> Path:
    """Where a step's executed notebook is written."""
    return run.rundir.steps_dir / f"{step.name}.ipynb"


class Pool:
    """The run's workers, and the steps waiting for one (an ``executors.Executor``)."""

    def __init__(self, setting: Setting, capacity: Capacity) -> None:
        self.setting = setting
        self.capacity = capacity
        self.events: queue.Queue[Done] = queue.Queue()
        self.workers: list[Worker] = []
        self.ready: list[Task] = []
        self.stopped = False

    def long(self, step: str) -> bool:
        """Worth starting a kernel for: unknown, or it took longer than a kernel start."""
        took = self.capacity.expected.get(step)
        return took is None or took > NEW_KERNEL_MS

    def width(self) -> int:
        """How many long steps left could run at once (the widest level of the DAG)."""
        counts: dict[int, int] = {}
        for name in self.capacity.waiting():
            if self.long(name):
                level = self.capacity.levels.get(name, 0)
                counts[level] = counts.get(level, 0) + 1
        return max(counts.values(), default=1)

    def submit(self, task: Task) -> None:
        """Queue a ready step; the first one starts as many workers as ``width()`` can use."""
        self.ready.append(task)
        if not self.workers:
            for _ in range(max(1, min(self.capacity.jobs, self.width()))):
                self._add()
        self._assign()

    def finished(self, timeout: float) -> Done | None:
        try:
            done = self.events.get(timeout=timeout)
        except queue.Empty:
            return None
        for worker in self.workers:
            if worker.busy == done.step:
                worker.busy = None
        self._assign()
        return done

    def _add(self) -> None:
        self.workers.append(Worker(self.setting, self.events, len(self.workers)))
        self.workers[-1].start()

    def _assign(self) -> None:
        """Hand waiting steps to idle workers (a new one for a long step, within --jobs)."""
        if self.stopped:
            return
        idle = [w for w in self.workers if w.busy is None]
        waiting_long = any(self.long(t.step.name) for t in self.ready)
        if waiting_long and not idle and len(self.workers) < self.capacity.jobs:
            self._add()  # a long step is waiting: worth a new kernel
            idle = [self.workers[-1]]
        for worker in idle:
            if not self.ready:
                return
            task = self.ready.pop(0)
            worker.busy = task.step.name
            self.capacity.on_start(task.step.name)
            worker.tasks.put(task)

    def busy(self) -> bool:
        return any(w.busy for w in self.workers)

    def interrupt(self) -> None:
        self.stopped = True  # the steps still waiting are not started
        for worker in self.workers:
            if worker.busy is not None and worker.kernel is not None:
                worker.kernel.interrupt()

    def stop(self) -> None:
        """Ask workers to shut their kernels down (joined later, after the records)."""
        self.stopped = True
        self.ready.clear()
        for worker in self.workers:
            worker.tasks.put(None)

    def join(self) -> None:
        for worker in self.workers:
            worker.join(timeout=15)


def failure(step: mf.Step, started: float, error: Exception, output: Path) -> Done:
    duration = (time.time() - started) * 1000
    ename = getattr(error, "ename", None)
    if ename is None:  # not a cell error: the kernel or papermill itself failed
        text = error.message if isinstance(error, MlprodError) else f"{error}"
        return Done(step.name, "failed", started, duration, [], text)
    cell_id = None
    try:  # the cell holding the error output (papermill adds a marker cell on top)
        cells = json.loads(output.read_text())["cells"]
        cell_id = next(
            c.get("id")
            for c in cells
            if any(o.get("output_type") == "error" for o in c.get("outputs", []))
        )
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        pass
    evalue = str(getattr(error, "evalue", "")).split("\n  hint:")[0]
    kind = "check failed" if ename == "CheckFailedError" else f"{ename}"
    message = f"{kind}: {evalue}\n  executed notebook: {output}"
    return Done(step.name, "failed", started, duration, [], message, cell_id)
