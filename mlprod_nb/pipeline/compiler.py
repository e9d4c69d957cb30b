"""``mlprod-nb export``: compile a tagged notebook into a pipeline folder.

Steps depend on the steps that define the names they use (static analysis of
each step's cells, optionally cross-checked with what the tracer saw when the
notebook ran) plus explicit ``after:`` edges; networkx holds the DAG. The folder
(one papermill notebook per step plus ``pipeline.json``) is written atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..errors import PipelineError, SerializationError
from . import manifest as mf
from .dataflow import Flow, Observed, StepFlow
from .fileedges import Links, file_links
from .names import Binding, Code, code
from .params import read_parameters
from .stepbook import INPUTS_VAR, OUTPUTS_VAR, code_hash, step_notebook
from .tags import SourceCell, TaggedNotebook, parse

if TYPE_CHECKING:
    from .trace import Trace

__all__ = ["INPUTS_VAR", "OUTPUTS_VAR", "Compiled", "Observed", "compile_notebook"]


@dataclass(frozen=True)
class Compiled:
    manifest: mf.Manifest
    notebooks: dict[str, dict[str, Any]]  # step -> nbformat JSON


def _code(cell: SourceCell, notebook: Path, step: str | None) -> Code:
    try:
        return code(cell.source, cell.id, cell.index)
    except SyntaxError as error:
        raise PipelineError(
            f"the cell does not parse: {error.msg} (line {error.lineno})",
            path=notebook,
            cell_id=cell.id,
            step=step,
            hint="fix the syntax error, or tag the cell skip",
        ) from None


def _flow(nb: TaggedNotebook, params: Sequence[str], observed: Observed | None) -> Flow:
    setup = [_code(c, nb.path, None) for c in nb.setup]
    steps = [(s.name, [_code(c, nb.path, s.name) for c in s.cells]) for s in nb.steps]
    cell_step = {c.id: s.name for s in nb.steps for c in s.cells}
    return Flow(setup, params, steps, observed=observed, cell_step=cell_step, path=nb.path)


def _graph(nb: TaggedNotebook, flow: Flow, traced: Links) -> Any:
    """The step DAG: value edges, file edges and ``after:`` edges; a cycle is an error."""
    import networkx as nx

    graph = nx.DiGraph()
    order = {s.name: i for i, s in enumerate(nb.steps)}
    graph.add_nodes_from(order)

    def edge(producer: str, consumer: str) -> dict[str, Any]:
        if not graph.has_edge(producer, consumer):
            graph.add_edge(producer, consumer, names=[], after=False, files=[])
        data: dict[str, Any] = graph.edges[producer, consumer]
        return data

    for step_flow in flow.steps:
        for name, producer in step_flow.inputs.items():
            edge(producer, step_flow.name)["names"].append(name)
    links = file_links(flow.steps)
    for pair, paths in traced.items():
        links.setdefault(pair, []).extend(p for p in paths if p not in links.get(pair, []))
    for (producer, consumer), paths in links.items():
        edge(producer, consumer)["files"] += paths
    for step in nb.steps:
        for target, cell_id in step.after:
            if target not in order:
                raise PipelineError(
                    f"after:{target} names an unknown step",
                    path=nb.path,
                    cell_id=cell_id,
                    step=step.name,
                    hint=f"steps are: {', '.join(order)}",
                )
            edge(target, step.name)["after"] = True
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return graph
    steps_on_cycle = [u for u, _ in cycle] + [cycle[0][0]]
    cells = _cycle_cells(nb, [(u, v) for u, v, *_ in cycle])
    raise PipelineError(
        f"the steps form a cycle: {' -> '.join(steps_on_cycle)}",
        path=nb.path,
        cell_id=cells[0],
        step=steps_on_cycle[0],
        cells=cells,
        hint="remove an after: tag on one of these steps",
    )


def _cycle_cells(nb: TaggedNotebook, edges: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """The cells to edit to break a cycle: each step's first cell (its step: tag) and the
    cells whose after: tags make an edge of it, in notebook order."""
    on_cycle = {v: u for u, v in edges}  # consumer -> its producer on the cycle
    found: list[SourceCell] = []
    for step in nb.steps:
        if step.name in on_cycle:
            found.append(step.cells[0])
            carriers = {c for target, c in step.after if target == on_cycle[step.name]}
            found += [c for c in step.cells if c.id in carriers]
    ordered = sorted(dict.fromkeys(found), key=lambda c: c.index)
    return tuple(c.id for c in ordered)


def _traced_file_links(nb: TaggedNotebook, observed: Observed | None) -> Links:
    """Files a step read that the tracer saw an earlier step's cell write."""
    links: Links = {}
    if not observed:
        return links
    index = {s.name: i for i, s in enumerate(nb.steps)}
    cell_step = {c.id: s.name for s in nb.steps for c in s.cells}
    for step in nb.steps:
        for cell in step.cells:
            for used, bound_in in observed.get(cell.id, ()):
                producer = cell_step.get(bound_in) if bound_in else None
                if not used.startswith("file:") or producer is None or producer == step.name:
                    continue
                if index[producer] < index[step.name]:
                    path = os.path.relpath(used[5:], nb.path.parent)
                    found = links.setdefault((producer, step.name), [])
                    if path not in found:
                        found.append(path)
    return links


def _boundary_values(flow: Flow, path: Path) -> dict[tuple[str, str], list[str]]:
    """``(producer, name) -> consumers`` of every value crossing a step boundary."""
    consumers: dict[tuple[str, str], list[str]] = {}
    for step in flow.steps:
        for name, producer in step.inputs.items():
            consumers.setdefault((producer, name), []).append(step.name)
    for (producer, name), readers in consumers.items():
        binding = flow.step(producer).unsendable.get(name)
        if binding is not None:
            raise SerializationError(
                f"value {name!r} of step {producer!r} is {binding.what} and cannot be "
                f"passed to step {readers[0]!r}",
                path=path,
                cell_id=binding.cell_id or None,
                step=producer,
                hint=f"re-create {name!r} in the step that uses it (or in a setup cell)",
            )
    return consumers


def _step(
    flow: StepFlow, notebook: dict[str, Any], outputs: list[str], checks: tuple[str, ...]
) -> mf.Step:
    return mf.Step(
        name=flow.name,
        notebook=f"steps/{flow.name}.ipynb",
        cells=tuple(c.cell_id for c in flow.cells),
        inputs=tuple(mf.Input(n, p) for n, p in flow.inputs.items()),
        outputs=tuple(outputs),
        parameters=tuple(flow.params),
        checks=checks,
        code_hash=code_hash(notebook),
    )


# Asks the store what the tracer saw of these cells (exporter id, source; page order).
TraceOf = Callable[[Sequence[tuple[str, str]]], "Trace | None"]


def _code_cells(nb: TaggedNotebook) -> list[tuple[str, str]]:
    cells = [*nb.setup, *nb.parameters, *(c for s in nb.steps for c in s.cells)]
    return [(c.id, c.source) for c in sorted(cells, key=lambda c: c.index) if not _generated(c)]


def _generated(cell: SourceCell) -> bool:
    return cell.id.startswith("mlprod-")


def _traced_types(flow: Flow, types: Mapping[str, Mapping[str, str]]) -> None:
    """A value the tracer saw bound to a type no serializer can store is refused now,
    naming the cell, rather than after the step's compute."""
    from .unsendable import unsendable_type

    for step in flow.steps:
        for cell in step.cells:  # in order: the last cell binding a name decides
            for name, type_name in types.get(cell.cell_id, {}).items():
                reason = unsendable_type(type_name)
                if reason is None:
                    step.unsendable.pop(name, None)
                else:
                    what = f"{reason} ({type_name})"
                    step.unsendable[name] = Binding(name, what, 0, cell.cell_id)


def compile_notebook(
    path: str | Path,
    observed: Observed | None = None,
    *,
    split: str = "tags",
    content: Mapping[str, Any] | None = None,
    trace_of: TraceOf | None = None,
) -> Compiled:
    """Compile a notebook; raises ``NotebookError``/``PipelineError``/``SerializationError``.

    ``split`` says where steps start; ``content`` is the notebook as the editor holds
    it, compiled instead of the file (see ``tags.parse``). ``trace_of`` (or a ready
    ``observed``) gives what the tracer saw, to cross-check the static analysis.
    """
    import networkx as nx

    source = Path(path).expanduser().resolve()
    nb = parse(source, split=split, content=content)
    params = read_parameters(nb.parameters, source)
    trace = trace_of(_code_cells(nb)) if trace_of is not None else None
    if trace is not None:
        observed = trace.uses
    flow = _flow(nb, [p.name for p in params], observed)
    if trace is not None:
        _traced_types(flow, trace.types)
    graph = _graph(nb, flow, _traced_file_links(nb, observed))
    consumers = _boundary_values(flow, source)
    order = {s.name: i for i, s in enumerate(nb.steps)}
    by_name = {s.name: s for s in nb.steps}
    notebooks: dict[str, dict[str, Any]] = {}
    steps: list[mf.Step] = []
    for name in nx.lexicographical_topological_sort(graph, key=lambda n: order[n]):
        step_flow = flow.step(name)
        outputs = [n for (p, n) in consumers if p == name]
        used = [p for p in params if p.name in step_flow.params]
        notebook = step_notebook(nb, by_name[name], step_flow, used, outputs)
        notebooks[name] = notebook
        checks = tuple(c.id for c in by_name[name].cells if c.is_check)
        steps.append(_step(step_flow, notebook, outputs, checks))
    setup_imports = [
        d.module
        for d in flow.setup.produced.values()
        if d is not None and d.kind == "import" and d.module
    ]
    manifest = mf.Manifest(
        version=__version__,
        source=str(source),
        source_sha256=nb.sha256,
        parameters=tuple(params),
        steps=tuple(steps),
        edges=tuple(
            mf.Edge(u, v, tuple(data["names"]), bool(data["after"]), tuple(data["files"]))
            for u, v, data in sorted(
                graph.edges(data=True), key=lambda e: (order[e[0]], order[e[1]])
            )
        ),
        values=tuple(mf.Value(n, p, tuple(users), "auto") for (p, n), users in consumers.items()),
        warnings=tuple(flow.warnings),
        setup_imports=tuple(dict.fromkeys(setup_imports)),
    )
    return Compiled(manifest, notebooks)


def write(
    compiled: Compiled, output: str | Path, *, force: bool = False
) -> tuple[Path, Path | None]:
    """Write the pipeline folder (see ``folder.replace_folder``); returns it and any backup."""
    from .folder import replace_folder

    target = Path(output).expanduser().resolve()
    data = compiled.manifest.to_json()
    data["source"]["relative"] = os.path.relpath(compiled.manifest.source, target)
    files = {
        f"steps/{name}.ipynb": (json.dumps(nb, indent=1) + "\n").encode()
        for name, nb in compiled.notebooks.items()
    }
    files[mf.FILENAME] = (json.dumps(data, indent=2) + "\n").encode()
    backup = replace_folder(target, files, force=force)
    return target, backup


def default_output(notebook: str | Path) -> Path:
    path = Path(notebook).expanduser().resolve()
    return path.with_name(f"{path.stem}.pipeline")
