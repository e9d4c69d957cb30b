"""The journal's record kinds: the one contract between writers and the store.

Writers (the tracer in every kernel, the pipeline runner) append one JSON object
per line to their own journal file; the store ingests them. Every record has
``v`` (this module's ``SCHEMA``) and ``kind``. Times are epoch seconds (float),
durations milliseconds, paths absolute and normalised, hashes lowercase hex
sha256. Fields may be added; never renamed or removed (the store ingests old
journals too). A record whose line would exceed ``journal.MAX_LINE_BYTES`` has
its largest values cut and lists them in ``truncated`` (``mlprod_nb.fit``).
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal, NewType, NotRequired, TypedDict, get_args

SCHEMA = 1

SessionId = NewType("SessionId", str)
ExecutionId = NewType("ExecutionId", str)  # f"{session}:{seq}"
CellId = NewType("CellId", str)
RunId = NewType("RunId", str)


class GitState(TypedDict):
    root: str
    commit: str | None
    dirty: bool


class Environment(TypedDict):
    python: str
    implementation: str
    platform: str
    hostname: str
    cpu_count: int
    memory_bytes: int | None
    gpus: list[str]
    packages_hash: str  # sha256 of the sorted "name==version" lines
    packages: list[tuple[str, str]]
    git: GitState | None


class SessionRecord(TypedDict):
    """Written once when the tracer loads in a process (one kernel's life)."""

    v: int
    kind: Literal["session"]
    session: SessionId
    pid: int
    started: float
    notebook: str | None  # absolute path when known
    cwd: str
    env: Environment
    truncated: NotRequired[list[str]]  # fields cut to fit the journal line


class FileAccess(TypedDict):
    path: str  # absolute, normalised
    mode: Literal["read", "write"]
    sha256: str | None  # None when the file is gone or unreadable after the cell
    size: int | None
    mtime_ns: int | None
    via: str  # "open", "pyarrow", "polars", "duckdb", "sqlite3", ...


class Dependency(TypedDict):
    name: str
    execution: ExecutionId  # the latest earlier execution that bound ``name``


class Mutation(TypedDict):
    name: str
    how: str  # "attr", "item", "call:append", "call:fillna(inplace)", ...
    known: bool  # True: the registry says it mutates; False: only "may mutate"


class Metric(TypedDict):
    name: str
    value: float
    step: int | None


class Check(TypedDict):
    message: str
    passed: bool


def source_hash(source: str) -> str:
    """An execution's ``source_hash``: blake2b-128 hex of the cell's raw source.

    The one definition: the tracer records it and the exporter and the staleness rules
    compute it for a notebook's cells to find their executions (cells without ids).
    """
    data = source.encode("utf-8", "surrogatepass")  # JSON may hold a lone surrogate
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class ExecutionRecord(TypedDict):
    """One run of one cell, written once when the cell finishes."""

    v: int
    kind: Literal["execution"]
    id: ExecutionId
    session: SessionId
    seq: int  # 1, 2, ... within the session
    notebook: str | None
    cell_id: CellId | None  # from JupyterLab's execute request, or set by the runner
    execution_count: int | None
    source_hash: str  # ``source_hash(raw cell source)``
    source: str | None  # the source, the first time this process records that hash
    started: float
    duration_ms: float
    status: Literal["ok", "error"]
    error_name: str | None
    error_message: str | None
    defines: list[str]
    # "module.QualName" of the value of each defined name after the cell (the exporter
    # refuses values no serializer can pass); absent in records of older tracers
    types: NotRequired[dict[str, str]]
    uses: list[str]
    deletes: list[str]
    mutations: list[Mutation]
    deps: list[Dependency]
    files: list[FileAccess]
    params: dict[str, Any]  # secret-looking names are redacted before writing
    metrics: list[Metric]
    checks: list[Check]
    run: NotRequired[RunId | None]  # set inside pipeline steps
    step: NotRequired[str | None]
    truncated: NotRequired[list[str]]  # fields cut to fit the journal line


class RunRecord(TypedDict):
    """A pipeline run started (written by the runner's driver process)."""

    v: int
    kind: Literal["run"]
    id: RunId
    pipeline: str  # absolute path of the pipeline folder
    pipeline_hash: str
    source_notebook: str
    params: dict[str, Any]
    started: float
    steps: list[str]  # the steps this run will execute, in order
    resumed_from: RunId | None
    truncated: NotRequired[list[str]]  # fields cut to fit the journal line


class Artifact(TypedDict):
    name: str
    path: str
    sha256: str
    serializer: str


class StepRecord(TypedDict):
    """A step of a run finished (ok, failed, cached or skipped)."""

    v: int
    kind: Literal["step"]
    run: RunId
    name: str
    status: SettledStatus
    started: float
    duration_ms: float
    cache_key: str | None
    cached_from: RunId | None
    notebook: str | None  # the executed step notebook
    artifacts: list[Artifact]
    params: dict[str, Any]
    error: str | None
    cell_id: NotRequired[str | None]  # the failing cell, when one failed
    truncated: NotRequired[list[str]]  # fields cut to fit the journal line


# -- statuses: the one vocabulary of runs and steps (runner, store, server, panel) --

# A step of a run: waiting for its upstream steps, queued for an executor, running,
# then settled: "ok", "failed", "cached" (taken from an earlier run), "skipped" (an
# upstream step did not succeed), "aborted" (stopped by Ctrl-C/SIGTERM) or, in the
# run's status file only, "interrupted" (its driver died: pipeline/liveness.py).
StepStatus = Literal[
    "pending", "queued", "running", "ok", "failed", "cached", "skipped", "aborted", "interrupted"
]
SettledStatus = Literal["ok", "failed", "cached", "skipped", "aborted"]  # in the journal
STEP_STATUSES: tuple[StepStatus, ...] = get_args(StepStatus)
DONE: tuple[StepStatus, ...] = ("ok", "cached")  # downstream steps may run
BROKEN: tuple[StepStatus, ...] = ("failed", "skipped", "aborted")  # downstream steps are skipped
UNSETTLED: tuple[StepStatus, ...] = ("pending", "queued", "running")

# How a run ended: "aborted" by Ctrl-C/SIGTERM, "interrupted" when its driver died
# (SIGKILL, OOM, reboot) and the next process that looked recorded it
# (pipeline/liveness.py); a run with no ``run_end`` record yet is "running".
RunEnd = Literal["ok", "failed", "aborted", "interrupted"]
RunStatus = Literal["running", "ok", "failed", "aborted", "interrupted"]
RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)
RUNNING: RunStatus = "running"
FAILED: RunEnd = "failed"
INTERRUPTED: RunEnd = "interrupted"


class RunEndRecord(TypedDict):
    v: int
    kind: Literal["run_end"]
    id: RunId
    status: RunEnd
    finished: float  # for "interrupted": the driver's last heartbeat
    error: str | None
    truncated: NotRequired[list[str]]  # fields cut to fit the journal line


class RenameRecord(TypedDict):
    """A notebook (or a folder of notebooks) was renamed or moved, at ``renamed``.

    Executions recorded under ``old_path`` (or under it, for a folder) before then
    belong to ``new_path`` since; the store follows chains of renames.
    """

    v: int
    kind: Literal["rename"]
    old_path: str
    new_path: str
    renamed: float


Record = SessionRecord | ExecutionRecord | RunRecord | StepRecord | RunEndRecord | RenameRecord

# the secret-name rule lives in one place (redaction.py); these names are its public face
from .redaction import REDACTED as REDACTED  # noqa: E402
from .redaction import is_secret_name as is_secret_name  # noqa: E402
from .redaction import redact as redact  # noqa: E402
