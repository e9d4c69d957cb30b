"""Paths from requests, confined to the server's root directory.

A request names files relative to the root (``ServerApp.root_dir``). ``..``
components, absolute paths outside the root and symlinks resolving outside it
are refused before anything touches the file system beyond a ``stat``.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ..errors import MlprodError, NotFoundError
from ..paths import NAME_MAX, overlong_part

# Linux's limit on a whole path (see paths.NAME_MAX): refused up front, not failed in the OS
_PATH_MAX = 4096


class BadRequestError(MlprodError):
    """A request is malformed: a missing or invalid argument or body."""


class TooLargeError(BadRequestError):
    """A request body is larger than the server accepts."""


class PathForbiddenError(MlprodError):
    """A request names a path outside the server's root directory."""


class Root:
    """The server's root directory; turns request paths into absolute ones inside it."""

    def __init__(self, root_dir: str | Path) -> None:
        self.path = Path(root_dir).expanduser().resolve()

    def resolve(self, requested: str | None, *, what: str = "path") -> Path:
        """The absolute path of ``requested``, refusing anything outside the root."""
        if requested is None or not requested.strip():
            raise BadRequestError(f"missing {what}", hint=f"pass the {what} relative to the root")
        if "\0" in requested:
            raise BadRequestError(f"invalid {what}: contains a NUL byte")
        try:
            encoded = os.fsencode(requested)
        except UnicodeError:
            raise BadRequestError(f"invalid {what}: not a valid file name encoding") from None
        parts = PurePosixPath(requested.replace("\\", "/")).parts
        if len(encoded) > _PATH_MAX or overlong_part(requested) is not None:
            raise BadRequestError(
                f"{what} is too long",
                hint=f"a path has at most {_PATH_MAX} bytes and {NAME_MAX} bytes a component",
            )
        if ".." in parts:
            raise PathForbiddenError(
                f"{what} may not contain '..'",
                path=requested,
                hint="name files relative to the Jupyter root directory",
            )
        candidate = Path(requested)
        if not candidate.is_absolute():
            candidate = self.path / requested.lstrip("/")
        candidate = Path(os.path.normpath(candidate))
        if not self._inside(candidate.resolve()):
            raise PathForbiddenError(
                f"{what} is outside the Jupyter root directory",
                path=requested,
                hint=f"only files under {self.path} can be used",
            )
        return candidate

    def notebook(self, requested: str | None, *, exists: bool = True) -> Path:
        """An existing ``.ipynb`` file inside the root (or, unless ``exists``, where one
        may be: the request carries the content and the path names where it lives)."""
        path = self.resolve(requested, what="notebook path")
        if path.suffix != ".ipynb":
            raise BadRequestError("not a notebook (expected a .ipynb file)", path=requested)
        if path.is_dir() or (exists and not path.is_file()):
            raise NotFoundError("no such notebook", path=requested)
        return path

    def pipeline(self, requested: str | None) -> Path:
        """An existing pipeline folder (one holding ``pipeline.json``) inside the root."""
        path = self.resolve(requested, what="pipeline path")
        if path.name == "pipeline.json":
            path = path.parent
        if not (path / "pipeline.json").is_file():
            raise NotFoundError(
                "no pipeline here (no pipeline.json)",
                path=requested,
                hint="export the notebook first",
            )
        return path

    def relative(self, path: str | Path) -> str:
        """``path`` relative to the root (POSIX separators), or as given when outside."""
        try:
            return Path(path).relative_to(self.path).as_posix()
        except ValueError:
            return str(path)

    def _inside(self, path: Path) -> bool:
        return path == self.path or self.path in path.parents
