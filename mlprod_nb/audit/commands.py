"""The ``mlprod-nb show`` and ``mlprod-nb compare`` commands: which store, which runs,
how to print. The store is read in one visit (``gather``), then closed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import NotFoundError, ParameterError
from ..paths import Layout, find_home
from .gather import Gathered, gather

if TYPE_CHECKING:
    from ..store import Store

TIMEOUT = 30.0


def _layout(pipeline: str | None) -> Layout:
    """The store of ``pipeline`` (its source notebook's), else of the working folder."""
    if pipeline:
        from ..pipeline import manifest as mf

        manifest, _ = mf.load(pipeline)
        layout = find_home(manifest.source)
    else:
        layout = find_home(Path.cwd())
    if not layout.home.is_dir():
        raise NotFoundError(
            f"no lineage store here (looked for {layout.home})",
            hint="run from the project folder, or run a pipeline first: `mlprod-nb run PIPELINE`",
        )
    return layout


def _open(layout: Layout) -> Store:
    from ..store import Store

    return Store.open(layout, timeout=TIMEOUT)


def show(args: argparse.Namespace) -> int:
    from .report import audit
    from .text import show_text

    layout = _layout(None)
    with _open(layout) as store:
        found = gather(store, [args.run_id])
    answer = audit(layout, found, args.run_id)
    print(json.dumps(answer, indent=1) if args.json else show_text(answer))
    return 0


def _last(store: Store, ids: list[str], pipeline: str | None, count: int) -> list[str]:
    """The last ``count`` runs of the pipeline (``--pipeline``, else the first run's)."""
    if pipeline is not None:
        from ..pipeline import manifest as mf

        folder: str | Path = mf.load(pipeline)[1]
    elif ids:
        folder = store.run(ids[0]).summary.pipeline
    else:
        raise ParameterError(
            "--last N needs a pipeline", hint="add --pipeline PIPELINE, or give a run id of it"
        )
    return [r.id for r in store.runs(folder)[:count]]


def _runs(args: argparse.Namespace, store: Store) -> tuple[list[str], Gathered]:
    ids = list(dict.fromkeys(args.runs))
    if args.last is not None:
        if args.last < 1:
            raise ParameterError("--last N needs N >= 1", hint="e.g. --last 5")
        ids = list(dict.fromkeys([*ids, *_last(store, ids, args.pipeline, args.last)]))
    if len(ids) < 2:
        raise ParameterError(
            f"compare needs at least 2 runs, got {len(ids)}",
            hint="name the runs (`mlprod-nb runs` lists them) or add --last N",
        )
    if args.baseline is not None and args.baseline not in ids:
        ids.append(args.baseline)
    return ids, gather(store, ids)


def compare(args: argparse.Namespace) -> int:
    from .compare import comparison
    from .text import compare_text

    layout = _layout(args.pipeline)
    with _open(layout) as store:
        ids, found = _runs(args, store)
    answer = comparison(layout, ids, found, args.baseline, str, Path.cwd())
    if args.json:
        print(json.dumps(answer, indent=1))
    else:
        print(compare_text(answer, only_diff=args.only_diff, markdown=args.markdown))
    return 0
