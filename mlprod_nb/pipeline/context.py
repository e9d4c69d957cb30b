"""What a run is given before its first step: options, pipeline, parameters, folder.

``prepare`` reads everything a run needs and refuses what cannot run (a missing
working directory, a parameter of the wrong type, a resumed run whose secrets
were not passed again) before anything is written.

``--only``/``--from`` with a ``--run-id`` naming a run of the same pipeline that has a
record and is not running continue that run (``continued``; a whole run never reuses an
id): its unchanged steps stand, as ``--resume`` reuses them, and the run's record ends
with every step of every driver. Drivers of one run id take turns (``RunDir.claim``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..errors import NotFoundError
from ..paths import Layout, find_home
from ..records import redact
from . import handoff
from . import manifest as mf
from .executors import DEFAULT, Setting
from .kernels import kernel_env, kernel_name
from .params import read_params_file, resolve
from .resume import Resumed
from .rundir import RunDir, new_run_id


@dataclass(frozen=True)
class RunOptions:
    params: Sequence[tuple[str, str]] = ()  # -p NAME VALUE (strings, typed by defaults)
    values: Mapping[str, Any] | None = None  # typed values (a params file, the API)
    params_file: Path | None = None
    jobs: int | None = None
    only: str | None = None
    from_step: str | None = None
    resume: str | None = None
    no_cache: bool = False
    isolate: bool = False
    cwd: Path | None = None
    run_id: str | None = None
    stream: TextIO | None = None  # progress output (None: silent)
    executor: str = DEFAULT  # a name in executors.EXECUTORS
    executor_options: Mapping[str, str] = field(default_factory=dict)  # e.g. scheduler_address


@dataclass(frozen=True)
class RunContext:
    options: RunOptions
    manifest: mf.Manifest
    folder: Path  # the pipeline folder
    source: Path  # the notebook it was exported from
    layout: Layout
    params: dict[str, Any]  # resolved (secrets in clear: they only go to kernels' env)
    resumed: Resumed | None
    continued: Resumed | None  # the run this driver continues (same --run-id)
    rundir: RunDir
    setting: Setting
    facts: Mapping[str, Any]  # what every status of the run carries

    @property
    def run_id(self) -> str:
        return self.rundir.run_id


def prepare(pipeline: str | Path, options: RunOptions) -> RunContext:
    manifest, folder = mf.load(pipeline)
    source = _source_notebook(manifest, folder)
    cwd = (options.cwd or source.parent).expanduser().resolve()
    if not cwd.is_dir():
        raise NotFoundError("the working directory does not exist", path=cwd, hint="check --cwd")
    layout = find_home(source)
    kernel = kernel_name(folder / manifest.steps[0].notebook)
    resumed = Resumed.load(layout, options.resume, folder) if options.resume else None
    values = {**(resumed.params if resumed else {}), **(options.values or {})}
    if options.params_file:
        values.update(read_params_file(options.params_file))
    known = [p.name for p in manifest.parameters]
    texts = [*handoff.from_environment(os.environ, known), *options.params]  # -p wins
    params = resolve(manifest.parameters, texts, values)
    env = handoff.kernel_env(kernel_env(layout.home), params)  # secrets: in no file
    secrets = handoff.fingerprints(params, layout.home)
    if resumed is not None:
        given = {*values, *(name for name, _ in texts)}
        before = resumed.record.get("params", {})
        handoff.check_resumed(resumed.run_id, resumed.secrets, secrets, given, before)
    rundir = RunDir(layout, options.run_id or new_run_id())
    stepwise = options.run_id and (options.only or options.from_step)
    continued = _continued(rundir, folder) if stepwise else None
    setting = Setting(
        run_id=rundir.run_id,
        pipeline=folder,
        rundir=rundir,
        kernel_name=kernel,
        cwd=cwd,
        env=env,
        isolate=options.isolate,
        warm_imports=manifest.setup_imports,
        options=dict(options.executor_options),
    )
    facts = {
        "pipeline": str(folder),
        "source_notebook": str(source),
        "params": redact(params),
        "secrets": secrets,  # HMACs only
        "resumed_from": options.resume,
    }
    if continued is not None:
        facts["started"] = continued.record.get("started")
    return RunContext(
        options,
        manifest,
        folder,
        source,
        layout,
        params,
        resumed,
        continued,
        rundir,
        setting,
        facts,
    )


def _continued(rundir: RunDir, folder: Path) -> Resumed | None:
    """The run ``rundir`` names, once no other driver works on it; None when it is new."""
    rundir.claim()
    try:
        return Resumed.load(rundir.layout, rundir.run_id, folder) if rundir.exists() else None
    except BaseException:
        rundir.close()
        raise


def _source_notebook(manifest: mf.Manifest, folder: Path) -> Path:
    """The exported notebook, also when the project moved with its pipeline folder."""
    path = Path(manifest.source)
    if path.exists():
        return path
    try:
        data = json.loads((folder / mf.FILENAME).read_text())
        relative = (folder / data["source"]["relative"]).resolve()
    except (OSError, ValueError, KeyError):
        return path
    return relative if relative.exists() else path
