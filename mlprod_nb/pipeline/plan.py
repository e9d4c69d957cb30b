"""What a run runs: its steps, those that must run, those that must come from the cache.

The plan only says *which* steps and where their results may come from; whether
a step is actually taken from the cache (or from the resumed run) is decided by
the runner when the step is about to run, once its upstream steps finished.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import PipelineError
from . import manifest as mf
from .resume import Resumed


@dataclass(frozen=True)
class Plan:
    order: tuple[str, ...]  # the steps of this run, in a topological order
    force: frozenset[str] = frozenset()  # run even when a cached result matches
    from_cache: frozenset[str] = frozenset()  # must come from the cache (--only, --from)
    resumed: Resumed | None = None  # reuse that run's unchanged steps, nothing else


def make_plan(
    manifest: mf.Manifest,
    *,
    only: str | None = None,
    from_step: str | None = None,
    no_cache: bool = False,
    resumed: Resumed | None = None,
) -> Plan:
    """The plan for these options (``--only`` and ``--from`` take the cache, not ``resumed``)."""
    order = tuple(s.name for s in manifest.steps)
    if only and from_step:
        raise PipelineError("use --only or --from, not both", hint="pick one")
    chosen: set[str] | None = None
    if only:
        chosen = {manifest.step(only).name}
    elif from_step:
        chosen = manifest.downstream_closure({manifest.step(from_step).name})
    if chosen is not None:
        upstream = ancestors(manifest, chosen)
        kept = tuple(n for n in order if n in chosen | upstream)
        return Plan(kept, frozenset(chosen), frozenset(upstream))
    if resumed is not None:
        return Plan(order, resumed=resumed)
    return Plan(order, force=frozenset(order) if no_cache else frozenset())


def ancestors(manifest: mf.Manifest, names: set[str]) -> set[str]:
    """Every step ``names`` depend on, transitively (``names`` left out)."""
    found: set[str] = set()
    todo = list(names)
    while todo:
        for up in manifest.upstream(todo.pop()):
            if up not in found:
                found.add(up)
                todo.append(up)
    return found - names
