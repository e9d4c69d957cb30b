"""The source notebook file: read and checked in one place before anything uses it.

A notebook is plain JSON that other tools (or hands) may have written badly. Every
shape the exporter relies on is checked here, so a damaged notebook is one
``NotebookError`` naming the file, the cell (index and id) and what to do, never a
``TypeError`` further down or a value silently read wrong (``"tags": "step:two"``
read as the characters of a string).
"""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

from ..errors import NotebookError
from ..paths import NAME_MAX, overlong_part

CELL_TYPES = ("code", "markdown", "raw")
_REPAIR = "open it in JupyterLab and save it again, or restore it from version control"
_REPAIR_CELL = (
    "the file is damaged: restore it from version control, or fix that cell in a text "
    'editor (a cell is an object like {"cell_type": "code", "metadata": {}, "source": ""})'
)


def check_notebook_path(path: Path, *, exists: bool = True) -> None:
    """A notebook path that can be read: not a directory, no over-long name, existing
    (unless not ``exists``: the notebook's content comes from an editor, not the file)."""
    part = overlong_part(path)
    if part is not None:
        raise NotebookError(
            f"the notebook path has a name longer than {NAME_MAX} bytes ({part[:40]}...)",
            path=path,
            hint=f"rename it to at most {NAME_MAX} bytes",
        )
    if path.is_dir():
        raise NotebookError(
            "this is a directory, not a notebook file",
            path=path,
            hint="pass the path of the .ipynb file itself",
        )
    if exists and not path.exists():
        raise NotebookError(
            "notebook not found", path=path, hint="check the path of the .ipynb file"
        )


def _cell_error(path: Path, index: int, cell_id: str | None, problem: str) -> NotebookError:
    name = f"cell {index}" + (f" (id {cell_id!r})" if cell_id else "")
    return NotebookError(f"{name}: {problem}", path=path, cell_id=cell_id, hint=_REPAIR_CELL)


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return names.get(type(value), "null" if value is None else f"a {type(value).__name__}")


def _check_language(path: Path, metadata: dict[str, Any]) -> None:
    spec = metadata.get("kernelspec")
    info = metadata.get("language_info")
    for where, value in (("kernelspec", spec), ("language_info", info)):
        if value is not None and not isinstance(value, dict):
            raise NotebookError(
                f"metadata.{where} is {_kind(value)}, not an object", path=path, hint=_REPAIR
            )
    language = (spec or {}).get("language") or (info or {}).get("name")
    if language is not None and str(language).strip().lower() != "python":
        raise NotebookError(
            f"the notebook's kernel language is {language!r}, not Python",
            path=path,
            hint="mlprod-nb exports Python notebooks only; pick a Python kernel "
            "(Kernel > Change Kernel) if the code is Python",
        )


def _check_cell(path: Path, index: int, cell: object) -> None:
    if not isinstance(cell, dict):
        raise _cell_error(path, index, None, f"the cell is {_kind(cell)}, not an object")
    raw_id = cell.get("id")
    cell_id = raw_id if isinstance(raw_id, str) and raw_id else None
    if raw_id is not None and not isinstance(raw_id, str):
        raise _cell_error(path, index, None, f"its id is {_kind(raw_id)}, not a string")
    kind = cell.get("cell_type")
    if kind not in CELL_TYPES:
        raise _cell_error(
            path, index, cell_id, f"cell_type {kind!r} is not one of {', '.join(CELL_TYPES)}"
        )
    source = cell.get("source", "")
    if not isinstance(source, str) and not (
        isinstance(source, list) and all(isinstance(s, str) for s in source)
    ):
        raise _cell_error(
            path, index, cell_id, f"its source is {_kind(source)}, not a string or list of strings"
        )
    meta = cell.get("metadata", {})
    if not isinstance(meta, dict):
        raise _cell_error(path, index, cell_id, f"its metadata is {_kind(meta)}, not an object")
    tags = meta.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise NotebookError(
            f"cell {index}"
            + (f" (id {cell_id!r})" if cell_id else "")
            + f": its tags are {_kind(tags)}, not a list of strings",
            path=path,
            cell_id=cell_id,
            hint='write tags as a list, for example "tags": ["step:train"] '
            "(or set them again in JupyterLab's property inspector)",
        )


def read_notebook(path: Path) -> tuple[dict[str, Any], bytes]:
    """The notebook's JSON, checked, and its raw bytes; ``NotebookError`` otherwise."""
    check_notebook_path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NotebookError(
            "notebook not found", path=path, hint="check the path of the .ipynb file"
        ) from None
    except OSError as error:
        hint = "check that you may read it"
        if error.errno == errno.ENAMETOOLONG:
            hint = "shorten the path"
        raise NotebookError(
            f"cannot read notebook: {error.strerror}", path=path, hint=hint
        ) from None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise NotebookError(f"malformed notebook JSON: {error}", path=path, hint=_REPAIR) from None
    return check_notebook(data, path), raw


def content_notebook(content: object, path: Path) -> tuple[dict[str, Any], bytes]:
    """Notebook JSON sent by the editor (not yet saved to ``path``), checked as a file
    would be, and canonical bytes of it: what the pipeline's ``source_sha256`` hashes."""
    data = check_notebook(content, path)
    return data, json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def check_notebook(data: object, path: Path) -> dict[str, Any]:
    """``data`` if it is an nbformat 4 notebook of well-formed cells; ``NotebookError``
    naming the problem (and the cell) otherwise. ``path`` is where the notebook lives."""
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError(
            "not a notebook: no 'cells' list",
            path=path,
            hint="export needs an nbformat 4 .ipynb file",
        )
    version = data.get("nbformat", 4)
    if type(version) is not int:
        raise NotebookError(
            f"nbformat is {version!r}, not an integer",
            path=path,
            hint='set "nbformat": 4 (a number) in the file, or restore it from version control',
        )
    if version < 4:
        raise NotebookError(
            f"nbformat {version} is too old",
            path=path,
            hint="open and save the notebook in JupyterLab to upgrade it to nbformat 4",
        )
    metadata = data.get("metadata", {})
    if not isinstance(metadata, dict):
        raise NotebookError(
            f"the notebook's metadata is {_kind(metadata)}, not an object",
            path=path,
            hint=_REPAIR,
        )
    _check_language(path, metadata)
    for index, cell in enumerate(data["cells"]):
        _check_cell(path, index, cell)
    return data
