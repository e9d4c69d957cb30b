"""What ``mlprod-nb schedule ...`` and ``mlprod-nb scheduler`` print (cli.py parses)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from ..paths import Layout, find_home
from . import manage
from .cron import zone
from .model import Fire, ScheduleView


def _home(args: argparse.Namespace, near: str | Path | None = None) -> Path:
    if getattr(args, "home", None):
        return Layout(Path(args.home).expanduser().resolve()).home
    return find_home(near).home


def _when(stamp: float | None, tz: str) -> str:
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, zone(tz)).isoformat(timespec="minutes")


def add(args: argparse.Namespace) -> int:
    from ..pipeline.params import read_params_file

    folder = manage.pipeline_folder(args.pipeline)
    values = read_params_file(Path(args.params_file)) if args.params_file else {}
    schedule = manage.add(
        _home(args, folder),
        folder,
        cron=args.cron,
        tz=args.tz,
        on_new_data=args.on_new_data,
        params=values,
        texts=[(name, value) for name, value in args.param],
        name=args.name,
        catch_up=args.catch_up,
        on_failure=args.on_failure,
        retries=args.retries,
        retry_delay=args.retry_delay,
    )
    view = manage.schedules(_home(args, folder))
    nxt = next((v.next_fire for v in view if v.schedule.id == schedule.id), None)
    trigger = " and ".join(
        t
        for t in (
            f"cron {schedule.cron} ({schedule.tz})" if schedule.cron else "",
            "new input data" if schedule.on_new_data else "",
        )
        if t
    )
    print(f"schedule {schedule.id} ({schedule.name}): {trigger}")
    if nxt is not None:
        print(f"next fire: {_when(nxt, schedule.tz)}")
    if schedule.on_new_data:
        from .data import data_inputs

        files = data_inputs(folder)
        print(
            "watching: " + (", ".join(files) or "no input file recorded yet (trace the notebook)")
        )
    return 0


def _row(view: ScheduleView) -> dict[str, Any]:
    return {**asdict(view.schedule), **{k: v for k, v in asdict(view).items() if k != "schedule"}}


def listing(args: argparse.Namespace) -> int:
    from ..textable import render

    views = manage.schedules(_home(args))
    if args.json:
        print(json.dumps([_row(v) for v in views], indent=2))
        return 0
    columns = ["id", "name", "trigger", "next fire", "last run", "status", "paused"]
    rows = []
    for v in views:
        s = v.schedule
        trigger = ", ".join(
            t for t in (f"{s.cron} {s.tz}" if s.cron else "", "new data" * s.on_new_data) if t
        )
        paused = "yes" if s.paused else ""
        rows.append(
            (s.id, s.name, trigger, _when(v.next_fire, s.tz), v.last_run or "-",
             v.last_status or "-", paused)
        )  # fmt: skip
    print(render(columns, rows) if rows else "no schedules (add one: mlprod-nb schedule add)")
    return 0


def pause(args: argparse.Namespace) -> int:
    manage.update(_home(args), args.id, paused=True)
    print(f"schedule {args.id} paused")
    return 0


def resume(args: argparse.Namespace) -> int:
    manage.update(_home(args), args.id, paused=False)
    print(f"schedule {args.id} resumed")
    return 0


def remove(args: argparse.Namespace) -> int:
    manage.remove(_home(args), args.id)
    print(f"schedule {args.id} removed")
    return 0


def history(args: argparse.Namespace) -> int:
    from ..textable import render

    fires = manage.history(_home(args), args.id)
    if args.json:
        print(json.dumps([asdict(f) for f in fires], indent=2))
        return 0
    rows = [(_when(f.due, "UTC"), f.status, f.run or "-", f.reason, f.detail or "") for f in fires]
    print(
        render(["due (UTC)", "status", "run", "reason", "detail"], rows) if rows else "no fires yet"
    )
    return 0


def _report(fire: Fire) -> None:
    print(f"{fire.schedule} {fire.status} {fire.run or '-'}: {fire.reason}", flush=True)


def scheduler(args: argparse.Namespace) -> int:
    from .service import serve, systemd_unit

    home = _home(args, Path.cwd())
    if args.print_systemd_unit:
        sys.stdout.write(systemd_unit(home, args.interval))
        return 0
    return serve(home, interval=args.interval, once=args.once, report=_report)
