"""The exporter's data flow: what every step needs, and where each thing comes from.

Walks the steps' statements in page order, as "Run All" runs them, keeping what each
step *produces*: a value (passed to later steps as an artifact) or a definition
(code: imported, defined or ``lambda``-bound, replayed in later steps that use it).

- A name a step reads and has not bound comes from the latest earlier step that
  produced it, else from the parameters, else from the setup cells; anything else
  is an error naming the cell (and the function through which it was read).
- Reading a definition reads its needs too, at that point of the step: calling
  ``fit_model`` that reads ``mod`` makes ``mod`` an input of the calling step, and
  calling ``add_feature`` that changes ``df`` makes the new ``df`` its output.
- A value may refer to code by name (a pickled instance of a user class, an sklearn
  ``FunctionTransformer(column_ratio)``): a step that loads values replays the
  functions and classes the producing steps could see.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PipelineError
from .names import BUILTIN_NAMES, Binding, Code, Definition, Statement
from .randomstate import RandomStreams
from .unsendable import UNSENDABLE, unsendable_type

# What the tracer saw, per cell id: (name used, cell id of the execution that bound it).
Observed = Mapping[str, Sequence[tuple[str, str | None]]]


@dataclass
class StepFlow:
    """What one step needs and produces."""

    name: str
    cells: tuple[Code, ...]
    produced: dict[str, Definition | None] = field(default_factory=dict)  # None: a value
    inputs: dict[str, str] = field(default_factory=dict)  # value name -> producing step
    replays: dict[str, Definition] = field(default_factory=dict)
    params: dict[str, None] = field(default_factory=dict)
    unsendable: dict[str, Binding] = field(default_factory=dict)
    first_use: dict[str, str] = field(default_factory=dict)  # name -> cell id
    writes: list[str] = field(default_factory=list)
    strings: list[str] = field(default_factory=list)
    star_import: bool = False

    @property
    def eager_inputs(self) -> list[str]:
        """Inputs the replayed definitions read as they are defined (decorators, defaults)."""
        eager = {n for d in self.replays.values() for n in d.eager}
        return [n for n in self.inputs if n in eager]


@dataclass(frozen=True)
class Setup:
    """The setup cells, run at the start of every step."""

    produced: Mapping[str, Definition | None]
    star_import: bool = False


@dataclass
class _Walk:
    """The state of one step's walk."""

    flow: StepFlow
    bound: set[str]
    visible: dict[str, Definition]


class Flow:
    """The walk over all steps; ``steps`` holds the result in page order."""

    def __init__(
        self,
        setup: Sequence[Code],
        params: Sequence[str],
        steps: Sequence[tuple[str, Sequence[Code]]],
        *,
        observed: Observed | None = None,
        cell_step: Mapping[str, str] | None = None,
        path: Path | None = None,
    ) -> None:
        self.path = path
        self.params = list(params)
        self.warnings: list[str] = []
        self.steps: list[StepFlow] = []
        self._observed = observed or {}
        self._cell_step = dict(cell_step or {})
        self.random = RandomStreams()
        self.setup = self._setup(setup, {n for _, cells in steps for n in _bound_names(cells)})
        self._pending = list(steps)  # this step and those after it, for error messages
        for name, cells in steps:
            self.steps.append(self._step(StepFlow(name, tuple(cells))))
            self._pending.pop(0)
        self.warnings += self.random.warnings

    def step(self, name: str) -> StepFlow:
        return next(s for s in self.steps if s.name == name)

    # setup
    def _setup(self, cells: Sequence[Code], step_names: set[str]) -> Setup:
        produced: dict[str, Definition | None] = {}
        star = False
        for cell in cells:
            for stmt in cell.statements:
                star = star or stmt.star_import
                for name in stmt.loads:
                    known = name in produced or name in self.params or name in BUILTIN_NAMES
                    if not known and name in step_names and not star:
                        raise PipelineError(
                            f"the setup cell reads {name!r}, which only a step defines; "
                            "setup cells run first in every step",
                            path=self.path,
                            cell_id=cell.cell_id,
                            hint=f"move the definition of {name!r} into a setup cell, "
                            "or take the tag setup off this cell",
                        )
                _bind(produced, stmt)
                self.random.calls(None, cell.cell_id, stmt.calls, _resolver(produced))
        return Setup(produced, star)

    # steps
    def _step(self, flow: StepFlow) -> StepFlow:
        walk = _Walk(flow, set(), {})
        extra = self._traced_extras(flow)
        for cell in flow.cells:
            for name in extra.get(cell.cell_id, ()):
                self._need(walk, name, cell.cell_id, via=None, seen=set())
            for stmt in cell.statements:
                self._statement(walk, cell.cell_id, stmt)
        self._replay_code_values_may_refer_to(walk)
        return flow

    def _statement(self, walk: _Walk, cell_id: str, stmt: Statement) -> None:
        flow = walk.flow
        seen: set[str] = set()
        for name in stmt.loads:
            self._need(walk, name, cell_id, via=None, seen=seen)
        for string in stmt.strings:  # parameters named in query/eval/format strings
            for param in self.params:
                named = param in string and re.search(rf"\b{re.escape(param)}\b", string)
                if named and param not in walk.bound and not self._producer(param):
                    flow.params.setdefault(param, None)
        called = [walk.visible.get(n) or self._setup_definition(n) for n in stmt.loads]
        calls = [*stmt.calls, *(c for d in called if d is not None for c in d.calls)]
        self.random.calls(flow.name, cell_id, calls, _resolver(walk.visible, self.setup.produced))
        for name in stmt.mutates:
            definition = walk.visible.get(name) or self._setup_definition(name)
            if definition is not None and definition.kind == "import":
                self.warnings.append(
                    f"step {flow.name!r}: cell {cell_id} changes the module {name!r} in place "
                    "(an option or attribute); later steps replay the import and do not see "
                    "the change: put it in a setup cell"
                )
                continue
            flow.produced[name] = None
            walk.visible.pop(name, None)
            walk.bound.add(name)
        _bind(flow.produced, stmt)
        for name in stmt.binds:
            walk.bound.add(name)
            walk.visible.pop(name, None)
            flow.unsendable.pop(name, None)
        for definition in stmt.definitions:
            walk.visible[definition.name] = definition
        for binding in stmt.unsendable:
            what = self._constructed(walk, binding.what)
            if what is not None:
                flow.unsendable[binding.name] = Binding(binding.name, what, binding.line, cell_id)
        flow.star_import = flow.star_import or stmt.star_import
        flow.writes += [w for w in stmt.writes if w not in flow.writes]
        flow.strings += [t for t in stmt.strings if t not in flow.strings]

    def _need(
        self,
        walk: _Walk,
        name: str,
        cell_id: str,
        *,
        via: Definition | None,
        seen: set[str],
        called: bool = True,
    ) -> None:
        """``name`` is read here: make it available, and read what it reads when called."""
        if name in seen or name in BUILTIN_NAMES:
            return
        seen.add(name)
        flow = walk.flow
        definition = walk.visible.get(name)
        if definition is None and name not in walk.bound:
            definition = self._provide(walk, name, cell_id, via)
        if definition is None:
            return
        for inner in definition.needs:
            self._need(walk, inner, cell_id, via=definition, seen=seen, called=called)
        for changed in definition.changes if called else ():  # a call changes these globals
            flow.produced[changed] = None
            walk.visible.pop(changed, None)
            walk.bound.add(changed)

    def _provide(
        self, walk: _Walk, name: str, cell_id: str, via: Definition | None
    ) -> Definition | None:
        """Bring ``name`` into the step; returns its definition when it is code."""
        flow = walk.flow
        producer = self._producer(name)
        if producer is not None:
            made = producer.produced[name]
            walk.bound.add(name)
            if made is not None:
                flow.replays[name] = made
                walk.visible[name] = made
                return made
            flow.inputs[name] = producer.name
            flow.first_use.setdefault(name, cell_id)
            return None
        if name in self.params:
            flow.params.setdefault(name, None)
            return None
        if name in self.setup.produced:
            return self.setup.produced[name]
        if self.setup.star_import or flow.star_import:
            self.warnings.append(
                f"step {flow.name!r}: name {name!r} (cell {cell_id}) is not defined by an "
                "earlier step; assuming it comes from a star import"
            )
            walk.bound.add(name)
            return None
        raise self._undefined(flow, name, cell_id, via)

    def _constructed(self, walk: _Walk, what: str) -> str | None:
        """Why a value this call builds cannot cross a step, when the type registry knows."""
        if not what.startswith("call:"):
            return what
        head, _, rest = what[5:].partition(".")
        made = walk.visible.get(head) or self.setup.produced.get(head)
        if made is None or made.kind != "import" or not made.target:
            return None
        return unsendable_call(f"{made.target}.{rest}" if rest else made.target)

    def _producer(self, name: str) -> StepFlow | None:
        return next((s for s in reversed(self.steps) if name in s.produced), None)

    def _setup_definition(self, name: str) -> Definition | None:
        return self.setup.produced.get(name)

    def _undefined(
        self, flow: StepFlow, name: str, cell_id: str, via: Definition | None
    ) -> PipelineError:
        later = next((step for step, cells in self._pending if name in _bound_names(cells)), None)
        where = "by no earlier step"
        if later == flow.name:
            where = "only further down in the same step, by no earlier step"
        elif later is not None:
            where = f"only by the later step {later!r}, by no earlier step"
        reader = f"used in step {flow.name!r}"
        if via is not None:
            reader = (
                f"read by {via.kind} {via.name!r} (cell {via.cell_id}), which step "
                f"{flow.name!r} uses,"
            )
        return PipelineError(
            f"name {name!r} is {reader} but defined {where} or parameter",
            path=self.path,
            cell_id=cell_id,
            step=flow.name,
            hint="define it in an earlier step, a setup cell or the parameters cell "
            "(or tag the cell skip)",
        )

    def _replay_code_values_may_refer_to(self, walk: _Walk) -> None:
        """Functions and classes a loaded value may refer to by name (pickle needs them).

        Those of the steps up to the last one producing an input, whose eager needs
        (decorators, defaults, bases) are code, so replaying them cannot fail. The globals
        their bodies read come along when an earlier step, a parameter or setup has them:
        the step may call a method of a loaded object.
        """
        flow = walk.flow
        if not flow.inputs:
            return
        position = {s.name: i for i, s in enumerate(self.steps)}
        last = max(position[p] for p in flow.inputs.values())
        for earlier in self.steps[: last + 1]:
            for name, made in earlier.produced.items():
                if made is None or made.kind == "import" or name in walk.bound:
                    continue
                if name in walk.visible or self._producer(name) is not earlier:
                    continue
                if all(self._is_code(n, walk) for n in made.eager):
                    walk.bound.add(name)
                    flow.replays[name] = made
                    walk.visible[name] = made
                    for inner in made.needs:
                        if self._available(inner, walk):
                            self._need(
                                walk, inner, made.cell_id, via=made, seen=set(), called=False
                            )

    def _available(self, name: str, walk: _Walk) -> bool:
        """``name`` can be had here without an error (bound, produced earlier, or given)."""
        known = name in BUILTIN_NAMES or name in walk.bound or name in walk.visible
        return (
            known
            or name in self.params
            or name in self.setup.produced
            or bool(self._producer(name))
        )

    def _is_code(self, name: str, walk: _Walk) -> bool:
        if name in BUILTIN_NAMES or name in walk.visible or name in self.params:
            return True
        producer = self._producer(name)
        if producer is not None:
            return producer.produced[name] is not None
        return name in self.setup.produced

    def _traced_extras(self, flow: StepFlow) -> dict[str, list[str]]:
        """Names the tracer saw a cell read from an earlier step that static analysis missed."""
        extras: dict[str, list[str]] = {}
        if not self._observed:
            return extras
        static = {n for c in flow.cells for s in c.statements for n in (*s.loads, *s.binds)}
        for cell in flow.cells:
            for used, bound_in in self._observed.get(cell.cell_id, ()):
                producer = self._cell_step.get(bound_in) if bound_in else None
                if producer is None or producer == flow.name or used.startswith("file:"):
                    continue
                known = self._producer(used)
                if used in static:
                    if known is not None and known.name != producer:
                        self.warnings.append(
                            f"step {flow.name!r}: {used!r} in cell {cell.cell_id} comes from "
                            f"step {known.name!r} in notebook order, but the tracer saw it bound "
                            f"in step {producer!r} (cells ran out of order?)"
                        )
                    continue
                earlier = next((s for s in self.steps if s.name == producer), None)
                if earlier is None:
                    continue
                if used not in earlier.produced:
                    earlier.produced[used] = None
                extras.setdefault(cell.cell_id, []).append(used)
                self.warnings.append(
                    f"step {flow.name!r}: the tracer saw {used!r} used in cell "
                    f"{cell.cell_id} (defined in step {producer!r}); static analysis "
                    "missed it, so it was added as an input"
                )
        return extras


def _bind(produced: dict[str, Definition | None], stmt: Statement) -> None:
    made = {d.name: d for d in stmt.definitions}
    for name in stmt.binds:
        produced.pop(name, None)  # re-inserted last: the latest binding decides
        produced[name] = made.get(name)


def _bound_names(cells: Sequence[Code]) -> set[str]:
    return {n for c in cells for s in c.statements for n in (*s.binds, *s.mutates)}


def unsendable_call(dotted: str) -> str | None:
    """Why the value of calling ``dotted`` (``xgboost.DMatrix``) cannot cross a step.

    Code names a class by its public path, the registry by its defining module
    (``xgboost.core.DMatrix``): a key of the same package with the same last part counts.
    """
    top, last = dotted.split(".")[0], dotted.split(".")[-1]
    if not last[:1].isupper():  # a function (asyncio.run): only an exact entry says
        return UNSENDABLE.get(dotted)
    reason = unsendable_type(dotted)
    if reason is not None:
        return reason
    for key, why in UNSENDABLE.items():
        parts = key.split(".")
        if len(parts) > 1 and parts[0] == top and parts[-1] == last:
            return why
    return None


def _resolver(
    *scopes: Mapping[str, Definition | None],
) -> Callable[[str], str | None]:
    """What a local name stands for when an import bound it (``np`` -> ``numpy``)."""

    def resolve(name: str) -> str | None:
        for scope in scopes:
            made = scope.get(name)
            if made is not None:
                return made.target if made.kind == "import" and made.target else None
        return None

    return resolve
