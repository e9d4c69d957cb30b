"""``pipeline.json``: the exported pipeline's manifest, read by the runner and the server."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import NotFoundError, PipelineError
from .params import Parameter

FORMAT = 1
FILENAME = "pipeline.json"


@dataclass(frozen=True)
class Input:
    name: str
    producer: str  # the step that defines the value


@dataclass(frozen=True)
class Step:
    name: str
    notebook: str  # relative to the pipeline folder
    cells: tuple[str, ...]  # source cell ids, in order
    inputs: tuple[Input, ...]
    outputs: tuple[str, ...]
    parameters: tuple[str, ...]  # the pipeline parameters this step uses
    checks: tuple[str, ...]  # cell ids tagged check
    code_hash: str  # sha256 of the step notebook's code (parameter values excluded)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    names: tuple[str, ...]  # values crossing the edge
    after: bool  # an explicit after: tag asked for it
    files: tuple[str, ...] = ()  # files the target reads that the source writes

    @property
    def reason(self) -> str:
        parts = [f"uses {', '.join(self.names)}"] if self.names else []
        if self.files:
            parts.append(f"reads {', '.join(self.files)}")
        if self.after:
            parts.append(f"after:{self.source}")
        return "; ".join(parts)


@dataclass(frozen=True)
class Value:
    name: str
    producer: str
    consumers: tuple[str, ...]
    serializer: str  # "auto": chosen by type when saved (see artifacts.SERIALIZERS)


@dataclass(frozen=True)
class Manifest:
    version: str
    source: str  # absolute path of the source notebook
    source_sha256: str
    parameters: tuple[Parameter, ...]
    steps: tuple[Step, ...]  # in a topological order
    edges: tuple[Edge, ...]
    values: tuple[Value, ...]
    warnings: tuple[str, ...]
    setup_imports: tuple[str, ...] = ()  # imported ahead of time to warm new kernels

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        names = ", ".join(s.name for s in self.steps)
        raise NotFoundError(f"no step named {name!r}", step=name, hint=f"steps are: {names}")

    def upstream(self, name: str) -> list[str]:
        return [e.source for e in self.edges if e.target == name]

    def downstream_closure(self, names: set[str]) -> set[str]:
        """``names`` and every step that depends on one of them, transitively."""
        result = set(names)
        for step in self.steps:  # topological order: one pass suffices
            if any(src in result for src in self.upstream(step.name)):
                result.add(step.name)
        return result

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "mlprod_nb_version": self.version,
            "source": {"path": self.source, "sha256": self.source_sha256},
            "parameters": [p.to_json() | {"cell_id": p.cell_id} for p in self.parameters],
            "steps": [
                {
                    "name": s.name,
                    "notebook": s.notebook,
                    "cells": list(s.cells),
                    "inputs": [{"name": i.name, "from": i.producer} for i in s.inputs],
                    "outputs": list(s.outputs),
                    "parameters": list(s.parameters),
                    "checks": list(s.checks),
                    "code_hash": s.code_hash,
                }
                for s in self.steps
            ],
            "edges": [
                {
                    "source": e.source,
                    "target": e.target,
                    "names": list(e.names),
                    "after": e.after,
                    "files": list(e.files),
                    "reason": e.reason,
                }
                for e in self.edges
            ],
            "values": [
                {
                    "name": v.name,
                    "producer": v.producer,
                    "consumers": list(v.consumers),
                    "serializer": v.serializer,
                }
                for v in self.values
            ],
            "warnings": list(self.warnings),
            "setup_imports": list(self.setup_imports),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            version=data["mlprod_nb_version"],
            source=data["source"]["path"],
            source_sha256=data["source"]["sha256"],
            parameters=tuple(
                Parameter(p["name"], p["default"], p["type"], p.get("cell_id", ""))
                for p in data["parameters"]
            ),
            steps=tuple(
                Step(
                    name=s["name"],
                    notebook=s["notebook"],
                    cells=tuple(s["cells"]),
                    inputs=tuple(Input(i["name"], i["from"]) for i in s["inputs"]),
                    outputs=tuple(s["outputs"]),
                    parameters=tuple(s["parameters"]),
                    checks=tuple(s["checks"]),
                    code_hash=s["code_hash"],
                )
                for s in data["steps"]
            ),
            edges=tuple(
                Edge(
                    e["source"],
                    e["target"],
                    tuple(e["names"]),
                    bool(e["after"]),
                    tuple(e.get("files", ())),
                )
                for e in data["edges"]
            ),
            values=tuple(
                Value(v["name"], v["producer"], tuple(v["consumers"]), v["serializer"])
                for v in data["values"]
            ),
            warnings=tuple(data.get("warnings", [])),
            setup_imports=tuple(data.get("setup_imports", [])),
        )


def load(path: str | Path) -> tuple[Manifest, Path]:
    """The manifest of a pipeline folder (or of its ``pipeline.json``) and the folder."""
    folder = Path(path).expanduser().resolve()
    if folder.name == FILENAME:
        folder = folder.parent
    file = folder / FILENAME
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        raise NotFoundError(
            "no pipeline here (pipeline.json is missing)",
            path=file,
            hint="create it with `mlprod-nb export NOTEBOOK`",
        ) from None
    except OSError as error:
        raise PipelineError(
            f"cannot read pipeline.json: {error.strerror}",
            path=file,
            hint="pass the pipeline folder written by `mlprod-nb export` (check the path)",
        ) from None
    except ValueError as error:
        raise PipelineError(
            f"cannot read pipeline.json: {error}",
            path=file,
            hint="export the notebook again",
        ) from None
    if data.get("format") != FORMAT:
        raise PipelineError(
            f"pipeline.json format {data.get('format')!r} is not supported",
            path=file,
            hint="export the notebook again with this mlprod-nb version",
        )
    try:
        return Manifest.from_json(data), folder
    except (KeyError, TypeError) as error:
        raise PipelineError(
            f"pipeline.json is incomplete ({error})",
            path=file,
            hint="export the notebook again",
        ) from None
