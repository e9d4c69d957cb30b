"""The tracer's life cycle, robustness, public API, identity and environment."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell

import mlprod_nb
from mlprod_nb import journal
from mlprod_nb.errors import MlprodError
from mlprod_nb.records import REDACTED
from mlprod_nb.tracer import context, extension, session
from mlprod_nb.tracer.adapters import Patcher

from .conftest import Traced


def test_unload_stops_recording_and_removes_hooks(
    traced: Traced, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the cell below writes n.txt
    traced.run("x = 1")
    tracer = traced.tracer
    traced.shell.run_line_magic("unload_ext", "mlprod_nb")
    traced.shell.run_cell("y = 2", store_history=True)
    traced.shell.run_cell("t = open(__file__ if '__file__' in dir() else 'n.txt', 'w')")
    assert len(traced.executions()) == 1
    assert extension.current() is None
    assert tracer.pre_run_cell not in traced.shell.events.callbacks["pre_run_cell"]
    assert tracer.post_run_cell not in traced.shell.events.callbacks["post_run_cell"]
    assert "transform_ast" not in vars(traced.shell)
    assert "ast_parse" not in vars(traced.shell.compile)
    assert not any(isinstance(f, Patcher) for f in sys.meta_path)
    assert not tracer.capture.active


def test_loading_twice_keeps_one_tracer(traced: Traced) -> None:
    first = traced.tracer
    traced.shell.run_line_magic("load_ext", "mlprod_nb")
    extension.load(traced.shell)
    assert traced.tracer is first
    traced.run("x = 1")
    assert len(traced.executions()) == 1


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("tracer bug")


@pytest.mark.parametrize(
    "where",
    ["analysis", "finish", "audit", "namespace"],
)
def test_a_tracer_failure_never_breaks_the_cell(
    traced: Traced,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracer = traced.tracer
    target = tmp_path / "out.txt"
    code = f"with open({str(target)!r}, 'w') as f:\n    f.write('ok')\nvalue = 6 * 7"
    with monkeypatch.context() as patch, caplog.at_level(logging.WARNING, "mlprod_nb.tracer"):
        if where == "analysis":
            patch.setattr(session, "analyse", _boom)
        elif where == "finish":
            patch.setattr(tracer.capture, "finish", _boom)
        elif where == "audit":
            patch.setattr(tracer.capture, "_on_open", _boom)
        else:
            patch.setattr(tracer, "_cell_id", _boom)
        result = traced.shell.run_cell(code)
    assert result.success
    assert traced.shell.user_ns["value"] == 42
    assert target.read_text() == "ok"
    assert tracer.failures >= 1
    assert "tracer bug" in caplog.text
    after = traced.run("after = value")  # the tracer goes on recording
    assert after["uses"] == ["value"]


def test_params_metrics_and_checks(traced: Traced) -> None:
    traced.shell.user_ns["secret"] = "sk-123"  # not in the cell's source
    record = traced.run(
        "import mlprod_nb, numpy as np\n"
        "mlprod_nb.log_param('lr', 0.1)\n"
        "mlprod_nb.log_param('api_key', secret)\n"
        "mlprod_nb.log_param('db_password', 'hunter2')\n"
        "mlprod_nb.log_param('layers', [64, 32])\n"
        "mlprod_nb.log_param('obj', object)\n"
        "mlprod_nb.log_metric('auc', np.float64(0.91))\n"
        "for step in range(3):\n    mlprod_nb.log_metric('loss', 1.0 / (step + 1), step=step)\n"
        "mlprod_nb.log_metric('nan', float('nan'))\n"
        "mlprod_nb.require(True, 'rows present')"
    )
    assert record["params"] == {
        "lr": 0.1,
        "api_key": REDACTED,
        "db_password": REDACTED,
        "layers": [64, 32],
        "obj": repr(object),
    }
    assert record["metrics"][0] == {"name": "auc", "value": 0.91, "step": None}
    assert [(m["value"], m["step"]) for m in record["metrics"][1:4]] == [
        (1.0, 0),
        (0.5, 1),
        (pytest.approx(1 / 3), 2),
    ]
    assert record["metrics"][4] == {"name": "nan", "value": None, "step": None}
    assert record["checks"] == [{"message": "rows present", "passed": True}]
    assert "sk-123" not in str(traced.records())
    assert traced.run("y = 1")["params"] == {}  # values belong to the cell that logged them


def test_failed_require_fails_the_cell_and_records_the_check(traced: Traced) -> None:
    record = traced.run("import mlprod_nb\nauc = 0.4\nmlprod_nb.require(auc >= 0.6, 'AUC too low')")
    assert record["status"] == "error"
    assert record["error_name"] == "CheckFailedError"
    assert "AUC too low" in record["error_message"]
    assert record["checks"] == [{"message": "AUC too low", "passed": False}]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mlprod_nb.log_metric("auc", "high"), "must be a number"),
        (lambda: mlprod_nb.log_metric("token_count", 3.0), "looks like a secret"),
        (lambda: mlprod_nb.log_metric("loss", 1.0, step=1.5), "step must be an integer"),
        (lambda: mlprod_nb.log_param("", 1), "non-empty string"),
    ],
)
def test_api_rejects_bad_input_with_a_readable_error(call: Any, message: str) -> None:
    with pytest.raises(MlprodError, match=message):
        call()
    context.drain()


def test_values_logged_between_cells_go_to_the_next_record(traced: Traced) -> None:
    traced.run("x = 1")
    mlprod_nb.log_param("seed", 7)
    mlprod_nb.log_metric("warmup", 1.5)
    record = traced.run("y = 2")
    assert record["params"] == {"seed": 7}
    assert record["metrics"] == [{"name": "warmup", "value": 1.5, "step": None}]


def test_run_and_step_context(traced: Traced) -> None:
    plain = traced.run("x = 1")
    assert "run" not in plain
    context.set_context("run-1", "train")
    try:
        stamped = traced.run("y = 2")
    finally:
        context.set_context(None, None)
    assert (stamped["run"], stamped["step"]) == ("run-1", "train")
    assert "run" not in traced.run("z = 3")


def test_environment_is_recorded_once_before_the_first_execution(traced: Traced) -> None:
    traced.run("x = 1")
    traced.run("y = 2")
    records = traced.records()
    assert [r["kind"] for r in records] == ["session", "execution", "execution"]
    first = records[0]
    assert first["session"] == records[1]["session"]
    assert first["pid"] == os.getpid()
    env = first["env"]
    assert env["python"] == ".".join(map(str, sys.version_info[:3]))
    assert env["implementation"] == "CPython"
    assert env["cpu_count"] >= 1
    assert env["memory_bytes"] > 0
    assert env["hostname"]
    assert isinstance(env["gpus"], list)
    packages = {name: version for name, version in env["packages"]}
    assert "ipython" in packages
    lines = "\n".join(f"{n}=={v}" for n, v in env["packages"])
    assert env["packages_hash"] == hashlib.sha256(lines.encode()).hexdigest()


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_notebook_path_and_git_state(
    shell: InteractiveShell, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "project"
    (repo / "nb").mkdir(parents=True)
    (repo / "README").write_text("v1")
    _git(repo, "init", "-q")
    _git(repo, "add", "README")
    _git(repo, "commit", "-q", "-m", "first")
    (repo / "README").write_text("v2")  # dirty working tree
    monkeypatch.chdir(repo)
    shell.user_ns["__session__"] = "nb/analysis.ipynb"  # relative: against the kernel cwd
    shell.run_line_magic("load_ext", "mlprod_nb")
    traced = Traced(shell, home)
    record = traced.run("x = 1")
    notebook = str(repo / "nb" / "analysis.ipynb")
    assert record["notebook"] == notebook
    first = traced.records()[0]
    assert first["notebook"] == notebook
    assert first["env"]["git"] == {
        "root": str(repo),
        "commit": _git(repo, "rev-parse", "HEAD"),
        "dirty": True,
    }


def test_notebook_from_jpy_session_name(
    shell: InteractiveShell, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = tmp_path / "elsewhere" / "model.ipynb"
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))
    shell.run_line_magic("load_ext", "mlprod_nb")
    assert Traced(shell, home).run("x = 1")["notebook"] == str(notebook)


def test_journal_failures_keep_records_until_writable(
    shell: InteractiveShell,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the store folder should be")
    home = blocker / ".mlprod"
    monkeypatch.setenv("MLPROD_NB_HOME", str(home))
    shell.run_line_magic("load_ext", "mlprod_nb")
    tracer = extension.current()
    assert tracer is not None
    with caplog.at_level(logging.WARNING, logger="mlprod_nb.tracer"):
        for code in ("a = 1", "b = a", "c = b"):
            assert shell.run_cell(code).success
    assert tracer.journal_failures == 3
    assert caplog.text.count("cannot write its journal") == 1
    blocker.unlink()
    shell.run_cell("d = c")
    records = Traced(shell, home).records()
    assert [r["kind"] for r in records] == ["session"] + ["execution"] * 4
    assert [r["seq"] for r in records[1:]] == [1, 2, 3, 4]
    assert records[4]["deps"] == [{"name": "c", "execution": records[3]["id"]}]


def test_import_stays_light() -> None:
    code = (
        "import sys, mlprod_nb, mlprod_nb.tracer.context\n"
        "heavy = {'duckdb', 'pandas', 'papermill', 'jupyter_server', 'networkx', 'pyarrow'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_cell_that_runs_a_cell(traced: Traced) -> None:
    traced.run("x = 1")
    traced.shell.run_cell("get_ipython().run_cell('inner = x + 1')\nouter = inner * 2")
    inner, outer = traced.executions()[-2:]
    assert (inner["defines"], inner["uses"]) == (["inner"], ["x"])
    assert inner["seq"] + 1 == outer["seq"]  # the inner one finishes first
    assert outer["defines"] == ["outer", "inner"]
    assert outer["uses"] == ["inner"]
    assert outer["deps"] == [{"name": "inner", "execution": inner["id"]}]


def test_a_failing_adapter_never_breaks_the_read(
    traced: Traced, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    target = tmp_path / "t.parquet"
    traced.run(
        "import pyarrow as pa, pyarrow.parquet as pq\n"
        f"pq.write_table(pa.table({{'x': [1]}}), {str(target)!r})"
    )
    tracer = traced.tracer
    with monkeypatch.context() as patch:
        patch.setattr(tracer.capture, "add_sources", _boom)
        record = traced.run(f"n = pq.read_table({str(target)!r}).num_rows")
    assert record["status"] == "ok"
    assert traced.shell.user_ns["n"] == 1
    assert tracer.failures >= 1  # read_table and the dataset under it each report


@pytest.mark.parametrize(
    "record",
    [
        {"kind": "execution", "defines": ["x", "é"], "started": 1.5, "source": 'a\n"b"'},
        {"kind": "execution", "params": {"n": np.int64(3), "p": Path("/d")}},
        {"kind": "execution", "params": {"s": {1, 2}, "t": (1, 2)}, "files": []},
    ],
    ids=["plain JSON", "numpy and paths", "sets and tuples"],
)
def test_journal_lines_are_the_bytes_json_dumps_makes(
    record: dict[str, Any], tmp_path: Path
) -> None:
    writer = journal.JournalWriter(tmp_path, name="j")
    writer.append(record)
    writer.close()
    slim = journal.slim(record)  # what the store can tell left out, e.g. empty lists
    slow = json.dumps(slim, default=journal._default, separators=(",", ":"), allow_nan=False)
    assert (tmp_path / "j.ndjson").read_bytes() == slow.encode() + b"\n"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("Untitled.ipynb", "churn.ipynb", "root/churn.ipynb"),  # Lab's first-save rename
        ("work/a.ipynb", "work/b.ipynb", "root/work/b.ipynb"),
        ("work/a.ipynb", "archive/2026/a.ipynb", "root/archive/2026/a.ipynb"),  # a move
    ],
)
def test_a_renamed_notebook_records_later_executions_under_its_new_path(
    shell: InteractiveShell,
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    old: str,
    new: str,
    expected: str,
) -> None:
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "root" / old))
    shell.run_line_magic("load_ext", "mlprod_nb")
    traced = Traced(shell, home)
    assert traced.run("x = 1")["notebook"] == str(tmp_path / "root" / old)
    # what the panel sends, silently, when Lab renames the file
    shell.run_cell(
        f"__import__('mlprod_nb.tracer.extension', fromlist=['moved']).moved({old!r}, {new!r})",
        silent=True,
        store_history=False,
    )
    after = traced.run("y = x + 1")
    assert after["notebook"] == str(tmp_path / expected)
    assert [d["name"] for d in after["deps"]] == ["x"]  # the session goes on: nothing lost
