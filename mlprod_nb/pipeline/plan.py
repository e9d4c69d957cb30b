"""What a run runs: its steps, those that must run, those that must come from the cache.

The plan only says *which* steps and where their results may come from, and, as
steps settle, which step may go next (``move``); whether a step is actually taken
from the cache (or from the resumed run) is decided when it is about to run, once
its upstream steps finished (``cache.take``, ``Resumed.take``). Pure: no files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ..errors import PipelineError
from ..records import BROKEN, DONE, StepStatus
from . import manifest as mf
from .resume import Resumed


@dataclass(frozen=True)
class Plan:
    order: tuple[str, ...]  # the steps of this run, in a topological order
    force: frozenset[str] = frozenset()  # run even when a cached result matches
    from_cache: frozenset[str] = frozenset()  # must come from the cache (--only, --from)
    resumed: Resumed | None = None  # reuse that run's unchanged steps, nothing else
    continued: Resumed | None = None  # the run this driver continues: its unchanged steps stand


def make_plan(
    manifest: mf.Manifest,
    *,
    only: str | None = None,
    from_step: str | None = None,
    no_cache: bool = False,
    resumed: Resumed | None = None,
    continued: Resumed | None = None,
) -> Plan:
    """The plan for these options (``--only`` and ``--from`` take the cache, not ``resumed``;
    a ``continued`` run's unchanged steps stand first, whatever the options)."""
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
        return Plan(kept, frozenset(chosen), frozenset(upstream), continued=continued)
    if resumed is not None:
        return Plan(order, resumed=resumed, continued=continued)
    force = frozenset(order) if no_cache else frozenset()
    return Plan(order, force=force, continued=continued)


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


Move = Literal["skip", "wait", "go"]


def move(manifest: mf.Manifest, name: str, statuses: Mapping[str, StepStatus]) -> Move:
    """What a pending step does now: ``skip`` (an upstream step broke), ``wait`` or ``go``."""
    ups = [statuses[u] for u in manifest.upstream(name)]
    if any(u in BROKEN for u in ups):
        return "skip"
    return "go" if all(u in DONE for u in ups) else "wait"


def levels(manifest: mf.Manifest) -> dict[str, int]:
    """Each step's depth in the DAG: the steps of one level can run at once."""
    level: dict[str, int] = {}
    for step in manifest.steps:
        ups = [level[u] + 1 for u in manifest.upstream(step.name) if u in level]
        level[step.name] = max(ups, default=0)
    return level
