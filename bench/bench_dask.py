"""The ``dask`` executor against the local runner, printed as a markdown table.

1. the example pipeline (``notebooks/churn.ipynb``) and the two-heavy-steps pipeline of
   ``bench_pipeline``: ``--executor dask`` on a running 2-worker cluster vs the local
   runner (the cluster is started once, before: its start is measured on its own);
2. how long a ``LocalCluster`` of 2 worker processes takes to start, and a run that
   starts its own (no ``--scheduler-address``);
3. the scaling: two independent steps of ~10 s each on a cluster of 1 worker vs one of
   2, beside the same pipeline on the local runner with ``--jobs 1`` vs ``--jobs 2``, and
   beside the physical ceiling: the steps' loop as two plain ``python`` processes one
   after the other vs at once (what two processes gain on this machine at this moment:
   the two cores share more than the scheduler shows). A run's fixed cost (process start,
   imports, the scheduler's round trips, a kernel per worker, the ingest) is paid once
   whatever the steps take, so a speed-up is measured on steps long beside it. Only the
   cluster being measured is running: an idle one takes CPU from the steps.

Clusters are made by ``daskexec.local_cluster``, the settings of the cluster a run starts
for itself.

Runs are separate ``mlprod-nb run`` processes in a fresh store, interleaved and best
of three, since the machine may be shared.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_pipeline import HEAVY, MLPROD, TWO_HEAVY, notebook, timed

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
REPEAT = 3
LONG = HEAVY.replace("50_000_000", "150_000_000")  # ~10 s here
TWO_LONG = [(f"{LONG}\na = total", ["step:left"]), (f"{LONG}\nb = total", ["step:right"])]


def cluster(workers: int) -> tuple[Any, float]:
    """A running cluster of ``workers`` processes and how long it took to be ready."""
    from distributed import Client

    from mlprod_nb.pipeline.daskexec import local_cluster

    began = time.perf_counter()
    started = local_cluster(workers)
    with Client(started) as client:
        client.wait_for_workers(workers)
    return started, time.perf_counter() - began


def on_cluster(workers: int, argv: list[str], cwd: Path) -> float:
    """Wall time of ``argv`` run against a cluster of ``workers`` started for it alone."""
    started, _ = cluster(workers)
    try:
        return timed(
            [*argv, "--executor", "dask", "--scheduler-address", started.scheduler_address], cwd
        )
    finally:
        started.close()


def plain(together: bool) -> float:
    """Wall time of the steps' loop as two ``python`` processes, at once or in turn."""
    argv = [sys.executable, "-c", LONG]
    began = time.perf_counter()
    if together:
        for process in [subprocess.Popen(argv), subprocess.Popen(argv)]:
            process.wait()
    else:
        subprocess.run(argv, check=True)
        subprocess.run(argv, check=True)
    return time.perf_counter() - began


def best_of(commands: dict[str, list[str]], cwd: Path, repeat: int = REPEAT) -> dict[str, float]:
    """Each command's best wall time, the commands interleaved so they share the load."""
    best = dict.fromkeys(commands, float("inf"))
    for _ in range(repeat):
        for name, argv in commands.items():
            best[name] = min(best[name], timed(argv, cwd))
    return best


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / ".mlprod").mkdir()
        os.environ.pop("MLPROD_NB_HOME", None)
        shutil.copy(NOTEBOOKS / "churn.ipynb", base / "churn.ipynb")
        shutil.copytree(NOTEBOOKS / "data", base / "data")
        notebook(base / "heavy.ipynb", TWO_HEAVY, setup=None)
        notebook(base / "long.ipynb", TWO_LONG, setup=None)
        for name in ("churn", "heavy", "long"):
            timed([*MLPROD, "export", str(base / f"{name}.ipynb")], base)

        two, start_two = cluster(2)
        rows: list[tuple[str, float, float, str]] = []
        try:
            on_two = ["--executor", "dask", "--scheduler-address", two.scheduler_address]
            for name in ("churn", "heavy"):
                run = [*MLPROD, "run", str(base / f"{name}.pipeline"), "--no-cache", "--jobs", "2"]
                times = best_of(
                    {
                        "local": run,
                        "dask": [*run, *on_two],
                        "own": [*run, "--executor", "dask"],
                    },
                    base,
                )
                label = "example (churn)" if name == "churn" else "2 heavy steps"
                rows.append(
                    (
                        f"{label}: dask (2 workers) vs local",
                        times["dask"],
                        times["local"],
                        "<= 1.2x",
                    )
                )
                rows.append(
                    (
                        f"{label}: dask starting its own cluster vs local",
                        times["own"],
                        times["local"],
                        "(info)",
                    )
                )
        finally:
            two.close()
        run = [*MLPROD, "run", str(base / "long.pipeline"), "--no-cache"]
        best = dict.fromkeys(["one", "two", "jobs 1", "jobs 2", "in turn", "at once"], float("inf"))
        for _ in range(2):
            measured = {
                "one": on_cluster(1, run, base),
                "two": on_cluster(2, run, base),
                "jobs 1": timed([*run, "--jobs", "1"], base),
                "jobs 2": timed([*run, "--jobs", "2"], base),
                "in turn": plain(together=False),
                "at once": plain(together=True),
            }
            best = {name: min(best[name], measured[name]) for name in best}
        rows.append(
            (
                "2 steps of ~10 s: 1 worker vs 2 workers (speed-up)",
                best["one"],
                best["two"],
                ">= 1.7x",
            )
        )
        rows.append(
            (
                "the same, local runner: --jobs 1 vs --jobs 2 (speed-up)",
                best["jobs 1"],
                best["jobs 2"],
                "(reference)",
            )
        )
        rows.append(
            (
                "the steps' loop as 2 plain python processes: in turn vs at once (ceiling)",
                best["in turn"],
                best["at once"],
                "(reference)",
            )
        )

    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, load {load:.2f}\n")
    print(f"LocalCluster of 2 worker processes ready in {start_two:.2f} s\n")
    print("| measure | measured (s) | baseline (s) | ratio | target |")
    print("|---|---:|---:|---:|---|")
    for name, value, baseline, target in rows:
        print(f"| {name} | {value:.2f} | {baseline:.2f} | {value / baseline:.2f}x | {target} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
