"""The ``dask`` executor: a run's steps as tasks of a Dask cluster (``run --executor dask``).

Each step is one task whose arguments are its upstream steps' futures, so the
cluster holds the pipeline's DAG and runs independent steps at once. Its kernels
start in the worker processes and are reused there between the run's steps
(``daskworker``). Without ``--scheduler-address`` the run starts a ``LocalCluster``
sized to ``--jobs`` (default: the cores) on its first step to run, and closes it at
the end. A worker lost mid-step fails that step naming the worker (the scheduler
retries it first if its ``allowed-failures`` says so; the local cluster allows
none), or ``--retries N`` submits it again. Run folders, artifacts and journals
are on the disk the driver and the workers share, or go through the artifact store
``--artifacts URL`` (``artifactstore``): the driver puts a step's notebook and inputs
there before it submits the step and gets its artifacts, executed notebook and
journal back when it ends.

``dask`` and ``distributed`` are the optional extra ``mlprod-nb[dask]``: this
module imports them only when a run chooses this executor.
"""

from __future__ import annotations

import queue
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import NotFoundError, ParameterError, RunFailedError
from . import daskworker
from . import manifest as mf
from .artifactstore import ArtifactStore, relative
from .compiler import INPUTS_VAR
from .daskworker import STARTED, Ran, Remote, pipeline_folder
from .executors import Capacity, Done, Setting, Task

CONNECT_TIMEOUT = "10s"  # how long to wait for the scheduler at --scheduler-address


class DaskExecutor:
    """Submits steps to a Dask cluster and reports their ends (an ``executors.Executor``)."""

    def __init__(self, setting: Setting, capacity: Capacity) -> None:
        try:
            import distributed  # noqa: F401  (checked now: before the run writes anything)
        except ImportError:
            raise NotFoundError(
                "the dask executor needs the packages dask and distributed",
                hint="pip install 'mlprod-nb[dask]', or run with --executor local",
            ) from None
        self.setting = setting
        self.capacity = capacity
        self.address = setting.options.get("scheduler_address") or None
        self.retries = _retries(setting.options.get("retries", "0"))
        self.manifest, _ = mf.load(setting.pipeline)
        self.remote = Remote.of(setting)
        url = setting.options.get("artifacts")
        self.store = ArtifactStore(url) if url else None
        self.client: Any = None
        self.cluster: Any = None
        self.events: queue.Queue[Any] = queue.Queue()  # ended futures and start events
        self.futures: dict[str, Any] = {}  # step -> its latest future
        self.pending: dict[str, str] = {}  # key of a future not reported yet -> its step
        self.tasks: dict[str, Task] = {}
        self.attempts: dict[str, int] = {}
        self.starts: dict[str, tuple[float, str]] = {}  # step -> when and on which worker
        self.stopped = False

    def submit(self, task: Task) -> None:
        if self.stopped:
            return
        if self.client is None:
            self._connect()
        name = task.step.name
        if self.store is not None:
            self._put(self.store, task)
        self.tasks[name] = task
        attempt = self.attempts[name] = self.attempts.get(name, 0) + 1
        upstream = [self.futures[s] for s in self.manifest.upstream(name) if s in self.futures]
        future = self.client.submit(
            daskworker.run_step,
            self.remote,
            task,
            *upstream,
            key=f"{name}-{self.setting.run_id}-{attempt}",
            pure=False,
        )
        self.futures[name] = future
        self.pending[future.key] = name
        future.add_done_callback(self.events.put)

    def finished(self, timeout: float) -> Done | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                return None
            if isinstance(event, dict):
                self._started(event)
                continue
            done = self._ended(event)
            if done is not None:
                return done
        return None

    def busy(self) -> bool:
        return bool(self.pending)

    def interrupt(self) -> None:
        """Interrupt the running steps' kernels; cancel the steps that did not start."""
        self.stopped = True
        if self.client is None:
            return
        self.client.run(daskworker.interrupt, self.setting.run_id, on_error="ignore")
        waiting = [f for f in self.futures.values() if self.pending.get(f.key) not in self.starts]
        self.client.cancel(waiting)

    def stop(self) -> None:
        self.stopped = True
        if self.client is not None:
            self.client.cancel([f for f in self.futures.values() if f.key in self.pending])

    def join(self) -> None:
        """Shut the run's kernels down in every worker, then close the client (and own cluster)."""
        if self.client is None:
            return
        try:
            self.client.run(daskworker.release, self.setting.run_id, on_error="ignore")
        finally:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()

    def _connect(self) -> None:
        from distributed import Client

        started = time.monotonic()
        if self.address is None:
            self.cluster = local_cluster(self.capacity.jobs)
            where = f"a local cluster of {self.capacity.jobs} workers"
        else:
            where = f"the scheduler at {self.address}"
        try:
            self.client = Client(  # type: ignore[no-untyped-call]
                self.cluster or self.address, timeout=CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as error:
            raise RunFailedError(
                f"cannot reach the Dask scheduler at {self.address}: {error}",
                run_id=self.setting.run_id,
                hint="start it (`dask scheduler`) or check --scheduler-address",
            ) from None
        self.client.subscribe_topic(STARTED, lambda event: self.events.put(event[1]))
        took = time.monotonic() - started
        self.capacity.say(f"dask: connected to {where} in {took:.1f}s")

    def _started(self, event: dict[str, Any]) -> None:
        step = str(event.get("step"))
        if event.get("run") != self.setting.run_id or step not in self.tasks:
            return
        self.starts[step] = (time.time(), str(event["worker"]))
        if isinstance(event.get("kernel_pid"), int):
            self.setting.kernel_pids.add(event["kernel_pid"])
        self.capacity.on_start(step)
        self.capacity.say(
            f"{step}: started on Dask worker {event['worker']} (pid {event['pid']}, "
            f"kernel pid {event['kernel_pid']})"
        )

    def _ended(self, future: Any) -> Done | None:
        """The ``Done`` of an ended future; None when it was lost and is submitted again."""
        step = self.pending.pop(future.key, None)
        if step is None:
            return None  # reported already (a cancel after it ended)
        if future.status == "finished":
            ran: Ran = future.result()
            if ran.kernel_pid is not None:
                self.setting.kernel_pids.add(ran.kernel_pid)
            return ran.done if self.store is None else self._get(self.store, ran)
        started, worker = self.starts.get(step, (time.time(), "a worker"))
        if future.status == "cancelled":
            error = "cancelled"
        else:
            from distributed.scheduler import KilledWorker

            raised = future.exception()
            if not isinstance(raised, KilledWorker):
                error = f"the Dask task failed on {worker}: {type(raised).__name__}: {raised}"
            elif self.attempts[step] <= self.retries and not self.stopped:
                lost = raised.last_worker.address
                self.capacity.say(f"{step}: Dask worker {lost} lost, submitted again")
                self.submit(self.tasks[step])
                return None
            else:
                error = (
                    f"the Dask worker {raised.last_worker.address} running it was lost "
                    "(killed, or out of memory)"
                )
        return Done(step, "failed", started, (time.time() - started) * 1000, [], error)

    def _put(self, store: ArtifactStore, task: Task) -> None:
        """Put the step notebook and the input artifacts where the workers get them."""
        home = self.setting.rundir.layout.home
        notebook = pipeline_folder(self.setting.run_id) / task.step.notebook
        try:
            store.put(self.setting.pipeline / task.step.notebook, notebook)
            for path in map(Path, task.parameters[INPUTS_VAR].values()):
                if not store.has(relative(path, home)):  # an earlier run's, from the cache
                    store.put(path, relative(path, home))
        except OSError as error:
            raise store.unreachable(error, "the driver") from None

    def _get(self, store: ArtifactStore, ran: Ran) -> Done:
        """Get what the step wrote from the store into the run folder; the journals too."""
        rundir, step = self.setting.rundir, ran.done.step
        home = rundir.layout.home
        wanted = [rundir.steps_dir / f"{step}.ipynb", *(home / j for j in ran.journals)]
        if ran.done.artifacts:
            wanted.append(rundir.artifacts_dir(step))
        try:
            for path in wanted:
                store.get(relative(path, home), path)
        except OSError as error:
            if ran.done.status != "ok":
                return ran.done  # its executed notebook may never have been written
            message = store.unreachable(error, "the driver").message
            return replace(ran.done, status="failed", artifacts=[], error=message)
        return ran.done


# Settings of the cluster a run starts for itself. A lost worker fails its step here:
# --retries is the one policy for trying again. A step's work is in its kernel, another
# process, so the workers' statistical profiler (a sample of their threads every 10 ms)
# sees only a thread waiting on it; without it and with slower ticks, an idle 2-worker
# cluster takes ~3.6% of a core instead of ~11.7%, which steps on a busy machine get back.
LOCAL_CLUSTER = {
    "distributed.scheduler.allowed-failures": 0,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "2s",
}


def local_cluster(workers: int) -> Any:
    """A cluster of worker processes on this machine, one step (one kernel) at a time each."""
    import dask
    from distributed import LocalCluster

    with dask.config.set(LOCAL_CLUSTER):
        return LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
        )


def _retries(text: str) -> int:
    try:
        retries = int(text)
    except ValueError:
        retries = -1
    if retries < 0:
        raise ParameterError(f"--retries must be a whole number >= 0, not {text!r}")
    return retries
