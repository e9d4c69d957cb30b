"""Secret parameters across a failed run, its resume and fresh kernels per step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlprod_nb.cli import main
from mlprod_nb.errors import ParameterError
from mlprod_nb.pipeline.export import export
from mlprod_nb.pipeline.runner import RunOptions, run

from .conftest import project, write_notebook

pytestmark = pytest.mark.slow

KEY = "resume-api-key-Wq8"


def test_resume_and_isolated_steps_get_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = project(tmp_path / "p")
    notebook = write_notebook(
        base / "nb.ipynb",
        [
            ("import mlprod_nb\nimport os", ["setup"]),
            ("api_key = 'default-key'\nrounds = 1", ["parameters"]),
            (
                "n = len(api_key) * rounds\nmlprod_nb.log_metric('a_len', n)\n"
                "mlprod_nb.log_metric('env_clean', 'MLPROD_NB_SECRETS' not in os.environ)",
                ["step:a"],
            ),
            (
                "assert os.path.exists('go'), 'not yet'\n"
                "mlprod_nb.log_metric('b_len', len(api_key) + n)",
                ["step:b"],
            ),
        ],
    )
    folder = export(notebook, use_tracer=False).folder
    assert folder is not None
    monkeypatch.setenv("MLPROD_NB_PARAM_api_key", KEY)
    failed = run(folder, RunOptions(isolate=True))
    assert failed.status == "failed"
    assert failed.steps[0].metrics == {"a_len": len(KEY), "env_clean": 1.0}  # taken off environ
    (base / "go").write_text("")
    monkeypatch.delenv("MLPROD_NB_PARAM_api_key")  # not passed again: refused, not defaulted
    refused = r"secret parameter 'api_key'|'api_key' looks secret"
    with pytest.raises(ParameterError, match=refused) as caught:
        run(folder, RunOptions(isolate=True, resume=failed.run_id))
    assert "MLPROD_NB_PARAM_api_key=VALUE" in str(caught.value)
    monkeypatch.setenv("MLPROD_NB_PARAM_api_key", KEY)
    resumed = run(folder, RunOptions(isolate=True, resume=failed.run_id))
    assert resumed.status == "ok", resumed.error
    assert [s.status for s in resumed.steps] == ["cached", "ok"]
    assert resumed.steps[1].metrics["b_len"] == 2 * len(KEY)
    # a secret typed in the notebook stays there: the exported pipeline keeps no copy,
    # and a run that is not given the secret says how to give it
    for path in folder.rglob("*"):
        if path.is_file():
            assert b"default-key" not in path.read_bytes(), path
    monkeypatch.delenv("MLPROD_NB_PARAM_api_key")
    with pytest.raises(ParameterError, match="'api_key' looks secret") as missing:
        run(folder, RunOptions(no_cache=True))
    assert "-p api_key VALUE" in str(missing.value)
    plain = run(folder, RunOptions(no_cache=True, params=[("api_key", "default-key")]))
    assert plain.steps[0].metrics["a_len"] == len("default-key")
    for result in (failed, resumed, plain):
        for path in result.folder.rglob("*"):
            if path.is_file():
                assert KEY.encode() not in path.read_bytes(), path
    executed = json.loads((plain.folder / "steps" / "a.ipynb").read_text())
    sources = "".join("".join(c["source"]) for c in executed["cells"])
    assert "default-key" not in sources
    assert "api_key = '<redacted>'" in sources


def test_an_unknown_parameter_in_the_environment_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = project(tmp_path / "p")
    notebook = write_notebook(
        base / "nb.ipynb", [("token = ''", ["parameters"]), ("x = len(token)", ["step:a"])]
    )
    folder = export(notebook, use_tracer=False).folder
    monkeypatch.setenv("MLPROD_NB_PARAM_tokn", "t")
    assert main(["run", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter 'tokn' (from the environment variable MLPROD_NB_PARAM_tokn)" in err
    assert "unset MLPROD_NB_PARAM_tokn; the pipeline's parameters are: token" in err
    assert "Traceback" not in err
    assert not (base / ".mlprod" / "runs").exists() or not any(
        (base / ".mlprod" / "runs").iterdir()
    )


def test_a_dict_parameter_with_a_secret_inside(tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    notebook = write_notebook(
        base / "nb.ipynb",
        [
            ("import mlprod_nb\nimport os", ["setup"]),
            ("db = {'host': 'h'}", ["parameters"]),
            (
                "assert os.path.exists('go')\nmlprod_nb.log_metric('n', len(db['password']))",
                ["step:a"],
            ),
        ],
    )
    folder = export(notebook, use_tracer=False).folder
    assert folder is not None
    given = tmp_path / "params.yaml"
    given.write_text("db: {host: h, password: nested-pw-Rr3}\n")
    failed = run(folder, RunOptions(params_file=given))
    assert failed.status == "failed"
    (base / "go").write_text("")
    with pytest.raises(ParameterError, match="'db' with secrets inside"):
        run(folder, RunOptions(resume=failed.run_id))
    resumed = run(folder, RunOptions(resume=failed.run_id, params_file=given))
    assert resumed.status == "ok", resumed.error
    assert resumed.steps[0].metrics == {"n": len("nested-pw-Rr3")}
    for result in (failed, resumed):
        for path in result.folder.rglob("*"):
            if path.is_file():
                assert b"nested-pw-Rr3" not in path.read_bytes(), path
