"""Tracer overhead: per-cell fixed cost and typical data-science cells, traced vs untraced.

Each measurement runs in fresh worker processes (an audit hook, once added,
stays for the life of a process), alternating untraced and traced workers over
several rounds; every worker drives a real ``InteractiveShell``. Reported: the
minimum over all repetitions (the least disturbed run) and the ratio traced /
untraced. Targets: <= 0.5 ms added per trivial cell, <= 1.03 for each
data-science cell. The traced workers also time the tracer's own hooks in-process
(``pre_run_cell``, ``post_run_cell`` and the ``transform_ast`` tap, with
``perf_counter_ns``): that column is the tracer's real cost per cell, free of the
run-to-run noise of the cell itself (the audit hook is not in it). Those timings
come from a third kind of worker, so their wrappers do not weigh on the
ratios. Prints a markdown table; asserts nothing.
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
    start = time.perf_counter()
    result = shell.run_cell(code, store_history=True)
    elapsed = time.perf_counter() - start
    if not result.success:
        raise RuntimeError(f"benchmark cell failed: {code!r}: {result.error_in_exec}")
    return elapsed


def worker(kind: str, mode: str, csv: str, home: str) -> dict[str, list[float]]:
    """Cell name -> times (ms); in mode "hooks" also "hooks:<name>" -> hook times (ms)."""
    shell = _shell(mode != "plain", home)
    spent = _time_hooks(shell) if mode == "hooks" else [0]
    out: dict[str, list[float]] = {}
    if kind == "trivial":
        for names in (0, 1_000):
            shell.user_ns.update({f"var{i}": i for i in range(names)})
            cells = ["x = 1", "y = x + 1", "z = [y] * 3"]
            for code in cells * 20:  # warm up
                _run(shell, code)
            spent[0] = 0
            start = time.perf_counter()
            for index in range(TRIVIAL_CELLS):
                shell.run_cell(cells[index % 3], store_history=True)
            per_cell = (time.perf_counter() - start) / TRIVIAL_CELLS
            name = f"trivial cell, {len(shell.user_ns):,} names in the namespace"
            out[name] = [per_cell * 1e3]
            out[f"hooks:{name}"] = [spent[0] / TRIVIAL_CELLS / 1e6]
        return out
    shell.user_ns["CSV"] = csv
    _run(shell, SETUP)
    for name, code in DATA_CELLS.items():
        times, hooks = [], []
        for _ in range(REPEATS):
            spent[0] = 0
            times.append(_run(shell, code) * 1000.0)
            hooks.append(spent[0] / 1e6)
        out[name] = times
        out[f"hooks:{name}"] = hooks
    return out


def _spawn(kind: str, mode: str, csv: str, home: str) -> dict[str, list[float]]:
    argv = [sys.executable, __file__, "--worker", kind, mode, csv, home]
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
        samples: dict[tuple[str, str], dict[str, list[float]]] = {}
        for kind in ("trivial", "data"):
            for _ in range(ROUNDS):
                for mode in ("plain", "traced", "hooks"):
                    got = _spawn(kind, mode, str(csv), str(Path(tmp) / ".mlprod"))
                    bucket = samples.setdefault((kind, mode), {})
                    for name, values in got.items():
                        bucket.setdefault(name, []).extend(values)
        print(
            "| cell | untraced (ms) | traced (ms) | added (ms) | ratio "
            "| hooks in-process (ms) | untraced + hooks | target |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        for kind in ("trivial", "data"):
            plain, traced_ = samples[(kind, "plain")], samples[(kind, "traced")]
            for name in (n for n in plain if not n.startswith("hooks:")):
                a, b = min(plain[name]), min(traced_[name])
                med = statistics.median(traced_[name]) / statistics.median(plain[name])
                hooks = statistics.median(samples[(kind, "hooks")][f"hooks:{name}"])
                target = "<= 0.5 ms added" if kind == "trivial" else "ratio <= 1.03"
                print(
                    f"| {name} | {a:.3f} | {b:.3f} | {b - a:+.3f} | {b / a:.3f}"
                    f" (median {med:.3f}) | {hooks:.3f} | {(a + hooks) / a:.3f} | {target} |"
                )
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"\nmin over {ROUNDS} alternating rounds of fresh processes; "
            f"trivial: {TRIVIAL_CELLS} cells per round; data cells: {REPEATS} runs per round; "
            f"hooks: median per cell; load average {load} on {os.cpu_count()} CPUs."
        )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _, _, kind, mode, csv, home = sys.argv
        print(json.dumps(worker(kind, mode, csv, home)))
        sys.exit(0)
    sys.exit(main())
