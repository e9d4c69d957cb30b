"""``mlprod-nb reproduce``: real runs and a real traced session re-executed and compared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pipeline.conftest import project, step, write_notebook

from mlprod_nb.cli import main
from mlprod_nb.headless import trace_notebook
from mlprod_nb.paths import Layout
from mlprod_nb.pipeline.export import export
from mlprod_nb.pipeline.runner import RunOptions, run
from mlprod_nb.reproduce import differences
from mlprod_nb.store import Store

pytestmark = pytest.mark.slow

CELLS = [
    ("import json\nimport mlprod_nb", ["setup"]),
    ("factor = 3", ["parameters"]),
    (
        "rows = [int(x) for x in open('numbers.csv').read().split()[1:]]",
        ["step:load"],
    ),
    step(
        "fit",
        "score = sum(rows) * factor / len(rows)\n"
        "json.dump({'score': score}, open('model.json', 'w'))\n"
        "mlprod_nb.log_metric('score', score)",
    ),
]


@pytest.fixture
def finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    base = project(tmp_path / "p")
    (base / "numbers.csv").write_text("n\n1\n2\n3\n")
    folder = export(write_notebook(base / "nb.ipynb", CELLS)).folder
    done = run(folder, RunOptions(values={"factor": 5}, run_id="original"))
    assert done.status == "ok"
    monkeypatch.chdir(base)
    return base, done.run_id


def _report(capsys: pytest.CaptureFixture[str]) -> tuple[dict, str]:
    """The JSON report (after the new run's progress lines) and what went to stderr."""
    out, err = capsys.readouterr()
    return json.loads(out[out.index("{\n") :]), err


def test_a_deterministic_run_reproduces(
    finished: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, run_id = finished
    assert main(["reproduce", run_id, "--json"]) == 0
    report, _ = _report(capsys)
    assert report["ok"] is True
    assert report["drift"] == []
    assert report["compared"] == 3  # model.json, the rows load passed to fit, the metric
    with Store.open(Layout(finished[0] / ".mlprod")) as store:
        again = store.run(report["reproduced"])
    assert again.summary.params["factor"] == 5  # the original's parameters
    assert again.summary.cached_steps == 0  # every step ran again


def test_the_run_s_own_code_runs_whatever_was_exported_since(
    finished: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    base, run_id = finished
    changed = [*CELLS[:3], step("fit", "score = -1.0\nmlprod_nb.log_metric('score', score)")]
    export(write_notebook(base / "nb.ipynb", changed))  # the pipeline folder now does other things
    assert main(["reproduce", run_id, "--json"]) == 0
    report, _ = _report(capsys)
    assert report["ok"] is True  # the snapshot's steps ran: score and model.json as before
    kept = base / ".mlprod" / "reproduced" / run_id / "nb.pipeline" / "pipeline.json"
    assert kept.is_file()


def test_a_changed_input_is_refused_then_reported(
    finished: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    base, run_id = finished
    (base / "numbers.csv").write_text("n\n1\n2\n30\n")
    assert main(["reproduce", run_id]) == 1
    err = capsys.readouterr().err
    assert f"input {base / 'numbers.csv'}: sha256 " in err  # the file, old and new hashes
    assert "--allow-drift" in err
    with Store.open(Layout(base / ".mlprod")) as store:
        assert [r.id for r in store.runs()] == [run_id]  # nothing ran

    assert main(["reproduce", run_id, "--allow-drift", "--json"]) == 1
    report, err = _report(capsys)
    assert [d["subject"] for d in report["drift"]] == [str(base / "numbers.csv")]
    metric = next(d for d in report["differences"] if d["kind"] == "metric")
    assert (metric["subject"], metric["before"], metric["after"]) == ("score", "10.0", "55.0")
    assert "did not reproduce" in err


def test_an_unknown_subject_is_named(
    finished: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reproduce", "no-such-run"]) == 3
    assert "no run 'no-such-run'" in capsys.readouterr().err
    assert main(["reproduce"]) == 2  # neither a run nor --session
    assert "give a run id or --session ID" in capsys.readouterr().err
    assert main(["reproduce", "--session", "zzzz"]) == 3
    assert "no session 'zzzz' in the store" in capsys.readouterr().err


def test_a_traced_session_reproduces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = project(tmp_path / "s")
    monkeypatch.setenv("MLPROD_NB_HOME", str(base / ".mlprod"))
    (base / "numbers.csv").write_text("n\n4\n5\n")
    notebook = write_notebook(
        base / "explore.ipynb",
        [
            "import mlprod_nb",
            "rows = [int(x) for x in open('numbers.csv').read().split()[1:]]",
            "total = sum(rows)\nopen('total.txt', 'w').write(str(total))",
            "mlprod_nb.log_metric('total', total)",
        ],
    )
    trace_notebook(notebook)
    with Store.open(Layout(base / ".mlprod")) as store:
        [session] = store.notebook_lineage(notebook).sessions
    monkeypatch.chdir(base)
    assert main(["reproduce", "--session", session.id[:12], "--json"]) == 0
    report, _ = _report(capsys)
    assert report["ok"] is True
    assert report["compared"] == 2  # total.txt and the metric
    assert report["reproduced"] != session.id

    (base / "numbers.csv").write_text("n\n4\n6\n")
    assert main(["reproduce", "--session", session.id, "--allow-drift", "--json"]) == 1
    subjects = {d["subject"] for d in _report(capsys)[0]["differences"]}
    assert subjects == {str(base / "total.txt"), "total"}


@pytest.mark.parametrize(
    ("before", "after", "rtol", "differs"),
    [
        (0.1 + 0.2, 0.3, 1e-9, False),
        (1.0, 1.001, 1e-9, True),
        (1.0, 1.001, 1e-2, False),
        (float("nan"), float("nan"), 1e-9, False),
        (None, 1.0, 1e-9, True),
    ],
)
def test_metrics_compare_within_rtol(
    before: float | None, after: float | None, rtol: float, differs: bool
) -> None:
    found = differences.outcome({}, {}, {"m": before}, {"m": after}, rtol)
    assert bool(found) is differs


def test_environment_differences_name_python_and_packages() -> None:
    found = differences.environment(
        "3.11.7",
        "3.12.1",
        {"pandas": "2.2.0", "numpy": "1.26.0"},
        {"pandas": "2.2.1", "numpy": "1.26.0", "polars": "1.0"},
    )
    assert [d.describe() for d in found] == [
        "Python: 3.11.7 -> 3.12.1",
        "pandas: 2.2.0 -> 2.2.1",
        "polars: missing -> 1.0",
    ]
    assert differences.environment(None, "3.11.7", {}, {"x": "1"}) == []  # nothing recorded
