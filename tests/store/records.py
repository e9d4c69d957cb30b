"""Journal records as the tracer and the runner write them, for tests."""

from __future__ import annotations

import hashlib
from typing import Any

from mlprod_nb.records import SCHEMA, ExecutionRecord, SessionRecord


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
    source = fields.pop("source_text", f"x{seq} = {seq}")
    record: dict[str, Any] = {
        "v": SCHEMA,
        "kind": "execution",
        "id": f"{name}:{seq}",
        "session": name,
        "seq": seq,
        "notebook": notebook,
        "cell_id": f"cell-{seq}",
        "execution_count": seq,
        "source_hash": hashlib.blake2b(source.encode(), digest_size=16).hexdigest(),
        "source": source,
        "started": 1000.0 + seq,
        "duration_ms": 1.5,
        "status": "ok",
        "error_name": None,
        "error_message": None,
        "defines": [f"x{seq}"],
        "uses": [],
        "deletes": [],
        "mutations": [],
        "deps": [],
        "files": [],
        "params": {},
        "metrics": [],
        "checks": [],
    }
    record.update(fields)
    return record  # type: ignore[return-value]
