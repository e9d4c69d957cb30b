"""``mlprod-nb lineage`` and ``stale`` of a 10,000-execution notebook, through the CLI.

Two stores hold the same notebook (``target.ipynb``: 10,000 executions in 50 kernel
sessions over 40 cells, each cell taking a name from the one before, some reading data
files, one writing a result; renamed once from ``draft.ipynb``; a ``prep.ipynb`` wrote
one of the files it reads). The big store also holds 1,000,000 executions of 125 other
notebooks. Both are built once (journals written with ``JournalWriter``, ingested with
``Store.open``) and kept under the temp dir, keyed by the recipe and the schema version.

Each command runs as a fresh process (``.venv/bin/mlprod-nb ...``, its start included),
the stores picked with ``MLPROD_NB_HOME``, in interleaved rounds. Targets: <= 300 ms,
and the big store's time / the small store's ~1.0x. ``python -c pass`` and
``mlprod-nb --help`` are the floor any command pays. Each command is timed twice a round:
as it is asked again with nothing new in the store (its saved answer printed,
``store/answers.py``), and "nothing saved" (``.mlprod/answers/`` removed just before: the
first answer after new journal lines, read from the store). ``BENCH_BASELINE=DIR`` also
times the commands of the ``mlprod_nb`` package in DIR (an older version) in the same
rounds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlprod_nb.journal import JournalWriter
from mlprod_nb.paths import Layout
from mlprod_nb.records import (
    SCHEMA,
    Dependency,
    ExecutionId,
    ExecutionRecord,
    FileAccess,
    Metric,
    Mutation,
    RenameRecord,
    SessionRecord,
    new_execution,
)
from mlprod_nb.store import Store
from mlprod_nb.store.schema import VERSION

TARGET_MS = 300.0
RECIPE = 1  # bump when the records below change: the cached stores are rebuilt
CELLS = 40
TARGET_SESSIONS, TARGET_PER_SESSION = 50, 200  # 10,000 executions
OTHER_NOTEBOOKS, OTHER_SESSIONS, OTHER_PER_SESSION = 125, 4, 2_000  # 1,000,000
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
# a folder holding another version's ``mlprod_nb`` package (``git archive REV mlprod_nb``),
# timed in the same rounds as a baseline
BASELINE = os.environ.get("BENCH_BASELINE", "")
T0 = 1.75e9
RENAMED = T0 + 2 * 86_400.0  # the first two sessions ran as draft.ipynb
VENV = Path(sys.executable).parent
CLI = str(VENV / "mlprod-nb")


def _session(name: str, notebook: str, started: float) -> SessionRecord:
    return {
        "v": SCHEMA,
        "kind": "session",
        "session": name,  # type: ignore[typeddict-item]
        "pid": 4242,
        "started": started,
        "notebook": notebook,
        "cwd": str(Path(notebook).parent),
        "env": {
            "python": "3.11.7",
            "implementation": "CPython",
            "platform": "linux",
            "hostname": "bench",
            "cpu_count": 2,
            "memory_bytes": 1 << 33,
            "gpus": [],
            "packages_hash": "b" * 64,
            "packages": [("duckdb", "2.0.0"), ("pandas", "3.1"), ("numpy", "2.3")],
            "git": {"root": str(Path(notebook).parent), "commit": "c0ffee", "dirty": True},
        },
    }


def _cell(
    session: str,
    seq: int,
    started: float,
    notebook: str,
    data: list[tuple[str, str]],
    out: str,
) -> ExecutionRecord:
    """The ``seq``-th execution of a session: cell ``(seq - 1) % CELLS`` of the notebook."""
    c = (seq - 1) % CELLS
    name, before = f"df{c}", f"df{c - 1}"
    files: list[FileAccess] = []
    if c % 10 == 0:
        path, sha = data[(c // 10) % len(data)]
        files.append(
            FileAccess(path=path, mode="read", sha256=sha, size=4096, via="open", mtime_ns=1)
        )
    if c == CELLS - 1:
        files.append(FileAccess(path=out, mode="write", sha256=f"{seq:064x}", size=512, via="open"))
    return new_execution(
        session=session,
        seq=seq,
        source=f"# step {c}\n{name} = {before}.assign(x{c}=lambda d: d.x * {c})"
        if c
        else "# load\ndf0 = pd.read_csv('data/part-0.csv')",
        first=seq <= CELLS,
        started=started,
        duration_ms=3.5 + c,
        notebook=notebook,
        cell_id=f"cell-{c}",
        execution_count=seq,
        defines=[name],
        uses=[before, "pd"] if c else ["pd"],
        mutations=[Mutation(name=before, how="assign", known=False)] if c % 7 == 3 else [],
        deps=[Dependency(name=before, execution=ExecutionId(f"{session}:{seq - 1}"))]
        if c and seq > 1
        else [],
        files=files,
        params={"alpha": 0.1} if c == 1 else None,
        metrics=[Metric(name="rmse", value=1.0 / seq, step=None)] if c == CELLS - 1 else None,
        types={name: "pandas.DataFrame"},
    )


def _notebook_json(path: Path) -> None:
    cells = [
        {
            "cell_type": "code",
            "id": f"cell-{c}",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": f"df{c} = ...",
        }
        for c in range(CELLS)
    ]
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(notebook))


def _project(root: Path) -> tuple[Path, list[tuple[str, str]]]:
    """The notebook, its data files (path, sha256) and a results folder, on disk."""
    project = root / "project"
    (project / "data").mkdir(parents=True, exist_ok=True)
    (project / "out").mkdir(exist_ok=True)
    data = []
    for k in range(4):
        path = project / "data" / f"part-{k}.csv"
        text = "x,k\n" + "".join(f"{i},{k}\n" for i in range(500))
        data.append((str(path), hashlib.sha256(text.encode()).hexdigest()))
        # part-3 changed since the notebook read it: its readers (and theirs) are stale
        path.write_text(text + "500,3\n" if k == 3 else text)
    _notebook_json(project / "target.ipynb")
    return project, data


def _write_target(journal: Path, project: Path, data: list[tuple[str, str]]) -> None:
    prep = str(project / "prep.ipynb")
    writer = JournalWriter(journal, "prep")
    writer.append(_session("prep", prep, T0 - 100))
    path, sha = data[1]
    writer.append(
        new_execution(
            session="prep",
            seq=1,
            source="write_part_1()",
            started=T0 - 90,
            notebook=prep,
            cell_id="p0",
            files=[FileAccess(path=path, mode="write", sha256=sha, size=4096, via="open")],
        )
    )
    writer.close()
    for s in range(TARGET_SESSIONS):
        began = T0 + s * 86_400.0
        notebook = str(project / ("draft.ipynb" if began < RENAMED else "target.ipynb"))
        name = f"t{s:03d}"
        writer = JournalWriter(journal, f"target-{s:03d}")
        writer.append(_session(name, notebook, began))
        out = str(project / "out" / "model.pkl")
        for seq in range(1, TARGET_PER_SESSION + 1):
            writer.append(_cell(name, seq, began + seq * 5.0, notebook, data, out))
        if s == 1:
            rename: RenameRecord = {
                "v": SCHEMA,
                "kind": "rename",
                "old_path": str(project / "draft.ipynb"),
                "new_path": str(project / "target.ipynb"),
                "renamed": RENAMED - 1.0,
            }
            writer.append(rename)
        writer.close()


def _write_others(journal: Path, root: Path, data: list[tuple[str, str]]) -> None:
    for n in range(OTHER_NOTEBOOKS):
        notebook = str(root / "others" / f"analysis-{n:03d}.ipynb")
        out = str(root / "others" / "out" / f"result-{n:03d}.parquet")
        for s in range(OTHER_SESSIONS):
            began = T0 + (n * OTHER_SESSIONS + s) * 700.0
            name = f"o{n:03d}-{s}"
            writer = JournalWriter(journal, f"other-{n:03d}-{s}")
            writer.append(_session(name, notebook, began))
            for seq in range(1, OTHER_PER_SESSION + 1):
                writer.append(_cell(name, seq, began + seq * 0.3, notebook, data, out))
            writer.close()


def _build(home: Path, project: Path, data: list[tuple[str, str]], others: bool) -> float:
    """Write the journals and ingest them once; the seconds the ingest took."""
    layout = Layout(home)
    _write_target(layout.journal_dir, project, data)
    if others:
        _write_others(layout.journal_dir, home.parent, data)
    began = time.perf_counter()
    with Store.open(layout, timeout=600):
        pass
    return time.perf_counter() - began


def _stores() -> tuple[Path, Path, Path]:
    """The project folder and the small and big stores, built unless already cached."""
    root = Path(tempfile.gettempdir()) / f"mlprod-bench-lineage-r{RECIPE}-s{VERSION}"
    project, data = _project(root)
    homes = []
    for label, others in (("small", False), ("big", True)):
        home = root / label / ".mlprod"
        done = home / "built"
        if not done.exists():
            shutil.rmtree(home, ignore_errors=True)
            print(f"building the {label} store under {home} ...", flush=True)
            seconds = _build(home, project, data, others)
            print(f"  ingested in {seconds:.1f} s", flush=True)
            done.write_text("ok\n")
        homes.append(home)
    return project, homes[0], homes[1]


def _time(
    argv: list[str], env: dict[str, str], cwd: Path, forget: Path | None = None
) -> tuple[float, float]:
    """Wall and CPU (user + system, all threads) ms of one run of ``argv``; with ``forget``
    (a store), its saved answers are removed first."""
    if forget is not None:
        shutil.rmtree(forget / "answers", ignore_errors=True)
    began = time.perf_counter()
    child = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = (time.perf_counter() - began) * 1000.0
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited with {child.returncode}")
    return wall, (usage.ru_utime + usage.ru_stime) * 1000.0


def _answer(argv: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr}")
    return done.stdout


# What one `lineage` / `stale` process spends its time on, phase by phase (run in a fresh
# process so the imports are paid as the CLI pays them).
_PHASES = """
import json, sys, time
marks = [("start", time.perf_counter())]
def mark(name):
    marks.append((name, time.perf_counter()))
import duckdb
mark("import duckdb")
from mlprod_nb.hashing import current_hashes
from mlprod_nb.jsondata import dumps
from mlprod_nb.lineage.render import lineage_text, stale_text
from mlprod_nb.lineage.staleness import files_read, stale_cells
from mlprod_nb.page import page_order
from mlprod_nb.paths import find_home
from mlprod_nb.store import Store
mark("import mlprod_nb (store, lineage)")
notebook = sys.argv[1]
store = Store.open(find_home(notebook))
mark("open: lock, connect, migrate, ingest (nothing new)")
lineage = store.notebook_lineage(notebook)
mark("read the executions and build the lineage")
store.close()
mark("close")
lineage_text(lineage)
mark("render `lineage` text")
text = dumps(lineage)
mark("`lineage --json`: jsondata.dumps (the C encoder walking the records)")
stale = stale_cells(lineage, current_hashes(files_read(lineage)), order="run-all",
                    page=page_order(notebook))
mark("stale: hash read files, page order, stale_cells")
stale_text(lineage, stale)
mark("render `stale` text")
print(json.dumps([(name, (t - marks[i][1]) * 1000) for i, (name, t) in enumerate(marks[1:])]))
"""


# The same for a command whose saved answer is printed (``stale``: it also hashes the
# files the notebook read and reads its page order, to check the answer's inputs).
_SAVED_PHASES = """
import sys, time
marks = [("start", time.perf_counter())]
def mark(name):
    marks.append((name, time.perf_counter()))
from mlprod_nb.cli import build_parser
mark("saved answer: import mlprod_nb.cli (the package: records, tracer api)")
args = build_parser().parse_args(["stale", sys.argv[1]])
mark("saved answer: build the argument parser")
from mlprod_nb.store.commands import stale_answer
mark("saved answer: import store.commands, store.answers")
text = stale_answer(args.notebook, order=args.order)
mark("saved answer: stamp (code, journal, db), hashes, page order, read it")
print(__import__("json").dumps(
    [(name, (t - marks[i][1]) * 1000) for i, (name, t) in enumerate(marks[1:])]))
"""


def _phases(
    notebook: str, envs: dict[str, dict[str, str]], homes: dict[str, Path], cwd: Path
) -> None:
    """The phases of one process, min of 3 fresh processes per store, as a table."""
    found: dict[str, dict[str, list[float]]] = {size: {} for size in envs}
    for _ in range(3):
        for size, env in envs.items():
            shutil.rmtree(homes[size] / "answers", ignore_errors=True)
            out = _answer([sys.executable, "-c", _PHASES, notebook], env, cwd)
            _answer([CLI, "stale", notebook], env, cwd)  # saved for the next script
            out2 = _answer([sys.executable, "-c", _SAVED_PHASES, notebook], env, cwd)
            for name, ms in json.loads(out) + json.loads(out2):
                found[size].setdefault(name, []).append(ms)
    print()
    print("Where the time goes (one process, phase by phase; min of 3, ms)")
    print()
    print("| phase | 10k store | 1M store |")
    print("|---|---:|---:|")
    for name in found["small"]:
        print(f"| {name} | {min(found['small'][name]):.0f} | {min(found['big'][name]):.0f} |")


def main() -> int:
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} on {os.cpu_count()} cores")
    project, small, big = _stores()
    notebook = str(project / "target.ipynb")
    base = {k: v for k, v in os.environ.items() if k != "MLPROD_NB_HOME"}
    envs = {
        "small": base | {"MLPROD_NB_HOME": str(small)},
        "big": base | {"MLPROD_NB_HOME": str(big)},
    }
    commands = {
        "lineage": [CLI, "lineage", notebook],
        "lineage --json": [CLI, "lineage", "--json", notebook],
        "stale": [CLI, "stale", notebook],
        "stale --json": [CLI, "stale", "--json", notebook],
    }
    for label, argv in commands.items():  # the same answer from both stores
        if _answer(argv, envs["small"], project) != _answer(argv, envs["big"], project):
            print(f"`{label}` answers differently with 1M other executions in the store")
            return 1
    runs = [("python -c pass", [sys.executable, "-c", "pass"], "small")]
    runs.append(("mlprod-nb --help", [CLI, "--help"], "small"))
    homes = {"small": small, "big": big}
    cold = {f"{label} ({size} nothing saved)": homes[size] for label in commands for size in envs}
    for label, argv in commands.items():  # nothing saved, then saved by that run
        for size in envs:
            runs += [
                (f"{label} ({size} nothing saved)", argv, size),
                (f"{label} ({size})", argv, size),
            ]
    if BASELINE:  # the same commands run by another source tree's mlprod_nb
        for size in list(envs):
            envs[f"{size} baseline"] = envs[size] | {"PYTHONPATH": BASELINE}
        old = [sys.executable, "-m", "mlprod_nb.cli"]
        runs += [
            (f"{label} ({size} baseline)", [*old, *argv[1:]], f"{size} baseline")
            for label, argv in commands.items()
            for size in ("small", "big")
        ]
    times: dict[str, list[float]] = {label: [] for label, _, _ in runs}
    cpu: dict[str, list[float]] = {label: [] for label, _, _ in runs}
    for _ in range(ROUNDS):
        for label, argv, size in runs:
            wall, used = _time(argv, envs[size], project, cold.get(label))
            times[label].append(wall)
            cpu[label].append(used)
    print()
    print(
        f"{ROUNDS} interleaved rounds, each a fresh process; wall ms (min / median / max - min); "
        "CPU: user + system of the process, all threads"
    )
    print()
    print(
        "| command | 10k store min | median | spread | 1M store min | median | spread "
        "| min vs 300 ms | 1M / 10k (min) | CPU ms min 10k / 1M |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")

    def cells(values: list[float]) -> str:
        low, middle, spread = min(values), statistics.median(values), max(values) - min(values)
        return f"{low:.0f} | {middle:.0f} | {spread:.0f}"

    for label in ("python -c pass", "mlprod-nb --help"):
        print(f"| `{label}` (floor) | {cells(times[label])} | | | | | | {min(cpu[label]):.0f} |")
    worst = 0.0
    for suffix, shown in (("", ""), (" nothing saved", " (nothing saved)")):
        for label in commands:
            small_run, big_run = f"{label} (small{suffix})", f"{label} (big{suffix})"
            a, b = times[small_run], times[big_run]
            if not suffix:
                worst = max(worst, min(a), min(b))
            print(
                f"| `{label}`{shown} | {cells(a)} | {cells(b)} "
                f"| {max(min(a), min(b)) / TARGET_MS:.2f}x | {min(b) / min(a):.2f}x "
                f"| {min(cpu[small_run]):.0f} / {min(cpu[big_run]):.0f} |"
            )
    if BASELINE:
        print()
        print(f"Against the baseline source tree {BASELINE} (same rounds; wall ms, min)")
        print()
        print("| command | store | baseline | now | now / baseline |")
        print("|---|---|---:|---:|---:|")
        for label in commands:
            for size, shown in (("small", "10k"), ("big", "1M")):
                then, now = (
                    min(times[f"{label} ({size} baseline)"]),
                    min(times[f"{label} ({size})"]),
                )
                print(f"| `{label}` | {shown} | {then:.0f} | {now:.0f} | {now / then:.2f}x |")
    _phases(notebook, {size: envs[size] for size in ("small", "big")}, homes, project)
    load = os.getloadavg()
    print()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f}")
    return 0 if worst <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
