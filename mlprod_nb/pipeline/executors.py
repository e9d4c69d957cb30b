"""Executors: what runs a run's step notebooks, chosen by name (``mlprod-nb run --executor``).

The runner decides *what* runs and records it; an executor only runs the steps
it is handed and reports each one as a ``Done``. ``local`` (the default): threads
in the driver process, each driving its own kernel (``worker.Pool``); ``dask``:
the steps as tasks of a Dask cluster (``daskexec``, with the optional extra).
Others plug in by name through ``EXECUTORS`` (or a package's entry point in the
group ``mlprod_nb.executors``): a factory ``(Setting, Capacity) -> Executor``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..records import StepStatus
from ..registry import Registry
from . import manifest as mf
from .rundir import RunDir

DEFAULT = "local"


@dataclass(frozen=True)
class Setting:
    """What every step of a run shares, wherever it runs."""

    run_id: str
    pipeline: Path  # the pipeline folder
    rundir: RunDir
    kernel_name: str
    cwd: Path
    env: dict[str, str]
    isolate: bool  # a fresh kernel for every step
    warm_imports: tuple[str, ...]
    kernel_pids: set[int] = field(default_factory=set)  # the tracer's records name them
    options: Mapping[str, str] = field(default_factory=dict)  # the executor's own settings


@dataclass(frozen=True)
class Capacity:
    """How much an executor may run at once, and what helps it decide."""

    jobs: int  # --jobs: at most this many steps at once
    expected: Mapping[str, float]  # how long each step took last time (ms)
    levels: Mapping[str, int]  # steps of one level of the DAG may run at once
    waiting: Callable[[], Sequence[str]]  # the run's steps not started yet
    on_start: Callable[[str], None]  # a step started (got its kernel)
    say: Callable[[str], None]  # a line for the run's output and driver.log


@dataclass(frozen=True)
class Task:
    step: mf.Step
    parameters: dict[str, Any]


@dataclass(frozen=True)
class Done:
    """A step the executor finished: ``ok`` with its artifacts, or ``failed`` with why."""

    step: str
    status: StepStatus
    started: float
    duration_ms: float
    artifacts: list[dict[str, str]]
    error: str | None = None
    cell_id: str | None = None


class Executor(Protocol):
    def submit(self, task: Task) -> None:
        """Run ``task`` when there is room (upstream steps have finished)."""

    def finished(self, timeout: float) -> Done | None:
        """The next finished step, or None after ``timeout`` seconds without one."""

    def busy(self) -> bool:
        """Some step is running."""

    def interrupt(self) -> None:
        """Stop the running steps (they finish as failed) and start no other."""

    def stop(self) -> None:
        """Start nothing more and release what runs steps (joined by ``join``)."""

    def join(self) -> None:
        """Wait for ``stop`` to be done (after the run's records are written)."""


ExecutorFactory = Callable[[Setting, Capacity], Executor]


def _local(setting: Setting, capacity: Capacity) -> Executor:
    from .worker import Pool  # it imports this module (its types): not at the top

    return Pool(setting, capacity)


def _dask(setting: Setting, capacity: Capacity) -> Executor:
    from .daskexec import DaskExecutor  # dask is optional: imported only when chosen

    return DaskExecutor(setting, capacity)


EXECUTORS: Registry[ExecutorFactory] = Registry("executor", group="mlprod_nb.executors")
EXECUTORS.register(DEFAULT, _local)
EXECUTORS.register("dask", _dask)


def register(name: str, factory: ExecutorFactory) -> None:
    """Make ``factory`` the executor ``name`` (``mlprod-nb run --executor NAME``)."""
    EXECUTORS.register(name, factory)


def make(name: str, setting: Setting, capacity: Capacity) -> Executor:
    """The executor ``name`` for this run (a clear error naming the known ones if none)."""
    return EXECUTORS.get(name)(setting, capacity)
