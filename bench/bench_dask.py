"""The ``dask`` executor against the local runner, printed as a markdown table.

1. the example pipeline (``notebooks/churn.ipynb``) and the two-heavy-steps pipeline of
   ``bench_pipeline``: ``--executor dask`` on a running 2-worker cluster vs the local
   runner (the cluster is started once, before: its start is measured on its own);
2. how long a ``LocalCluster`` of 2 worker processes takes to start, and a run that
   starts its own (no ``--scheduler-address``);
3. the scaling: two independent steps of ~10 s each on a cluster of 1 worker vs one of
   2, beside the same pipeline on the local runner with ``--jobs 1`` vs ``--jobs 2`` (what
   two processes gain on this machine at this moment). A run's fixed cost (process
   start, imports, the scheduler's round trips, a kernel per worker, the ingest) is paid
   once whatever the steps take, so a speed-up is measured on steps long beside it.

Runs are separate ``mlprod-nb run`` processes in a fresh store, interleaved and best
of three, since the machine may be shared.
"""

from __future__ import annotations

import os
import shutil
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
    from distributed import Client, LocalCluster

    began = time.perf_counter()
    started = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    with Client(started) as client:
        client.wait_for_workers(workers)
    return started, time.perf_counter() - began


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
        one, _ = cluster(1)
        rows: list[tuple[str, float, float, str]] = []
        try:
            on = {
                n: ["--executor", "dask", "--scheduler-address", c.scheduler_address]
                for n, c in (("one", one), ("two", two))
            }
            for name in ("churn", "heavy"):
                run = [*MLPROD, "run", str(base / f"{name}.pipeline"), "--no-cache", "--jobs", "2"]
                times = best_of(
                    {
                        "local": run,
                        "dask": [*run, *on["two"]],
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
            run = [*MLPROD, "run", str(base / "long.pipeline"), "--no-cache"]
            times = best_of(
                {
                    "one": [*run, *on["one"]],
                    "two": [*run, *on["two"]],
                    "jobs 1": [*run, "--jobs", "1"],
                    "jobs 2": [*run, "--jobs", "2"],
                },
                base,
                repeat=2,
            )
            rows.append(
                (
                    "2 steps of ~10 s: 1 worker vs 2 workers (speed-up)",
                    times["one"],
                    times["two"],
                    ">= 1.7x",
                )
            )
            rows.append(
                (
                    "the same, local runner: --jobs 1 vs --jobs 2 (speed-up)",
                    times["jobs 1"],
                    times["jobs 2"],
                    "(reference)",
                )
            )
        finally:
            one.close()
            two.close()

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
