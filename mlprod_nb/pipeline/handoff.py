"""Secret parameters handed to step kernels without being written anywhere.

A run's parameters whose names look secret (``redaction.is_secret_name``) never go
to papermill: its injected-parameters cell and ``metadata.papermill.parameters``
show ``<redacted>``, and the step notebook's ``parameters`` cell has their
defaults redacted too. Their values travel in the step kernel's environment
(``SECRETS_ENV``, JSON, readable only by the user's processes), which the kernel
takes out of ``os.environ`` on first use; a generated cell right after
papermill's injected one (``SECRET_CELL``) binds them to the names the step's
code uses. Nothing holding a value touches the disk, so nothing is left behind
when the run fails or is killed.

Users may give any parameter, and secrets in particular, through the environment
as ``MLPROD_NB_PARAM_<name>=<text>`` (typed like ``-p NAME VALUE``), which keeps
the value out of the command line (``ps``, shell history); the server passes a
panel run's secret parameters to the runner the same way.

The cache key holds an HMAC of each secret value under a random per-store salt
(``.mlprod/secret-salt``, mode 0600), never the value: a changed secret is a
cache miss, the same secret a hit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import ParameterError
from ..redaction import REDACTED, is_secret_name, redact_source, scrub

SECRETS_ENV = "MLPROD_NB_SECRETS"
PARAM_ENV = "MLPROD_NB_PARAM_"
SECRET_CELL = "mlprod-secrets"
SALT_FILE = "secret-salt"

_values: dict[str, Any] | None = None


def take() -> dict[str, Any]:
    """In the step kernel: move the secrets out of ``os.environ`` (so the step's own
    subprocesses do not inherit them) into this module; the kernel's set-up calls it."""
    global _values
    if _values is None:
        _values = json.loads(os.environ.pop(SECRETS_ENV, "{}") or "{}")
    return _values


def secret(name: str) -> Any:
    """In the step kernel: the value of secret parameter ``name`` (called by SECRET_CELL)."""
    return take()[name]


def is_secret(name: str, value: Any) -> bool:
    """A parameter handed over as a secret: a secret name, or a dict with secrets inside."""
    return is_secret_name(name) or scrub(value) != value


def from_environment(environ: Mapping[str, str], known: Iterable[str]) -> list[tuple[str, str]]:
    """``(name, text)`` of every ``MLPROD_NB_PARAM_<name>`` variable, sorted by name."""
    names = set(known)
    found = sorted((k[len(PARAM_ENV) :], v) for k, v in environ.items() if k.startswith(PARAM_ENV))
    for name, _ in found:
        if name not in names:
            raise ParameterError(
                f"unknown parameter {name!r} (from the environment variable {PARAM_ENV}{name})",
                hint=f"unset {PARAM_ENV}{name}; the pipeline's parameters are: "
                + (", ".join(sorted(names)) or "none"),
            )
    return found


def kernel_env(env: Mapping[str, str], params: Mapping[str, Any]) -> dict[str, str]:
    """``env`` without parameter variables, plus the secret ``params`` for the kernel."""
    out = {k: v for k, v in env.items() if not k.startswith(PARAM_ENV) and k != SECRETS_ENV}
    secrets = {k: v for k, v in params.items() if is_secret(k, v)}
    if secrets:
        out[SECRETS_ENV] = json.dumps(secrets)
    return out


def step_input(notebook: Path, parameters: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """What papermill gets for a step: the notebook (or a patched copy) and parameters.

    With secret parameters, the copy's ``parameters`` cell has secret literals redacted
    and a cell after it binds the secrets from the kernel's environment.
    """
    names = [n for n, v in parameters.items() if is_secret(n, v)]
    if not names:
        return str(notebook), dict(parameters)
    import nbformat

    nb = json.loads(notebook.read_text())
    cells = nb["cells"]
    tagged = [i for i, c in enumerate(cells) if "parameters" in c["metadata"].get("tags", [])]
    index = tagged[0] if tagged else -1
    if index >= 0:
        cells[index]["source"] = redact_source("".join(cells[index]["source"]))
    lines = ["from mlprod_nb.pipeline.handoff import secret as _mlprod_secret"]
    lines += [f"{n} = _mlprod_secret({n!r})" for n in names]
    lines.append("del _mlprod_secret")
    cell: dict[str, Any] = {
        "cell_type": "code",
        "id": SECRET_CELL,
        "metadata": {"tags": ["injected-secrets"]},
        "execution_count": None,
        "outputs": [],
        "source": "\n".join(lines),
    }
    cells.insert(index + 1, cell)
    node = nbformat.from_dict(nb)  # type: ignore[no-untyped-call]
    return node, {k: (REDACTED if k in names else v) for k, v in parameters.items()}


def salt(home: Path) -> bytes:
    """The store's random salt for secret fingerprints (created on first use, 0600)."""
    path = home / SALT_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    home.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as handle:
        handle.write(os.urandom(32))
    return path.read_bytes()


def fingerprinted(params: Mapping[str, Any], home: Path) -> dict[str, Any]:
    """``params`` with each secret value replaced by its HMAC under the store's salt."""
    out: dict[str, Any] = {}
    key: bytes | None = None
    for name, value in params.items():
        if is_secret(name, value):
            key = key or salt(home)
            blob = json.dumps(value, sort_keys=True, default=repr).encode()
            value = "hmac:" + hmac.new(key, blob, hashlib.sha256).hexdigest()
        out[name] = value
    return out


def fingerprints(params: Mapping[str, Any], home: Path) -> dict[str, str]:
    """The HMAC of each secret among ``params`` (kept in a run's status for ``--resume``)."""
    return {k: v for k, v in fingerprinted(params, home).items() if is_secret(k, params[k])}


def holds_redacted(value: Any) -> bool:
    """Whether a recorded value had secrets redacted inside it (a dict parameter)."""
    return REDACTED in json.dumps(value, default=str)


def check_resumed(
    run_id: str,
    recorded: Mapping[str, str],
    now: Mapping[str, str],
    given: Iterable[str],
    before: Mapping[str, Any],
) -> None:
    """A resumed run's secrets are not stored: one not passed again must be its default."""
    passed = set(given)
    nested = [n for n, v in before.items() if not is_secret_name(n) and holds_redacted(v)]
    for name in nested:
        if name not in passed:
            raise ParameterError(
                f"run {run_id!r} was given parameter {name!r} with secrets inside, and "
                "secrets are not stored",
                run_id=run_id,
                hint="pass it again with -f (a YAML file)",
            )
    for name, fingerprint in recorded.items():
        if name not in passed and now.get(name) != fingerprint:
            raise ParameterError(
                f"run {run_id!r} was given the secret parameter {name!r}, and secrets are "
                "not stored",
                run_id=run_id,
                hint=f"pass it again: {PARAM_ENV}{name}=VALUE (or -p / -f)",
            )
