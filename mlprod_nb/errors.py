"""The one base exception of mlprod-nb, and the errors users can see.

Every error carries its facts as attributes (``path``, ``cell_id``, ``step``,
``run_id``) and builds its message in one place, ending with what to do next.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class MlprodError(Exception):
    """Base of every error mlprod-nb shows to a user.

    ``hint`` says what to do next; ``exit_code`` is what the CLI exits with.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        path: str | Path | None = None,
        cell_id: str | None = None,
        step: str | None = None,
        run_id: str | None = None,
        cells: Sequence[str] = (),
    ) -> None:
        self.message = message
        self.hint = hint
        self.path = str(path) if path is not None else None
        self.cell_id = cell_id
        self.step = step
        self.run_id = run_id
        # every cell to blame when it takes several to fix (a cycle's tag cells);
        # cell_id is the first of them
        self.cells = tuple(cells) or ((cell_id,) if cell_id else ())
        super().__init__(self.render())

    def render(self) -> str:
        where = [
            f"{label} {value}"
            for label, value in (
                ("file", self.path),
                ("cell", self.cell_id),
                ("step", self.step),
                ("run", self.run_id),
            )
            if value
        ]
        text = self.message
        if where:
            text = f"{text} ({', '.join(where)})"
        if self.hint:
            text = f"{text}\n  hint: {self.hint}"
        return text


class StoreError(MlprodError):
    """The lineage store cannot be opened, locked or read."""


class StoreLockedError(StoreError):
    """Another process holds the store's lock for longer than we may wait."""


class QueryRefusedError(StoreError):
    """``mlprod-nb sql`` was given something that is not a plain query (or reads a file)."""


class NotFoundError(MlprodError):
    """A notebook, run, step or pipeline the user named is not known."""

    exit_code = 3


class NotebookError(MlprodError):
    """A notebook cannot be read or is not valid nbformat."""


class PipelineError(MlprodError):
    """The notebook cannot be compiled into a pipeline (cycle, unknown tag, ...)."""


class OutputPathError(MlprodError):
    """Export may not write its output path: a file or a folder it did not write is there."""


class OutputWriteError(MlprodError):
    """The pipeline folder cannot be written (no space left, no permission); nothing changed."""

    exit_code = 1


class ParameterError(MlprodError):
    """A parameter given to a run is unknown or has the wrong type."""


class SerializationError(MlprodError):
    """A value crossing a step boundary cannot be saved or loaded."""


class RunFailedError(MlprodError):
    """A pipeline run failed: a cell raised or a check did not hold."""

    exit_code = 1


class CheckFailedError(MlprodError):
    """Raised in user code by ``mlprod_nb.require`` when a validation gate fails."""

    exit_code = 1


class VerifyError(MlprodError):
    """``export --verify``: the pipeline computes something other than Run All, or the two
    could not be compared (the notebook fails top to bottom)."""

    exit_code = 1


class ScheduleError(MlprodError):
    """A schedule cannot be created, changed or found (bad cron, time zone, pipeline)."""


class ReproduceError(MlprodError):
    """``mlprod-nb reproduce``: the inputs or environment differ from the recorded ones
    (refused without ``--allow-drift``), or the new results differ from the old."""

    exit_code = 1
