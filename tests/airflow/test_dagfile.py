"""The exported Airflow DAG file, read as Python (no Airflow needed): tasks, edges,
typed parameters without secrets, schedule or assets, the run-id mapping, and
export's guarantees (nothing written on a mistake, never a file it did not write)."""

from __future__ import annotations

import ast
import json
import py_compile
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from mlprod_nb.cli import main
from mlprod_nb.pipeline import manifest as mf
from mlprod_nb.pipeline.dagfile import owned
from mlprod_nb.pipeline.rundir import valid_run_id

from .conftest import CELLS, dag_call, keyword, notebook


def export_dag(base: Path, *extra: str, dag_id: str = "nb") -> tuple[Path, ast.Module]:
    """Export the small notebook with ``--target airflow`` into ``base/dags``."""
    nb = notebook(base)
    assert main(["export", str(nb), "--target", "airflow", "-o", str(base / "dags"), *extra]) == 0
    dag = base / "dags" / f"{dag_id}.py"
    py_compile.compile(str(dag), doraise=True)
    return dag, ast.parse(dag.read_text())


def literal(node: ast.expr) -> object:
    return ast.literal_eval(node)


def test_one_task_per_step_and_the_manifests_edges_as_dependencies(tmp_path: Path) -> None:
    dag, tree = export_dag(tmp_path)
    manifest, folder = mf.load(tmp_path / "dags" / "nb.pipeline")
    assert folder.parent == dag.parent  # the DAG finds its pipeline beside it
    assert "Path(__file__).resolve().parent / 'nb.pipeline'" in dag.read_text()
    tasks = next(
        n.value for n in ast.walk(tree) if isinstance(n, ast.Assign) and n.targets[0].id == "tasks"
    )  # type: ignore[attr-defined]
    assert isinstance(tasks, ast.Dict)
    assert [literal(k) for k in tasks.keys if k is not None] == ["load", "train", "report"]
    for key, call in zip(tasks.keys, tasks.values, strict=True):
        assert isinstance(call, ast.Call)
        assert literal(call.args[0]) == literal(key)  # type: ignore[arg-type]
    edges = {
        (literal(n.left.slice), literal(n.right.slice))  # type: ignore[attr-defined]
        for n in ast.walk(tree)
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.RShift)
    }
    assert (
        edges
        == {(e.source, e.target) for e in manifest.edges}
        == {
            ("load", "train"),
            ("train", "report"),
        }
    )
    assert literal(keyword(dag_call(tree), "schedule")) is None


def test_parameters_are_typed_dag_params_and_secrets_stay_out(tmp_path: Path) -> None:
    dag, tree = export_dag(tmp_path)
    params = keyword(dag_call(tree), "params")
    assert isinstance(params, ast.Dict)
    declared = {}
    for key, call in zip(params.keys, params.values, strict=True):
        assert isinstance(call, ast.Call)
        assert ast.unparse(call.func) == "Param"
        kinds = {k.arg: literal(k.value) for k in call.keywords}
        declared[literal(key)] = (literal(call.args[0]), kinds.get("type"))  # type: ignore[arg-type]
    assert declared == {
        "scale": (2, "integer"),
        "rate": (0.5, "number"),
        "label": ("run", "string"),
        "flags": ([1, 2], "array"),
    }
    env = next(
        n.value
        for n in tree.body
        if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "ENV"
    )
    assert isinstance(env, ast.Dict)
    keys = [literal(k) for k in env.keys if k is not None]
    assert "MLPROD_NB_PARAM_api_token" not in keys
    values = {literal(k): ast.unparse(v) for k, v in zip(env.keys, env.values, strict=True) if k}
    # typed values as JSON, strings as they are: never pasted into the shell command
    assert values["MLPROD_NB_PARAM_scale"] == "\"{{ params['scale'] | tojson }}\""
    assert values["MLPROD_NB_PARAM_label"] == "\"{{ params['label'] }}\""
    assert values["MLPROD_NB_RUN_ID"] == "'{{ run_id | mlprod_run_id }}'"
    text = dag.read_text()
    assert "api_token" not in text.replace("MLPROD_NB_PARAM_api_token", "")
    assert "params" not in ast.unparse(
        next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "step")
    )


def test_a_cron_schedule_and_retries(tmp_path: Path) -> None:
    argv = ["--schedule", "0 3 * * 1-5", "--retries", "2", "--dag-id", "x"]
    _, tree = export_dag(tmp_path, *argv, dag_id="x")
    call = dag_call(tree)
    assert literal(keyword(call, "schedule")) == "0 3 * * 1-5"
    assert literal(keyword(call, "default_args")) == {"retries": 2}
    assert not (tmp_path / "dags" / "nb.py").exists()


def test_the_same_notebook_gives_the_same_bytes(tmp_path: Path) -> None:
    dag, _ = export_dag(tmp_path, "--schedule", "30 2 * * *")
    first = dag.read_bytes()
    assert owned(dag)
    assert (
        main(
            [
                "export",
                str(tmp_path / "nb.ipynb"),
                "--target",
                "airflow",
                "-o",
                str(dag.parent),
                "--schedule",
                "30 2 * * *",
            ]
        )
        == 0
    )
    assert dag.read_bytes() == first


RUN_IDS = [
    "manual__2026-12-02T10:00:00+00:00",
    "scheduled__2026-12-02T03:00:00+00:00",
    "asset_triggered__2026-12-02T03:00:00.123456+00:00",
    "../../etc",
    "__weird..id__" + "x" * 200,
    "été",
]


def test_every_airflow_run_id_maps_to_one_valid_run_id(tmp_path: Path) -> None:
    _, tree = export_dag(tmp_path)
    function = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "mlprod_run_id"
    )
    space: dict[str, object] = {}
    exec("import re\n" + ast.unparse(function), space)
    mapping = space["mlprod_run_id"]
    assert callable(mapping)
    mapped = [mapping(run_id) for run_id in RUN_IDS]
    assert all(valid_run_id(m) for m in mapped), mapped
    assert mapped[0] == "manual__2026-12-02T10-00-00-00-00"
    assert len(set(mapped)) == len(mapped)
    assert mapped == [mapping(run_id) for run_id in RUN_IDS]  # every task of a run agrees


BAD = [
    (["--schedule", "0 3 * * *"], "only for --target airflow"),
    (["--target", "airflow", "--schedule", "61 * * * *"], "invalid cron expression"),
    (["--target", "airflow", "--schedule", "0 3 * * *", "--on-new-data"], "one schedule"),
    (["--target", "airflow", "--dag-id", "a b"], "invalid DAG id"),
    (["--target", "airflow", "--retries", "-1"], "--retries"),
    (["--target", "luigi"], "no export target named 'luigi'"),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_a_bad_option_is_one_message_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    nb = notebook(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["export", str(nb), "-o", str(tmp_path / "dags"), *args]) != 0
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("mlprod-nb export: error:")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_dag_file_export_did_not_write_is_never_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = notebook(tmp_path)
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "nb.py").write_text("# my own DAG\n")
    argv = ["export", str(nb), "--target", "airflow", "-o", str(dags)]
    assert main(argv) != 0
    assert "the DAG file exists" in capsys.readouterr().err
    assert sorted(p.name for p in dags.iterdir()) == ["nb.py"]  # no pipeline folder either
    assert main([*argv, "--force"]) == 0
    [backup] = dags.glob("nb.py.backup-*")
    assert backup.read_text() == "# my own DAG\n"
    assert owned(dags / "nb.py")
    with (dags / "nb.py").open("a") as handle:  # an edited export is the user's now
        handle.write("# tweak\n")
    assert main(argv) != 0
    assert (dags / "nb.py").read_text().endswith("# tweak\n")


def test_on_new_data_the_inputs_are_assets_and_step_outputs_outlets(
    traced_shell: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb = notebook(tmp_path)  # tmp_path/nb.ipynb; the shell's session names analysis.ipynb
    nb = nb.rename(tmp_path / "analysis.ipynb")
    monkeypatch.chdir(tmp_path)
    for index, (source, _) in enumerate(CELLS):
        assert traced_shell.run_cell(str(source), store_history=True, cell_id=f"c{index}").success
    argv = ["export", str(nb), "--target", "airflow", "--on-new-data", "-o", str(tmp_path / "dags")]
    assert main(argv) == 0
    tree = ast.parse((tmp_path / "dags" / "analysis.py").read_text())
    schedule = ast.unparse(keyword(dag_call(tree), "schedule"))
    assert schedule == f"[Asset({(tmp_path / 'data.csv').as_uri()!r})]"
    outlets = {
        literal(call.args[0]): ast.unparse(call.args[1])  # type: ignore[attr-defined]
        for call in ast.walk(tree)
        if isinstance(call, ast.Call) and ast.unparse(call.func) == "step"
    }
    assert outlets == {
        "load": "[]",
        "train": "[]",
        "report": f"[Asset({(tmp_path / 'report.json').as_uri()!r})]",
    }
    assert json.loads((tmp_path / "report.json").read_text())["model"] == 6.0


def test_on_new_data_without_lineage_says_to_trace_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = notebook(tmp_path)
    assert main(["export", str(nb), "--target", "airflow", "--on-new-data"]) != 0
    assert "mlprod-nb trace" in capsys.readouterr().err
    assert not (tmp_path / "dags").exists()
