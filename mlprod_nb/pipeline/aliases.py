"""Kale's cell tags read as ours, so a notebook tagged for Kale exports unchanged.

Kale (kubeflow-kale) turns a notebook into a Kubeflow pipeline from cell tags. Its
parser (``kale/processors/nbprocessor.py``) reads them as follows, and so do we:

==========================  ======================================================
Kale                        ours
==========================  ======================================================
``block:<name>``,           ``step:<name>``, the name through ``slug`` (``LoadData``
``step:<name>``             is step ``loaddata``); two names with one slug are an error
``prev:<name>``             ``after:<name>``; it must name a block above the cell
``imports``, ``functions``  ``setup``
``pipeline-parameters``     ``parameters``
``pipeline-metrics``        a last step ``metrics`` that logs the variables the cell
                            lists (``print(acc)`` lines) with ``mlprod_nb.log_metric``
``skip``                    ``skip``
``annotation:``,            ignored: Kubernetes pod settings mean nothing here
``label:``, ``limit:``
==========================  ======================================================

A notebook is read in Kale's dialect when its metadata has Kale's ``kubeflow_notebook``
key or one of its cells carries a tag only Kale uses. In that dialect, as in Kale, an
untagged code cell takes the role of the cell above it (after ``imports`` it is an
import cell too; ``skip`` passes nothing on), an empty ``block:`` (which Kale's
extension may write) is no tag, a block name used again adds cells to that block (see
``reorder`` for when that is allowed), and no block may follow ``pipeline-metrics``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PipelineError
from .stepnames import slug

KALE_METADATA = "kubeflow_notebook"
METRICS = "pipeline-metrics"  # our role for Kale's metrics cells: only Kale has it
METRICS_STEP = "metrics"

# Kale tags whose role passes on to the untagged code cells below, and our tag for it.
CARRIED = {
    "imports": "setup",
    "functions": "setup",
    "pipeline-parameters": "parameters",
    METRICS: METRICS,
}
PREFIXES = {"block:": "step:", "step:": "step:", "prev:": "after:"}
IGNORED_PREFIXES = ("annotation:", "label:", "limit:")
KALE_ONLY = (*CARRIED, "block:", "prev:")


def is_kale(metadata: Mapping[str, Any], cells: Iterable[Mapping[str, Any]]) -> bool:
    """Whether to read the notebook in Kale's dialect."""
    if KALE_METADATA in metadata:
        return True
    for cell in cells:
        for tag in (cell.get("metadata") or {}).get("tags") or ():
            if tag in CARRIED or tag.startswith(("block:", "prev:")):
                return True
    return False


def is_kale_tag(tag: str) -> bool:
    """A tag of Kale's language (any dialect: ``_check_tag`` leaves these alone)."""
    return tag in CARRIED or tag.startswith((*PREFIXES, *IGNORED_PREFIXES))


@dataclass(frozen=True)
class Reading:
    """A cell's tags in our vocabulary."""

    tags: tuple[str, ...]
    carries: bool  # the role passes to the untagged code cells below (Kale)


class KaleNames:
    """Kale block names turned into step names, one block per step name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._raw: dict[str, tuple[str, str]] = {}  # step name -> (Kale name, first cell id)

    def step(self, raw: str, cell_id: str) -> str:
        name = slug(raw)
        if not re.search(r"[a-z0-9]", raw.lower()):
            raise PipelineError(
                f"block name {raw!r} has no letter or digit",
                path=self.path,
                cell_id=cell_id,
                hint="rename the block (for example block:load_data)",
            )
        first = self._raw.setdefault(name, (raw, cell_id))
        if first[0] != raw:
            raise PipelineError(
                f"block names {first[0]!r} (cell {first[1]}) and {raw!r} both become step {name!r}",
                path=self.path,
                cell_id=cell_id,
                step=name,
                hint="step names are lowercase letters, digits, '-' and '_': "
                "rename one of the blocks",
            )
        return name

    def prev(self, raw: str, cell_id: str) -> str:
        name = slug(raw)
        if self._raw.get(name, (None,))[0] != raw:
            above = ", ".join(r for r, _ in self._raw.values()) or "none"
            raise PipelineError(
                f"prev:{raw} names no block above this cell",
                path=self.path,
                cell_id=cell_id,
                hint=f"prev: names a block tagged further up (blocks above: {above})",
            )
        return name


def translate(tags: Iterable[str], names: KaleNames, cell_id: str) -> Reading:
    """A Kale-dialect cell's tags as ours; tags that are already ours pass unchanged."""
    ours: list[str] = []
    carries = False
    for tag in tags:
        if tag in CARRIED:
            ours.append(CARRIED[tag])
            carries = True
            continue
        prefix = next((p for p in PREFIXES if tag.startswith(p)), None)
        if prefix is None:
            if not tag.startswith(IGNORED_PREFIXES):
                ours.append(tag)
            continue
        raw = tag[len(prefix) :]
        if not raw and prefix != "prev:":
            continue  # an empty block: is no tag (Kale's extension writes it)
        name = names.prev(raw, cell_id) if prefix == "prev:" else names.step(raw, cell_id)
        ours.append(PREFIXES[prefix] + name)
    return Reading(tuple(ours), carries)


def metric_names(source: str, path: Path, cell_id: str) -> list[str]:
    """The variables a metrics cell lists: one ``print(name)`` (or bare ``name``) a line."""
    try:
        body = ast.parse(source).body
    except SyntaxError as error:
        body, bad = [], f"does not parse ({error.msg})"
    else:
        bad = ""
    found: list[str] = []
    for stmt in body:
        value = stmt.value if isinstance(stmt, ast.Expr) else None
        if (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == "print"
            and len(value.args) == 1
            and not value.keywords
        ):
            value = value.args[0]
        if isinstance(value, ast.Name):
            found.append(value.id)
        else:
            bad = bad or f"line {stmt.lineno} is not print(<variable>)"
            break
    if bad:
        raise PipelineError(
            f"a pipeline-metrics cell lists variables, and this one {bad}",
            path=path,
            cell_id=cell_id,
            step=METRICS_STEP,
            hint="keep one print(<variable>) per line (as Kale requires) and move other "
            "code to the step above",
        )
    return found


def log_metrics_source(names: Iterable[str]) -> str:
    """Code logging each variable as a metric of the run, under its own name."""
    lines = ["# generated by mlprod-nb export from the pipeline-metrics cells"]
    lines += [f"__import__('mlprod_nb').log_metric({n!r}, {n})" for n in dict.fromkeys(names)]
    return "\n".join(lines)
