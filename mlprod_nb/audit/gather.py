"""What the store knows about the runs being shown or compared, read in one visit.

The runs asked for, the runs their cached steps came from (followed as
``lineage.cached`` does: a cached step did not run, the run that computed it did),
and the kernel sessions that ran each step, with their environments' packages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import NotFoundError
from ..lineage.cached import MAX_HOPS, origins, producer
from ..lineage.model import RunDetail, Session

if TYPE_CHECKING:
    from ..store import Store


@dataclass(frozen=True)
class Gathered:
    details: Mapping[str, RunDetail]  # the runs asked for and their cached steps' producers
    sessions: tuple[tuple[str, str | None, Session], ...] = ()  # (run, step, session)
    # packages hash -> name -> version
    packages: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def producer(self, run_id: str, step: str) -> str:
        """The run that computed ``step`` of ``run_id`` (itself unless it was cached)."""
        return producer(run_id, step, self.details.get)[0]

    def step_sessions(self, run_id: str, step: str) -> list[Session]:
        """The sessions that computed ``step`` of ``run_id`` (in its producer run)."""
        origin = self.producer(run_id, step)
        return [s for run, name, s in self.sessions if run == origin and name == step]

    def run_sessions(self, run_id: str) -> list[Session]:
        """The sessions that computed the run's steps, each once, in step order."""
        found: dict[str, Session] = {}
        for step in self.details[run_id].summary.steps:
            found.update((s.id, s) for s in self.step_sessions(run_id, step.name))
        return list(found.values())

    def versions(self, session: Session) -> Mapping[str, str]:
        """The installed packages (name -> version) of a session's environment."""
        return self.packages.get(session.packages_hash or "", {})


def with_origins(store: Store, ids: Sequence[str]) -> dict[str, RunDetail]:
    """The runs asked for (unknown ids raise ``NotFoundError``) and the runs their cached
    steps came from, as far as they are recorded."""
    details = {i: store.run(i) for i in ids}
    tried: set[str] = set()
    for _ in range(MAX_HOPS):
        more = origins(list(details.values())) - tried
        if not more:
            break
        tried |= more
        for origin in sorted(more):
            try:
                details[origin] = store.run(origin)
            except NotFoundError:  # produced by a run no longer recorded: nothing to show
                continue
    return details


def gather(store: Store, ids: Sequence[str]) -> Gathered:
    """Everything ``show`` and ``compare`` need from the store about runs ``ids``."""
    details = with_origins(store, ids)
    sessions = store.step_sessions(sorted(details))
    hashes = sorted({s.packages_hash for _, _, s in sessions if s.packages_hash})
    return Gathered(details, tuple(sessions), store.package_versions(hashes))
