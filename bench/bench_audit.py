"""``mlprod-nb show`` and ``mlprod-nb compare`` of runs of the example pipeline
(``notebooks/churn.ipynb``), each a new process as a user types it, against process
start alone (``python -c pass`` and ``mlprod-nb --version``: the floor any command pays),
importing DuckDB (the floor of any command that reads the store) and ``mlprod-nb runs``.

Two runs are made first (``n_estimators`` 20, then 30: the second takes four steps from
the cache), and the store ingests their journals once before timing. Each figure is the
minimum of ``ROUNDS`` runs of the command, the commands taking turns; the targets are
<= 0.3 s for ``show`` and <= 0.5 s for ``compare``, process start included. Prints a
markdown table; asserts nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlprod_nb.pipeline.export import export
from mlprod_nb.pipeline.runner import RunOptions, run

ROUNDS = 15
TARGETS = {"show": 0.3, "compare": 0.5}
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CLI = [sys.executable, "-m", "mlprod_nb.cli"]


def _best(commands: dict[str, list[str]], cwd: Path) -> dict[str, float]:
    """The minimum time of each command over ``ROUNDS`` rounds, the commands taking turns
    within each round (so a busy moment of the machine falls on all of them alike)."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(ROUNDS):
        for name, command in commands.items():
            started = time.perf_counter()
            subprocess.run(command, cwd=cwd, check=True, capture_output=True)
            times[name].append(time.perf_counter() - started)
    return {name: min(found) for name, found in times.items()}


def _runs(base: Path) -> tuple[str, str]:
    shutil.copy(NOTEBOOKS / "churn.ipynb", base / "churn.ipynb")
    shutil.copytree(NOTEBOOKS / "data", base / "data")
    folder = export(base / "churn.ipynb").folder
    assert folder is not None
    first, second = (
        run(folder, RunOptions(params=[("n_estimators", n)], stream=None)) for n in ("20", "30")
    )
    return first.run_id, second.run_id


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "project"
        (base / ".mlprod").mkdir(parents=True)
        first, second = _runs(base)
        subprocess.run([*CLI, "runs"], cwd=base, check=True, capture_output=True)  # ingest
        commands = {
            "`python -c pass`": [sys.executable, "-c", "pass"],
            "`mlprod-nb --version`": [*CLI, "--version"],
            "`python -c 'import duckdb'`": [sys.executable, "-c", "import duckdb"],
            "`mlprod-nb runs` (same store)": [*CLI, "runs"],
            "`mlprod-nb show RUN`": [*CLI, "show", second],
            "`mlprod-nb show RUN --json`": [*CLI, "show", second, "--json"],
            "`mlprod-nb compare A B`": [*CLI, "compare", first, second],
            "`mlprod-nb compare A B --markdown`": [*CLI, "compare", first, second, "--markdown"],
        }
        best = _best(commands, base)
        version = best["`mlprod-nb --version`"]
        print("| command (example pipeline, 2 runs) | time | vs --version | target |")
        print("|---|---|---|---|")
        for name, seconds in best.items():
            target = TARGETS.get(name.split()[1] if name.startswith("`mlprod-nb") else "")
            goal = f"<= {target} s" if target is not None else "-"
            print(f"| {name} | {seconds:.3f} s | {seconds / version:.2f}x | {goal} |")


if __name__ == "__main__":
    main()
