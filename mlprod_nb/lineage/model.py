"""What the store answers with: frozen records of executions, datasets, edges and runs.

Pure data (no duckdb, no I/O). Field names follow the REST contract
(docs/contracts.md) so the server can serialise them with ``as_json``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

EdgeKind = Literal["name", "file"]


@dataclass(frozen=True)
class FileAccess:
    path: str
    mode: Literal["read", "write"]
    sha256: str | None
    size: int | None
    via: str
    mtime_ns: int | None = None


@dataclass(frozen=True)
class Dependency:
    name: str
    execution: str  # the execution whose binding of ``name`` was used


@dataclass(frozen=True)
class Mutation:
    name: str
    how: str
    known: bool


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    step: int | None
    slice: str | None = None  # the part of the data it is measured on ("plan=pro")


@dataclass(frozen=True)
class Check:
    message: str
    passed: bool


_GENERATED_ID = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-|[0-9a-f-]{16,}$)", re.I)
_LABEL_CHARS = 28


def _summary(source: str) -> str:
    """A cell's heading comment, else its first line of code, cut to a label's length."""
    lines = [line.strip() for line in source.splitlines()]
    heading = next((x for x in lines if re.match(r"#+\s*\S", x) and not x.startswith("#!")), None)
    code = next((x for x in lines if x and not x.startswith(("#", "%"))), "")
    text = " ".join((re.sub(r"^#+\s*", "", heading) if heading else code).split())
    return text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 1].rstrip() + "…"


@dataclass(frozen=True)
class Execution:
    """One run of one cell."""

    id: str
    session: str
    seq: int
    notebook: str | None
    cell_id: str | None
    execution_count: int | None
    started: float
    duration_ms: float
    status: str
    error_name: str | None
    error_message: str | None
    source_hash: str
    defines: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    deletes: tuple[str, ...] = ()
    mutations: tuple[Mutation, ...] = ()
    deps: tuple[Dependency, ...] = ()
    files: tuple[FileAccess, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    metrics: tuple[Metric, ...] = ()
    checks: tuple[Check, ...] = ()
    run: str | None = None
    step: str | None = None
    source: str | None = None
    truncated: tuple[str, ...] = ()  # fields the tracer cut to fit its journal line
    # defined name -> "module.QualName" of its value after the cell (older records: none)
    types: Mapping[str, str] = field(default_factory=dict)

    @property
    def cell_key(self) -> str:
        """What identifies the cell: its id, else its source (cells without ids)."""
        return self.cell_id if self.cell_id else f"source:{self.source_hash}"

    @property
    def label(self) -> str:
        """How people know the cell: its id if someone chose it (``load``), else the first
        words of its heading comment or code (Lab's ids are UUIDs), then ``(In [n])``."""
        count = f" (In [{self.execution_count}])" if self.execution_count is not None else ""
        cell = self.cell_id or self.id
        if self.cell_id and _GENERATED_ID.match(self.cell_id):
            cell = _summary(self.source or "") or self.cell_id[:8]
            return f"cell '{cell}'{count}"
        return f"cell {cell}{count}"

    def reads(self) -> tuple[FileAccess, ...]:
        return tuple(f for f in self.files if f.mode == "read")

    def writes(self) -> tuple[FileAccess, ...]:
        return tuple(f for f in self.files if f.mode == "write")


_EXECUTION_FIELDS = frozenset(f.name for f in fields(Execution))


def execution_of(values: dict[str, Any]) -> Execution:
    """The execution with these field values (every field given), built without running
    the frozen ``__init__``: its ``object.__setattr__`` per field is ~10 µs an execution,
    a tenth of a second for a notebook of 10,000. Still frozen and equal to one built
    the usual way."""
    if values.keys() != _EXECUTION_FIELDS:
        raise TypeError(f"execution fields missing or unknown: {values.keys() ^ _EXECUTION_FIELDS}")
    made = object.__new__(Execution)
    made.__dict__.update(values)
    return made


@dataclass(frozen=True)
class Writer:
    """An execution (of any notebook or session) that wrote ``path`` at ``sha256``."""

    path: str
    sha256: str
    execution: str
    notebook: str | None
    cell_id: str | None
    started: float


@dataclass(frozen=True)
class DatasetVersion:
    sha256: str | None
    size: int | None
    readers: tuple[str, ...]
    writers: tuple[str, ...]


@dataclass(frozen=True)
class Dataset:
    path: str
    versions: tuple[DatasetVersion, ...]


@dataclass(frozen=True)
class Edge:
    source: str  # execution id
    target: str  # execution id
    kind: EdgeKind
    label: str  # the name, or the file's path


@dataclass(frozen=True)
class Session:
    """One kernel's life and the environment it ran in."""

    id: str
    pid: int | None
    started: float | None
    notebook: str | None
    cwd: str | None
    python: str | None
    platform: str | None
    hostname: str | None
    cpu_count: int | None
    memory_bytes: int | None
    gpus: tuple[str, ...]
    packages_hash: str | None
    git_commit: str | None
    git_dirty: bool | None


@dataclass(frozen=True)
class NotebookLineage:
    notebook: str
    executions: tuple[Execution, ...]
    datasets: tuple[Dataset, ...]
    edges: tuple[Edge, ...]
    cells: Mapping[str, str]  # cell id -> its latest execution id
    writers: tuple[Writer, ...] = ()  # writers outside this notebook of files it read
    sessions: tuple[Session, ...] = ()  # the sessions its executions ran in

    def execution(self, execution_id: str) -> Execution | None:
        for e in self.executions:
            if e.id == execution_id:
                return e
        return None


StaleKind = Literal["name", "file", "order"]


@dataclass(frozen=True)
class StaleReason:
    kind: StaleKind  # a name, a file, or a name only defined below the cell (order)
    detail: str
    name: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class StaleCell:
    cell_id: str | None
    execution: str
    execution_count: int | None
    reasons: tuple[StaleReason, ...]
    # stale: an input of its own changed; downstream: only through a stale cell above;
    # order: it uses a name only a cell below it defines (Run All would fail there)
    state: Literal["stale", "downstream", "order"] = "stale"


@dataclass(frozen=True)
class StepSummary:
    name: str
    status: str
    duration_ms: float | None
    cached: bool
    started: float | None = None
    cache_key: str | None = None
    cached_from: str | None = None
    notebook: str | None = None
    error: str | None = None
    cell_id: str | None = None
    artifacts: tuple[Mapping[str, str], ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunSummary:
    id: str
    pipeline: str
    status: str  # records.RunStatus: running | ok | failed | aborted | interrupted
    started: float
    finished: float | None
    duration_ms: float | None
    params: Mapping[str, Any]
    metrics: Mapping[str, float]  # last value of each metric logged in the run
    steps: tuple[StepSummary, ...]
    cached_steps: int
    source_notebook: str | None = None
    pipeline_hash: str | None = None
    resumed_from: str | None = None
    error: str | None = None
    planned_steps: tuple[str, ...] = ()
    schedule: str | None = None  # what fired it: a schedule id, "airflow:<dag id>"; None: by hand
    reason: str | None = None  # why it fired ("cron 0 3 * * * at ...", "new data: ...")


@dataclass(frozen=True)
class RunMetric:
    name: str
    value: float
    step: int | None  # training step given to log_metric
    pipeline_step: str | None
    execution: str
    slice: str | None = None


@dataclass(frozen=True)
class RunFile:
    pipeline_step: str | None
    execution: str
    path: str
    mode: str
    sha256: str | None
    size: int | None


@dataclass(frozen=True)
class RunDetail:
    """A run with everything recorded about it."""

    summary: RunSummary
    metric_history: tuple[RunMetric, ...]
    files: tuple[RunFile, ...]
    executions: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.summary.id

    @property
    def status(self) -> str:
        return self.summary.status


def as_json(value: Any) -> Any:
    """Plain JSON-ready data from these records: the converter the REST answers use."""
    from ..jsondata import jsonable

    return jsonable(value)
