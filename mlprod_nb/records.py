"""The journal's record kinds: the one contract between writers and the store.

Writers (the tracer in every kernel, the pipeline runner) append one JSON object
per line to their own journal file; the store ingests them. Every record has
``v`` (this module's ``SCHEMA``) and ``kind``. Times are epoch seconds (float),
durations milliseconds, paths absolute and normalised, hashes lowercase hex
sha256. Fields may be added; never renamed or removed (the store ingests old
journals too). A record whose line would exceed ``journal.MAX_LINE_BYTES`` has
its largest values cut and lists them in ``truncated`` (``mlprod_nb.fit``). An
execution's line leaves out what the store can tell and says the rest with short
keys (``journal.slim``, the ``Key`` of each field); ``journal.loads`` and
``journal.records`` read lines back into records.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NewType, NotRequired, TypedDict, get_args

SCHEMA = 1


# -- how a field is stored (read by store/layout.py; the store's tables follow these) --
# A field without a marker is a column of its kind's table, named like the field.


@dataclass(frozen=True)
class Column:
    """The field's column has another name than the field."""

    name: str


@dataclass(frozen=True)
class Columns:
    """A nested record whose fields are columns of the parent's table, named prefix+field."""

    prefix: str = ""


@dataclass(frozen=True)
class Rows:
    """Kept one row per item (or per distinct value) in ``table``, not as a column."""

    table: str


@dataclass(frozen=True)
class Key:
    """The field's key in an execution's short journal line (``journal.slim`` writes it,
    ``journal.loads`` and the store read it; docs/contracts.md, "Journal lines").

    The value is left out of the line when it is ``default`` (for ``default=None``: when
    it is None), or when it equals the field ``same_as`` of the same record. A record
    holding None where a field's default is not None is written in the long form.
    """

    name: str
    default: Any = None
    same_as: str | None = None


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
    packages: Annotated[list[tuple[str, str]], Rows("packages")]  # once per packages_hash
    git: Annotated[GitState | None, Columns("git_")]


class SessionRecord(TypedDict):
    """Written once when the tracer loads in a process (one kernel's life)."""

    v: int
    kind: Literal["session"]
    session: Annotated[SessionId, Column("id")]
    pid: int
    started: float
    notebook: str | None  # absolute path when known
    cwd: str
    env: Annotated[Environment | None, Columns()]  # None: a writer that does not know it
    truncated: NotRequired[list[str]]  # fields cut to fit the journal line


class FileAccess(TypedDict):
    path: Annotated[str, Key("p")]  # absolute, normalised
    mode: Annotated[Literal["read", "write"], Key("m", default="read")]
    # None when the file is gone or unreadable after the cell
    sha256: Annotated[str | None, Key("h")]
    size: Annotated[int | None, Key("z")]
    via: Annotated[str, Key("w")]  # "open", "pyarrow", "polars", "duckdb", "sqlite3", ...
    mtime_ns: Annotated[int | None, Key("t")]


class Dependency(TypedDict):
    name: Annotated[str, Key("n")]
    # the latest earlier execution that bound ``name``
    execution: Annotated[ExecutionId, Key("x")]


class Mutation(TypedDict):
    name: Annotated[str, Key("n")]
    how: Annotated[str, Key("h")]  # "attr", "item", "call:append", "call:fillna(inplace)", ...
    # True: the registry says it mutates; False: only "may mutate"
    known: Annotated[bool, Key("k", default=True)]


class Metric(TypedDict):
    name: Annotated[str, Key("n")]
    value: Annotated[float, Key("v")]
    step: Annotated[int | None, Key("s")]
    # the part of the data it is measured on, e.g. "plan=pro"
    slice: NotRequired[Annotated[str, Key("sl")]]


def metric_key(name: str, part: str | None) -> str:
    """How a metric of one slice is named among a run's metrics: ``auc[plan=pro]``."""
    return f"{name}[{part}]" if part else name


class Check(TypedDict):
    message: Annotated[str, Key("m")]
    passed: Annotated[bool, Key("p")]


def source_hash(source: str) -> str:
    """An execution's ``source_hash``: blake2b-128 hex of the cell's raw source.

    The one definition: the tracer records it and the exporter and the staleness rules
    compute it for a notebook's cells to find their executions (cells without ids).
    """
    data = source.encode("utf-8", "surrogatepass")  # JSON may hold a lone surrogate
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class ExecutionRecord(TypedDict):
    """One run of one cell, written once when the cell finishes.

    ``Key``: each field's key in the short form of the line (``journal.slim``); ``v`` and
    ``kind`` are left out of it (a line without ``kind`` is an execution's short form).
    ``session`` and ``notebook`` are left out when they are those of the latest session
    record earlier in the same journal file.
    """

    v: int
    kind: Literal["execution"]
    id: Annotated[ExecutionId, Key("i")]  # left out when f"{session}:{seq}"
    session: Annotated[SessionId, Key("s")]
    seq: Annotated[int, Key("q")]  # 1, 2, ... within the session
    notebook: Annotated[str | None, Key("nb")]
    # from JupyterLab's execute request, or set by the runner
    cell_id: Annotated[CellId | None, Key("c")]
    execution_count: Annotated[int | None, Key("n", same_as="seq")]
    source_hash: Annotated[str, Key("h")]  # ``source_hash(raw cell source)``
    # the source, the first time this process records that hash (stored once per hash)
    source: Annotated[str | None, Rows("sources"), Key("src")]
    started: Annotated[float, Key("t")]
    duration_ms: Annotated[float, Key("d")]
    status: Annotated[Literal["ok", "error"], Key("st", default="ok")]
    error_name: Annotated[str | None, Key("en")]
    error_message: Annotated[str | None, Key("em")]
    defines: Annotated[list[str], Rows("definitions"), Key("def")]
    # "module.QualName" of the value of each defined name after the cell (the exporter
    # refuses values no serializer can pass); absent in records of older tracers
    types: NotRequired[Annotated[dict[str, str], Rows("value_types"), Key("ty")]]
    uses: Annotated[list[str], Rows("uses"), Key("u")]
    deletes: Annotated[list[str], Rows("deletes"), Key("del")]
    mutations: Annotated[list[Mutation], Rows("mutations"), Key("mu")]
    deps: Annotated[list[Dependency], Rows("edges"), Key("dp")]
    # and datasets, dataset_versions
    files: Annotated[list[FileAccess], Rows("accesses"), Key("f")]
    # secret-looking names are redacted before writing
    params: Annotated[dict[str, Any], Rows("params"), Key("p")]
    metrics: Annotated[list[Metric], Rows("metrics"), Key("me")]
    checks: Annotated[list[Check], Rows("checks"), Key("ch")]
    run: NotRequired[Annotated[RunId | None, Key("r")]]  # set inside pipeline steps
    step: NotRequired[Annotated[str | None, Key("sp")]]
    # fields cut to fit the journal line
    truncated: NotRequired[Annotated[list[str], Key("tr")]]


def new_execution(
    *,
    session: str,
    seq: int,
    source: str,
    started: float,
    duration_ms: float = 1.0,
    notebook: str | None = None,
    cell_id: str | None = None,
    execution_count: int | None = None,
    first: bool = True,
    status: Literal["ok", "error"] = "ok",
    error_name: str | None = None,
    error_message: str | None = None,
    defines: list[str] | None = None,
    uses: list[str] | None = None,
    deletes: list[str] | None = None,
    mutations: list[Mutation] | None = None,
    deps: list[Dependency] | None = None,
    files: list[FileAccess] | None = None,
    params: dict[str, Any] | None = None,
    metrics: list[Metric] | None = None,
    checks: list[Check] | None = None,
    types: dict[str, str] | None = None,
) -> ExecutionRecord:
    """An execution record for writers other than the tracer (imports, tests, benchmarks).

    ``id`` and ``source_hash`` follow the tracer's rules; the source is included only
    when ``first`` (the tracer writes each source once per process).
    """
    record = ExecutionRecord(
        v=SCHEMA,
        kind="execution",
        id=ExecutionId(f"{session}:{seq}"),
        session=SessionId(session),
        seq=seq,
        notebook=notebook,
        cell_id=CellId(cell_id) if cell_id is not None else None,
        execution_count=execution_count,
        source_hash=source_hash(source),
        source=source if first else None,
        started=started,
        duration_ms=duration_ms,
        status=status,
        error_name=error_name,
        error_message=error_message,
        defines=defines or [],
        uses=uses or [],
        deletes=deletes or [],
        mutations=mutations or [],
        deps=deps or [],
        files=files or [],
        params=params or {},
        metrics=metrics or [],
        checks=checks or [],
    )
    if types is not None:
        record["types"] = types
    return record


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
    schedule: NotRequired[str | None]  # the schedule that fired it (mlprod_nb.schedule)
    reason: NotRequired[str | None]  # why it fired: "cron 0 3 * * * at ...", "new data: ..."


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
    artifacts: Annotated[list[Artifact], Rows("step_artifacts")]
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


# -- schedules (mlprod_nb.schedule): every version of a schedule and every state of a fire
# is a record of its own; ``seq`` orders them (the store's last one + 1, assigned under the
# store's lock), so the latest is the one with the highest ``seq``, never a clock's say

CatchUp = Literal["latest", "all", "none"]  # fire times missed while nothing fired
FireStatus = Literal["pending", "started", "skipped", "ok", "failed", "missed"]
HookState = Literal["owed", "done"]  # a failed fire's on-failure command


class ScheduleRecord(TypedDict):
    """A version of a schedule: created, changed, paused, resumed or removed."""

    v: int
    kind: Literal["schedule"]
    seq: int  # among all the store's schedule records, from 1
    id: str  # "s-3f9a2c"
    name: str
    pipeline: str  # absolute path of the pipeline folder
    cron: str | None
    tz: str  # IANA zone the cron is read in
    on_new_data: bool
    params: dict[str, Any]  # secret-named values are stored redacted
    catch_up: CatchUp
    on_failure: str | None  # a shell command
    retries: int
    retry_delay: float  # seconds
    paused: bool
    created: float
    updated: float
    resumed: float | None  # last resumed: no fire time before it is caught up
    removed: bool
    truncated: NotRequired[list[str]]  # fields cut to fit the journal line


class Claimer(TypedDict):
    """Who claimed a fire (``pipeline.liveness.identity``), so others can tell it died."""

    host: str
    boot: str | None
    pid: int
    start: int | None


class ScheduleFireRecord(TypedDict):
    """A state of one fire time of a schedule (one attempt of it)."""

    v: int
    kind: Literal["schedule_fire"]
    seq: int
    schedule: str
    due: float  # the fire time
    attempt: int  # 0: the fire itself; 1, 2...: its retries
    reason: str  # "cron 0 3 * * * at 2026-12-02T03:00+01:00", "new data: ..."
    status: FireStatus
    run: RunId | None
    detail: str | None
    after: float  # "pending": not started before this
    hashes: dict[str, str]  # new-data fires: the input files' sha256 they fired on
    # who claimed it last: its run ("started"), then its on-failure command (hook "owed")
    claimer: Annotated[Claimer | None, Columns("claimer_")]
    hook: HookState | None  # failed with an on-failure command: owed until it ran
    truncated: NotRequired[list[str]]  # fields cut to fit the journal line


class ScheduleSeenRecord(TypedDict):
    """The input files' hashes a data-triggered schedule last fired on (or first saw)."""

    v: int
    kind: Literal["schedule_seen"]
    seq: int
    schedule: str
    hashes: dict[str, str]


Record = (
    SessionRecord
    | ExecutionRecord
    | RunRecord
    | StepRecord
    | RunEndRecord
    | RenameRecord
    | ScheduleRecord
    | ScheduleFireRecord
    | ScheduleSeenRecord
)

# the secret-name rule lives in one place (redaction.py); these names are its public face
from .redaction import REDACTED as REDACTED  # noqa: E402
from .redaction import is_secret_name as is_secret_name  # noqa: E402
from .redaction import redact as redact  # noqa: E402
