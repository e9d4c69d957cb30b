"""The artifact store (``--artifacts URL``): run files for workers that do not share its disk.

A path under the driver's store home (``.mlprod/``) has one place at the URL, the
same relative path (``runs/<id>/artifacts/<step>/x.parquet`` ->
``<url>/runs/<id>/artifacts/<step>/x.parquet``), and one place in a worker's staging
folder, which stands in for the home there. The driver puts the step notebooks and
the input artifacts there and gets back what a step wrote (artifacts, its executed
notebook, its kernel's journal); the workers do the reverse (``daskworker``). Files
go through ``fsspec``, so ``file://``, ``s3://`` (with ``s3fs``) and the other
fsspec protocols work; content hashes stay the cache keys.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import NotFoundError, RunFailedError


class ArtifactStore:
    def __init__(self, url: str) -> None:
        import fsspec

        self.url = url.rstrip("/")
        try:
            self.fs: Any
            self.fs, self.root = fsspec.core.url_to_fs(self.url)
        except (ImportError, ValueError) as error:
            raise NotFoundError(
                f"cannot use the artifact store {url}: {error}",
                hint="install the fsspec backend of its protocol (s3://: pip install s3fs)",
            ) from None

    def at(self, relative: PurePosixPath) -> str:
        return f"{self.root.rstrip('/')}/{relative.as_posix()}"

    def put(self, local: Path, relative: PurePosixPath) -> None:
        """Copy a file (or a folder's files) to ``relative`` under the URL."""
        files = sorted(p for p in local.rglob("*") if p.is_file()) if local.is_dir() else [local]
        with _reaching():
            for file in files:
                target = self.at(relative / file.relative_to(local))
                self.fs.makedirs(posixpath.dirname(target), exist_ok=True)  # object stores: no-op
                self.fs.put_file(str(file), target)

    def get(self, relative: PurePosixPath, local: Path) -> None:
        """Copy the file (or folder) at ``relative`` under the URL to ``local``."""
        source = self.at(relative)
        with _reaching():
            self.fs.invalidate_cache(source)  # workers wrote there since this process listed it
            if self.fs.isdir(source):
                for found in self.fs.find(source):
                    inner = PurePosixPath(found).relative_to(source)
                    self._get_file(found, local / inner)
            else:
                self._get_file(source, local)

    def has(self, relative: PurePosixPath) -> bool:
        with _reaching():
            return bool(self.fs.exists(self.at(relative)))

    def _get_file(self, source: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        self.fs.get_file(source, str(local))

    def unreachable(self, error: Exception, where: str) -> RunFailedError:
        """The error for a store that ``where`` cannot read or write, naming both."""
        cause = error.__cause__ if isinstance(error, StoreIOError) and error.__cause__ else error
        return RunFailedError(
            f"{where} cannot reach the artifact store {self.url}: {type(cause).__name__}: {cause}",
            hint="check the URL given to --artifacts and that every worker may read and write it",
        )


class StoreIOError(OSError):
    """Reading or writing the store failed (the backend's own error is its ``__cause__``)."""


@contextmanager
def _reaching() -> Iterator[None]:
    try:
        yield
    except Exception as error:  # a backend's own errors: botocore's, for one, are no OSError
        raise StoreIOError(str(error)) from error


def relative(path: Path, home: Path) -> PurePosixPath:
    """Where a file of the store ``home`` is under the URL (and in a worker's staging folder)."""
    return PurePosixPath(path.relative_to(home).as_posix())


def moved(paths: Iterable[tuple[str, str]], home: Path, to: Path) -> dict[str, str]:
    """``{name: path}`` with every path under ``home`` moved to the same place under ``to``."""
    return {name: str(to / relative(Path(path), home)) for name, path in paths}
