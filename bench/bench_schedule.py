"""Schedules: fire latency (due time -> the step's kernel running) and idle cost.

Fire latency: a tick at a fire time claims it and starts ``mlprod-nb run``; the step's
first line writes the time, so the figure is what a user waits past the fire time
(plus up to one tick interval: ``mlprod-nb scheduler`` ticks every 10 s by default, the
server every ``schedule_interval_seconds``). Each of three fires is its own schedule
with its own parameter, so no run is a cache hit. Idle cost: ``mlprod-nb scheduler
--interval 2`` with 100 schedules none due, its CPU time over 20 s once started, and
one tick's cost, from which the default interval's. An idle tick decides on the book
the process last read; a tick after another process wrote a schedule record (here:
``mlprod-nb schedule pause|resume``) opens the store and reads the book: measured apart.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_pipeline import MLPROD, notebook

from mlprod_nb import schedule
from mlprod_nb.pipeline.export import export
from mlprod_nb.schedule.fire import run_state

IDLE_SECONDS = 20.0
STARTUP_SECONDS = 5.0
FIRES = 3
CHANGES = 6  # ticks after another process changed a schedule


def pipeline(base: Path) -> Path:
    cells = [
        ("n = 0", ["parameters"]),
        (
            "import pathlib, time\n"
            "pathlib.Path(f'started-{n}.txt').write_text(repr(time.time()))\n"
            "total = n * 2",
            ["step:mark"],
        ),
    ]
    folder = export(notebook(base / "nb.ipynb", cells, setup=None), use_tracer=False).folder
    assert folder is not None
    return folder


def fire_latency(base: Path, folder: Path, home: Path) -> list[float]:
    latencies = []
    t0 = 1_796_083_200.0
    for n in range(1, FIRES + 1):
        made = schedule.add(home, folder, cron="0 * * * *", tz="UTC", params={"n": n},
                            clock=lambda: t0)  # fmt: skip
        due = time.time()  # the tick happens at the fire time
        (fire,) = [f for f in schedule.tick(home, t0 + 3600) if f.schedule == made.id]
        marker = base / f"started-{n}.txt"
        while not marker.exists() or not marker.read_text():
            if run_state(home, str(fire.run))[0] != "running":
                raise SystemExit(f"run {fire.run} ended without starting its step")
            time.sleep(0.01)
        latencies.append(float(marker.read_text()) - due)
        while run_state(home, str(fire.run))[0] == "running":
            time.sleep(0.05)
        schedule.tick(home, t0 + 3601)  # settle it
        schedule.remove(home, made.id)
    return latencies


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cost(folder: Path, home: Path) -> tuple[float, float, float]:
    """(CPU % of the service ticking every 2 s, ms of CPU per idle tick, ms of CPU per
    tick after a change) with 100 schedules."""
    made = [schedule.add(home, folder, cron="0 3 1 1 *", tz="UTC", name=f"idle-{i}")
            for i in range(100)]  # fmt: skip
    argv = [*MLPROD, "scheduler", "--interval", "2", "--home", str(home)]
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    try:
        time.sleep(STARTUP_SECONDS)  # past its imports and first tick
        first, began = cpu_seconds(child.pid), time.monotonic()
        time.sleep(IDLE_SECONDS)
        used, wall = cpu_seconds(child.pid) - first, time.monotonic() - began
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait()
    began = time.process_time()
    for _ in range(20):
        schedule.tick(home)
    per_tick = (time.process_time() - began) / 20 * 1000
    changed = 0.0
    for i in range(CHANGES):
        verb = "pause" if i % 2 == 0 else "resume"
        subprocess.run([*MLPROD, "schedule", verb, made[0].id, "--home", str(home)], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        began = time.process_time()
        schedule.tick(home)
        changed += time.process_time() - began
    return used / wall * 100, per_tick, changed / CHANGES * 1000


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / ".mlprod").mkdir()
        os.environ.pop("MLPROD_NB_HOME", None)
        folder = pipeline(base)
        home = base / ".mlprod"
        latencies = fire_latency(base, folder, home)
        percent, per_tick, after_change = idle_cost(folder, home)

    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
    print("| measure | value | note |")
    print("|---|---:|---|")
    print(
        f"| fire latency: due -> step kernel running (median of {FIRES}) | "
        f"{statistics.median(latencies):.2f} s | best {min(latencies):.2f} s; plus up to one "
        "tick interval (10 s default) |"
    )
    print(f"| idle: scheduler --interval 2, 100 schedules none due | {percent:.2f} % CPU | "
          f"over {IDLE_SECONDS:g} s, start-up excluded |")  # fmt: skip
    print(f"| one tick, 100 schedules none due | {per_tick:.1f} ms CPU | "
          f"{per_tick / 10_000 * 100:.3f} % CPU at the 10 s default |")  # fmt: skip
    print(f"| one tick after a schedule changed, 100 schedules | {after_change:.1f} ms CPU | "
          f"opens the store, reads the book (mean of {CHANGES}) |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
