"""Global random generators, whose state Run All carries from cell to cell and steps do not.

``np.random.seed(42)`` at the top of a notebook makes every later draw from
``np.random`` depend on all draws before it. A pipeline step starts from whatever
state its kernel has: setup code re-seeds in every step, a cached or parallel step
never made its draws. Export cannot pass that state, so it says where a step's random
values will differ from Run All (``export --verify`` shows by how much).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# module -> functions that do not draw from its global state (they seed it or build
# independent generators); everything else called on the module draws.
GLOBAL_GENERATORS: dict[str, frozenset[str]] = {
    "numpy.random": frozenset(
        {
            "seed",
            "default_rng",
            "Generator",
            "RandomState",
            "SeedSequence",
            "PCG64",
            "MT19937",
            "Philox",
            "SFC64",
            "BitGenerator",
            "get_state",
            "set_state",
        }
    ),
    "random": frozenset({"seed", "Random", "SystemRandom", "getstate", "setstate"}),
}
SEEDS = frozenset({"seed"})


@dataclass
class _Stream:
    seeded_by: str  # "setup cell c1" or "step 'a' (cell c3)"
    in_setup: bool
    drawn_in: list[str] = field(default_factory=list)  # steps that drew since the seed


@dataclass
class RandomStreams:
    """Follows seeds and draws of global generators in page order; collects warnings."""

    warnings: list[str] = field(default_factory=list)
    _streams: dict[str, _Stream] = field(default_factory=dict)
    _warned: set[tuple[str, str]] = field(default_factory=set)

    def calls(
        self,
        step: str | None,
        cell_id: str,
        dotted: Iterable[str],
        resolve: Callable[[str], str | None],
    ) -> None:
        """``dotted`` callees of one statement (``np.random.rand``); ``resolve`` maps a
        local name to the module it stands for (``np`` -> ``numpy``)."""
        for name in dotted:
            head, _, rest = name.partition(".")
            target = resolve(head)
            if target is None:
                continue
            full = f"{target}.{rest}" if rest else target
            module, _, function = full.rpartition(".")
            if module not in GLOBAL_GENERATORS:
                continue
            if function in SEEDS:
                where = (
                    f"setup cell {cell_id}" if step is None else f"step {step!r} (cell {cell_id})"
                )
                self._streams[module] = _Stream(where, step is None)
            elif function not in GLOBAL_GENERATORS[module] and step is not None:
                self._draw(module, step, cell_id)

    def _draw(self, module: str, step: str, cell_id: str) -> None:
        stream = self._streams.get(module)
        if stream is None:
            return
        earlier = [s for s in stream.drawn_in if s != step]
        if step not in stream.drawn_in:
            stream.drawn_in.append(step)
        if (module, step) in self._warned:
            return
        if stream.in_setup and earlier:
            why = (
                f"{stream.seeded_by} seeds {module} again at the start of every step, while "
                f"Run All draws on after step {earlier[-1]!r}"
            )
        elif not stream.in_setup and not stream.seeded_by.startswith(f"step {step!r}"):
            why = f"{module} was seeded in {stream.seeded_by} and its state does not cross steps"
        else:
            return
        self._warned.add((module, step))
        self.warnings.append(
            f"step {step!r}: cell {cell_id} draws from the global {module} generator; {why}, "
            "so its random values differ from Run All: seed it in this step, or pass a "
            "generator (rng = np.random.default_rng(42)) between steps"
        )
