"""Secret values given through every entry point are written nowhere in clear.

Entry points: ``mlprod-nb run -p``, a parameters file (``-f``), the environment
(``MLPROD_NB_PARAM_<name>``, and a variable a cell reads), a run started over REST,
``log_param`` and a literal in a cell of a real traced IPython session. Then every
byte the tool wrote (store folder with journal, DuckDB file after a CHECKPOINT, run
folders, executed step notebooks, the exported pipeline) and the server's answers
are searched for the values; the steps prove they received them (metrics).
"""

from __future__ import annotations

import asyncio
import atexit
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from mlprod_nb import journal
from mlprod_nb.cli import main
from mlprod_nb.paths import Layout
from mlprod_nb.pipeline.handoff import SALT_FILE
from mlprod_nb.store import Store
from mlprod_nb.tracer import extension

from .conftest import finish_run

Api = Callable[..., Awaitable[tuple[int, Any]]]

# distinctive values, of distinct lengths so the metrics tell which arrived where
CLI_PASSWORD = "hunter2-cli-Qx7"  # -p password
FILE_DB_PASS = "file-db-pass-Zr81"  # -f params.yaml
ENV_CONN_STR = "postgres://u:env-conn-Vb3@h/db"  # MLPROD_NB_PARAM_conn_str
REST = {
    "password": "rest-password-Kw5q1",
    "api_token": "rest-api-token-Lm2p99",
    "db_pass": "rest-db-pass-Hy6t777",
    "conn_str": "rest-conn-str-Ue4r5555",
}
LOGGED = "logged-passphrase-Tg9"  # log_param('passphrase', ...)
LITERAL = "cell-literal-password-Nn4"  # password = "..." in a traced cell
ENV_VAR = "env-var-api-token-Pp0"  # os.environ read by a cell, then log_param
NESTED = "nested-password-Jj5"  # log_param('db', {'password': ...})
CHANGED = "hunter3-changed-Xc2"
SECRETS = [CLI_PASSWORD, FILE_DB_PASS, ENV_CONN_STR, *REST.values(), LOGGED, LITERAL]
SECRETS += [ENV_VAR, NESTED, CHANGED]

FLOW = [
    ("import hashlib\nimport mlprod_nb", ["setup"]),
    ("password = ''\napi_token = ''\ndb_pass = ''\nconn_str = ''\nalpha = 1", ["parameters"]),
    (
        "got = [password, api_token, db_pass, conn_str]\n"
        "for i, v in enumerate(got):\n"
        "    mlprod_nb.log_metric(f'len_{i}', len(v))\n"
        "digest = hashlib.sha256('|'.join(got).encode()).hexdigest()\n"
        "mlprod_nb.log_metric('alpha_seen', alpha)",
        ["step:use"],
    ),
    ("report = digest[:8]", ["step:after"]),
]


def _lengths(*values: str) -> dict[str, float]:
    return {f"len_{i}": float(len(v)) for i, v in enumerate(values)}


def _summary(home: Path, run_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((home / "runs" / run_id / "summary.json").read_text())
    return data


def _traced_session(home: Path, notebook: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLPROD_NB_HOME", str(home))
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))
    monkeypatch.setenv("MY_SERVICE_TOKEN", ENV_VAR)
    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell(config=config)
    shell.run_line_magic("load_ext", "mlprod_nb")
    try:
        for code in (
            "import os\nimport mlprod_nb",
            f"mlprod_nb.log_param('passphrase', {LOGGED!r})\nmlprod_nb.log_param('alpha', 3)",
            f"password = {LITERAL!r}\nsize = len(password)",
            "mlprod_nb.log_param('auth', os.environ['MY_SERVICE_TOKEN'])",
            f"mlprod_nb.log_param('db', {{'host': 'h', 'password': {NESTED!r}}})",
        ):
            assert shell.run_cell(code).success
        assert shell.user_ns["size"] == len(LITERAL)  # the cell itself ran on the real value
    finally:
        extension.unload(shell)
        atexit.unregister(shell.atexit_operations)  # its hook kept it alive and gc'd at exit
    records = [
        r for path in sorted((home / "journal").glob("*.ndjson")) for r in journal.records(path)
    ]
    params = {k: v for r in records if r["kind"] == "execution" for k, v in r["params"].items()}
    assert params == {
        "passphrase": "<redacted>",
        "alpha": 3,
        "auth": "<redacted>",
        "db": {"host": "h", "password": "<redacted>"},
    }


def _checkpoint(home: Path) -> None:
    """Ingest every journal line, and fold the WAL into the DuckDB file."""
    store = Store.open(Layout(home))
    try:
        store.con.execute("CHECKPOINT")
    finally:
        store.close()


def _leaks(root: Path, texts: dict[str, str]) -> list[str]:
    found: list[str] = []
    needles = [s.encode() for s in SECRETS]
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [f"{path}: {n.decode()}" for n in needles if n in data]
    for where, text in texts.items():
        found += [f"{where}: {s}" for s in SECRETS if s in text]
    return found


@pytest.mark.slow
async def test_secrets_are_written_nowhere(
    api: Api,
    make_notebook: Callable[..., Path],
    store_home: Path,
    jp_root_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_notebook("work/flow.ipynb", FLOW)
    status, body = await api("export", method="POST", body={"path": "work/flow.ipynb"})
    assert (status, body["ok"]) == (200, True), body
    pipeline = body["pipeline"]
    folder = str(jp_root_dir / pipeline)
    answers: dict[str, str] = {}

    # CLI: -p, -f and the environment at once
    user = tmp_path_factory.mktemp("user")  # the user's own file: not the tool's to keep clean
    (user / "params.yaml").write_text(f"db_pass: {FILE_DB_PASS}\nalpha: 2\n")
    monkeypatch.setenv("MLPROD_NB_HOME", str(store_home))
    monkeypatch.setenv("MLPROD_NB_PARAM_conn_str", ENV_CONN_STR)
    cli = ["-p", "password", CLI_PASSWORD, "-f", str(user / "params.yaml")]
    assert main(["run", folder, *cli, "--run-id", "cli-1"]) == 0
    first = _summary(store_home, "cli-1")
    assert first["metrics"] == {
        **_lengths(CLI_PASSWORD, "", FILE_DB_PASS, ENV_CONN_STR),
        "alpha_seen": 2.0,
    }
    # the same secrets: cached; a changed one: run again (its key holds an HMAC, not the value)
    assert main(["run", folder, *cli, "--run-id", "cli-2"]) == 0
    assert [s["status"] for s in _summary(store_home, "cli-2")["steps"]] == ["cached", "cached"]
    again = ["-p", "password", CHANGED, "-f", str(user / "params.yaml")]
    assert main(["run", folder, *again, "--run-id", "cli-3"]) == 0
    third = _summary(store_home, "cli-3")
    assert [s["status"] for s in third["steps"]] == ["ok", "ok"]  # new digest downstream
    assert third["metrics"]["len_0"] == len(CHANGED)
    assert (store_home / SALT_FILE).stat().st_mode & 0o077 == 0
    monkeypatch.delenv("MLPROD_NB_PARAM_conn_str")

    # the executed notebook shows <redacted> where papermill would have put the value
    executed = json.loads((store_home / "runs" / "cli-1" / "steps" / "use.ipynb").read_text())
    assert executed["metadata"]["papermill"]["parameters"]["password"] == "<redacted>"
    injected = next(c for c in executed["cells"] if "injected-parameters" in c["metadata"]["tags"])
    assert 'password = "<redacted>"' in "".join(injected["source"])

    # REST
    status, body = await api("run", method="POST", body={"pipeline": pipeline, "params": REST})
    assert status == 202, body
    rest_id = body["run_id"]
    done = await finish_run(api, rest_id)
    assert done["status"] == "ok", done["log_tail"]
    assert done["metrics"] == {**_lengths(*REST.values()), "alpha_seen": 1.0}
    assert done["params"]["password"] == "<redacted>"
    answers[f"run/{rest_id}"] = json.dumps(done)

    # log_param, a literal in a cell, an environment variable a cell reads
    _traced_session(store_home, jp_root_dir / "work" / "flow.ipynb", monkeypatch)

    for route, params in (
        ("runs", {"pipeline": pipeline}),
        ("runs", {}),
        ("compare", {"runs": f"cli-1,cli-3,{rest_id}", "pipeline": pipeline}),
        ("lineage", {"path": "work/flow.ipynb"}),
    ):
        status, body = await api(route, params=params)
        assert status == 200, (route, body)
        answers[f"{route}?{params}"] = json.dumps(body)

    await asyncio.to_thread(_checkpoint, store_home)  # the server lets go of the store meanwhile
    assert not _leaks(jp_root_dir, answers)
    assert not _leaks(tmp_path_factory.getbasetemp() / "env0", {})
