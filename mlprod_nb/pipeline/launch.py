"""Starting a run in the background: the one way the server and the scheduler do it.

The runner is spawned detached (its own session, stdin closed, output appended to
the run folder's ``driver.log``) with its parameters in the run folder's
``params.yaml`` rather than as ``-p NAME VALUE`` (typed values arrive as they are,
and a value such as ``-x`` cannot be mistaken for an option). Secret-named
parameters never go to a file: they travel in the runner's environment
(``MLPROD_NB_PARAM_<name>``, pipeline/handoff.py). ``launch.json`` records the
runner's pid and process identity, so liveness can tell a dead runner from one
still starting.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..redaction import REDACTED, is_secret_name
from .handoff import PARAM_ENV
from .liveness import identity
from .rundir import LOG_FILE

LAUNCH_FILE = "launch.json"  # pid, process identity and command of the runner
PARAMS_FILE = "params.yaml"  # the parameters the run was asked for, secrets left out


def start(
    command: Sequence[str],
    pipeline: str | Path,
    run_id: str,
    folder: Path,
    *,
    home: Path,
    params: Mapping[str, Any],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    noted: Mapping[str, Any] | None = None,
    inherit_secrets: bool = False,
) -> subprocess.Popen[bytes]:
    """Spawn ``command PIPELINE --run-id RUN_ID [-f params.yaml]`` in the existing run
    folder ``folder``; ``env`` is added to the runner's environment and ``noted`` to
    ``launch.json``. Secrets come from ``params``, or with ``inherit_secrets`` (the
    scheduler, whose stored secrets are ``<redacted>``) from this process's own
    ``MLPROD_NB_PARAM_<name>``. Raises ``OSError`` when the command cannot start."""
    import yaml

    argv = [*command, str(pipeline), "--run-id", run_id]
    plain = {k: v for k, v in params.items() if not is_secret_name(k)}
    if plain:
        (folder / PARAMS_FILE).write_text(yaml.safe_dump(plain, sort_keys=False))
        argv += ["-f", str(folder / PARAMS_FILE)]
    child_env = dict(os.environ)
    if not inherit_secrets:
        child_env = {k: v for k, v in child_env.items() if not k.startswith(PARAM_ENV)}
    for name, value in params.items():
        if name not in plain and value != REDACTED:
            child_env[PARAM_ENV + name] = value if isinstance(value, str) else json.dumps(value)
    child_env["MLPROD_NB_HOME"] = str(home)
    child_env.update(env or {})
    with (folder / LOG_FILE).open("ab") as log:
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=child_env,
            start_new_session=True,
            close_fds=True,
        )
    launch: dict[str, Any] = {"id": run_id, "pid": child.pid, "driver": identity(child.pid)}
    launch |= {"started": time.time(), "argv": argv, **(noted or {})}
    (folder / LAUNCH_FILE).write_text(json.dumps(launch))
    return child
