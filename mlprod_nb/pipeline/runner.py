"""``mlprod-nb run``: execute an exported pipeline from one driver process.

The main thread schedules; worker threads each drive their own kernel through
papermill. A step's key is taken when it is about to run, once its upstream
steps finished (they may have just rewritten a file it reads): a step whose key
matches an earlier successful step is taken from the cache (with ``--resume``:
from the resumed run only) without starting a kernel. What to run is in
``plan``, what the resumed run still holds in ``resume``, the records in
``recorder``.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Literal, TextIO

from ..errors import MlprodError, NotFoundError, PipelineError
from ..hashing import sha256_file
from ..paths import find_home
from ..records import redact
from . import handoff
from . import manifest as mf
from .cache import Cache, Entry, StepKey, full_key
from .compiler import INPUTS_VAR, OUTPUTS_VAR
from .kernels import kernel_env, kernel_name
from .liveness import Heartbeat, settle
from .params import read_params_file, resolve
from .plan import make_plan
from .progress import Progress
from .recorder import DONE, Recorder, StepState
from .resume import Resumed
from .rundir import RunDir, new_run_id, recent_durations
from .steplog import StepTrace, read_traces
from .worker import Done, Pool, Setting, Task

BROKEN = ("failed", "skipped", "aborted")


@dataclass(frozen=True)
class RunOptions:
    params: Sequence[tuple[str, str]] = ()  # -p NAME VALUE (strings, typed by defaults)
    values: Mapping[str, Any] | None = None  # typed values (a params file, the API)
    params_file: Path | None = None
    jobs: int | None = None
    only: str | None = None
    from_step: str | None = None
    resume: str | None = None
    no_cache: bool = False
    isolate: bool = False
    cwd: Path | None = None
    run_id: str | None = None
    stream: TextIO | None = None  # progress output (None: silent)


@dataclass(frozen=True)
class RunResult:
    run_id: str
    status: Literal["ok", "failed", "aborted"]
    folder: Path
    steps: tuple[StepState, ...]
    error: str | None
    cell_id: str | None = None
    step: str | None = None


class _Run:
    def __init__(self, pipeline: str | Path, options: RunOptions) -> None:
        self.options = options
        self.manifest, self.folder = mf.load(pipeline)
        self.source = self._source_notebook()
        self.cwd = (options.cwd or self.source.parent).expanduser().resolve()
        if not self.cwd.is_dir():
            raise NotFoundError(
                "the working directory does not exist", path=self.cwd, hint="check --cwd"
            )
        self.layout = find_home(self.source)
        self.env = kernel_env(self.layout.home)
        first = self.manifest.steps[0]
        self.kernel_name = kernel_name(self.folder / first.notebook)
        self.cache = Cache(self.layout.home)
        resumed = Resumed.load(self.layout, options.resume, self.folder) if options.resume else None
        values = {**(resumed.params if resumed else {}), **(options.values or {})}
        if options.params_file:
            values.update(read_params_file(options.params_file))
        known = [p.name for p in self.manifest.parameters]
        texts = [*handoff.from_environment(os.environ, known), *options.params]  # -p wins
        self.params = resolve(self.manifest.parameters, texts, values)
        self.env = handoff.kernel_env(self.env, self.params)  # secrets: in no file
        secrets = handoff.fingerprints(self.params, self.layout.home)
        if resumed is not None:
            given = {*values, *(name for name, _ in texts)}
            before = resumed.record.get("params", {})
            handoff.check_resumed(resumed.run_id, resumed.secrets, secrets, given, before)
        self.run_id = options.run_id or new_run_id()
        self.rundir = RunDir(self.layout, self.run_id)
        self.setting = Setting(
            run_id=self.run_id,
            pipeline=self.folder,
            rundir=self.rundir,
            kernel_name=self.kernel_name,
            cwd=self.cwd,
            env=self.env,
            isolate=options.isolate,
            warm_imports=self.manifest.setup_imports,
            events=queue.Queue(),
        )
        self.events = self.setting.events
        jobs = max(1, options.jobs or os.cpu_count() or 1)
        expected = recent_durations(self.layout, self.folder)
        self.pool = Pool(self.setting, jobs, expected, self._started)
        self.states = {s.name: StepState(s.name) for s in self.manifest.steps}
        o = options
        self.plan = make_plan(
            self.manifest, only=o.only, from_step=o.from_step, no_cache=o.no_cache, resumed=resumed
        )
        facts = {
            "pipeline": str(self.folder),
            "source_notebook": str(self.source),
            "params": redact(self.params),
            "secrets": secrets,  # HMACs only
            "resumed_from": options.resume,
        }
        self.record = Recorder(self.rundir, self.states, self.plan.order, facts)
        self.failed_step: StepState | None = None

    def _source_notebook(self) -> Path:
        path = Path(self.manifest.source)
        if path.exists():
            return path
        try:
            data = json.loads((self.folder / mf.FILENAME).read_text())
            relative = (self.folder / data["source"]["relative"]).resolve()
        except (OSError, ValueError, KeyError):
            return path
        return relative if relative.exists() else path

    # -- scheduling ------------------------------------------------------------

    def execute(self, progress: Progress) -> str:
        self.record.begin(self.folder)
        if sha256_file(str(self.source)) not in (None, self.manifest.source_sha256):
            progress.line(
                f"warning: {self.source.name} changed since it was exported; "
                "run `mlprod-nb export` again to run the new code"
            )
        while True:
            self._dispatch(progress)
            active = [n for n in self.plan.order if self.states[n].status in ("queued", "running")]
            if not active:
                break
            try:
                done = self.events.get(timeout=0.25)
            except queue.Empty:
                progress.tick([n for n in active if self.states[n].status == "running"])
                continue
            self._finish(done, progress)
        statuses = [self.states[n].status for n in self.plan.order]
        return "ok" if all(s in DONE for s in statuses) else "failed"

    def _inputs(self, step: mf.Step) -> tuple[dict[str, str], dict[str, str]]:
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
                    run_id=self.run_id,
                    hint="run the pipeline with --no-cache",
                )
            paths[item.name] = found["path"]
            hashes[item.name] = found["sha256"]
        return paths, hashes

    def _dispatch(self, progress: Progress) -> None:
        """Settle or queue every step whose upstream steps all finished (in order)."""
        for step in self.manifest.steps:
            state = self.states[step.name]
            if step.name not in self.plan.order or state.status != "pending":
                continue
            ups = [self.states[u].status for u in self.manifest.upstream(step.name)]
            if any(u in BROKEN for u in ups):
                state.status = "skipped"
                state.error = "an upstream step did not succeed"
                self.record.step(state)
                progress.line(f"{step.name}: skipped (upstream failed)")
                self.record.changed()
                continue
            if not all(u in DONE for u in ups):
                continue
            # the key is taken now: every upstream step (and file edge) has finished
            paths, hashes = self._inputs(step)
            state.params = {p: self.params[p] for p in step.parameters}
            keyed = handoff.fingerprinted(state.params, self.layout.home)  # no clear secret
            key = StepKey(step.code_hash, keyed, hashes)
            state.cache_key, state.key = key.pre, key.parts()
            if self._reused(step, state, key) or self._cached(step, state, key):
                self.record.step(state)
                progress.done += 1
                progress.line(f"{step.name}: cached (from run {state.cached_from})")
                self.record.changed()
                continue
            if state.rerun is not None:
                progress.line(f"{step.name}: re-run: {state.rerun}")
            parameters = dict(state.params)
            parameters[INPUTS_VAR] = paths
            parameters[OUTPUTS_VAR] = str(self.rundir.artifacts_dir(step.name))
            state.status = "queued"
            self.pool.submit(Task(step, parameters), self._width)
            self.record.changed()

    def _reused(self, step: mf.Step, state: StepState, key: StepKey) -> bool:
        """--resume: take the resumed run's result when the key is the same, else say why not."""
        resumed = self.plan.resumed
        if resumed is None:
            return False
        state.rerun = resumed.change(step, key, self.cwd)
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
        state.status, state.cached_from = "cached", entry.run
        state.artifacts, state.notebook = entry.artifacts, entry.notebook
        state.started, state.duration_ms = time.time(), 0.0
        state.cache_key = entry.key
        state.key = key.parts(entry.reads, entry.writes, traced=entry.traced)
        state.metrics = dict(entry.metrics)
        return True

    def _started(self, step: str) -> None:
        self.states[step].status = "running"

    def _width(self) -> int:
        """How many long steps left could run at once (the widest level of the DAG)."""
        level: dict[str, int] = {}
        for step in self.manifest.steps:
            ups = [level[u] + 1 for u in self.manifest.upstream(step.name) if u in level]
            level[step.name] = max(ups, default=0)
        todo = [n for n in self.plan.order if self.states[n].status in ("pending", "queued")]
        counts: dict[int, int] = {}
        for name in todo:
            if self.pool.long(name):
                counts[level[name]] = counts.get(level[name], 0) + 1
        return max(counts.values(), default=1)

    def _finish(self, done: Done, progress: Progress) -> None:
        state = self.states[done.step]
        self.pool.free(done.step)
        state.started, state.duration_ms = done.started, done.duration_ms
        state.notebook = str(self.rundir.steps_dir / f"{done.step}.ipynb")
        state.status, state.artifacts = done.status, done.artifacts
        state.error, state.cell_id = done.error, done.cell_id
        if done.status == "ok":
            self._remember(state)
            progress.done += 1
            progress.line(f"{done.step}: ok ({done.duration_ms / 1000:.1f}s)")
        else:
            where = f" in cell {done.cell_id}" if done.cell_id else ""
            if self.failed_step is None:
                self.record.error = f"step {done.step!r} failed{where}: {done.error}"
                self.failed_step = state
            progress.line(f"{done.step}: FAILED{where}: {done.error}")
        self.record.step(state)
        self.record.changed()
        self.pool.assign()

    def _remember(self, state: StepState) -> None:
        """Complete a finished step's key from the tracer's record and cache it."""
        pre = state.cache_key or ""
        trace = read_traces(self.layout, self.setting.kernel_pids, self.run_id).get(state.name)
        seen = trace or StepTrace()
        reads = {p: h for p, h in seen.reads.items() if p not in seen.writes}
        state.cache_key = full_key(pre, reads)
        state.key = {**(state.key or {}), "reads": reads, "writes": dict(seen.writes)}
        state.key["traced"] = trace is not None
        state.metrics = dict(seen.metrics)
        self.cache.put(
            Entry(
                prekey=pre,
                key=state.cache_key,
                step=state.name,
                run=self.run_id,
                created=time.time(),
                artifacts=state.artifacts,
                notebook=state.notebook,
                reads=reads,
                writes=seen.writes,
                traced=trace is not None,
                metrics=state.metrics,
            )
        )

    def abort(self, progress: Progress) -> None:
        self.record.error = "interrupted"
        self.pool.interrupt()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.pool.busy():
            try:
                done = self.events.get(timeout=0.25)
            except queue.Empty:
                continue
            self.pool.free(done.step)
            state = self.states[done.step]
            state.started, state.duration_ms = done.started, done.duration_ms
            state.status = "ok" if done.status == "ok" else "aborted"
            state.artifacts = done.artifacts
            if state.status == "ok":
                self._remember(state)
            self.record.step(state)
        for name in self.plan.order:
            state = self.states[name]
            if state.status in ("pending", "queued", "running"):
                state.status = "aborted"
                self.record.step(state)
        progress.line("interrupted: the run is recorded as aborted")


def run(pipeline: str | Path, options: RunOptions | None = None) -> RunResult:
    """Run a pipeline; returns how it ended (a failed step does not raise)."""
    options = options or RunOptions()
    state = _Run(pipeline, options)
    settle(state.layout)  # runs whose driver died are recorded as interrupted
    state.rundir.create()
    heartbeat = Heartbeat(state.rundir.folder)
    heartbeat.start()
    progress = Progress(options.stream, state.rundir.log, len(state.plan.order))
    restore = _on_sigterm()
    status: Literal["ok", "failed", "aborted"] = "failed"
    try:
        try:
            status = "ok" if state.execute(progress) == "ok" else "failed"
        except KeyboardInterrupt:
            status = "aborted"
            state.abort(progress)
        except MlprodError as error:
            state.record.error = error.message
            raise
        finally:
            state.pool.stop()
            progress.close()
            try:
                state.record.finish(status)
            finally:
                heartbeat.stop()
                state.pool.join()
                state.rundir.close()
    finally:
        restore()
    failed = state.failed_step
    progress.line(f"run {state.run_id}: {status}")
    return RunResult(
        run_id=state.run_id,
        status=status,
        folder=state.rundir.folder,
        steps=tuple(state.record.steps),
        error=state.record.error,
        cell_id=failed.cell_id if failed else None,
        step=failed.name if failed else None,
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
