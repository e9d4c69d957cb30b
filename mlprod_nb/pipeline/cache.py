"""The step cache: which earlier successful step had the same key, and its artifacts.

A step's key is the hash of its code, the parameters it uses and its input
artifacts' hashes (the *prekey*, known before it runs) plus the content hashes of
the data files it read (known from the tracer once it ran). An entry is a small
JSON file ``.mlprod/cache/<prekey>/<run>-<step>.json`` written atomically, so the
runner never needs the store's lock to look a step up: a lookup re-hashes the
files the entry says were read (and written) and compares. The runner takes a
key only once the step's upstream steps finished, so those hashes are of the
files as the step would read them now.

A run record keeps every part of each step's key (``StepKey.parts``), so
``--resume`` can say which part changed, not only that the key did.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..hashing import sha256_file

KEY_VERSION = 1


def prekey(code_hash: str, params: Mapping[str, Any], inputs: Mapping[str, str]) -> str:
    """The part of a step's key known before it runs."""
    blob = json.dumps(
        {"v": KEY_VERSION, "code": code_hash, "params": params, "inputs": inputs},
        sort_keys=True,
        default=repr,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def full_key(pre: str, reads: Mapping[str, str | None]) -> str:
    blob = json.dumps({"pre": pre, "reads": reads}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def digest(value: Any) -> str:
    """A parameter value as the run record keeps it in a key: a hash, never the value."""
    blob = json.dumps(value, sort_keys=True, default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class StepKey:
    """The parts of a step's key known before it runs."""

    code: str  # the step notebook's code hash
    params: Mapping[str, Any]  # the parameters it uses, secrets as their HMAC
    inputs: Mapping[str, str]  # its input artifacts: name -> sha256

    @cached_property
    def pre(self) -> str:
        return prekey(self.code, self.params, self.inputs)

    def parts(
        self,
        reads: Mapping[str, str | None] | None = None,
        writes: Mapping[str, str | None] | None = None,
        *,
        traced: bool = True,
    ) -> dict[str, Any]:
        """Every part of the key, for the run record (parameters as digests)."""
        return {
            "pre": self.pre,
            "code": self.code,
            "params": {name: digest(value) for name, value in self.params.items()},
            "inputs": dict(self.inputs),
            "reads": dict(reads or {}),
            "writes": dict(writes or {}),
            "traced": traced,
        }


@dataclass(frozen=True)
class Entry:
    prekey: str
    key: str
    step: str
    run: str
    created: float
    artifacts: list[dict[str, str]]  # records.Artifact
    notebook: str | None
    reads: dict[str, str | None] = field(default_factory=dict)  # data files read: sha256
    writes: dict[str, str | None] = field(default_factory=dict)  # files written: sha256
    traced: bool = True  # False: the tracer's record was unavailable (files unknown)
    metrics: dict[str, float] = field(default_factory=dict)  # what the step logged


class Cache:
    def __init__(self, home: Path) -> None:
        self.folder = home / "cache"

    def put(self, entry: Entry) -> None:
        folder = self.folder / entry.prekey
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"{entry.run}-{entry.step}.json"
        temp = folder / f".{final.name}.{os.getpid()}.tmp"
        temp.write_text(json.dumps(asdict(entry)))
        os.replace(temp, final)

    def entries(self, pre: str) -> list[Entry]:
        folder = self.folder / pre
        found: list[Entry] = []
        try:
            files = list(folder.glob("*.json"))
        except OSError:
            return []
        for file in files:
            try:
                found.append(Entry(**json.loads(file.read_text())))
            except (OSError, ValueError, TypeError):
                continue  # a damaged entry is a miss, never an error
        return sorted(found, key=lambda e: e.created, reverse=True)

    def lookup(self, pre: str) -> Entry | None:
        """The newest entry whose artifacts exist and whose files still hash the same."""
        for entry in self.entries(pre):
            if all(_intact(a) for a in entry.artifacts) and _same(entry.reads, entry.writes):
                return entry
        return None


def _intact(artifact: Mapping[str, str]) -> bool:
    return sha256_file(artifact["path"]) == artifact["sha256"]


def _same(*recorded: Mapping[str, str | None]) -> bool:
    return all(sha256_file(path) == sha for files in recorded for path, sha in files.items())
