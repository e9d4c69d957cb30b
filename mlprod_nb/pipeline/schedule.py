"""The driver's loop: settle each step the plan allows, hand the rest to the executor.

A step's key is taken when it is about to run, once its upstream steps finished
(they may have just rewritten a file it reads): a step whose key matches an
earlier successful step is taken from the cache (with ``--resume``: from the
resumed run only) without starting a kernel. Everything a step becomes is
recorded as it happens (``Recorder``), so a run stopped at any point says where.
"""

from __future__ import annotations

import time

from ..errors import PipelineError
from ..records import DONE, UNSETTLED
from . import handoff
from . import manifest as mf
from .cache import Cache, StepKey
from .compiler import INPUTS_VAR, OUTPUTS_VAR
from .context import RunContext
from .executors import Done, Executor, Task
from .plan import Plan, move
from .progress import Progress
from .recorder import Recorder, StepState
from .steplog import read_traces

POLL_SECONDS = 0.25  # how often the progress line is redrawn while steps run
ABORT_SECONDS = 10.0  # how long interrupted steps get to report before they count as aborted


class Schedule:
    def __init__(
        self,
        context: RunContext,
        plan: Plan,
        record: Recorder,
        states: dict[str, StepState],
        progress: Progress,
    ) -> None:
        self.context = context
        self.plan = plan
        self.record = record
        self.states = states
        self.progress = progress
        self.cache = Cache(context.layout.home)
        self.failed: StepState | None = None  # the first step that failed

    def waiting(self) -> list[str]:
        """The run's steps not started yet (for the executor's sizing)."""
        return [n for n in self.plan.order if self.states[n].status in ("pending", "queued")]

    def started(self, step: str) -> None:
        self.states[step].status = "running"

    def run(self, executor: Executor) -> bool:
        """Run every step of the plan; True when all of them succeeded or came from the cache."""
        while True:
            self._dispatch(executor)
            active = [n for n in self.plan.order if self.states[n].status in ("queued", "running")]
            if not active:
                break
            done = executor.finished(POLL_SECONDS)
            if done is None:
                self.progress.tick([n for n in active if self.states[n].status == "running"])
                continue
            self._finish(done)
        return all(self.states[n].status in DONE for n in self.plan.order)

    def abort(self, executor: Executor) -> None:
        """Ctrl-C or SIGTERM: stop the running steps; what did not finish is aborted."""
        self.record.error = "interrupted"
        executor.interrupt()
        deadline = time.monotonic() + ABORT_SECONDS
        while time.monotonic() < deadline and executor.busy():
            done = executor.finished(POLL_SECONDS)
            if done is None:
                continue
            state = self.states[done.step]
            state.started, state.duration_ms = done.started, done.duration_ms
            state.status = "ok" if done.status == "ok" else "aborted"
            state.artifacts = done.artifacts
            if state.status == "ok":
                self._remember(state)
            self.record.step(state)
        for name in self.plan.order:
            state = self.states[name]
            if state.status in UNSETTLED:
                state.status = "aborted"
                self.record.step(state)
        self.progress.line("interrupted: the run is recorded as aborted")

    def _dispatch(self, executor: Executor) -> None:
        """Settle or queue every step whose upstream steps all finished (in order)."""
        statuses = {name: state.status for name, state in self.states.items()}
        for step in self.context.manifest.steps:
            state = self.states[step.name]
            if step.name not in self.plan.order or state.status != "pending":
                continue
            next_move = move(self.context.manifest, step.name, statuses)
            if next_move == "skip":
                state.status = statuses[step.name] = "skipped"
                state.error = "an upstream step did not succeed"
                self.record.step(state)
                self.progress.line(f"{step.name}: skipped (upstream failed)")
                self.record.changed()
            elif next_move == "go":
                self._go(step, state, executor)
                statuses[step.name] = state.status

    def _go(self, step: mf.Step, state: StepState, executor: Executor) -> None:
        # the key is taken now: every upstream step (and file edge) has finished
        paths, hashes = self._inputs(step)
        state.params = {p: self.context.params[p] for p in step.parameters}
        keyed = handoff.fingerprinted(state.params, self.context.layout.home)  # no clear secret
        key = StepKey(step.code_hash, keyed, hashes)
        state.cache_key, state.key = key.pre, key.parts()
        if self._stands(step, state, key):
            self.progress.done += 1
            self.progress.line(f"{step.name}: {state.status} already in this run")
            self.record.changed()
            return
        if self._reused(step, state, key) or self._cached(step, state, key):
            self.record.step(state)
            self.progress.done += 1
            self.progress.line(f"{step.name}: cached (from run {state.cached_from})")
            self.record.changed()
            return
        if state.rerun is not None:
            self.progress.line(f"{step.name}: re-run: {state.rerun}")
        parameters = dict(state.params)
        parameters[INPUTS_VAR] = paths
        parameters[OUTPUTS_VAR] = str(self.context.rundir.artifacts_dir(step.name))
        state.status = "queued"
        executor.submit(Task(step, parameters))
        self.record.changed()

    def _inputs(self, step: mf.Step) -> tuple[dict[str, str], dict[str, str]]:
        """Where the step's input artifacts are, and their hashes (for its key)."""
        paths: dict[str, str] = {}
        hashes: dict[str, str] = {}
        for item in step.inputs:
            found = next(
                (a for a in self.states[item.producer].artifacts if a["name"] == item.name), None
            )
            if found is None:
                raise PipelineError(
                    f"step {item.producer!r} left no artifact {item.name!r}",
                    step=step.name,
                    run_id=self.context.run_id,
                    hint="run the pipeline with --no-cache",
                )
            paths[item.name] = found["path"]
            hashes[item.name] = found["sha256"]
        return paths, hashes

    def _stands(self, step: mf.Step, state: StepState, key: StepKey) -> bool:
        """A continued run's step, unchanged and not asked for again, stays as it was
        (already in the journal: not recorded twice)."""
        continued = self.plan.continued
        if continued is None or step.name in self.plan.force:
            return False
        if continued.change(step, key, self.context.setting.cwd) is not None:
            return False
        state.restore(continued.step(step.name))
        return True

    def _reused(self, step: mf.Step, state: StepState, key: StepKey) -> bool:
        """--resume: take the resumed run's result when the key is the same, else say why not."""
        resumed = self.plan.resumed
        if resumed is None:
            return False
        state.rerun = resumed.change(step, key, self.context.setting.cwd)
        if state.rerun is None:
            state.reuse(resumed.step(step.name), resumed.run_id)
        return state.rerun is None

    def _cached(self, step: mf.Step, state: StepState, key: StepKey) -> bool:
        """Take an earlier run's result with this key, if the plan allows and one is intact."""
        if self.plan.resumed is not None or step.name in self.plan.force:
            return False
        entry = self.cache.lookup(key.pre)
        if entry is None:
            if step.name in self.plan.from_cache:
                raise PipelineError(
                    f"step {step.name!r} has no cached result for these parameters",
                    step=step.name,
                    hint="run the whole pipeline first, or start earlier with --from",
                )
            return False
        state.take(entry, key)
        return True

    def _finish(self, done: Done) -> None:
        state = self.states[done.step]
        state.finish(done, self.context.rundir.steps_dir / f"{done.step}.ipynb")
        if done.status == "ok":
            self._remember(state)
            self.progress.done += 1
            self.progress.line(f"{done.step}: ok ({done.duration_ms / 1000:.1f}s)")
        else:
            where = f" in cell {done.cell_id}" if done.cell_id else ""
            if self.failed is None:
                self.record.error = f"step {done.step!r} failed{where}: {done.error}"
                self.failed = state
            self.progress.line(f"{done.step}: FAILED{where}: {done.error}")
        self.record.step(state)
        self.record.changed()

    def _remember(self, state: StepState) -> None:
        """Complete a finished step's key from the tracer's record and cache it."""
        setting = self.context.setting
        traces = read_traces(self.context.layout, setting.kernel_pids, setting.run_id)
        self.cache.put(state.traced(traces.get(state.name), setting.run_id))
