"""Real runs of small pipelines: values, caching, resume, parallelism, gates, lineage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import papermill
import pytest

from mlprod_nb.cli import main
from mlprod_nb.errors import ParameterError, PipelineError
from mlprod_nb.paths import find_home
from mlprod_nb.pipeline.export import export
from mlprod_nb.pipeline.runner import RunOptions, RunResult, run
from mlprod_nb.store import Store

from .conftest import Cell, project, step, write_notebook

pytestmark = pytest.mark.slow


def statuses(result: RunResult) -> dict[str, str]:
    return {s.name: s.status for s in result.steps}


def wait_for(condition: Callable[[], bool], what: str, within: float = 60.0) -> None:
    """Return once ``condition()`` holds; fail the test if it does not within ``within`` s."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within:.0f} s waiting for {what}")
        time.sleep(0.02)


def exported(base: Path, cells: list[Cell]) -> Path:
    nb = write_notebook(base / "nb.ipynb", cells)
    folder = export(nb, use_tracer=False).folder
    assert folder is not None
    return folder


# -- export round trip -------------------------------------------------------------

ROUND_TRIP: list[Cell] = [
    (
        "import json\nimport numpy as np\nimport pandas as pd\n\n"
        "class Box:\n    def __init__(self, v):\n        self.v = v\n",
        ["setup"],
    ),
    ("scale = 2\nlabel = 'run'", ["parameters"]),
    step("load", "frame = pd.read_csv('data.csv')\nsecret_a = 1"),
    step("arrays", "arr = np.arange(6).reshape(2, 3) * scale\nseries = frame['a'] * scale"),
    step("mix", "box = Box(label)\ninfo = {'n': len(frame), 'label': label}"),
    step("probe", "open('probe.txt', 'w').write(str('secret_a' in globals()))"),
    step(
        "final",
        "out = {'sum': int(arr.sum()), 'series': series.tolist(), 'box': box.v, "
        "'info': info, 'cols': list(frame.columns)}\n"
        "with open('final.json', 'w') as fh:\n    json.dump(out, fh)",
    ),
]


def test_round_trip_matches_notebook(tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    (base / "data.csv").write_text("a,b\n1,2\n3,4\n")
    folder = exported(base, ROUND_TRIP)
    papermill.execute_notebook(
        str(base / "nb.ipynb"), str(tmp_path / "out.ipynb"), cwd=str(base), progress_bar=False
    )
    expected = json.loads((base / "final.json").read_text())
    (base / "final.json").unlink()
    result = run(folder, RunOptions(jobs=1, params=[("label", "run")]))
    assert result.status == "ok", result.error
    assert json.loads((base / "final.json").read_text()) == expected
    assert expected["sum"] == 30
    # one kernel served every step (jobs=1) and its namespace was reset in between
    assert (base / "probe.txt").read_text() == "False"
    serializers = {a["name"]: a["serializer"] for s in result.steps for a in s.artifacts}
    assert serializers == {
        "frame": "parquet",
        "arr": "npy",
        "series": "parquet-series",
        "box": "pickle",
        "info": "json",
    }


# -- caching -------------------------------------------------------------------------

CACHED: list[Cell] = [
    ("factor = 2", ["parameters"]),
    step("a", "text = open('data.txt').read()"),
    step("b", "mult = factor * 10"),
    step("c", "result = len(text) * mult\nprint(result)"),
]


def test_cache_hits_and_misses(tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    (base / "data.txt").write_text("hello")
    folder = exported(base, CACHED)

    first = run(folder)
    assert statuses(first) == {"a": "ok", "b": "ok", "c": "ok"}
    assert statuses(run(folder)) == {"a": "cached", "b": "cached", "c": "cached"}

    changed_param = run(folder, RunOptions(params=[("factor", "3")]))
    assert statuses(changed_param) == {"a": "cached", "b": "ok", "c": "ok"}

    (base / "data.txt").write_text("hello world")
    changed_file = run(folder, RunOptions(params=[("factor", "3")]))
    assert statuses(changed_file) == {"a": "ok", "b": "cached", "c": "ok"}

    CACHED[2] = step("b", "mult = factor * 100")
    try:
        folder = exported(base, CACHED)
    finally:
        CACHED[2] = step("b", "mult = factor * 10")
    changed_code = run(folder, RunOptions(params=[("factor", "3")]))
    assert statuses(changed_code) == {"a": "cached", "b": "ok", "c": "ok"}

    no_cache = run(folder, RunOptions(params=[("factor", "3")], no_cache=True))
    assert statuses(no_cache) == {"a": "ok", "b": "ok", "c": "ok"}

    write_notebook(base / "nb.ipynb", [*CACHED, step("d", "extra = 1")])  # not exported
    stale = run(folder, RunOptions(params=[("factor", "3")]))
    assert set(statuses(stale).values()) == {"cached"}
    assert "changed since it was exported" in (stale.folder / "driver.log").read_text()

    summary = json.loads((changed_code.folder / "summary.json").read_text())
    assert summary["cached_steps"] == 1
    assert [s["cached"] for s in summary["steps"]] == [True, False, False]
    assert summary["steps"][0]["cached_from"] == changed_file.run_id

    # the pipeline's runs are in the store, with the tracer's lineage of each step
    with Store.open(find_home(base)) as store:
        runs = store.runs(folder)
        detail = store.run(first.run_id)
    assert first.run_id in {r.id for r in runs}
    assert detail.status == "ok"
    assert {s.name: s.status for s in detail.summary.steps} == statuses(first)
    reads = {(f.pipeline_step, Path(f.path).name) for f in detail.files if f.mode == "read"}
    assert ("a", "data.txt") in reads
    assert detail.executions


# -- failures, resume, --only --------------------------------------------------------

RESUMABLE: list[Cell] = [
    step("a", "x = 1"),
    step("b", "import os\nassert not os.path.exists('fail.flag'), 'flag present'\ny = x + 1"),
    step("c", "z = y + 1\nopen('z.txt', 'w').write(str(z))"),
    step("d", "w = 5"),
]


def test_failure_then_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = project(tmp_path / "p")
    folder = exported(base, RESUMABLE)
    with pytest.raises(PipelineError, match="no cached result"):
        run(folder, RunOptions(only="c"))

    (base / "fail.flag").write_text("")
    assert main(["run", str(folder), "--jobs", "2"]) == 1
    err = capsys.readouterr().err
    failed_run = json.loads(
        max((find_home(base).runs_dir).glob("*/summary.json"), key=os.path.getmtime).read_text()
    )
    executed = find_home(base).runs_dir / failed_run["id"] / "steps" / "b.ipynb"
    assert "cell c1" in err
    assert "AssertionError: flag present" in err
    assert str(executed) in err
    assert executed.exists()
    assert failed_run["status"] == "failed"
    assert {s["name"]: s["status"] for s in failed_run["steps"]} == {
        "a": "ok",
        "b": "failed",
        "c": "skipped",
        "d": "ok",
    }

    (base / "fail.flag").unlink()
    resumed = run(folder, RunOptions(resume=failed_run["id"], no_cache=True))
    assert resumed.status == "ok"
    assert statuses(resumed) == {"a": "cached", "b": "ok", "c": "ok", "d": "cached"}
    assert {s.name: s.cached_from for s in resumed.steps}["a"] == failed_run["id"]
    assert {s.name: s.rerun for s in resumed.steps} == {
        "a": None,
        "b": f"it failed in run {failed_run['id']}",
        "c": f"it was skipped in run {failed_run['id']}",
        "d": None,
    }
    assert (base / "z.txt").read_text() == "3"

    only = run(folder, RunOptions(only="c"))
    assert statuses(only) == {"a": "cached", "b": "cached", "c": "ok"}
    from_b = run(folder, RunOptions(from_step="b"))
    assert statuses(from_b) == {"a": "cached", "b": "ok", "c": "ok"}


def test_bad_parameters_name_the_problem(tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    folder = exported(base, [("n = 1", ["parameters"]), step("a", "m = n + 1")])
    with pytest.raises(ParameterError, match="'n' expects int, got 'abc'"):
        run(folder, RunOptions(params=[("n", "abc")]))
    with pytest.raises(ParameterError, match="unknown parameter 'k'"):
        run(folder, RunOptions(params=[("k", "1")]))
    assert not find_home(base).runs_dir.exists()


# -- parallel steps ------------------------------------------------------------------


# each of two steps says it started, then waits for the other: they only both finish
# when they run at the same time (one after the other, the first one times out)
MEET = (
    "import time\nfrom pathlib import Path\n\n"
    "def meet(me, other, within=60.0):\n"
    "    Path(f'{me}.started').touch()\n"
    "    deadline = time.monotonic() + within\n"
    "    while not Path(f'{other}.started').exists():\n"
    "        if time.monotonic() > deadline:\n"
    "            raise TimeoutError(f'{other} did not start while {me} ran')\n"
    "        time.sleep(0.01)\n"
)


def test_independent_steps_overlap(tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    folder = exported(
        base,
        [
            (MEET, ["setup"]),
            step("a", "meet('a', 'b')\nx = 1"),
            step("b", "meet('b', 'a')\ny = 2"),
            step("c", "z = x + y"),
        ],
    )
    result = run(folder, RunOptions(jobs=2))
    assert result.status == "ok"
    steps = {s.name: s for s in result.steps}
    spans = {
        n: (steps[n].started or 0.0, (steps[n].started or 0.0) + (steps[n].duration_ms or 0) / 1e3)
        for n in "abc"
    }
    assert spans["a"][0] < spans["b"][1]  # a started before b ended
    assert spans["b"][0] < spans["a"][1]  # and b before a ended: they overlap
    assert spans["c"][0] >= max(spans["a"][1], spans["b"][1]) - 0.05  # after both


# -- validation gates ----------------------------------------------------------------


def test_check_cell_and_require_gate_the_run(tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    folder = exported(
        base,
        [
            ("import mlprod_nb", ["setup"]),
            ("min_value = 10\nmax_value = 100", ["parameters"]),
            step("a", "value = 30"),
            ("value >= min_value", ["check"]),
            step("b", "mlprod_nb.require(value <= max_value, f'{value} is above {max_value}')"),
        ],
    )
    failed = run(folder, RunOptions(params=[("min_value", "50")]))
    assert failed.status == "failed"
    assert failed.step == "a"
    assert failed.cell_id == "c3"
    assert "check failed: value >= min_value" in (failed.error or "")
    assert statuses(failed) == {"a": "failed", "b": "skipped"}

    required = run(folder, RunOptions(params=[("max_value", "20")]))
    assert required.status == "failed"
    assert "30 is above 20" in (required.error or "")
    assert run(folder).status == "ok"


# -- Ctrl-C --------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_records_aborted(tmp_path: Path, signum: int) -> None:
    base = project(tmp_path / "p")
    folder = exported(
        base, [step("slow", "import time\nopen('slow.started', 'w').close()\ntime.sleep(60)")]
    )
    runs_dir = find_home(base).runs_dir
    child = subprocess.Popen(
        [sys.executable, "-m", "mlprod_nb.cli", "run", str(folder), "--run-id", "r1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    status_file = runs_dir / "r1" / "status.json"
    started = base / "slow.started"  # written by the step's cell: the kernel is executing it
    wait_for(lambda: started.exists() or child.poll() is not None, "the step to start")
    assert child.poll() is None, child.communicate()[0].decode()
    child.send_signal(signum)
    assert child.wait(timeout=60) == 130
    status = json.loads(status_file.read_text())
    assert status["status"] == "aborted"
    assert status["steps"][0]["status"] == "aborted"
    summary = json.loads((runs_dir / "r1" / "summary.json").read_text())
    assert summary["status"] == "aborted"


# -- the example notebook ------------------------------------------------------------


def test_churn_example_exports_and_runs(tmp_path: Path) -> None:
    import shutil

    notebooks = Path(__file__).parents[2] / "notebooks"
    base = project(tmp_path / "p")
    shutil.copy(notebooks / "churn.ipynb", base / "churn.ipynb")
    shutil.copytree(notebooks / "data", base / "data")
    folder = export(base / "churn.ipynb").folder
    assert folder is not None
    result = run(folder, RunOptions(params=[("n_estimators", "20")]))
    assert result.status == "ok", result.error
    assert set(statuses(result)) >= {"load", "clean", "features", "train", "evaluate"}
    summary = json.loads((result.folder / "summary.json").read_text())
    assert summary["params"]["n_estimators"] == 20
    assert 0.5 < summary["metrics"]["auc"] <= 1.0
    again = run(folder, RunOptions(params=[("n_estimators", "20")]))
    assert set(statuses(again).values()) == {"cached"}
    cached = json.loads((again.folder / "summary.json").read_text())
    assert cached["metrics"] == summary["metrics"]  # carried over from the cache


def test_export_cross_checks_the_tracer_record(tmp_path: Path) -> None:
    from mlprod_nb.headless import trace_notebook

    base = project(tmp_path / "p")
    cells: list[Cell] = [
        ("name = 'shared'", ["parameters"]),
        step("a", "open(f'{name}.txt', 'w').write('x')"),
        step("b", "content = open(f'{name}.txt').read()"),
    ]
    nb = write_notebook(base / "nb.ipynb", cells)
    static = export(nb, use_tracer=False, check=True)
    assert static.manifest.edges == ()  # f-string paths: static analysis cannot link them
    trace_notebook(nb)
    traced = export(nb, check=True)
    assert traced.traced
    [edge] = traced.manifest.edges
    assert (edge.source, edge.target, edge.files) == ("a", "b", ("shared.txt",))
    assert "reads shared.txt" in edge.reason


def test_cli_run_with_params_file_and_runs_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = project(tmp_path / "p")
    nb = write_notebook(
        base / "nb.ipynb",
        [
            ("import mlprod_nb", ["setup"]),
            ("alpha = 1\nbeta = 'b'", ["parameters"]),
            step("fit", "score = alpha * 2\nmlprod_nb.log_metric('score', score)"),
            step("report", "print(beta, score)"),
        ],
    )
    assert main(["export", str(nb)]) == 0
    folder = str(base / "nb.pipeline")
    params = base / "params.yaml"
    params.write_text("alpha: 5\n")
    assert main(["run", folder, "-f", str(params), "--run-id", "first"]) == 0
    assert main(["run", folder, "-p", "alpha", "7", "--jobs", "1", "--isolate"]) == 0
    with monkeypatch.context() as fired:  # as a schedule's launch starts it
        fired.setenv("MLPROD_NB_SCHEDULE_ID", "s-0a1b2c")
        fired.setenv("MLPROD_NB_SCHEDULE_REASON", "cron 0 3 * * * at 2026-12-02T03:00+00:00")
        assert main(["run", folder, "-f", str(params), "--run-id", "third"]) == 0
    capsys.readouterr()
    assert main(["runs", folder]) == 0
    table = capsys.readouterr().out
    lines = table.splitlines()
    assert lines[0].split() == [
        "run",
        "status",
        "by",
        "started",
        "duration",
        "params",
        "cached",
        "metrics",
    ]
    third = next(line for line in lines if line.startswith("third"))
    assert "alpha=5" in third
    assert "2/2" in third  # both steps came from the cache
    assert "score=10" in third
    assert third.split()[2] == "s-0a1b2c"  # what started it; the others were by hand
    (by_hand,) = [line for line in lines if line.startswith("first")]
    assert by_hand.split()[2] == "-"
    assert "beta" not in table  # the same in every run
    assert main(["runs", folder, "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [r["id"] for r in runs][-1] == "first"
    assert runs[-1]["params"] == {"alpha": 5, "beta": "b"}
    scheduled = next(r for r in runs if r["id"] == "third")
    assert (scheduled["schedule"], scheduled["reason"]) == (
        "s-0a1b2c",
        "cron 0 3 * * * at 2026-12-02T03:00+00:00",
    )
    assert runs[-1]["schedule"] is None
    assert main(["run", folder, "--run-id", "first"]) == 2  # ids are never reused


def test_kernels_are_reused_unless_isolated(tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    folder = exported(
        base,
        [
            step("a", "import os\na = os.getpid()"),
            step("b", "import os\nopen('pids.txt', 'w').write(f'{a} {os.getpid()}')"),
        ],
    )
    run(folder, RunOptions(jobs=1, no_cache=True))
    first, second = (base / "pids.txt").read_text().split()
    assert first == second
    run(folder, RunOptions(jobs=1, no_cache=True, isolate=True))
    first, second = (base / "pids.txt").read_text().split()
    assert first != second


def test_unsaveable_value_fails_its_step_clearly(tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    folder = exported(
        base,
        [
            step("a", "def make():\n    return lambda v: v\n\nfn = make()"),
            step("b", "y = fn(1)"),
        ],
    )
    result = run(folder)
    assert result.status == "failed"
    assert result.step == "a"
    assert result.cell_id == "mlprod-save"
    assert "SerializationError" in (result.error or "")
    assert "value 'fn' is a lambda" in (result.error or "")


def test_dead_kernel_fails_its_step_only(tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    folder = exported(
        base,
        [
            step("dies", "import os\nos._exit(3)"),
            step("fine", "ok = 1"),
        ],
    )
    result = run(folder, RunOptions(jobs=1))
    assert statuses(result) == {"dies": "failed", "fine": "ok"}
    assert result.step == "dies"


def test_short_parallel_steps_share_a_kernel_once_timed(tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    folder = exported(
        base,
        [
            step("a", "x = 1"),
            step("b", "import os\nopen('b.pid', 'w').write(str(os.getpid()))\ny = x"),
            step("c", "import os\nopen('c.pid', 'w').write(str(os.getpid()))\nz = x"),
        ],
    )
    assert run(folder, RunOptions(jobs=2)).status == "ok"  # durations unknown: two kernels
    first = {(base / "b.pid").read_text(), (base / "c.pid").read_text()}
    assert run(folder, RunOptions(jobs=2, no_cache=True)).status == "ok"
    second = {(base / "b.pid").read_text(), (base / "c.pid").read_text()}
    assert len(first) == 2  # b and c ran side by side
    assert len(second) == 1  # known to be quick: not worth a second kernel


def test_steps_run_in_the_notebook_folder_or_cwd(tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    folder = exported(base, [step("a", "import os\nopen('where.txt', 'w').write(os.getcwd())")])
    run(folder)
    assert (base / "where.txt").read_text() == str(base)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert main(["run", str(folder), "--cwd", str(elsewhere), "--no-cache"]) == 0
    assert (elsewhere / "where.txt").read_text() == str(elsewhere)


def test_detached_run_as_the_server_starts_it(tmp_path: Path) -> None:
    """The server pre-creates the run folder and sends stdout to driver.log."""
    base = project(tmp_path / "p")
    folder = exported(base, [("n = 1", ["parameters"]), step("a", "m = n * 2")])
    run_dir = find_home(base).runs_dir / "from-server"
    run_dir.mkdir(parents=True)
    argv = [sys.executable, "-m", "mlprod_nb.cli", "run", str(folder)]
    with (run_dir / "driver.log").open("ab") as log:
        code = subprocess.call(
            [*argv, "--run-id", "from-server", "-p", "n", "3"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    assert code == 0
    lines = (run_dir / "driver.log").read_text().splitlines()
    assert sum("a: ok" in line for line in lines) == 1  # written once, not twice
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "ok"
    assert status["params"] == {"n": 3}
    assert status["progress"] == {"done": 1, "total": 1, "current": None}
