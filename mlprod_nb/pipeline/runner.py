"""``mlprod-nb run``: execute an exported pipeline from one driver process.

The run is put together from parts that each do one job: ``context.prepare``
reads what the run is given, ``plan`` says what runs (and what must come from the
cache), an executor from ``executors.EXECUTORS`` runs step notebooks (``local``:
worker threads, each driving its own kernel through papermill), ``schedule``
settles each step as its upstream steps finish, and ``recorder`` writes the
run's folder and journal records.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from ..errors import MlprodError
from ..hashing import sha256_file
from ..records import RunEnd
from . import executors
from .context import RunContext, RunOptions, prepare
from .executors import Capacity
from .liveness import Heartbeat, settle
from .plan import Plan, levels, make_plan
from .progress import Progress
from .recorder import Recorder, StepState
from .rundir import recent_durations
from .schedule import Schedule

__all__ = ["RunOptions", "RunResult", "run"]


@dataclass(frozen=True)
class RunResult:
    run_id: str
    status: RunEnd
    folder: Path
    steps: tuple[StepState, ...]
    error: str | None
    cell_id: str | None = None
    step: str | None = None


def run(pipeline: str | Path, options: RunOptions | None = None) -> RunResult:
    """Run a pipeline; returns how it ended (a failed step does not raise)."""
    options = options or RunOptions()
    make_executor = executors.EXECUTORS.get(options.executor)  # an unknown name: before any file
    context = prepare(pipeline, options)
    plan = make_plan(
        context.manifest,
        only=options.only,
        from_step=options.from_step,
        no_cache=options.no_cache,
        resumed=context.resumed,
        continued=context.continued,
    )
    states = {s.name: StepState(s.name) for s in context.manifest.steps}
    record = Recorder(context.rundir, states, _recorded(context, plan, states), context.facts)
    progress = Progress(options.stream, context.rundir.log, len(plan.order))
    schedule = Schedule(context, plan, record, states, progress)
    capacity = _capacity(context, plan, schedule, progress)
    executor = make_executor(context.setting, capacity)  # before any file
    settle(context.layout)  # runs whose driver died are recorded as interrupted
    context.rundir.create(continued=context.continued is not None)
    heartbeat = Heartbeat(context.rundir.folder)
    heartbeat.start()
    restore = _on_sigterm()
    status: RunEnd = "failed"
    try:
        try:
            record.begin(context.folder, continued=context.continued is not None)
            _warn_if_changed(context, progress)
            status = "ok" if schedule.run(executor) else "failed"
        except KeyboardInterrupt:
            status = "aborted"
            schedule.abort(executor)
        except MlprodError as error:
            record.error = error.message
            raise
        finally:
            executor.stop()
            progress.close()
            try:
                record.finish(status)
            finally:
                heartbeat.stop()
                executor.join()
                context.rundir.close()
    finally:
        restore()
    failed = schedule.failed
    progress.line(f"run {context.run_id}: {status}")
    return RunResult(
        run_id=context.run_id,
        status=status,
        folder=context.rundir.folder,
        steps=tuple(record.steps),
        error=record.error,
        cell_id=failed.cell_id if failed else None,
        step=failed.name if failed else None,
    )


def _recorded(context: RunContext, plan: Plan, states: dict[str, StepState]) -> tuple[str, ...]:
    """The steps the run's record lists: this plan's, and those a continued run has
    already (restored as they were: another driver of the run settled them)."""
    continued = context.continued
    if continued is None:
        return plan.order
    for name, state in states.items():
        before = continued.step(name)
        if before and name not in plan.order:
            state.restore(before)
    kept = {*plan.order, *(n for n, s in states.items() if s.status != "pending")}
    return tuple(s.name for s in context.manifest.steps if s.name in kept)


def _capacity(context: RunContext, plan: Plan, schedule: Schedule, progress: Progress) -> Capacity:
    jobs = max(1, context.options.jobs or os.cpu_count() or 1)
    expected = recent_durations(context.layout, context.folder)
    dag = levels(context.manifest)
    return Capacity(jobs, expected, dag, schedule.waiting, schedule.started, progress.line)


def _warn_if_changed(context: RunContext, progress: Progress) -> None:
    if sha256_file(str(context.source)) not in (None, context.manifest.source_sha256):
        progress.line(
            f"warning: {context.source.name} changed since it was exported; "
            "run `mlprod-nb export` again to run the new code"
        )


def _on_sigterm() -> Callable[[], None]:
    """Turn SIGTERM into KeyboardInterrupt (a clean abort) while a run is going."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore
