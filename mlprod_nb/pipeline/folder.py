"""The pipeline folder on disk: export's marker, and replacing a folder without losing files.

Export writes ``.mlprod-export.json`` in the folder it creates: the tool, its version and
every file it wrote with its sha256. A later export replaces only a folder carrying that
marker (or an empty one), and only the files the marker lists and that are unchanged since;
the user's own files in it (a ``params.yaml``, notes, subfolders) are carried over. Anything
else at the output path is an ``OutputPathError``; with ``force`` the old folder (or file) is
moved aside to ``<name>.backup-<time>`` next to it and a fresh folder is written.

The new folder is built beside the old one (a hidden ``.<name>.mlprod-tmp-<pid>-*``
folder: the new files, then hard links to the user's files) and swapped in with one
atomic ``renameat2(RENAME_EXCHANGE)``, so a process killed at any point leaves either the
old folder or the new one, whole. Where the exchange is not available, two renames are used;
a process killed between them leaves the old folder aside, and the next export puts it back.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

from .._version import __version__
from ..errors import OutputPathError, OutputWriteError
from ..paths import NAME_MAX, overlong_part

MARKER = ".mlprod-export.json"
TOOL = "mlprod-nb"

_TEMP = ".mlprod-tmp-"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def check_path(path: Path, what: str = "output path") -> None:
    """Refuse a path with a component over 255 bytes (the OS would fail half-way)."""
    part = overlong_part(path)
    if part is not None:
        raise OutputPathError(
            f"the {what} has a name longer than {NAME_MAX} bytes ({part[:40]}...)",
            path=path,
            hint=f"shorten that name to at most {NAME_MAX} bytes (pass another -o)",
        )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_file(path: Path, data: bytes) -> None:
    """The one place export writes a file's bytes."""
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _walk(folder: Path) -> list[str]:
    """Relative POSIX paths of the files (and symlinks) under ``folder``."""
    found = []
    for root, dirs, files in os.walk(folder):
        base = Path(root)
        for name in files + [d for d in dirs if (base / d).is_symlink()]:
            found.append((base / name).relative_to(folder).as_posix())
    return found


def _owned(folder: Path) -> dict[str, str] | None:
    """The files export wrote in ``folder`` (path -> sha256), or None if it did not write it."""
    marker = folder / MARKER
    if marker.is_file():
        try:
            data = json.loads(marker.read_text())
            files = data["files"]
            if data.get("tool") == TOOL and isinstance(files, dict):
                return {str(k): str(v) for k, v in files.items() if ".." not in Path(k).parts}
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return None
    # written by an export from before the marker: pipeline.json and step notebooks only
    present = _walk(folder)
    legacy = [p for p in present if p == "pipeline.json" or p.startswith("steps/")]
    if "pipeline.json" not in present or legacy != present:
        return None
    if any(not p.endswith(".ipynb") for p in present if p.startswith("steps/")):
        return None
    try:
        if "mlprod_nb_version" not in json.loads((folder / "pipeline.json").read_text()):
            return None
    except (OSError, ValueError):
        return None
    return {p: _sha256((folder / p).read_bytes()) for p in present}


def _conflict(target: Path, files: Mapping[str, bytes]) -> str | None:
    """Why export may not replace ``target`` (None: it may)."""
    if not target.is_dir() or target.is_symlink():
        return "a file is in the way" if target.exists() or target.is_symlink() else None
    present = _walk(target)
    if not present and not any(target.iterdir()):
        return None
    owned = _owned(target)
    if owned is None:
        return "it holds files that mlprod-nb export did not write"
    for path, digest in owned.items():
        file = target / path
        if file.is_file() and not file.is_symlink() and _sha256(file.read_bytes()) != digest:
            return f"{path} was changed since it was exported"
    for path in files:
        if path not in owned and (target / path).exists():
            return f"{path} is not a file export wrote, and the new export would replace it"
    return None


def _mirror(source: Path, dest: Path, skip: set[str]) -> None:
    """Hard-link (or copy) the user's entries of ``source`` into ``dest``, skipping ``skip``."""
    for root, dirs, files in os.walk(source):
        base = Path(root)
        rel = base.relative_to(source)
        for name in dirs + files:
            item = base / name
            relative = (rel / name).as_posix()
            out = dest / relative
            if relative in skip or relative == MARKER:
                continue
            if item.is_symlink():
                out.parent.mkdir(parents=True, exist_ok=True)
                out.symlink_to(os.readlink(item))
            elif item.is_dir():
                out.mkdir(parents=True, exist_ok=True)
            else:
                out.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(item, out)
                except OSError:
                    shutil.copy2(item, out)
        dirs[:] = [d for d in dirs if not (base / d).is_symlink()]


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories atomically; False when the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(a))


def _sweep(target: Path) -> None:
    """Remove temp folders of earlier exports to ``target`` whose process died."""
    for leftover in target.parent.glob(f".{target.name}{_TEMP}*"):
        pid = leftover.name[len(target.name) + len(_TEMP) + 1 :].split("-", 1)[0]
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            if leftover.name.endswith("-old") and not target.exists():
                os.rename(leftover, target)  # killed between the two renames: put it back
            else:
                shutil.rmtree(leftover, ignore_errors=True)
        except (ValueError, OSError):
            continue


def _new_temp(target: Path) -> Path:
    """An empty folder beside ``target``, with the mode of the folder it will replace.

    (``tempfile.mkdtemp`` would make it 0700; a new one gets the umask's mode.)
    """
    while True:
        temp = target.with_name(f".{target.name}{_TEMP}{os.getpid()}-{secrets.token_hex(4)}")
        try:
            temp.mkdir()
        except FileExistsError:
            continue
        except OSError as error:
            raise _write_error(error, target) from None
        if target.is_dir():
            os.chmod(temp, target.stat().st_mode & 0o7777)
        return temp


def _backup(target: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = target.with_name(f"{target.name}.backup-{stamp}")
    n = 1
    while backup.exists() or backup.is_symlink():
        n += 1
        backup = target.with_name(f"{target.name}.backup-{stamp}-{n}")
    os.rename(target, backup)
    return backup


def _write_error(error: OSError, target: Path) -> OutputWriteError:
    where = error.filename or target
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return OutputWriteError(
            "no space left on the device while writing the pipeline folder",
            path=where,
            hint=f"free some space (or pass another -o on a disk with room) and export again; "
            f"{target} was left as it was",
        )
    return OutputWriteError(
        f"cannot write the pipeline folder: {error.strerror}",
        path=where,
        hint=f"check the permissions of {target.parent} (or pass another -o); "
        f"{target} was left as it was",
    )


def replace_file(target: Path, data: bytes, *, aside: bool = False) -> Path | None:
    """Write one file beside a pipeline folder (an Airflow DAG) atomically: a temp file
    renamed over ``target`` (the caller checked that it may replace it). With ``aside``,
    what is there is first moved to ``<name>.backup-<time>``: returned."""
    temp = target.with_name(f".{target.name}{_TEMP}{os.getpid()}-{secrets.token_hex(4)}")
    backup = None
    try:
        if aside and (target.exists() or target.is_symlink()):
            backup = _backup(target)
        _write_file(temp, data)
        os.replace(temp, target)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise _write_error(error, target) from None
    return backup


def replace_folder(target: Path, files: Mapping[str, bytes], *, force: bool = False) -> Path | None:
    """Write ``files`` (relative POSIX path -> bytes) as the folder ``target``.

    Returns the backup the old folder was moved to (only with ``force``), else None.
    """
    check_path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputPathError(
            "a parent of the output folder is a file",
            path=target.parent,
            hint="pass another -o",
        ) from None
    except OSError as error:
        raise _write_error(error, target) from None
    _sweep(target)
    backup = None
    why = _conflict(target, files)
    if why is not None:
        if not force:
            kind = "folder" if target.is_dir() else "file"
            raise OutputPathError(
                f"the output {kind} exists and export may not replace it: {why}",
                path=target,
                hint="pass another -o, or --force to move it aside to "
                f"{target.name}.backup-<time> and write a fresh pipeline",
            )
        try:
            backup = _backup(target)
        except OSError as error:
            raise _write_error(error, target) from None
    owned = _owned(target) if target.is_dir() else None
    temp = _new_temp(target)
    try:
        for path, data in files.items():
            (temp / path).parent.mkdir(parents=True, exist_ok=True)
            _write_file(temp / path, data)
        marker = {
            "tool": TOOL,
            "version": __version__,
            "files": {path: _sha256(data) for path, data in files.items()},
        }
        _write_file(temp / MARKER, (json.dumps(marker, indent=2) + "\n").encode())
        if owned is None:
            os.rename(temp, target)  # no folder, or an empty one: nothing to carry over
            return backup
        _mirror(target, temp, set(owned) | set(files))
        if not _exchange(temp, target):
            aside = target.with_name(f".{target.name}{_TEMP}{os.getpid()}-old")
            os.rename(target, aside)
            try:
                os.rename(temp, target)
            except OSError:
                os.rename(aside, target)
                raise
            temp = aside
        # files the user added while we copied: carry them over before dropping the old folder
        for path in _walk(temp):
            if path not in owned and path != MARKER and not (target / path).exists():
                (target / path).parent.mkdir(parents=True, exist_ok=True)
                os.rename(temp / path, target / path)
    except OSError as error:
        shutil.rmtree(temp, ignore_errors=True)
        raise _write_error(error, target) from None
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    shutil.rmtree(temp, ignore_errors=True)
    return backup
