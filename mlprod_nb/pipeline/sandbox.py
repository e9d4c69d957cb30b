"""A sandbox: a temporary copy of a notebook's folder that one run works in.

``mlprod-nb export --verify`` runs the notebook top to bottom and runs its pipeline,
and both write files at relative paths (``build/clean.parquet``). Each run gets its
own sandbox, because:

- running in the notebook's folder would leave both runs' files there (and replace
  the user's own ``build/`` outputs), which verify must not do;
- one shared copy would let the second run read what the first one wrote, hiding a
  pipeline that reads a file before the step that writes it has run;
- so the two runs can go side by side, which keeps verify's cost near one run.

The notebook's folder is copied (real copies: a hard link would let a run's
``open(path, "w")`` truncate the user's file), leaving out the store, version control,
virtual environments, caches and exported pipeline folders. Folders above it, up to
the project root, are stood in for by symlinks to their entries, so ``../data/x.csv``
still reads; a run that writes through such a path (or to an absolute path) writes
the real file, as the user's code asked. ``written()`` lists the files a run created
or changed inside the copy, found by comparing sizes and modification times.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .folder import MARKER

LEFT_OUT = frozenset(
    {
        ".mlprod",
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".ipynb_checkpoints",
        "node_modules",
        ".tox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
    }
)
Stamp = tuple[int, int]  # (size, mtime_ns)


def _left_out(folder: Path, name: str) -> bool:
    if name in LEFT_OUT:
        return True
    path = folder / name
    if path.is_symlink() or not path.is_dir():
        return False
    return (path / MARKER).exists() or (path / "pyvenv.cfg").exists()


def _stamps(folder: Path) -> dict[str, Stamp]:
    found: dict[str, Stamp] = {}
    for root, dirs, files in os.walk(folder):
        base = Path(root)
        dirs[:] = [d for d in dirs if not _left_out(base, d)]
        for name in files:
            path = base / name
            try:
                info = path.lstat()
            except OSError:
                continue
            found[path.relative_to(folder).as_posix()] = (info.st_size, info.st_mtime_ns)
    return found


@dataclass
class Sandbox:
    folder: Path  # the copy of the notebook's folder: the run's working directory
    files: int = 0  # files copied
    size: int = 0  # bytes copied
    before: dict[str, Stamp] = field(default_factory=dict)

    def written(self) -> list[str]:
        """Files (relative POSIX paths) created or changed in the copy since it was made."""
        after = _stamps(self.folder)
        return sorted(p for p, stamp in after.items() if self.before.get(p) != stamp)


def make(notebook_dir: Path, project_root: Path, base: Path) -> Sandbox:
    """Copy ``notebook_dir`` under ``base``, mirroring its place below ``project_root``."""
    try:
        relative = notebook_dir.relative_to(project_root)
    except ValueError:
        project_root, relative = notebook_dir, Path(".")
    target = base / relative
    box = Sandbox(target)

    def copy(source: str, dest: str) -> object:
        box.files += 1
        box.size += os.path.getsize(source)
        return shutil.copy2(source, dest)

    def ignore(directory: str, names: list[str]) -> set[str]:
        return {n for n in names if _left_out(Path(directory), n)}

    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(notebook_dir, target, symlinks=True, ignore=ignore, copy_function=copy)
    original, mirror = notebook_dir, target
    while original != project_root:  # stand-ins for the folders above, up to the root
        parent, child = original.parent, original.name
        for entry in parent.iterdir():
            if entry.name not in (child, ".mlprod") and not (mirror.parent / entry.name).exists():
                (mirror.parent / entry.name).symlink_to(entry)
        original, mirror = parent, mirror.parent
    box.before = _stamps(target)
    return box
