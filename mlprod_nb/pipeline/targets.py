"""Export targets: where ``mlprod-nb export --target NAME`` puts the pipeline, and what else.

``papermill`` (the default) writes the pipeline folder only. ``airflow`` writes it into
a DAGs folder (``-o``, default ``dags/`` beside the notebook) as ``<notebook>.pipeline/``
with an Airflow 3 DAG file ``<dag id>.py`` beside it (``pipeline/dagfile.py``). Others
plug in by name through ``TARGETS`` (or a package's entry point in the group
``mlprod_nb.targets``).

A target refuses options it cannot use (``check``) before the notebook is compiled, and
checks where its own files go (``prepare``) before the pipeline folder is written, so a
mistake writes nothing; its files are written once the pipeline folder is (``Writer``).
"""

from __future__ import annotations

import json
import re
import shlex
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..errors import MlprodError, OutputPathError, ParameterError, ScheduleError
from ..registry import Registry
from . import manifest as mf

DEFAULT = "papermill"

Writer = Callable[[], Path | None]  # writes the target's own files; the main one, if any


@dataclass(frozen=True)
class TargetOptions:
    """What ``export`` is told about scheduling (``--schedule``, ``--on-new-data``, ...)."""

    schedule: str | None = None  # a cron expression
    on_new_data: bool = False
    dag_id: str | None = None
    retries: int | None = None

    def given(self) -> list[str]:
        """The flags set, as the command line spells them."""
        flags = {
            "--schedule": self.schedule is not None,
            "--on-new-data": self.on_new_data,
            "--dag-id": self.dag_id is not None,
            "--retries": self.retries is not None,
        }
        return [flag for flag, set_ in flags.items() if set_]


class Target(Protocol):
    def check(self, options: TargetOptions) -> None:
        """Refuse options this target cannot use (nothing is compiled or written yet)."""

    def folder(self, notebook: Path, output: Path | None) -> Path:
        """Where the pipeline folder goes."""

    def prepare(
        self,
        notebook: Path,
        manifest: mf.Manifest,
        folder: Path,
        options: TargetOptions,
        *,
        force: bool,
    ) -> Writer:
        """Check where the target's own files go; the writer runs after the pipeline folder."""


class Papermill:
    """The pipeline folder alone, run by ``mlprod-nb run`` (or the embedded scheduler)."""

    def check(self, options: TargetOptions) -> None:
        given = options.given()
        if given:
            raise ParameterError(
                f"{', '.join(given)}: only for --target airflow",
                hint="add --target airflow to write an Airflow DAG, or schedule the pipeline "
                "here with `mlprod-nb schedule add PIPELINE --cron ...`",
            )

    def folder(self, notebook: Path, output: Path | None) -> Path:
        from .compiler import default_output

        return output or default_output(notebook)

    def prepare(
        self,
        notebook: Path,
        manifest: mf.Manifest,
        folder: Path,
        options: TargetOptions,
        *,
        force: bool,
    ) -> Writer:
        return lambda: None


DAG_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")  # what Airflow accepts as a DAG id


class Airflow:
    """An Airflow 3 DAG file beside the pipeline folder, in a DAGs folder."""

    def check(self, options: TargetOptions) -> None:
        if options.schedule is not None and options.on_new_data:
            raise ParameterError(
                "--schedule and --on-new-data: an Airflow DAG has one schedule",
                hint="pick one; a second DAG (another --dag-id) can have the other",
            )
        if options.schedule is not None:
            from ..schedule.cron import check

            check(options.schedule, "UTC")  # Airflow reads a cron in its default zone
        if options.dag_id is not None and not DAG_ID.match(options.dag_id):
            raise ParameterError(
                f"invalid DAG id {options.dag_id!r}",
                hint="use letters, digits, '.', '_' and '-' (at most 250 characters)",
            )
        if options.retries is not None and options.retries < 0:
            raise ParameterError("--retries must be 0 or more", hint="pass --retries 0, 1, 2, ...")

    def folder(self, notebook: Path, output: Path | None) -> Path:
        return (output or notebook.with_name("dags")) / f"{notebook.stem}.pipeline"

    def prepare(
        self,
        notebook: Path,
        manifest: mf.Manifest,
        folder: Path,
        options: TargetOptions,
        *,
        force: bool,
    ) -> Writer:
        from . import dagfile
        from .folder import check_path, replace_file

        dag_id = options.dag_id or re.sub(r"[^A-Za-z0-9_.-]+", "_", notebook.stem)
        path = folder.parent / f"{dag_id}.py"
        check_path(path, "DAG file")
        taken = (path.exists() or path.is_symlink()) and not dagfile.owned(path)
        if taken and not force:
            raise OutputPathError(
                "the DAG file exists and export may not replace it: mlprod-nb export did not "
                "write it, or it was edited since",
                path=path,
                hint="pass another --dag-id or -o, or --force to move it aside to "
                f"{path.name}.backup-<time> and write a fresh one",
            )
        inputs = _data_inputs(manifest, folder) if options.on_new_data else None
        if inputs == []:
            raise ScheduleError(
                "--on-new-data: no input dataset of this notebook is known",
                path=notebook,
                hint="trace the notebook first (`mlprod-nb trace NOTEBOOK`, or run it in "
                "JupyterLab) so its lineage names the files it reads",
            )
        spec = dagfile.DagSpec(
            dag_id=dag_id,
            pipeline=folder.name,
            command=(sys.executable, "-m", "mlprod_nb.cli"),
            regenerate=_regenerate(notebook, folder.parent, options, dag_id),
            schedule=options.schedule,
            inputs=inputs,
            retries=options.retries,
            outlets=_outlets(manifest, notebook.parent),
        )
        text = dagfile.render(manifest, spec)

        def write() -> Path:
            replace_file(path, text.encode(), aside=taken)
            return path

        return write


def _data_inputs(manifest: mf.Manifest, folder: Path) -> list[str]:
    """The files the pipeline reads and no step writes (``schedule.data.data_inputs``),
    asked of a copy of the manifest, since the pipeline folder is not written yet."""
    from ..schedule.data import data_inputs

    with tempfile.TemporaryDirectory(prefix="mlprod-manifest-") as temp:
        (Path(temp) / mf.FILENAME).write_text(json.dumps(manifest.to_json()))
        found = data_inputs(temp)
    return sorted(p for p in found if not Path(p).is_relative_to(folder))


def _outlets(manifest: mf.Manifest, cwd: Path) -> dict[str, list[str]]:
    """Each step's output files: those its cells wrote when traced, and its file edges."""
    from ..lineage.graph import latest_by_cell
    from ..store.commands import notebook_lineage

    found: dict[str, set[str]] = {s.name: set() for s in manifest.steps}
    for edge in manifest.edges:
        found[edge.source].update(str(cwd / name) for name in edge.files)
    try:
        latest = latest_by_cell(notebook_lineage(manifest.source).executions)
    except MlprodError:  # never traced: the file edges are all that is known
        latest = {}
    for s in manifest.steps:
        for cell in s.cells:
            execution = latest.get(cell)
            if execution is not None:
                found[s.name].update(f.path for f in execution.files if f.mode == "write")
    return {name: sorted(paths) for name, paths in found.items()}


def _regenerate(notebook: Path, dags: Path, options: TargetOptions, dag_id: str) -> str:
    argv = ["mlprod-nb", "export", str(notebook), "--target", "airflow"]
    if options.schedule is not None:
        argv += ["--schedule", options.schedule]
    if options.on_new_data:
        argv.append("--on-new-data")
    argv += ["--dag-id", dag_id]
    if options.retries is not None:
        argv += ["--retries", str(options.retries)]
    return shlex.join([*argv, "-o", str(dags)])


TARGETS: Registry[Target] = Registry("export target", group="mlprod_nb.targets")
TARGETS.register(DEFAULT, Papermill())
TARGETS.register("airflow", Airflow())
