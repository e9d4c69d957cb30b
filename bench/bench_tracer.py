"""Tracer overhead: per-cell fixed cost and typical data-science cells, traced vs untraced.

Each measurement runs in fresh worker processes (an audit hook, once added,
stays for the life of a process), alternating untraced and traced workers over
several rounds; every worker drives a real ``InteractiveShell``. Reported: the
minimum over all repetitions (the least disturbed run) and the ratio traced /
untraced. Targets: <= 0.5 ms added per trivial cell, <= 1.03 for each
data-science cell. Prints a markdown table; asserts nothing.
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

TRIVIAL_CELLS = 1_000
ROUNDS = 7
REPEATS = 10
ROWS = 1_000_000

DATA_CELLS = {
    "read_csv, 1M rows": "df = pd.read_csv(CSV)",
    "groupby mean": "g = df.groupby('k')['v'].mean()",
    "column assign": "df['w'] = df['v'] * 2 + df['k']",
    ".apply(lambda), 100k rows": "s = head['v'].apply(lambda v: v * 2 + 1)",
    "Python loop, 1M iterations": "t = 0\nfor i in range(1_000_000):\n    t += i",
}
SETUP = "import pandas as pd\ndf = pd.read_csv(CSV)\nhead = df.iloc[:100_000].copy()"


def _shell(traced: bool, home: str) -> Any:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell(config=config)
    if traced:
        os.environ["MLPROD_NB_HOME"] = home
        shell.run_line_magic("load_ext", "mlprod_nb")
    return shell


def _run(shell: Any, code: str) -> float:
    start = time.perf_counter()
    result = shell.run_cell(code, store_history=True)
    elapsed = time.perf_counter() - start
    if not result.success:
        raise RuntimeError(f"benchmark cell failed: {code!r}: {result.error_in_exec}")
    return elapsed


def worker(kind: str, traced: bool, csv: str, home: str) -> dict[str, list[float]]:
    shell = _shell(traced, home)
    out: dict[str, list[float]] = {}
    if kind == "trivial":
        for names in (0, 1_000):
            shell.user_ns.update({f"var{i}": i for i in range(names)})
            cells = ["x = 1", "y = x + 1", "z = [y] * 3"]
            for code in cells * 20:  # warm up
                _run(shell, code)
            start = time.perf_counter()
            for index in range(TRIVIAL_CELLS):
                shell.run_cell(cells[index % 3], store_history=True)
            per_cell = (time.perf_counter() - start) / TRIVIAL_CELLS
            out[f"trivial cell, {len(shell.user_ns):,} names in the namespace"] = [per_cell * 1e3]
        return out
    shell.user_ns["CSV"] = csv
    _run(shell, SETUP)
    for name, code in DATA_CELLS.items():
        out[name] = [_run(shell, code) * 1000.0 for _ in range(REPEATS)]
    return out


def _spawn(kind: str, traced: bool, csv: str, home: str) -> dict[str, list[float]]:
    argv = [sys.executable, __file__, "--worker", kind, "traced" if traced else "plain", csv, home]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
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


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "data.csv"
        _make_csv(csv)
        samples: dict[tuple[str, bool], dict[str, list[float]]] = {}
        for kind in ("trivial", "data"):
            for _ in range(ROUNDS):
                for traced in (False, True):
                    got = _spawn(kind, traced, str(csv), str(Path(tmp) / ".mlprod"))
                    bucket = samples.setdefault((kind, traced), {})
                    for name, values in got.items():
                        bucket.setdefault(name, []).extend(values)
        print("| cell | untraced (ms) | traced (ms) | added (ms) | ratio | target |")
        print("|---|---:|---:|---:|---:|---|")
        for kind in ("trivial", "data"):
            plain, traced_ = samples[(kind, False)], samples[(kind, True)]
            for name in plain:
                a, b = min(plain[name]), min(traced_[name])
                med = statistics.median(traced_[name]) / statistics.median(plain[name])
                target = "<= 0.5 ms added" if kind == "trivial" else "ratio <= 1.03"
                print(
                    f"| {name} | {a:.3f} | {b:.3f} | {b - a:+.3f} | {b / a:.3f}"
                    f" (median {med:.3f}) | {target} |"
                )
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"\nmin over {ROUNDS} alternating rounds of fresh processes; "
            f"trivial: {TRIVIAL_CELLS} cells per round; data cells: {REPEATS} runs per round; "
            f"load average {load} on {os.cpu_count()} CPUs."
        )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _, _, kind, mode, csv, home = sys.argv
        print(json.dumps(worker(kind, mode == "traced", csv, home)))
        sys.exit(0)
    sys.exit(main())
