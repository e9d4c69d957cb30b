"""``mlprod-nb show`` and ``mlprod-nb compare`` over real runs of small pipelines.

Each run drives real kernels through papermill; the store is a real DuckDB file.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pipeline.conftest import Cell, project, step, write_notebook

from mlprod_nb.cli import main
from mlprod_nb.paths import find_home
from mlprod_nb.pipeline.export import export
from mlprod_nb.pipeline.runner import RunOptions, RunResult, run
from mlprod_nb.pipeline.snapshot import object_path

from .helpers import cli

pytestmark = pytest.mark.slow

SCORE = "score = len(rows) * n"


def cells(score: str = SCORE) -> list[Cell]:
    return [
        ("n = 3\napi_token = 'none'", ["parameters"]),
        step("load", "rows = open('data.csv').read().splitlines()"),
        step(
            "score",
            f"import mlprod_nb\n{score}\nmlprod_nb.log_metric('score', score)\n"
            "open('out.txt', 'w').write(str(score))",
        ),
    ]


def exported(base: Path, score: str = SCORE) -> Path:
    nb = write_notebook(base / "nb.ipynb", cells(score))
    folder = export(nb, use_tracer=False, force=True).folder
    assert folder is not None
    return folder


def ok(result: RunResult) -> str:
    assert result.status == "ok", result.error
    return result.run_id


def answer(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main([*args, "--json"]) == 0
    found: dict[str, Any] = json.loads(capsys.readouterr().out)
    return found


def differing(comparison: dict[str, Any]) -> dict[str, set[str]]:
    """The names of the rows that differ, by section (paths by their file name)."""
    sections = ("params", "metrics", "datasets", "outputs", "steps", "environment")
    return {
        section: {Path(r["name"]).name for r in comparison[section] if r["differs"]}
        for section in sections
    }


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = project(tmp_path / "p")
    (folder / "data.csv").write_text("a\nb\n")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("MLPROD_NB_PARAM_api_token", "tok-7f3a9c2e")  # a secret: given at run
    return folder


# -- show ---------------------------------------------------------------------------------


def test_show_lists_every_input_of_a_run_of_the_example_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    notebooks = Path(__file__).parents[2] / "notebooks"
    folder = project(tmp_path / "p")
    shutil.copy(notebooks / "churn.ipynb", folder / "churn.ipynb")
    shutil.copytree(notebooks / "data", folder / "data")
    monkeypatch.chdir(folder)
    pipeline = export(folder / "churn.ipynb").folder
    assert pipeline is not None
    first = ok(run(pipeline, RunOptions(params=[("n_estimators", "20")])))
    again = ok(run(pipeline, RunOptions(params=[("n_estimators", "20")])))

    shown = answer(capsys, "show", first)
    manifest = json.loads((pipeline / "pipeline.json").read_text())
    step_names = [s["name"] for s in manifest["steps"]]
    assert [s["name"] for s in shown["code"]["steps"]] == step_names
    assert set(shown["parameters"]) == {p["name"] for p in manifest["parameters"]}
    assert shown["parameters"]["n_estimators"] == 20
    csv = (folder / "data" / "customers.csv").resolve()
    reads = {(d["step"], d["path"]): d for d in shown["data"] if d["mode"] == "read"}
    assert reads[("load", str(csv))]["sha256"] == hashlib.sha256(csv.read_bytes()).hexdigest()
    assert reads[("load", str(csv))]["size"] == csv.stat().st_size
    assert {d["mode"] for d in shown["data"]} == {"read", "write"}
    # the code it ran: each step's generated notebook, kept once per hash, without outputs
    layout = find_home(folder)
    for kept, name in zip(shown["code"]["steps"], step_names, strict=True):
        notebook = (pipeline / "steps" / f"{name}.ipynb").read_bytes()
        assert kept["notebook_sha256"] == hashlib.sha256(notebook).hexdigest()
        assert object_path(layout, kept["notebook_sha256"]).read_bytes() == notebook
        assert kept["produced_by"] is None
    assert shown["code"]["snapshot"]["manifest"] == shown["code"]["pipeline_hash"]
    assert shown["code"]["source_sha256"] == manifest["source"]["sha256"]
    env = shown["environment"][0]
    assert {e["python"] for e in shown["environment"]} == {platform.python_version()}
    assert sorted(s for e in shown["environment"] for s in e["steps"]) == sorted(step_names)
    assert env["packages"]["pandas"]  # versions of the step kernel's packages
    assert env["cpu_count"] >= 1
    assert 0.5 < shown["metrics"]["auc"] <= 1.0

    # a run taken wholly from the cache: every step, file and metric from the first run
    cached = answer(capsys, "show", again)
    assert {s["produced_by"] for s in cached["code"]["steps"]} == {first}
    assert {d["produced_by"] for d in cached["data"]} == {first}
    strip = [{k: v for k, v in d.items() if k != "produced_by"} for d in cached["data"]]
    assert strip == [{k: v for k, v in d.items() if k != "produced_by"} for d in shown["data"]]
    assert cached["metrics"] == shown["metrics"]
    assert cached["environment"][0]["python"] == env["python"]

    assert main(["show", first]) == 0
    text = capsys.readouterr().out
    assert "data/customers.csv" in text
    assert first in text
    assert reads[("load", str(csv))]["sha256"][:12] in text


def test_show_redacts_secret_parameters_and_keeps_them_out_of_the_snapshot(
    base: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = ok(run(exported(base)))
    shown = answer(capsys, "show", run_id)
    assert shown["parameters"]["api_token"] == "<redacted>"
    assert "tok-7f3a9c2e" not in json.dumps(shown)
    objects = find_home(base).home / "objects"
    assert all(b"tok-7f3a9c2e" not in p.read_bytes() for p in objects.rglob("*") if p.is_file())


def test_a_run_keeps_the_code_it_ran_after_the_pipeline_is_exported_again(
    base: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = exported(base)
    before = (folder / "steps" / "score.ipynb").read_bytes()
    run_id = ok(run(folder))
    exported(base, score="score = len(rows) * n + 1")
    shown = answer(capsys, "show", run_id)
    [score] = [s for s in shown["code"]["steps"] if s["name"] == "score"]
    assert object_path(find_home(base), score["notebook_sha256"]).read_bytes() == before
    objects = [p for p in (find_home(base).home / "objects").rglob("*") if p.is_file()]
    ok(run(folder, RunOptions(params=[("n", "5")])))  # same code again: no new step objects
    after = [p for p in (find_home(base).home / "objects").rglob("*") if p.is_file()]
    assert len(after) == len(objects) + 2  # the new manifest and score step notebook


def test_a_cached_step_keeps_its_metrics_per_slice(
    base: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sliced = "score = len(rows) * n\nmlprod_nb.log_metric('score', 1.5, slice='part=a')"
    folder = exported(base, score=sliced)
    first = ok(run(folder))
    again = ok(run(folder))
    expected = {"score": 6.0, "score[part=a]": 1.5}
    assert answer(capsys, "show", first)["metrics"] == expected
    assert answer(capsys, "show", again)["metrics"] == expected  # from the first run
    compared = answer(capsys, "compare", first, again)
    assert {r["name"]: r["values"] for r in compared["metrics"]} == {
        name: [value, value] for name, value in expected.items()
    }


def test_show_of_an_unknown_run_says_so_in_one_message(base: Path) -> None:
    ok(run(exported(base)))
    done = cli("show", "no-such-run", cwd=base)
    assert done.returncode != 0
    assert "no such run" in done.stderr
    assert "mlprod-nb runs" in done.stderr
    assert "Traceback" not in done.stderr


# -- compare ------------------------------------------------------------------------------


def _fake_package(tmp: Path, version: str) -> Path:
    """A folder holding an installed distribution ``auditprobe`` at ``version``."""
    site = tmp / f"site-{version}"
    info = site / f"auditprobe-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: auditprobe\nVersion: {version}\n")
    return site


@dataclass(frozen=True)
class Change:
    name: str
    apply: Callable[[Path, pytest.MonkeyPatch], RunOptions]
    differs: dict[str, set[str]]
    diff: tuple[str, ...] = ()
    before: Callable[[Path, pytest.MonkeyPatch], None] = field(default=lambda b, m: None)


def _param(base: Path, mp: pytest.MonkeyPatch) -> RunOptions:
    return RunOptions(params=[("n", "4")])


def _data(base: Path, mp: pytest.MonkeyPatch) -> RunOptions:
    (base / "data.csv").write_text("a\nb\nc\n")
    return RunOptions()


def _code(base: Path, mp: pytest.MonkeyPatch) -> RunOptions:
    exported(base, score="score = len(rows) * n + 1")
    return RunOptions()


def _old_env(base: Path, mp: pytest.MonkeyPatch) -> None:
    mp.setenv("PYTHONPATH", str(_fake_package(base.parent, "1.0")))


def _new_env(base: Path, mp: pytest.MonkeyPatch) -> RunOptions:
    mp.setenv("PYTHONPATH", str(_fake_package(base.parent, "2.0")))
    return RunOptions(no_cache=True)  # else every step is the first run's, as it should be


CHANGES = [
    Change("parameter", _param, {"params": {"n"}, "metrics": {"score"}, "outputs": {"out.txt"}}),
    Change(
        "data",
        _data,
        {"datasets": {"data.csv"}, "metrics": {"score"}, "outputs": {"out.txt"}},
    ),
    Change(
        "code",
        _code,
        {"steps": {"score"}, "metrics": {"score"}, "outputs": {"out.txt"}},
        diff=("-score = len(rows) * n\n", "+score = len(rows) * n + 1\n"),
    ),
    Change("environment", _new_env, {"environment": {"package auditprobe"}}, before=_old_env),
]


@pytest.mark.parametrize("change", CHANGES, ids=[c.name for c in CHANGES])
def test_compare_shows_what_changed_between_two_runs(
    change: Change,
    base: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    change.before(base, monkeypatch)
    first = ok(run(exported(base)))
    options = change.apply(base, monkeypatch)
    second = ok(run(base / "nb.pipeline", options))

    compared = answer(capsys, "compare", first, second)
    assert compared["runs"] == [first, second]
    found = differing(compared)
    # the shared test environment may gain packages meanwhile: only ours must differ
    found["environment"] = {n for n in found["environment"] if "auditprobe" in n}
    assert found == {section: set() for section in found} | change.differs
    diffs = "".join(s["diff"] for s in compared["steps"])
    assert all(line in diffs for line in change.diff)
    assert "_mlprod_artifacts" not in diffs  # the user's cells only, not the scaffolding
    assert {r["name"] for r in compared["durations"]} == {"run", "step load", "step score"}

    assert main(["compare", first, second, "--only-diff"]) == 0
    text = capsys.readouterr().out
    names = {n for section in change.differs.values() for n in section}
    assert all(name in text for name in names)
    assert "api_token" not in text  # unchanged rows are left out


def test_compare_markdown_last_runs_and_baseline(
    base: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = exported(base)
    ids = [ok(run(folder, RunOptions(params=[("n", str(n))]))) for n in (1, 2, 3)]

    compared = answer(capsys, "compare", "--last", "2", "--pipeline", str(folder))
    assert compared["runs"] == ids[1:]
    compared = answer(capsys, "compare", ids[2], "--last", "3", "--baseline", ids[1])
    assert compared["runs"] == ids
    assert compared["baseline"] == ids[1]
    [n] = [r for r in compared["params"] if r["name"] == "n"]
    assert n["values"] == [1, 2, 3]
    assert n["differs"]

    assert main(["compare", ids[0], ids[1], "--markdown"]) == 0
    text = capsys.readouterr().out
    assert "| **n** | 1 | 2 |" in text
    assert "### Parameters" in text
    assert "### Metrics" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "only-one"], "at least 2 runs"),
        (["compare", "--last", "2"], "--last N needs a pipeline"),
        (["compare", "a-run", "other-run"], "no such run"),
    ],
)
def test_compare_refuses_what_it_cannot_compare_in_one_message(
    base: Path, args: list[str], message: str
) -> None:
    ok(run(exported(base)))
    done = cli(*args, cwd=base)
    assert done.returncode != 0
    assert message in done.stderr
    assert "hint:" in done.stderr
    assert "Traceback" not in done.stderr
