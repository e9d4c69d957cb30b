"""``mlprod-nb runs``: the runs of a pipeline (or of the project) from the lineage store."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..lineage.model import RunSummary, as_json
from ..paths import find_home
from ..textable import render
from . import manifest as mf
from .store_view import runs


def _when(epoch: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) if epoch else ""


def _duration(ms: float | None) -> str:
    return "" if ms is None else f"{ms / 1000:.1f}s"


def _fired_by(schedule: str | None) -> str:
    """Who started a run: "-" by hand, else its schedule id or "airflow:<dag id>"."""
    return schedule or "-"


def _short(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 24 else text[:21] + "..."


def list_runs(pipeline: str | Path | None) -> list[RunSummary]:
    """Runs, newest first: of one pipeline folder, or every run in this project's store."""
    if pipeline is None:
        return runs(find_home(Path.cwd()), None)
    manifest, folder = mf.load(pipeline)
    return runs(find_home(manifest.source), folder)


def runs_table(pipeline: str | Path | None, *, as_json: bool = False) -> str:
    found = list_runs(pipeline)
    if as_json:
        return json.dumps({"runs": [_as_json(r) for r in found]}, indent=1)
    if not found:
        return "no runs yet: run a pipeline with `mlprod-nb run PIPELINE`"
    # parameters that differ between the listed runs tell them apart; show those
    names = sorted({k for r in found for k in r.params})
    varying = [k for k in names if len({json.dumps(r.params.get(k)) for r in found}) > 1]
    shown = varying if len(found) > 1 else names
    rows = [
        (
            r.id,
            r.status,
            _fired_by(r.schedule),
            _when(r.started),
            _duration(r.duration_ms),
            " ".join(f"{k}={_short(r.params[k])}" for k in shown if k in r.params) or "-",
            f"{r.cached_steps}/{len(r.steps)}",
            " ".join(f"{k}={v:.4g}" for k, v in sorted(r.metrics.items())),
        )
        for r in found
    ]
    header = ("run", "status", "by", "started", "duration", "params", "cached", "metrics")
    text = render(header, rows)
    if len(found) > 1 and len(shown) < len(names):
        text += "\n(params: only those that differ between runs; --json shows all)"
    return text


def _as_json(run: RunSummary) -> object:
    return as_json(run)
