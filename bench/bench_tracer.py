"""Tracer overhead as the user feels it: whole ``run_cell`` traced vs untraced, and ipyflow.

Each measurement runs in fresh worker processes (an audit hook, once added, stays
for the life of a process), interleaving the arms over ``ROUNDS`` rounds; every
worker drives a real ``InteractiveShell`` (``InteractiveShell.instance()``, which
ipyflow needs). Arms: untraced, traced (``%load_ext mlprod_nb``), hooks (traced,
with the tracer's own hooks timed in-process by ``perf_counter_ns``: the tracer's
cost free of the cell's run-to-run noise; a worker of its own so the wrappers do not
weigh on the ratios) and ipyflow (``%load_ext ipyflow`` in the cached
``.venv-ipyflow`` that ``make bench`` creates; left out when it is missing).

Kinds of worker: trivial cells at 1,000 / 3,000 / 10,000 names in the namespace
(mean per batch of 100 cells, 10 batches per round); a fresh process's first
``pd.read_csv`` and cells that each define 1,000 names (one name per line, and all in
one unpacking assignment; once per process: nothing cached in the process). The first
read is measured twice: "shared hash" against the store every worker shares, where an
earlier kernel has hashed the CSV already (``.mlprod/filehashes/``, filled by one traced
worker before the rounds), and "cold" against a new, empty store of its own, so the
kernel hashes the 24 MB itself, as the first kernel of a store does; data-science cells
(``REPEATS`` runs per round); kernel memory (RSS added at load, and growth over 10,000
cells beyond the same cells untraced); ``BENCH_KINDS=fresh,cold`` runs only those.
Reported: min and median over all samples, their ratio to untraced, and the spread
(max / min - 1) of each arm. ipyflow gets fewer cells and repeats (it is 10-100x
slower; its samples stay far from the noise). Prints markdown tables; asserts nothing.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
IPYFLOW_PYTHON = ROOT / ".venv-ipyflow" / "bin" / "python"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))  # fewer for a quick look
MEMORY_ROUNDS = 3
SIZES = (1_000, 3_000, 10_000)
TRIVIAL_CELLS = {"ipyflow": 20}  # per size and round; others: DEFAULT_CELLS
DEFAULT_CELLS = 1_000
BATCHES = 10
REPEATS = {"ipyflow": 1}  # data cells per round; others: DEFAULT_REPEATS
DEFAULT_REPEATS = 3
DEFINING = {"ipyflow": 1}  # cells defining 1,000 names per process; others: DEFAULT_DEFINING
DEFAULT_DEFINING = 3
MEMORY_CELLS = 10_000
ROWS = 1_000_000

DATA_CELLS = {
    "read_csv, 1M rows": "df = pd.read_csv(CSV)",
    "groupby mean": "g = df.groupby('k')['v'].mean()",
    "column assign": "df['w'] = df['v'] * 2 + df['k']",
    ".apply(lambda), 100k rows": "s = head['v'].apply(lambda v: v * 2 + 1)",
    "Python loop, 1M iterations": "t = 0\nfor i in range(1_000_000):\n    t += i",
    "200k function calls in a loop": "t = 0\nfor i in range(200_000):\n    t = inc(t)",
    "list comprehension, 1M": "squares = [i * i for i in range(1_000_000)]",
}
SETUP = (
    "import pandas as pd\ndf = pd.read_csv(CSV)\nhead = df.iloc[:100_000].copy()\n"
    "def inc(v):\n    return v + 1"
)
FIRST_READ = "first pd.read_csv in a process, 1M rows, hash shared by an earlier kernel"
FIRST_READ_COLD = "first pd.read_csv in a process, 1M rows, cold (a new store)"
DEFINE = "a cell defining 1,000 names, one per line"
UNPACK = "a cell defining 1,000 names, one unpacking assignment"
TARGETS = {
    "trivial": "<= 0.1 ms added",
    FIRST_READ: "<= 1.05x",
    FIRST_READ_COLD: "<= 1.05x",
    DEFINE: "<= 1.2x",
    UNPACK: "<= 1.2x",
}
KINDS = tuple(os.environ.get("BENCH_KINDS", "trivial,fresh,cold,data,memory").split(","))


def _shell(mode: str, home: str) -> Any:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    if mode in ("traced", "hooks"):
        os.environ["MLPROD_NB_HOME"] = home
        shell.run_line_magic("load_ext", "mlprod_nb")
    elif mode == "ipyflow":
        shell.run_line_magic("load_ext", "ipyflow")
    return shell


def _time_hooks(shell: Any) -> list[int]:
    """Wrap the tracer's hooks in ``shell`` to add their time (ns) to the returned cell."""
    spent = [0]

    def timed(hook: Any) -> Any:
        def run(*args: Any) -> Any:
            start = time.perf_counter_ns()
            try:
                return hook(*args)
            finally:
                spent[0] += time.perf_counter_ns() - start

        return run

    for event in ("pre_run_cell", "post_run_cell"):
        callbacks = shell.events.callbacks[event]
        callbacks[:] = [timed(c) if "mlprod_nb" in c.__module__ else c for c in callbacks]
    shell.transform_ast = timed(shell.transform_ast)
    return spent


def _run(shell: Any, code: str) -> float:
    """Milliseconds of one whole ``run_cell``."""
    start = time.perf_counter()
    result = shell.run_cell(code, store_history=True)
    elapsed = time.perf_counter() - start
    if not result.success:
        raise RuntimeError(f"benchmark cell failed: {code!r}: {result.error_in_exec}")
    return elapsed * 1000.0


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _memory(mode: str, home: str) -> dict[str, list[float]]:
    import gc

    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    _run(shell, "x = 0")
    gc.collect()
    start = _rss_mb()
    if mode == "traced":
        os.environ["MLPROD_NB_HOME"] = home
        shell.run_line_magic("load_ext", "mlprod_nb")
    _run(shell, "x = 1")
    time.sleep(2.0)  # anything the tracer starts in the background has finished
    gc.collect()
    loaded = _rss_mb()
    for index in range(MEMORY_CELLS):
        shell.run_cell(f"x = {index}", store_history=True)
    gc.collect()
    return {"load": [loaded - start], "growth": [_rss_mb() - loaded]}


def worker(kind: str, mode: str, csv: str, home: str) -> dict[str, list[float]]:
    """Cell name -> times (ms); in mode "hooks" also "hooks:<name>" -> hook times (ms)."""
    if kind == "memory":
        return _memory(mode, home)
    if kind == "cold":  # beside the shared store, removed with it
        home = f"{home}-cold-{os.getpid()}"
    shell = _shell(mode, home)
    spent = _time_hooks(shell) if mode == "hooks" else [0]
    out: dict[str, list[float]] = {}

    def sample(name: str, code: str) -> None:
        spent[0] = 0
        out.setdefault(name, []).append(_run(shell, code))
        out.setdefault(f"hooks:{name}", []).append(spent[0] / 1e6)

    shell.user_ns["CSV"] = csv
    if kind == "trivial":
        cells = ["x = 1", "y = x + 1", "z = [y] * 3"]
        count = TRIVIAL_CELLS.get(mode, DEFAULT_CELLS)
        for size in SIZES:
            missing = size - len(shell.user_ns)
            shell.user_ns.update({f"var{size}_{i}": i for i in range(max(missing, 0))})
            for code in cells * 10:  # warm up
                _run(shell, code)
            name = f"trivial cell, {size:,} names in the namespace"
            batch = max(count // BATCHES, 1)
            for _ in range(count // batch):  # a batch's mean per sample: spikes stay in one
                spent[0] = 0
                start = time.perf_counter()
                for index in range(batch):
                    shell.run_cell(cells[index % 3], store_history=True)
                out.setdefault(name, []).append((time.perf_counter() - start) * 1e3 / batch)
                out.setdefault(f"hooks:{name}", []).append(spent[0] / batch / 1e6)
    elif kind == "cold":  # a store of its own: nothing hashed before
        _run(shell, "import pandas as pd")
        sample(FIRST_READ_COLD, "df = pd.read_csv(CSV)")
    elif kind == "fresh":
        _run(shell, "import pandas as pd")
        sample(FIRST_READ, "df = pd.read_csv(CSV)")
        names = ", ".join(f"u{i}" for i in range(1_000))
        for round_ in range(DEFINING.get(mode, DEFAULT_DEFINING)):
            sample(DEFINE, "\n".join(f"n{i} = {i} + {round_}" for i in range(1_000)))
            if mode != "ipyflow":  # minutes a cell under ipyflow: the bench would not end
                sample(UNPACK, f"{names} = range({round_}, {round_} + 1_000)")
    else:
        _run(shell, SETUP)
        for _ in range(REPEATS.get(mode, DEFAULT_REPEATS)):
            for name, code in DATA_CELLS.items():
                sample(name, code)
    return out


def _spawn(kind: str, mode: str, csv: str, home: str) -> dict[str, list[float]]:
    python = str(IPYFLOW_PYTHON) if mode == "ipyflow" else sys.executable
    argv = [python, __file__, "--worker", kind, mode, csv, home]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} {kind} worker failed:\n{done.stderr[-3000:]}")
    result: dict[str, list[float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _make_csv(path: Path) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"k": rng.integers(0, 100, ROWS), "v": rng.random(ROWS), "c": rng.integers(0, 9, ROWS)}
    )
    frame.to_csv(path, index=False)


def _spread(values: list[float]) -> str:
    return f"{(max(values) / min(values) - 1) * 100:.0f}%"


def _row(name: str, arms: dict[str, dict[str, list[float]]]) -> str:
    plain, traced = arms["plain"][name], arms["traced"][name]
    hooks = statistics.median(arms["hooks"][f"hooks:{name}"])
    a, b = min(plain), min(traced)
    ratio_median = statistics.median(traced) / statistics.median(plain)
    cells = [
        name,
        f"{a:.3f} / {statistics.median(plain):.3f}",
        f"{b:.3f} / {statistics.median(traced):.3f}",
        f"{b - a:+.3f}",
        f"{b / a:.3f}x / {ratio_median:.3f}x",
        f"{_spread(plain)} / {_spread(traced)}",
        f"{hooks:.3f}",
    ]
    flow = arms.get("ipyflow", {}).get(name)
    cells += [f"{min(flow):.1f}", f"{min(flow) / a:.1f}x"] if flow else ["-", "-"]
    kind = "trivial" if name.startswith("trivial") else name
    cells.append(TARGETS.get(kind, "<= 1.02x"))
    return "| " + " | ".join(cells) + " |"


def _samples(kinds: tuple[str, ...], modes: list[str], rounds: int, csv: Path, home: Path) -> Any:
    samples: dict[str, dict[str, dict[str, list[float]]]] = {}
    for kind in kinds:
        if kind == "fresh":  # an earlier kernel of the store has hashed the CSV
            # (a hash taken within 2 s of the file's change is not kept: hashing.RACY_NS)
            time.sleep(max(0.0, 2.5 - (time.time() - csv.stat().st_ctime)))
            _spawn(kind, "traced", str(csv), str(home))
        for _ in range(rounds):
            for mode in modes:
                if kind == "cold" and mode == "ipyflow":
                    continue  # nothing of it is shared between its kernels
                got = _spawn(kind, mode, str(csv), str(home))
                bucket = samples.setdefault(kind, {}).setdefault(mode, {})
                for name, values in got.items():
                    bucket.setdefault(name, []).extend(values)
    return samples


def main() -> int:
    began = time.perf_counter()
    modes = ["plain", "traced", "hooks"]
    if IPYFLOW_PYTHON.exists():
        modes.append("ipyflow")
    else:
        print(f"(no {IPYFLOW_PYTHON}: `make bench` creates it; ipyflow left out)\n")
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "data.csv"
        _make_csv(csv)
        home = Path(tmp) / ".mlprod"
        samples = _samples(tuple(k for k in KINDS if k != "memory"), modes, ROUNDS, csv, home)
        memory: dict[str, dict[str, list[float]]] = {}
        if "memory" in KINDS:
            memory = _samples(("memory",), ["plain", "traced"], MEMORY_ROUNDS, csv, home)["memory"]
    print(
        "| cell | untraced ms min / median | traced ms min / median | added ms (min) "
        "| traced / untraced min / median | spread untraced / traced "
        "| tracer hooks ms (median) | ipyflow ms (min) | ipyflow / untraced | target |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for kind in samples:
        for name in samples[kind]["plain"]:
            if not name.startswith("hooks:"):
                print(_row(name, samples[kind]))
    if memory:
        _print_memory(memory)
    load_avg = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\n{ROUNDS} interleaved rounds of fresh processes; trivial: {DEFAULT_CELLS} cells "
        f"per size and round in {BATCHES} batches (ipyflow {TRIVIAL_CELLS['ipyflow']}); "
        f"data cells: {DEFAULT_REPEATS} runs per round (ipyflow {REPEATS['ipyflow']}); "
        f"fresh-process rows: 1 first read and {DEFAULT_DEFINING} defining cells of each form "
        f"per process (ipyflow {DEFINING['ipyflow']}); load average {load_avg} on "
        f"{os.cpu_count()} CPUs; {time.perf_counter() - began:.0f} s in all."
    )
    return 0


def _print_memory(memory: dict[str, dict[str, list[float]]]) -> None:
    plain, traced = memory["plain"], memory["traced"]
    load = min(traced["load"]) - min(plain["load"])
    growth = min(traced["growth"]) - min(plain["growth"])
    print(
        f"\nKernel RSS (min of {MEMORY_ROUNDS} processes each): the tracer adds {load:.2f} MB "
        f"at load (target <= 3 MB); {MEMORY_CELLS:,} cells grow it by "
        f"{min(traced['growth']):.2f} MB traced vs {min(plain['growth']):.2f} MB untraced: "
        f"{growth:+.2f} MB beyond (target <= 1 MB)."
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _, _, kind, mode, csv, home = sys.argv
        print(json.dumps(worker(kind, mode, csv, home)))
        sys.exit(0)
    sys.exit(main())
