"""``%load_ext mlprod_nb`` / ``%unload_ext mlprod_nb``: one tracer per process."""

from __future__ import annotations

from typing import Any

from .session import Tracer

_CURRENT: list[Tracer] = []


def current() -> Tracer | None:
    """The loaded tracer, if any (tests and tools read ``failures`` and friends)."""
    return _CURRENT[0] if _CURRENT else None


def load(shell: Any) -> Tracer:
    tracer = current()
    if tracer is not None and tracer.shell is shell and tracer.enabled:
        return tracer
    if tracer is not None:
        unload(tracer.shell)
    tracer = Tracer(shell)
    tracer.start()
    _CURRENT.append(tracer)
    return tracer


def unload(shell: Any) -> None:
    tracer = current()
    if tracer is not None and tracer.shell is shell:
        tracer.stop()
        _CURRENT.clear()


def moved(old: str, new: str) -> str | None:
    """The front end renamed or moved this kernel's notebook (paths relative to the server
    root): later executions are recorded under the new path. Returns that path."""
    tracer = current()
    return tracer.moved(old, new) if tracer is not None else None
