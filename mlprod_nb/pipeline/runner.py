"""``mlprod-nb run``: execute an exported pipeline from one driver process.

The main thread plans and schedules; worker threads each drive their own kernel
through papermill. A step whose key matches an earlier successful step is taken
from the cache without starting a kernel. Every change is written to the run's
``status.json``; the run, its steps and their artifacts go into the journal, so
the store sees pipeline runs next to interactive lineage.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Literal, TextIO

from ..errors import MlprodError, NotFoundError, PipelineError
from ..hashing import sha256_file
from ..journal import JournalWriter
from ..paths import find_home
from ..records import RUNNING, SCHEMA, redact
from . import handoff
from . import manifest as mf
from .cache import Cache, Entry, full_key, prekey
from .compiler import INPUTS_VAR, OUTPUTS_VAR
from .kernels import kernel_env, kernel_name
from .liveness import Heartbeat, identity, settle, settle_one
from .params import read_params_file, resolve
from .progress import Progress
from .rundir import RunDir, new_run_id, read_summary, recent_durations
from .steplog import StepTrace, read_traces
from .worker import Done, Setting, Task, Worker

DONE = ("ok", "cached")
NEW_KERNEL_MS = 1500.0  # about what starting and warming one more kernel costs here
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


@dataclass
class StepState:
    name: str
    status: str = "pending"  # pending|queued|running|ok|failed|cached|skipped|aborted
    started: float | None = None
    duration_ms: float | None = None
    cache_key: str | None = None
    cached_from: str | None = None
    notebook: str | None = None
    artifacts: list[dict[str, str]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    cell_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)  # last value of each, this step

    def brief(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "duration_ms": self.duration_ms,
            "cached": self.status == "cached",
            "started": self.started,
            "error": self.error,
            "cell_id": self.cell_id,
        }

    def full(self) -> dict[str, Any]:
        return self.brief() | {
            "cache_key": self.cache_key,
            "cached_from": self.cached_from,
            "notebook": self.notebook,
            "artifacts": self.artifacts,
            "params": redact(self.params),
            "metrics": self.metrics,
        }


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
        self.jobs = max(1, options.jobs or os.cpu_count() or 1)
        self.cache = Cache(self.layout.home)
        self.workers: list[Worker] = []
        self.expected = recent_durations(self.layout, self.folder)
        self.ready: list[Task] = []
        self.resumed: dict[str, Any] | None = None
        values = dict(options.values or {})
        if options.resume:
            settle_one(self.layout, options.resume)  # a killed run is recorded as interrupted
            self.resumed = read_summary(self.layout, options.resume)
            if self.resumed.get("status") == RUNNING:
                raise PipelineError(
                    f"run {options.resume!r} is still running (pid {self.resumed.get('pid')})",
                    run_id=options.resume,
                    hint="wait for it to finish, or stop it, then resume it",
                )
            if self.resumed.get("pipeline") != str(self.folder):
                raise PipelineError(
                    f"run {options.resume!r} belongs to another pipeline "
                    f"({self.resumed.get('pipeline')})",
                    run_id=options.resume,
                    hint="resume it with that pipeline folder, or start a new run",
                )
            before = self.resumed.get("params", {})
            kept = {k: v for k, v in before.items() if not handoff.holds_redacted(v)}
            values = {**kept, **values}
        if options.params_file:
            values.update(read_params_file(options.params_file))
        known = [p.name for p in self.manifest.parameters]
        texts = [*handoff.from_environment(os.environ, known), *options.params]  # -p wins
        self.params = resolve(self.manifest.parameters, texts, values)
        self.env = handoff.kernel_env(self.env, self.params)  # secrets: in no file
        self.secrets = handoff.fingerprints(self.params, self.layout.home)
        if self.resumed is not None and options.resume:
            given = {*values, *(name for name, _ in texts)}
            recorded = self.resumed.get("secrets") or {}
            before = self.resumed.get("params", {})
            handoff.check_resumed(options.resume, recorded, self.secrets, given, before)
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
        self.states = {s.name: StepState(s.name) for s in self.manifest.steps}
        self.plan, self.force, self.from_cache = self._plan()
        self.journal = JournalWriter(self.layout.journal_dir, f"run-{self.run_id}")
        self.started = time.time()
        self.driver = identity()
        self.error: str | None = None
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

    def _ancestors(self, names: set[str]) -> set[str]:
        found: set[str] = set()
        todo = list(names)
        while todo:
            for up in self.manifest.upstream(todo.pop()):
                if up not in found:
                    found.add(up)
                    todo.append(up)
        return found - names

    def _plan(self) -> tuple[list[str], set[str], set[str]]:
        """Steps of this run (in order), steps that must run, steps that must be cached."""
        order = [s.name for s in self.manifest.steps]
        o = self.options
        if o.only and o.from_step:
            raise PipelineError("use --only or --from, not both", hint="pick one")
        chosen: set[str] | None = None
        if o.only:
            chosen = {self.manifest.step(o.only).name}
        elif o.from_step:
            chosen = self.manifest.downstream_closure({self.manifest.step(o.from_step).name})
        if chosen is not None:
            upstream = self._ancestors(chosen)
            return [n for n in order if n in chosen | upstream], chosen, upstream
        if self.resumed is not None:
            old = {s["name"]: s for s in self.resumed.get("steps", [])}
            redo = {n for n in order if not _kept(self.manifest.step(n), old.get(n, {}))}
            redo = self.manifest.downstream_closure(redo)
            for name in order:
                if name not in redo:
                    state, before = self.states[name], old[name]
                    state.status = "cached"
                    state.artifacts = list(before.get("artifacts", []))
                    state.cached_from = before.get("cached_from") or self.resumed["id"]
                    state.cache_key = before.get("cache_key")
                    state.metrics = dict(before.get("metrics") or {})
            return order, redo, set()
        return order, (set(order) if o.no_cache else set()), set()

    # -- recording -------------------------------------------------------------

    def status(self, status: str = "running") -> dict[str, Any]:
        planned = [self.states[n] for n in self.plan]
        running = [s.name for s in planned if s.status == "running"]
        return {
            "id": self.run_id,
            "pipeline": str(self.folder),
            "source_notebook": str(self.source),
            "status": status,
            "pid": os.getpid(),
            "driver": self.driver,  # liveness.alive tells a dead driver from a live one
            "heartbeat": time.time(),
            "started": self.started,
            "finished": None if status == "running" else time.time(),
            "params": redact(self.params),
            "secrets": self.secrets,  # HMACs: --resume tells a secret not passed again
            "resumed_from": self.options.resume,
            "steps": [s.full() for s in planned],  # with artifacts: --resume needs them
            "progress": {
                "done": sum(s.status in DONE for s in planned),
                "total": len(planned),
                "current": running[0] if running else None,
            },
            "error": self.error,
        }

    def _record_step(self, state: StepState) -> None:
        self.journal.append(
            {
                "v": SCHEMA,
                "kind": "step",
                "run": self.run_id,
                "name": state.name,
                "status": state.status,
                "started": state.started or time.time(),
                "duration_ms": state.duration_ms or 0.0,
                "cache_key": state.cache_key,
                "cached_from": state.cached_from,
                "notebook": state.notebook,
                "artifacts": state.artifacts,
                "params": redact(state.params),
                "error": state.error,
                "cell_id": state.cell_id,
            }
        )

    # -- scheduling ------------------------------------------------------------

    def execute(self, progress: Progress) -> str:
        pipeline_hash = hashlib.sha256((self.folder / mf.FILENAME).read_bytes()).hexdigest()
        self.rundir.write_status(self.status())  # before the store can see the run: who runs it
        self.journal.append(
            {
                "v": SCHEMA,
                "kind": "run",
                "id": self.run_id,
                "pipeline": str(self.folder),
                "pipeline_hash": pipeline_hash,
                "source_notebook": str(self.source),
                "params": redact(self.params),
                "started": self.started,
                "steps": self.plan,
                "resumed_from": self.options.resume,
            }
        )
        if sha256_file(str(self.source)) not in (None, self.manifest.source_sha256):
            progress.line(
                f"warning: {self.source.name} changed since it was exported; "
                "run `mlprod-nb export` again to run the new code"
            )
        for name in self.plan:  # resumed steps are settled before anything runs
            if self.states[name].status == "cached":
                self.states[name].started = time.time()
                self.states[name].duration_ms = 0.0
                self._record_step(self.states[name])
                progress.done += 1
                progress.line(f"{name}: cached (from run {self.states[name].cached_from})")
        while True:
            self._dispatch(progress)
            active = [n for n in self.plan if self.states[n].status in ("queued", "running")]
            if not active:
                break
            try:
                done = self.events.get(timeout=0.25)
            except queue.Empty:
                progress.tick([n for n in active if self.states[n].status == "running"])
                continue
            self._finish(done, progress)
        statuses = [self.states[n].status for n in self.plan]
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
        for step in self.manifest.steps:
            state = self.states[step.name]
            if step.name not in self.plan or state.status != "pending":
                continue
            ups = [self.states[u].status for u in self.manifest.upstream(step.name)]
            if any(u in BROKEN for u in ups):
                state.status = "skipped"
                state.error = "an upstream step did not succeed"
                self._record_step(state)
                progress.line(f"{step.name}: skipped (upstream failed)")
                self.rundir.write_status(self.status())
                continue
            if not all(u in DONE for u in ups):
                continue
            paths, hashes = self._inputs(step)
            state.params = {p: self.params[p] for p in step.parameters}
            keyed = handoff.fingerprinted(state.params, self.layout.home)  # no clear secret
            state.cache_key = prekey(step.code_hash, keyed, hashes)
            if step.name not in self.force:
                entry = self.cache.lookup(state.cache_key)
                if entry is not None:
                    state.status, state.cached_from = "cached", entry.run
                    state.artifacts, state.notebook = entry.artifacts, entry.notebook
                    state.started, state.duration_ms = time.time(), 0.0
                    state.cache_key = entry.key
                    state.metrics = dict(entry.metrics)
                    self._record_step(state)
                    progress.done += 1
                    progress.line(f"{step.name}: cached (from run {entry.run})")
                    self.rundir.write_status(self.status())
                    continue
                if step.name in self.from_cache:
                    raise PipelineError(
                        f"step {step.name!r} has no cached result for these parameters",
                        step=step.name,
                        hint="run the whole pipeline first, or start earlier with --from",
                    )
            parameters = dict(state.params)
            parameters[INPUTS_VAR] = paths
            parameters[OUTPUTS_VAR] = str(self.rundir.artifacts_dir(step.name))
            state.status = "queued"
            self._submit(Task(step, parameters))
            self.rundir.write_status(self.status())

    def _submit(self, task: Task) -> None:
        """Queue a ready step; start as many workers as the pipeline can keep busy."""
        self.ready.append(task)
        if not self.workers:
            for _ in range(max(1, min(self.jobs, self._width()))):
                self._add_worker()
        self._assign()

    def _add_worker(self) -> None:
        self.workers.append(Worker(self.setting, len(self.workers)))
        self.workers[-1].start()

    def _assign(self) -> None:
        idle = [w for w in self.workers if w.busy is None]
        waiting_long = any(self._long(t.step.name) for t in self.ready)
        if waiting_long and not idle and len(self.workers) < self.jobs:
            self._add_worker()  # a long step is waiting: worth a new kernel
            idle = [self.workers[-1]]
        for worker in idle:
            if not self.ready:
                return
            task = self.ready.pop(0)
            worker.busy = task.step.name
            self.states[task.step.name].status = "running"
            worker.tasks.put(task)

    def _long(self, step: str) -> bool:
        """Worth starting a kernel for: unknown, or it took longer than a kernel start."""
        took = self.expected.get(step)
        return took is None or took > NEW_KERNEL_MS

    def _width(self) -> int:
        """How many long steps left could run at once (the widest level of the DAG)."""
        level: dict[str, int] = {}
        for step in self.manifest.steps:
            ups = [level[u] + 1 for u in self.manifest.upstream(step.name) if u in level]
            level[step.name] = max(ups, default=0)
        todo = [n for n in self.plan if self.states[n].status in ("pending", "queued")]
        counts: dict[int, int] = {}
        for name in todo:
            if self._long(name):
                counts[level[name]] = counts.get(level[name], 0) + 1
        return max(counts.values(), default=1)

    def _finish(self, done: Done, progress: Progress) -> None:
        state = self.states[done.step]
        for worker in self.workers:
            if worker.busy == done.step:
                worker.busy = None
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
                self.error = f"step {done.step!r} failed{where}: {done.error}"
                self.failed_step = state
            progress.line(f"{done.step}: FAILED{where}: {done.error}")
        self._record_step(state)
        self.rundir.write_status(self.status())
        self._assign()

    def _remember(self, state: StepState) -> None:
        """Complete a finished step's key from the tracer's record and cache it."""
        pre = state.cache_key or ""
        trace = read_traces(self.layout, self.setting.kernel_pids, self.run_id).get(state.name)
        seen = trace or StepTrace()
        reads = {p: h for p, h in seen.reads.items() if p not in seen.writes}
        state.cache_key = full_key(pre, reads)
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
        self.error = "interrupted"
        for worker in self.workers:
            if worker.busy is not None and worker.kernel is not None:
                worker.kernel.interrupt()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(w.busy for w in self.workers):
            try:
                done = self.events.get(timeout=0.25)
            except queue.Empty:
                continue
            for worker in self.workers:
                if worker.busy == done.step:
                    worker.busy = None
            state = self.states[done.step]
            state.started, state.duration_ms = done.started, done.duration_ms
            state.status = "ok" if done.status == "ok" else "aborted"
            state.artifacts = done.artifacts
            if state.status == "ok":
                self._remember(state)
            self._record_step(state)
        for name in self.plan:
            state = self.states[name]
            if state.status in ("pending", "queued", "running"):
                state.status = "aborted"
                self._record_step(state)
        progress.line("interrupted: the run is recorded as aborted")

    def stop_workers(self) -> None:
        """Ask workers to shut their kernels down (joined later, after the records)."""
        self.ready.clear()
        for worker in self.workers:
            worker.tasks.put(None)

    def join_workers(self) -> None:
        for worker in self.workers:
            worker.join(timeout=15)

    # -- the end ---------------------------------------------------------------

    def finish(self, status: str, progress: Progress) -> None:
        finished = time.time()
        self.journal.append(
            {
                "v": SCHEMA,
                "kind": "run_end",
                "id": self.run_id,
                "status": status,
                "finished": finished,
                "error": self.error,
            }
        )
        final = self.status(status)
        final["finished"] = finished
        final["duration_ms"] = (finished - self.started) * 1000
        final["steps"] = [self.states[n].full() for n in self.plan]
        final["cached_steps"] = sum(self.states[n].status == "cached" for n in self.plan)
        final["metrics"] = {k: v for n in self.plan for k, v in self.states[n].metrics.items()}
        self.rundir.write_summary(final)
        self.rundir.write_status(final)
        self.journal.close()


def run(pipeline: str | Path, options: RunOptions | None = None) -> RunResult:
    """Run a pipeline; returns how it ended (a failed step does not raise)."""
    options = options or RunOptions()
    state = _Run(pipeline, options)
    settle(state.layout)  # runs whose driver died are recorded as interrupted
    state.rundir.create()
    heartbeat = Heartbeat(state.rundir.folder)
    heartbeat.start()
    progress = Progress(options.stream, state.rundir.log, len(state.plan))
    restore = _on_sigterm()
    status: Literal["ok", "failed", "aborted"] = "failed"
    try:
        try:
            status = "ok" if state.execute(progress) == "ok" else "failed"
        except KeyboardInterrupt:
            status = "aborted"
            state.abort(progress)
        except MlprodError as error:
            state.error = error.message
            raise
        finally:
            state.stop_workers()
            progress.close()
            try:
                state.finish(status, progress)
            finally:
                heartbeat.stop()
                state.join_workers()
                state.rundir.close()
    finally:
        restore()
    failed = state.failed_step
    progress.line(f"run {state.run_id}: {status}")
    return RunResult(
        run_id=state.run_id,
        status=status,
        folder=state.rundir.folder,
        steps=tuple(state.states[n] for n in state.plan),
        error=state.error,
        cell_id=failed.cell_id if failed else None,
        step=failed.name if failed else None,
    )


def _kept(step: mf.Step, before: Mapping[str, Any]) -> bool:
    """A step of the resumed run that need not run again: done, every artifact intact."""
    if before.get("status") not in DONE:
        return False
    artifacts = before.get("artifacts") or []
    names = {a.get("name") for a in artifacts}
    return set(step.outputs) <= names and all(
        sha256_file(str(a.get("path"))) == a.get("sha256") for a in artifacts
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
