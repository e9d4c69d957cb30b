"""A step taken from cache did not run: its metrics are those of the run that computed it.

One rule for every reader (``mlprod-nb runs``, the panel's runs list, a comparison):
a cached step's ``cached_from`` names the run whose result it reused, which may itself
have reused it (a resumed run), so the chain is followed to the run that really
executed the step. Pure: run records in, metrics out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from ..records import metric_key
from .model import RunDetail, RunSummary, StepSummary

MAX_HOPS = 16  # a cache entry pointing at a cached step again (resumed runs)

Details = Callable[[str], RunDetail | None]  # a run's record by id; None when not recorded


def producer(run_id: str, step: str, detail_of: Details) -> tuple[str, StepSummary | None]:
    """The run that really executed ``step`` of ``run_id`` (following ``cached_from``),
    and that run's record of the step (None when it is not recorded)."""
    current = run_id
    for _ in range(MAX_HOPS):
        detail = detail_of(current)
        found = next((s for s in detail.summary.steps if s.name == step), None) if detail else None
        if found is None or not found.cached or not found.cached_from:
            return current, found
        if found.cached_from == current:
            return current, found
        current = found.cached_from
    return current, None


def origins(details: Sequence[RunDetail]) -> set[str]:
    """Runs that cached steps of ``details`` came from, not among them."""
    known = {d.id for d in details}
    return {
        s.cached_from
        for d in details
        for s in d.summary.steps
        if s.cached and s.cached_from and s.cached_from not in known
    }


def step_metrics(detail: RunDetail, step: str) -> dict[str, float]:
    """The last value of each metric ``step`` logged in the run (in training-step order)."""
    ordered = sorted(detail.metric_history, key=lambda m: m.step or 0)
    return {metric_key(m.name, m.slice): m.value for m in ordered if m.pipeline_step == step}


def run_metrics(run: RunSummary, detail_of: Details) -> dict[str, float]:
    """The run's metrics, and under them those its cached steps' producers logged."""
    carried: dict[str, float] = {}
    for step in run.steps:
        if not (step.cached and step.cached_from):
            continue
        origin, _ = producer(step.cached_from, step.name, detail_of)
        detail = detail_of(origin)
        if detail is not None:
            carried.update(step_metrics(detail, step.name))
    return {**carried, **run.metrics}


def with_cached_metrics(runs: Iterable[RunSummary], detail_of: Details) -> list[RunSummary]:
    """``runs`` with their cached steps' metrics (the same objects where nothing is added)."""
    result = []
    for run in runs:
        metrics = run_metrics(run, detail_of)
        result.append(replace(run, metrics=metrics) if metrics != run.metrics else run)
    return result
