"""The ``mlprod-nb reproduce`` command: which store, which subject, how to print."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import MlprodError, ReproduceError
from ..paths import find_home


def reproduce(args: argparse.Namespace) -> int:
    """Exit 0 when every result is the same, 1 (``ReproduceError``) listing what differs."""
    if bool(args.run_id) == bool(args.session):
        raise MlprodError(
            "give a run id or --session ID (one of them)",
            hint="`mlprod-nb runs` lists runs; `mlprod-nb lineage NOTEBOOK` a notebook's sessions",
        )
    layout = find_home(Path.cwd())
    if args.session:
        from .session import reproduce_session

        report = reproduce_session(
            layout, args.session, allow_drift=args.allow_drift, rtol=args.rtol
        )
    else:
        from .run import reproduce_run

        report = reproduce_run(layout, args.run_id, allow_drift=args.allow_drift, rtol=args.rtol)
    print(json.dumps(report.to_json(), indent=1) if args.json else report.text())
    if not report.ok:
        listed = ", ".join(d.subject for d in report.differences[:5])
        raise ReproduceError(
            f"{report.subject} did not reproduce: {len(report.differences)} result(s) "
            f"differ ({listed})",
            hint="look for randomness without a seed, time, or data read outside the "
            "recorded inputs; compare the two with `mlprod-nb runs --json`",
        )
    return 0
