"""``mlprod-nb show`` and ``mlprod-nb compare`` of runs of the example pipeline
(``notebooks/churn.ipynb``), each a new process as a user types it, against process
start alone (``python -c pass`` and ``mlprod-nb --version``: the floor any command pays),
importing DuckDB (the floor of any command that reads the store) and ``mlprod-nb runs``.

Two runs are made first (``n_estimators`` 20, then 30: the second takes four steps from
the cache), and the store ingests their journals once before timing. Each figure is the
minimum of ``ROUNDS`` runs of the command; the targets are <= 0.3 s for ``show`` and
<= 0.5 s for ``compare``, process start included. Prints a markdown table; asserts nothing.
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
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CLI = [sys.executable, "-m", "mlprod_nb.cli"]


def _best(command: list[str], cwd: Path) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return min(times)


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
        floor = _best([sys.executable, "-c", "pass"], base)
        version = _best([*CLI, "--version"], base)
        rows = [
            ("`python -c pass`", floor, None),
            ("`mlprod-nb --version`", version, None),
            (
                "`python -c 'import duckdb'`",
                _best([sys.executable, "-c", "import duckdb"], base),
                None,
            ),
            ("`mlprod-nb runs` (same store)", _best([*CLI, "runs"], base), None),
            ("`mlprod-nb show RUN`", _best([*CLI, "show", second], base), 0.3),
            ("`mlprod-nb show RUN --json`", _best([*CLI, "show", second, "--json"], base), 0.3),
            ("`mlprod-nb compare A B`", _best([*CLI, "compare", first, second], base), 0.5),
            (
                "`mlprod-nb compare A B --markdown`",
                _best([*CLI, "compare", first, second, "--markdown"], base),
                0.5,
            ),
        ]
        print("| command (example pipeline, 2 runs) | time | vs --version | target |")
        print("|---|---|---|---|")
        for name, seconds, target in rows:
            goal = f"<= {target} s" if target is not None else "-"
            print(f"| {name} | {seconds:.3f} s | {seconds / version:.2f}x | {goal} |")


if __name__ == "__main__":
    main()
