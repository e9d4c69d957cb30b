"""Journal records as the tracer and the runner write them, for tests."""

from __future__ import annotations

from typing import Any

from mlprod_nb.records import SCHEMA, ExecutionRecord, SessionRecord, new_execution


def session(name: str, notebook: str | None = None) -> SessionRecord:
    return {
        "v": SCHEMA,
        "kind": "session",
        "session": name,  # type: ignore[typeddict-item]
        "pid": 123,
        "started": 1000.0,
        "notebook": notebook,
        "cwd": "/tmp",
        "env": {
            "python": "3.11.7",
            "implementation": "CPython",
            "platform": "linux",
            "hostname": "box",
            "cpu_count": 2,
            "memory_bytes": 1 << 30,
            "gpus": [],
            "packages_hash": "p" * 64,
            "packages": [("duckdb", "2.0.1"), ("pandas", "3.1")],
            "git": {"root": "/tmp", "commit": "abc", "dirty": True},
        },
    }


def execution(
    name: str, seq: int, notebook: str | None = "/nb/a.ipynb", **fields: Any
) -> ExecutionRecord:
    """An execution of session ``name``; ``fields`` override any field, even with values
    of the wrong type (tests of bad input)."""
    record = new_execution(
        session=name,
        seq=seq,
        source=fields.pop("source_text", f"x{seq} = {seq}"),
        started=1000.0 + seq,
        duration_ms=1.5,
        notebook=notebook,
        cell_id=f"cell-{seq}",
        execution_count=seq,
        defines=[f"x{seq}"],
    )
    record.update(fields)  # type: ignore[typeddict-item]
    return record
