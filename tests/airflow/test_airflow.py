"""The exported DAGs in a real Airflow 3 (the cached ``.venv-airflow``, ``make airflow-env``).

One Airflow home for the module (its database migrated once): the DAGs import without
errors, ``airflow dags test`` runs every step through mlprod-nb as ONE run of the
store (its id the DAG run's, fired by ``airflow:<dag id>``, a parameter overridden by
the DAG run's conf), and the asset-scheduled DAG is listed with its assets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .conftest import notebook

VENV = Path(__file__).resolve().parents[2] / ".venv-airflow"
AIRFLOW = VENV / "bin" / "airflow"

if not AIRFLOW.exists():
    if os.environ.get("CI"):
        pytest.fail(f"{AIRFLOW} is missing: `make test` builds it (make airflow-env)")
    pytest.skip("no .venv-airflow: `make airflow-env` builds it", allow_module_level=True)

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Deployed:
    """A project, its store and a DAGs folder with two exported DAGs, in one Airflow home."""

    project: Path
    env: Mapping[str, str]

    def airflow(self, *args: str) -> str:
        done = subprocess.run(
            [str(AIRFLOW), *args], env=self.env, capture_output=True, text=True, timeout=150
        )
        assert done.returncode == 0, f"airflow {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def listing(self, *args: str) -> Any:
        """What ``airflow ... -o json`` prints (its last line: logs may come first)."""
        return json.loads(self.airflow(*args, "-o", "json").strip().splitlines()[-1])

    def mlprod(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "mlprod_nb.cli", *args],
            env=self.env,
            cwd=self.project,
            capture_output=True,
            text=True,
            timeout=150,
        )
        assert done.returncode == 0, f"mlprod-nb {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    base = tmp_path_factory.mktemp("airflow")
    nb = notebook(base / "project")
    dags = base / "dags"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MLPROD_NB"))}
    env |= {
        "AIRFLOW_HOME": str(base / "home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "MLPROD_NB_HOME": str(nb.parent / ".mlprod"),
        "MLPROD_NB_PARAM_api_token": "s3cret",  # the workers' environment holds secrets
    }
    found = Deployed(nb.parent, env)
    found.mlprod("trace", str(nb))  # its lineage names data.csv: the asset schedule
    export = ["export", str(nb), "--target", "airflow", "-o", str(dags)]
    found.mlprod(*export)
    found.mlprod(*export, "--on-new-data", "--dag-id", "nb_on_new_data")
    found.airflow("db", "migrate")
    found.airflow("dags", "reserialize")  # parse the DAGs folder into the database
    return found


def test_the_exported_dags_import_without_errors(deployed: Deployed) -> None:
    assert deployed.listing("dags", "list-import-errors") == []


def test_dags_test_runs_every_step_as_one_mlprod_run(deployed: Deployed) -> None:
    deployed.airflow("dags", "test", "nb", "--conf", json.dumps({"scale": 5}))
    [dag_run] = deployed.listing("dags", "list-runs", "nb")
    assert dag_run["state"] == "success"
    runs = json.loads(deployed.mlprod("runs", "--json"))["runs"]
    assert len(runs) == 1, runs  # three tasks, one run
    [run] = runs
    airflow_id = dag_run["run_id"]
    assert run["id"] == airflow_id.replace(":", "-").replace("+", "-")
    assert run["status"] == "ok"
    assert run["schedule"] == "airflow:nb"
    assert run["reason"] == f"airflow run {airflow_id}"
    assert {s["name"]: s["status"] for s in run["steps"]} == dict.fromkeys(
        ("load", "train", "report"), "ok"
    )
    assert run["params"]["scale"] == 5  # the DAG run's conf, typed as the manifest says
    assert run["params"]["api_token"] == "<redacted>"  # from the workers' environment
    report = json.loads((deployed.project / "report.json").read_text())
    assert report == {"model": 15.0, "label": "run", "flags": [1, 2]}


def test_the_asset_scheduled_dag_is_listed_with_its_assets(deployed: Deployed) -> None:
    dags = {d["dag_id"] for d in deployed.listing("dags", "list")}
    assert dags == {"nb", "nb_on_new_data"}
    uris = {a["uri"] for a in deployed.listing("assets", "list")}
    assert (deployed.project / "data.csv").as_uri() in uris  # the schedule
    assert (deployed.project / "report.json").as_uri() in uris  # an outlet of report
