"""Runs on a real Dask cluster of worker processes: the same results as the local runner."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlprod_nb.cli import main
from mlprod_nb.errors import NotFoundError, RunFailedError
from mlprod_nb.paths import find_home
from mlprod_nb.pipeline.daskworker import STAGING
from mlprod_nb.pipeline.runner import RunOptions, RunResult, run
from mlprod_nb.store import Store

from .conftest import project, step
from .test_run import MEET, exported, statuses, wait_for

pytestmark = pytest.mark.slow

STARTED = re.compile(
    r"\] (\w+): started on Dask worker (\S+) \(pid (\d+), kernel pid (\d+)\)$", re.M
)


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """The address of a two-worker cluster of processes, as a user's own cluster."""
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def on_dask(address: str | None = None, **given: object) -> RunOptions:
    options = {"scheduler_address": address} if address else {}
    return RunOptions(executor="dask", executor_options=options, **given)  # type: ignore[arg-type]


def started_on(result: RunResult) -> dict[str, tuple[str, int, int]]:
    """Per step: the worker's address and pid and the kernel's pid, from driver.log."""
    log = (result.folder / "driver.log").read_text()
    return {m[1]: (m[2], int(m[3]), int(m[4])) for m in STARTED.finditer(log)}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


FOUR_STEPS = [
    (MEET + "import mlprod_nb\n", ["setup"]),
    ("n = 20", ["parameters"]),
    step("a", "x = list(range(n))"),
    step("b", "meet('b', 'c')\ny = sum(x)"),
    step("c", "meet('c', 'b')\nz = max(x) * 2"),
    step("d", "w = y + z\nmlprod_nb.log_metric('w', w)\nopen('w.txt', 'w').write(str(w))"),
]


def artifacts(result: RunResult) -> dict[str, dict[str, str]]:
    return {s.name: {a["name"]: a["sha256"] for a in s.artifacts} for s in result.steps}


def test_a_dask_run_equals_the_local_run(tmp_path: Path, scheduler: str) -> None:
    base = project(tmp_path / "p")
    folder = exported(base, FOUR_STEPS)
    local = run(folder, RunOptions(jobs=2))
    assert local.status == "ok", local.error
    for meeting in base.glob("*.started"):
        meeting.unlink()

    dask = run(folder, on_dask(scheduler, no_cache=True))
    assert dask.status == "ok", dask.error
    assert statuses(dask) == dict.fromkeys("abcd", "ok")
    assert artifacts(dask) == artifacts(local)
    summaries = [json.loads((r.folder / "summary.json").read_text()) for r in (local, dask)]
    assert summaries[0]["metrics"] == summaries[1]["metrics"] == {"w": 228}
    assert (base / "w.txt").read_text() == "228"

    # b and c met each other: they ran at once, in two worker processes
    where = started_on(dask)
    assert where["b"][1] != where["c"][1]
    steps = {s.name: s for s in dask.steps}
    spans = {
        n: (steps[n].started or 0.0, (steps[n].started or 0.0) + (steps[n].duration_ms or 0) / 1e3)
        for n in "bc"
    }
    assert spans["b"][0] < spans["c"][1]  # b started before c ended
    assert spans["c"][0] < spans["b"][1]  # and c before b ended: they overlap

    with Store.open(find_home(base)) as store:
        detail = store.run(dask.run_id)
    assert {s.name: s.status for s in detail.summary.steps} == statuses(dask)
    assert len(detail.executions) >= 4  # the tracer's record of every step's cells
    assert [(m.name, m.value) for m in detail.metric_history] == [("w", 228)]

    again = run(folder, on_dask(scheduler))
    assert statuses(again) == dict.fromkeys("abcd", "cached")
    assert {s.cached_from for s in again.steps} == {dask.run_id}
    assert "dask: connected" not in (again.folder / "driver.log").read_text()  # no cluster needed


def open_files(address: str) -> dict[str, int]:
    """How many file descriptors each worker process of the cluster has open."""
    from distributed import Client

    with Client(address) as client:
        counted: dict[str, int] = client.run(lambda: len(os.listdir("/proc/self/fd")))
    return counted


def test_a_long_lived_cluster_keeps_no_files_open_between_runs(
    tmp_path: Path, scheduler: str
) -> None:
    """A user's cluster outlives thousands of runs: each run's steps leave nothing open."""
    folder = exported(project(tmp_path / "p"), [step("a", "x = 1"), step("b", "y = 2")])
    counts = []
    for _ in range(3):
        result = run(folder, on_dask(scheduler, no_cache=True, jobs=2))
        assert statuses(result) == {"a": "ok", "b": "ok"}
        counts.append(open_files(scheduler))
    assert counts[-1] == counts[1], counts  # the first run may open what stays for good


def test_a_failing_cell_is_reported_then_resumed_on_dask(
    tmp_path: Path, scheduler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = project(tmp_path / "p")
    flag = "import os\nassert not os.path.exists('fail.flag'), 'flag present'\ny = x + 1"
    folder = exported(base, [step("a", "x = 1"), step("b", flag), step("c", "z = y + 1")])
    (base / "fail.flag").write_text("")
    command = ["run", str(folder), "--executor", "dask", "--scheduler-address", scheduler]
    assert main([*command, "--run-id", "failed"]) == 1
    err = capsys.readouterr().err
    assert "step 'b' failed in cell c1" in err
    assert "AssertionError: flag present" in err

    (base / "fail.flag").unlink()
    resumed = run(folder, on_dask(scheduler, resume="failed"))
    assert resumed.status == "ok", resumed.error
    assert statuses(resumed) == {"a": "cached", "b": "ok", "c": "ok"}
    assert {s.name: s.rerun for s in resumed.steps}["b"] == "it failed in run failed"


KILL_WORKER = (
    "import os, signal\n"
    "open(f'kernel-{os.getpid()}.pid', 'w').close()\n"
    "if not os.path.exists('killed-once') or ALWAYS:\n"
    "    open('killed-once', 'w').close()\n"
    "    os.kill(os.getppid(), signal.SIGKILL)  # the kernel's parent: its Dask worker\n"
    "x = 1"
)


@pytest.mark.parametrize("retries", [0, 1], ids=["fails", "retried"])
def test_a_worker_killed_mid_step(tmp_path: Path, retries: int) -> None:
    base = project(tmp_path / "p")
    cells = [step("dies", KILL_WORKER.replace("ALWAYS", str(not retries))), step("fine", "y = 2")]
    folder = exported(base, cells)
    options = {"retries": str(retries)}
    result = run(folder, RunOptions(executor="dask", executor_options=options, jobs=2))
    log = (result.folder / "driver.log").read_text()
    if retries:
        assert statuses(result) == {"dies": "ok", "fine": "ok"}
        assert re.search(r"dies: Dask worker tcp://\S+ lost, submitted again", log)
    else:
        assert statuses(result) == {"dies": "failed", "fine": "ok"}
        assert re.search(r"the Dask worker tcp://\S+ running it was lost", result.error or "")
    # the run's own cluster is closed, and the killed worker's kernel exited with it
    pids = [int(p.stem.split("-")[1]) for p in base.glob("kernel-*.pid")]
    pids += [pid for where in started_on(result).values() for pid in where[1:]]
    wait_for(lambda: not any(alive(pid) for pid in pids), f"processes {pids} to end")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_cancels_and_records_aborted(tmp_path: Path, scheduler: str, signum: int) -> None:
    base = project(tmp_path / "p")
    slow = "import os, time\nopen(f'slow-{os.getpid()}.started', 'w').close()\ntime.sleep(60)"
    folder = exported(base, [step("slow", slow), step("after", "x = 1", "after:slow")])
    command = ["run", str(folder), "--run-id", "r1", "--executor", "dask"]
    child = subprocess.Popen(
        [sys.executable, "-m", "mlprod_nb.cli", *command, "--scheduler-address", scheduler],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    started = lambda: list(base.glob("slow-*.started"))  # noqa: E731
    wait_for(lambda: bool(started()) or child.poll() is not None, "the step to start")
    assert child.poll() is None, child.communicate()[0].decode()
    child.send_signal(signum)
    assert child.wait(timeout=60) == 130, child.communicate()[0].decode()
    summary = json.loads((find_home(base).runs_dir / "r1" / "summary.json").read_text())
    assert summary["status"] == "aborted"
    assert [s["status"] for s in summary["steps"]] == ["aborted", "aborted"]
    kernel = int(started()[0].stem.split("-")[1])
    wait_for(lambda: not alive(kernel), "the step's kernel to be shut down")


def test_without_dask_installed_the_run_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = project(tmp_path / "p")
    folder = exported(base, [step("a", "x = 1")])
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed: ImportError
    with pytest.raises(NotFoundError, match="needs the packages dask and distributed") as raised:
        run(folder, on_dask())
    assert raised.value.hint is not None
    assert "pip install 'mlprod-nb[dask]'" in raised.value.hint
    assert not find_home(base).runs_dir.exists()  # refused before the run wrote anything


def test_an_artifact_store_carries_the_runs_files(tmp_path: Path, scheduler: str) -> None:
    """With --artifacts, kernels journal into the workers' staging folders: what reaches the
    driver (artifacts, executed notebooks, journals and so lineage) came through the URL."""
    from distributed import Client

    base = project(tmp_path / "p")
    folder = exported(base, FOUR_STEPS)
    shared = tmp_path / "store"  # a second folder, reached only through fsspec
    options = {"scheduler_address": scheduler, "artifacts": shared.as_uri()}
    result = run(folder, RunOptions(executor="dask", executor_options=options))
    assert result.status == "ok", result.error
    home = find_home(base).home
    for state in result.steps:
        for artifact in state.artifacts:
            relative = Path(artifact["path"]).relative_to(home)
            assert relative.parts[:2] == ("runs", result.run_id)
            assert (shared / relative).read_bytes() == Path(artifact["path"]).read_bytes()
    assert (result.folder / "steps" / "d.ipynb").exists()
    with Client(scheduler) as client:  # the workers removed what they staged for the run
        folders = client.run(lambda dask_worker: dask_worker.local_directory).values()
    assert not any((Path(f) / STAGING / "runs" / result.run_id).exists() for f in folders)
    journals = list((shared / "journal").iterdir())  # the step kernels' own, by way of the URL
    assert journals
    for journal in journals:
        assert (find_home(base).journal_dir / journal.name).read_bytes() == journal.read_bytes()
    with Store.open(find_home(base)) as store:
        detail = store.run(result.run_id)
    assert [(m.name, m.value) for m in detail.metric_history] == [("w", 228)]

    again = run(folder, RunOptions(executor="dask", executor_options=options))
    assert statuses(again) == dict.fromkeys("abcd", "cached")


def test_an_unreachable_artifact_store_is_named(tmp_path: Path, scheduler: str) -> None:
    base = project(tmp_path / "p")
    folder = exported(base, [step("a", "x = 1")])
    (tmp_path / "a-file").write_text("")
    url = (tmp_path / "a-file" / "store").as_uri()  # under a file: nothing can be put there
    options = {"scheduler_address": scheduler, "artifacts": url}
    with pytest.raises(RunFailedError, match=f"the driver cannot reach the artifact store {url}"):
        run(folder, RunOptions(executor="dask", executor_options=options))
    assert main(["run", str(folder), "--artifacts", url]) == 2  # a local run has no store


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real S3 API on 127.0.0.1 (moto's server) with a bucket; the endpoint reaches the
    workers the run starts through fsspec's environment variables."""
    import fsspec
    import s3fs
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        endpoint = "http://{}:{}".format(*server.get_host_and_port())
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.setenv(name, "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("FSSPEC_S3_ENDPOINT_URL", endpoint)  # read by the workers' fsspec
        monkeypatch.setitem(fsspec.config.conf, "s3", {"endpoint_url": endpoint})  # and ours
        s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True).makedirs(
            "runs", exist_ok=True
        )
        yield endpoint
    finally:
        server.stop()


def test_an_s3_artifact_store(tmp_path: Path, s3: str) -> None:
    import s3fs

    base = project(tmp_path / "p")
    folder = exported(base, FOUR_STEPS)
    options = {"artifacts": "s3://runs/team"}  # the run's own cluster: its workers get the env
    result = run(folder, RunOptions(executor="dask", executor_options=options, jobs=2))
    assert result.status == "ok", result.error
    bucket = s3fs.S3FileSystem(endpoint_url=s3, skip_instance_cache=True)
    stored = {p.split("/", 2)[2] for p in bucket.find("runs/team")}
    home = find_home(base).home
    for state in result.steps:
        for artifact in state.artifacts:
            assert str(Path(artifact["path"]).relative_to(home)) in stored
    assert any(p.startswith("journal/") for p in stored)
    with Store.open(find_home(base)) as store:
        detail = store.run(result.run_id)
    assert [(m.name, m.value) for m in detail.metric_history] == [("w", 228)]


def test_a_worker_that_cannot_reach_the_store_fails_its_step(
    tmp_path: Path, s3: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = project(tmp_path / "p")
    folder = exported(base, [step("a", "x = 1")])
    monkeypatch.setenv("FSSPEC_S3_ENDPOINT_URL", "http://127.0.0.1:9")  # the workers': nothing
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # refused at once: no botocore retries (~9 s)
    options = {"artifacts": "s3://runs/team"}
    result = run(folder, RunOptions(executor="dask", executor_options=options, jobs=1))
    assert statuses(result) == {"a": "failed"}
    pattern = r"Dask worker tcp://\S+ cannot reach the artifact store s3://runs/team"
    assert re.search(pattern, result.error or ""), result.error


def test_an_unreachable_scheduler_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlprod_nb.pipeline import daskexec

    base = project(tmp_path / "p")
    folder = exported(base, [step("a", "x = 1")])
    monkeypatch.setattr(daskexec, "CONNECT_TIMEOUT", "1s")
    address = "tcp://127.0.0.1:9"  # nothing listens there
    with pytest.raises(RunFailedError, match=f"cannot reach the Dask scheduler at {address}"):
        run(folder, on_dask(address))
    summary = json.loads(next(find_home(base).runs_dir.glob("*/summary.json")).read_text())
    assert summary["status"] == "failed"  # the run is recorded, with why
    assert "cannot reach the Dask scheduler" in summary["error"]
