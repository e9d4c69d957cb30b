"""Pipeline export and run: four ratios measured in one run, printed as a markdown table.

1. a 5-step pipeline (``mlprod-nb run``) vs the same notebook run once with papermill;
2. re-running it with nothing changed (every step cached) vs its first run;
3. two independent CPU-heavy steps with ``--jobs 2`` vs ``--jobs 1``;
4. ``mlprod-nb export`` of a 300-cell notebook vs the 1 s budget.

Everything runs as the user would: separate processes, a fresh store in a temp dir;
each figure is the best of a few repetitions, since the machine may be shared.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

BIN = Path(sys.executable).parent
MLPROD = [str(BIN / "mlprod-nb")]
PAPERMILL = [str(BIN / "papermill")]

SETUP = "import numpy as np\nimport pandas as pd"
FIVE_STEPS = [
    ("rows = 200_000\nseed = 1", ["parameters"]),
    (
        "rng = np.random.default_rng(seed)\n"
        "frame = pd.DataFrame({'g': rng.integers(0, 50, rows), 'x': rng.normal(size=rows)})",
        ["step:generate"],
    ),
    ("frame['y'] = frame['x'] * 2 + frame['g']\nclean = frame[frame['x'] > -3]", ["step:clean"]),
    ("summary = clean.groupby('g')['y'].agg(['mean', 'std']).reset_index()", ["step:summary"]),
    (
        "X = np.column_stack([clean['x'], np.ones(len(clean))])\n"
        "coef = np.linalg.lstsq(X, clean['y'].to_numpy(), rcond=None)[0]"
        "{chain}",
        ["step:fit"],
    ),
    ("score = float(coef[0]) + float(summary['mean'].mean())\nprint(score)", ["step:report"]),
]
# fit also uses summary in the chain; without it, summary and fit can run side by side
CHAIN = [(source.replace("{chain}", " * len(summary)"), tags) for source, tags in FIVE_STEPS]
DIAMOND = [(source.replace("{chain}", ""), tags) for source, tags in FIVE_STEPS]
HEAVY = "total = 0\nfor i in range(50_000_000):\n    total += i % 7"
TWO_HEAVY = [
    (f"{HEAVY}\na = total", ["step:left"]),
    (f"{HEAVY}\nb = total", ["step:right"]),
]


def notebook(path: Path, cells: list[tuple[str, list[str]]], setup: str | None = SETUP) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    if setup:
        cell = nbformat.v4.new_code_cell(setup)
        cell.metadata["tags"] = ["setup"]
        nb.cells.append(cell)
    for source, tags in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nbformat.write(nb, path)
    return path


def timed(argv: list[str], cwd: Path, repeat: int = 1) -> float:
    """Best wall time of ``repeat`` runs of a command (the machine may be shared)."""
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
        best = min(best, time.perf_counter() - began)
        if done.returncode != 0:
            raise SystemExit(f"failed: {' '.join(argv)}\n{done.stdout}\n{done.stderr}")
    return best


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / ".mlprod").mkdir()
        os.environ.pop("MLPROD_NB_HOME", None)
        rows: list[tuple[str, float, float, str, str]] = []

        five = notebook(base / "five.ipynb", CHAIN)  # a chain: generate -> ... -> report
        timed([*MLPROD, "export", str(five)], base)
        timed([*PAPERMILL, str(five), str(base / "warm.ipynb")], base)  # warm disk caches
        single = timed([*PAPERMILL, str(five), str(base / "out.ipynb")], base, 3)
        first = timed([*MLPROD, "run", str(base / "five.pipeline"), "--no-cache"], base, 3)
        rows.append(
            ("5-step pipeline vs one papermill run (wall)", first, single, "<= 1.25x", "ratio")
        )
        again = timed([*MLPROD, "run", str(base / "five.pipeline")], base, 3)
        rows.append(("re-run, nothing changed vs first run", again, first, "<= 0.10x", "ratio"))

        diamond = notebook(base / "diamond.ipynb", DIAMOND)  # summary and fit side by side
        timed([*MLPROD, "export", str(diamond)], base)
        wide = timed([*MLPROD, "run", str(base / "diamond.pipeline"), "--no-cache"], base, 3)
        rows.append(
            ("same 5 steps as a diamond, default --jobs, vs papermill", wide, single, "(info)", "")
        )

        heavy = notebook(base / "heavy.ipynb", TWO_HEAVY, setup=None)
        timed([*MLPROD, "export", str(heavy)], base)
        pipeline = str(base / "heavy.pipeline")
        one = two = float("inf")
        for _ in range(3):  # interleaved, so both see the same background load
            one = min(one, timed([*MLPROD, "run", pipeline, "--no-cache", "--jobs", "1"], base))
            two = min(two, timed([*MLPROD, "run", pipeline, "--no-cache", "--jobs", "2"], base))
        rows.append(("2 CPU-heavy steps: --jobs 1 vs --jobs 2", one, two, ">= 1.7x", "speed-up"))

        big = [(f"v{i} = v{i - 1} + 1" if i else "v0 = 0", []) for i in range(300)]
        for i in range(0, 300, 10):
            big[i] = (big[i][0], [f"step:s{i}"])
        notebook(base / "big.ipynb", big, setup=None)
        export = timed([*MLPROD, "export", str(base / "big.ipynb")], base, 3)
        rows.append(("export of a 300-cell notebook (30 steps) vs 1 s", export, 1.0, "<= 1.0x", ""))

    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
    print("| measure | measured (s) | baseline (s) | ratio | target |")
    print("|---|---:|---:|---:|---|")
    for name, value, baseline, target, _ in rows:
        print(f"| {name} | {value:.2f} | {baseline:.2f} | {value / baseline:.2f}x | {target} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
