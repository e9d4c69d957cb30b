"""Validation gates on data, for notebook code: ``expect_schema`` and ``expect_drift``.

Each records a check on the running cell's execution (like ``require``) and raises
``CheckFailedError`` naming the columns when the data is not what the step expects, so
a pipeline step fails early, at its input, rather than with a wrong model.

``expect_drift`` compares the data's profile with a baseline: by default the same
expectation (same step, same name) in the last run of this pipeline that ended ok.
Each run keeps the profiles its expectations saw in ``runs/<id>/drift/<step>.json``.
Outside a pipeline run, or on a pipeline's first run, there is no baseline run: the
check passes and says so. Importing this module is cheap; DuckDB is loaded on first use.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import CheckFailedError, MlprodError
from ..paths import find_home
from ..records import Check
from ..tracer import context
from . import drift
from .profile import TableProfile, profile_of

LAST_OK_RUN = "last-ok-run"

# each spelling of a column type and the family it is checked as (lower case)
_TYPES = {
    **dict.fromkeys(("int", "int64", "bigint", "long"), "int64"),
    **dict.fromkeys(("int32", "integer", "int4"), "int32"),
    **dict.fromkeys(("int16", "smallint", "int2"), "int16"),
    **dict.fromkeys(("int8", "tinyint", "int1"), "int8"),
    **dict.fromkeys(("uint64", "ubigint"), "uint64"),
    **dict.fromkeys(("uint32", "uinteger"), "uint32"),
    **dict.fromkeys(("uint16", "usmallint"), "uint16"),
    **dict.fromkeys(("uint8", "utinyint"), "uint8"),
    **dict.fromkeys(("float", "float64", "double", "float8"), "float64"),
    **dict.fromkeys(("float32", "real", "float4"), "float32"),
    **dict.fromkeys(("bool", "boolean"), "bool"),
    **dict.fromkeys(("str", "string", "object", "varchar", "text", "utf8"), "string"),
    **dict.fromkeys(("category", "categorical"), "category"),
    **dict.fromkeys(("date", "date32[day]"), "date"),
    "time": "time",
}
_PREFIXES = (  # parameterised types: datetime64[ns, UTC], TIMESTAMP WITH TIME ZONE...
    ("datetime", "datetime"),
    ("timestamp", "datetime"),
    ("timedelta", "timedelta"),
    ("interval", "timedelta"),
    ("duration", "timedelta"),
    ("decimal", "decimal"),
)
_DUCKDB = {"FLOAT": "float32", "REAL": "float32", "INTEGER": "int32"}  # DuckDB's own meanings


def type_family(name: str, *, duckdb: bool = False) -> str:
    """The family a column type is compared as: ``int64`` for int64, Int64, BIGINT..."""
    if duckdb and name.upper() in _DUCKDB:
        return _DUCKDB[name.upper()]
    lower = name.strip().lower()
    for prefix, family in _PREFIXES:
        if lower.startswith(prefix):
            return family
    return _TYPES.get(lower, lower)


def _frame_columns(data: Any) -> list[tuple[str, str]] | None:
    """``(column, family)`` of a pandas, polars or pyarrow frame; None for anything else."""
    dtypes = getattr(data, "dtypes", None)
    names = getattr(data, "columns", None)
    if hasattr(data, "schema") and hasattr(data.schema, "names"):  # pyarrow
        return [(str(f.name), type_family(str(f.type))) for f in data.schema]
    if dtypes is None or names is None:
        return None
    if hasattr(dtypes, "items"):  # pandas: a Series of dtypes by column
        return [(str(c), type_family(str(t))) for c, t in dtypes.items()]
    return [(str(c), type_family(str(t))) for c, t in zip(names, dtypes, strict=True)]


def _columns_of(data: Any) -> tuple[list[tuple[str, str]], str]:
    """The data's columns with their families, and how to name the data in a message."""
    if isinstance(data, str | os.PathLike):
        path = os.fspath(data)
        if not Path(path).is_file():
            raise MlprodError(
                "no such data file", path=path, hint="check the path (relative to the notebook)"
            )
        from ..store import profiles

        unreadable: tuple[type[BaseException], ...] = (KeyError, *profiles.errors())
        try:
            schema = profiles.file_schema(path)
        except unreadable as error:
            raise MlprodError(
                f"cannot read the columns of this file ({str(error).splitlines()[0]})",
                path=path,
                hint="pass a DataFrame, or a CSV, TSV, parquet or JSON file",
            ) from None
        return [(n, type_family(t, duckdb=True)) for n, t in schema], path
    found = _frame_columns(data)
    if found is None:
        raise MlprodError(
            f"cannot check the schema of a {type(data).__name__}",
            hint="pass a DataFrame (pandas, polars, pyarrow) or the path of a data file",
        )
    return found, "the data"


def _gate(passed: bool, message: str, path: str | None, hint: str) -> None:
    context.add_check(Check(message=message, passed=passed))
    if not passed:
        raise CheckFailedError(message, path=path, hint=hint)


def expect_schema(data: Any, schema: Mapping[str, str], *, allow_extra: bool = False) -> None:
    """Fail the step unless ``data`` (a frame or a data file's path) has these columns with
    these types (``{"age": "int64", "plan": "string"}``; numpy, pandas and SQL spellings
    are accepted); columns not named are refused unless ``allow_extra``."""
    columns, what = _columns_of(data)
    actual = dict(columns)
    problems = []
    for name, expected in schema.items():
        want = type_family(str(expected))
        if name not in actual:
            problems.append(f"missing column {name!r} (expected {want})")
        elif actual[name] != want:
            problems.append(f"column {name!r} is {actual[name]}, expected {want}")
    extra = [n for n in actual if n not in schema]
    if extra and not allow_extra:
        listed = ", ".join(repr(n) for n in extra)
        problems.append(f"unexpected column(s) {listed} (allow_extra=True allows them)")
    path = what if what != "the data" else None
    if problems:
        message = f"schema of {what} differs from the expected: " + "; ".join(problems)
    else:
        message = f"schema of {what}: {len(schema)} expected column(s) present and typed"
    _gate(
        not problems,
        message,
        path,
        "fix the upstream data or step, or update the expected schema if the change is wanted",
    )


# -- drift ---------------------------------------------------------------------------------

_SAVE_LOCK = threading.Lock()


def _caller_name(data: Any) -> str:
    """The name the calling cell gave ``data`` (``expect_drift(df)`` -> "df"), if any."""
    frame = sys._getframe(2)
    for scope in (frame.f_locals, frame.f_globals):
        for name, value in scope.items():
            if value is data and not name.startswith("_"):
                return name
    return "data"


def _profile(data: Any, home: Path) -> tuple[TableProfile, str | None]:
    """The table profile of a frame or a flat data file (and the file's path)."""
    from ..store import profiles

    if isinstance(data, str | os.PathLike):
        path = os.fspath(data)
        found = profile_of(home, path)
        if found is None or "" not in found["tables"]:
            raise MlprodError(
                "cannot profile this file",
                path=path,
                hint="pass a DataFrame, or a CSV, TSV, parquet or JSON file that exists",
            )
        return found["tables"][""], path
    unreadable: tuple[type[BaseException], ...] = (TypeError, ValueError, *profiles.errors())
    try:
        return profiles.profile_frame(data), None  # type: ignore[return-value]
    except unreadable as error:
        raise MlprodError(
            f"cannot profile a {type(data).__name__} ({str(error).splitlines()[0]})",
            hint="pass a DataFrame (pandas, polars, pyarrow) or the path of a data file",
        ) from None


def _drift_file(home: Path, run: str, step: str) -> Path:
    return home / "runs" / run / "drift" / f"{step}.json"


def _read(path: Path) -> dict[str, Any]:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _save(home: Path, run: str, step: str, name: str, profile: TableProfile) -> None:
    """Keep what this run's expectation saw, for the runs after it."""
    target = _drift_file(home, run, step)
    with _SAVE_LOCK:
        saved = _read(target)
        saved[name] = profile
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temp.write_text(json.dumps(saved, separators=(",", ":")))
        os.replace(temp, target)


def _ok_runs_before(home: Path, run: str) -> Iterable[str]:
    """The runs of the same pipeline as ``run`` that ended ok before it, newest first."""
    runs = home / "runs"
    mine = _read(runs / run / "status.json")
    pipeline, started = mine.get("pipeline"), float(mine.get("started") or float("inf"))
    found = []
    for folder in runs.iterdir() if runs.is_dir() else ():
        summary = _read(folder / "summary.json")
        if (
            folder.name != run
            and summary.get("status") == "ok"
            and summary.get("pipeline") == pipeline
            and float(summary.get("started") or 0) < started
        ):
            found.append((float(summary.get("started") or 0), folder.name))
    return [name for _, name in sorted(found, reverse=True)]


def _saved(
    home: Path, runs: Iterable[str], step: str, name: str
) -> tuple[TableProfile | None, str]:
    """The profile ``name`` saved by step ``step`` in the first of ``runs`` that has one."""
    for candidate in runs:
        saved = _read(_drift_file(home, candidate, step))
        if name in saved:
            return saved[name], f"run {candidate}"
    return None, f"no earlier ok run of this pipeline checked {name!r}"


def _baseline(
    home: Path, baseline: Any, name: str, run: str | None, step: str | None
) -> tuple[TableProfile | None, str]:
    """The baseline profile and how to name it; None when there is none yet."""
    if isinstance(baseline, str) and baseline == LAST_OK_RUN:
        if run is None or step is None:
            return None, "no baseline run (not in a pipeline run)"
        return _saved(home, _ok_runs_before(home, run), step, name)
    if isinstance(baseline, str) and (home / "runs" / baseline).is_dir():
        return _saved(home, [baseline], step or "", name)
    profile, path = _profile(baseline, home)
    return profile, path or "the baseline frame"


def expect_drift(
    data: Any,
    baseline: Any = LAST_OK_RUN,
    max_psi: float = drift.THRESHOLD,
    *,
    name: str | None = None,
    columns: Iterable[str] | None = None,
) -> list[drift.ColumnDrift]:
    """Fail the step when ``data`` drifted from ``baseline``: a column added, removed or
    retyped, or a population stability index over ``max_psi`` (numbers binned on the
    baseline's deciles, other columns on their top values).

    ``baseline``: "last-ok-run" (this expectation in the last run of the pipeline that
    ended ok), a run id, a data file's path or a frame. ``name`` tells expectations of
    one step apart (default: the file's path, or the variable the cell passed);
    ``columns`` limits the check to those. Returns each column's drift.
    """
    home = find_home(Path.cwd()).home
    label = name or (os.fspath(data) if isinstance(data, str | os.PathLike) else _caller_name(data))
    profile, path = _profile(data, home)
    run, step = context.current_context()
    if run is not None and step is not None:
        _save(home, run, step, label, profile)
    base, origin = _baseline(home, baseline, label, run, step)
    if base is None:
        _gate(True, f"drift of {label}: {origin}; this one is the baseline of the next", path, "")
        return []
    wanted = set(columns) if columns is not None else None
    found = [d for d in drift.table_drift(base, profile) if wanted is None or d.column in wanted]
    bad = [d for d in found if d.change is not None or (d.psi is not None and d.psi > max_psi)]
    if bad:
        listed = "; ".join(d.describe() for d in bad)
        message = f"{label} drifted from {origin} (max PSI {max_psi:g}): {listed}"
    else:
        top = max((d for d in found if d.psi is not None), key=lambda d: d.psi or 0, default=None)
        most = f", largest {top.describe()}" if top is not None else ""
        message = f"{label}: no drift from {origin} (max PSI {max_psi:g}{most})"
    _gate(
        not bad,
        message,
        path,
        "find what changed upstream; if the change is expected, pass a larger max_psi or "
        "limit columns= (the next run that ends ok becomes the baseline)",
    )
    return found
