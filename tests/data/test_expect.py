"""The data gates in real use: ``expect_schema`` in a traced shell, ``expect_drift``
across real pipeline runs (the last ok run is the baseline)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell
from pipeline.conftest import project, step, traced_shell, write_notebook  # noqa: F401

from mlprod_nb.errors import CheckFailedError, MlprodError
from mlprod_nb.hashing import sha256_file
from mlprod_nb.paths import Layout
from mlprod_nb.pipeline.export import export
from mlprod_nb.pipeline.runner import RunOptions, run
from mlprod_nb.store import Store


def _failure(shell: InteractiveShell, source: str) -> BaseException | None:
    return shell.run_cell(source).error_in_exec


def test_expect_schema_names_every_wrong_column(
    traced_shell: InteractiveShell,  # noqa: F811
    tmp_path: Path,
    home: Path,
) -> None:
    csv = tmp_path / "customers.csv"
    csv.write_text("id,age,plan,extra\n1,30,pro,x\n2,41,free,y\n")
    traced_shell.user_ns["CSV"] = str(csv)
    assert _failure(traced_shell, "import mlprod_nb, pandas as pd\ndf = pd.read_csv(CSV)") is None
    schema = "{'id': 'int64', 'age': 'BIGINT', 'plan': 'str'}"
    ok = f"mlprod_nb.expect_schema(df, {schema}, allow_extra=True)"
    assert _failure(traced_shell, ok) is None
    error = _failure(
        traced_shell,
        "mlprod_nb.expect_schema(CSV, {'id': 'int64', 'age': 'float64', 'income': 'float'})",
    )
    assert isinstance(error, CheckFailedError)
    assert error.message == (
        f"schema of {csv} differs from the expected: column 'age' is int64, expected float64; "
        "missing column 'income' (expected float64); "
        "unexpected column(s) 'plan', 'extra' (allow_extra=True allows them)"
    )
    assert error.path == str(csv)
    with Store.open(Layout(home)) as store:
        _, rows = store.query("SELECT passed, message FROM checks ORDER BY rowid")
    assert [passed for passed, _ in rows] == [True, False]  # both recorded, on their cells
    assert "'income'" in rows[1][1]


def test_expect_schema_on_something_that_is_not_data() -> None:
    import mlprod_nb

    with pytest.raises(MlprodError, match="cannot check the schema of a int"):
        mlprod_nb.expect_schema(3, {"a": "int64"})
    with pytest.raises(MlprodError, match="no such data file"):
        mlprod_nb.expect_schema("missing.csv", {"a": "int64"})


def _write(path: Path, mean: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 5_000
    frame = pd.DataFrame({"amount": rng.normal(mean, 1.0, n), "plan": rng.choice(["a", "b"], n)})
    frame.to_csv(path, index=False)


@pytest.mark.slow
def test_expect_drift_across_runs(tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    data = base / "events.csv"
    notebook = write_notebook(
        base / "nb.ipynb",
        [
            ("import mlprod_nb\nimport pandas as pd", ["setup"]),
            step("load", "df = pd.read_csv('events.csv')\nmlprod_nb.expect_drift(df)"),
            step("fit", "total = float(df['amount'].sum())"),
        ],
    )
    folder = export(notebook).folder
    _write(data, 0.0, seed=1)
    first = run(folder, RunOptions(run_id="first"))
    assert first.status == "ok"  # no earlier run: this one is the baseline
    home = base / ".mlprod"
    profile = home / "profiles" / f"{sha256_file(str(data))}.json"
    assert profile.is_file()  # the runner profiled what the step read

    _write(data, 0.8, seed=2)  # shifted
    shifted = run(folder, RunOptions(run_id="shifted"))
    assert (shifted.status, shifted.step) == ("failed", "load")
    assert shifted.error is not None
    assert "df drifted from run first" in shifted.error
    assert "amount: PSI" in shifted.error
    assert "plan" not in shifted.error.split("(max PSI")[1]  # only the column that moved

    _write(data, 0.0, seed=3)  # a resample of the baseline's distribution
    again = run(folder, RunOptions(run_id="again"))
    assert again.status == "ok"  # compared with "first": the failed run is no baseline
