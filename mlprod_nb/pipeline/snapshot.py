"""What a run ran, kept: its manifest and step notebooks, stored by content hash.

``take`` copies the pipeline folder's ``pipeline.json`` and each step's generated
(un-executed) notebook into ``.mlprod/objects/<sha256[:2]>/<sha256>`` once per hash
(written to a temporary file, then renamed: a reader never sees half an object) and
answers the references a run's ``status.json`` and ``summary.json`` keep under
``snapshot``. With the run's parameters those files are enough to execute it again,
whatever was exported into the folder since. The source notebook is kept by hash
only: it holds the user's outputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any, TypedDict

from ..errors import NotFoundError
from ..hashing import sha256_file
from ..paths import Layout

OBJECTS = "objects"


class Snapshot(TypedDict):
    manifest: str  # sha256 of pipeline.json
    steps: dict[str, str]  # step -> sha256 of its generated notebook
    source_notebook: str  # its path
    source_sha256: str | None  # its content when the run started (None: gone)


def object_path(layout: Layout, digest: str) -> Path:
    return layout.home / OBJECTS / digest[:2] / digest


def keep(layout: Layout, data: bytes) -> str:
    """Store ``data`` under its sha256 unless it is there already; its sha256."""
    digest = hashlib.sha256(data).hexdigest()
    path = object_path(layout, digest)
    if path.exists():
        return digest
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{digest}.{os.getpid()}.{threading.get_ident()}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)
    return digest


def read(layout: Layout, digest: str) -> bytes:
    """A kept object's bytes."""
    try:
        return object_path(layout, digest).read_bytes()
    except FileNotFoundError:
        raise NotFoundError(
            f"the store keeps no object {digest[:12]}",
            path=object_path(layout, digest),
            hint="it was deleted from .mlprod/objects; the run's files cannot be shown",
        ) from None


def read_json(layout: Layout, digest: str) -> dict[str, Any]:
    """A kept manifest or notebook ({} when the object is not a JSON object)."""
    data = json.loads(read(layout, digest))
    return data if isinstance(data, dict) else {}


def take(layout: Layout, folder: Path, source: str) -> Snapshot:
    """Keep the pipeline folder's manifest and step notebooks; the run's references
    (``source``: the source notebook the run found, hashed as it is now)."""
    from . import manifest as mf  # the runner's: readers of kept objects need none of it

    data = (folder / mf.FILENAME).read_bytes()
    manifest = mf.Manifest.from_json(json.loads(data))
    steps = {s.name: keep(layout, (folder / s.notebook).read_bytes()) for s in manifest.steps}
    return Snapshot(
        manifest=keep(layout, data),
        steps=steps,
        source_notebook=source,
        source_sha256=sha256_file(source),
    )
