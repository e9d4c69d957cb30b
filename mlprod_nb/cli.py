"""The ``mlprod-nb`` command: a thin face over the store, lineage and pipeline packages.

Every command has ``--help``. Errors derived from ``MlprodError`` print one
readable message and exit non-zero; anything else is a bug and shows a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from ._version import __version__
from .errors import MlprodError, NotFoundError

Handler = Callable[[argparse.Namespace], int]


def _skipped(lines: int) -> None:
    """Tell the user about journal lines the store could not ingest just now."""
    print(
        f"warning: {lines} journal line(s) could not be ingested; see "
        '`mlprod-nb sql "SELECT * FROM journal_errors"`',
        file=sys.stderr,
    )


def _indent() -> int | None:
    """JSON indented for a person at a terminal; compact for a program reading a pipe (the
    indenting encoder is pure Python: a 10,000-execution lineage takes it ~0.5 s)."""
    return 2 if sys.stdout.isatty() else None


def _cmd_lineage(args: argparse.Namespace) -> int:
    from .store.commands import lineage_answer

    indent = _indent() if args.json else None
    print(lineage_answer(args.notebook, as_json=args.json, indent=indent, skipped=_skipped))
    return 0


def _cmd_stale(args: argparse.Namespace) -> int:
    from .store.commands import stale_answer

    indent = _indent() if args.json else None
    answer = stale_answer(
        args.notebook, order=args.order, as_json=args.json, indent=indent, skipped=_skipped
    )
    print(answer)
    return 0


def _cmd_sql(args: argparse.Namespace) -> int:
    import json

    from .store.commands import query
    from .textable import render

    columns, rows = query(args.query, args.home, allow_files=args.allow_files, skipped=_skipped)
    if args.json:
        print(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str))
    else:
        print(render(columns, rows))
        print(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")
    return 0


def _cmd_compact(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .paths import Layout, find_home
    from .store import Store

    layout = Layout(Path(args.home).expanduser().resolve()) if args.home else find_home(Path.cwd())
    if not layout.home.is_dir():
        raise NotFoundError(
            f"no lineage store yet (looked for {layout.home})",
            path=layout.home,
            hint="run it inside a project that has a .mlprod folder, or pass --home .../.mlprod",
        )

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    with Store.open(layout, ingest=False) as store:
        done = store.compact(progress)
    print(
        f"backup: {done.backup or 'none yet'}; {len(done.removed)} journal file(s) folded "
        f"into it ({done.removed_bytes / 1e6:,.1f} MB), {len(done.kept)} kept"
    )
    for name, why in sorted(done.kept.items()):
        print(f"  kept {name}: {why}")
    return 0


def _trace_progress(index: int, total: int, cell_id: str | None, first_line: str) -> None:
    print(f"[{index}/{total}] cell {cell_id or '-'}: {first_line}", file=sys.stderr, flush=True)


def _cmd_trace(args: argparse.Namespace) -> int:
    """Execute the notebook headlessly with the tracer on, then say what it recorded."""
    from pathlib import Path

    from .errors import RunFailedError
    from .headless import trace_notebook
    from .paths import find_home
    from .pipeline.source import check_notebook_path
    from .store.commands import executions_recorded

    path = Path(args.notebook).expanduser().resolve()
    check_notebook_path(path)  # before a store is made
    before = executions_recorded(path, skipped=_skipped)
    try:
        result = trace_notebook(
            path, timeout=args.timeout, kernel_name=args.kernel, progress=_trace_progress
        )
    except RunFailedError:
        recorded = executions_recorded(path, skipped=_skipped) - before
        print(f"{recorded} executions recorded before the failure", file=sys.stderr)
        raise
    recorded = executions_recorded(path, skipped=_skipped) - before
    print(
        f"traced {result.cells} code cells of {path.name} in {result.seconds:.1f} s; "
        f"{recorded} executions recorded in {find_home(path).home}"
    )
    if result.cells and not recorded:
        print(
            "warning: the tracer recorded nothing: is mlprod-nb installed in the "
            "kernel's environment? The kernel said:\n" + result.kernel_log,
            file=sys.stderr,
        )
        return 1
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .errors import ParameterError
    from .pipeline import export
    from .pipeline.targets import TargetOptions

    if args.verify and args.check:
        raise ParameterError(
            "--verify runs the pipeline it writes; --check writes nothing",
            hint="drop --check to export and verify, or --verify to only validate",
        )
    options = TargetOptions(args.schedule, args.on_new_data, args.dag_id, args.retries)
    result = export.export(
        args.notebook,
        output=args.output,
        check=args.check,
        force=args.force,
        split=args.split,
        target=args.target,
        options=options,
    )
    for warning in result.manifest.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(export.describe(result), end="", flush=True)
    if args.verify and result.folder is not None:
        return _verify(result.folder, args.tolerance)
    return 0


def _verify(folder: str | os.PathLike[str], tolerance: float) -> int:
    from .errors import VerifyError
    from .pipeline.compare import Tolerance
    from .pipeline.verify import verify

    outcome = verify(folder, tolerance=Tolerance(rtol=tolerance), stream=sys.stdout)
    found = outcome.difference
    if found is not None:
        raise VerifyError(
            f"the pipeline differs from Run All: {found.text()}",
            step=found.step,
            cell_id=found.cell_id,
            hint="find what changes it outside the pipeline's steps (a skip cell, a "
            "function changing a global, a file read before it is written); for float "
            "noise, pass a larger --tolerance",
        )
    print(outcome.summary())
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .errors import RunFailedError
    from .pipeline.runner import RunOptions, run

    options = RunOptions(
        params=[(name, value) for name, value in args.param],
        params_file=Path(args.params_file) if args.params_file else None,
        jobs=args.jobs,
        only=args.only,
        from_step=args.from_step,
        resume=args.resume,
        no_cache=args.no_cache,
        isolate=args.isolate,
        cwd=Path(args.cwd) if args.cwd else None,
        run_id=args.run_id,
        stream=sys.stdout,
        executor=args.executor,
        executor_options=_executor_options(args),
    )
    result = run(args.pipeline, options)
    if result.status == "aborted":
        return 130
    if result.status == "failed":
        failed = next((s for s in result.steps if s.name == result.step), None)
        raise RunFailedError(
            (result.error or "the run failed").split("\n")[0],
            path=failed.notebook if failed is not None else None,
            cell_id=result.cell_id,
            step=result.step,
            run_id=result.run_id,
            hint=f"fix it in the source notebook, export, then `mlprod-nb run "
            f"{args.pipeline} --resume {result.run_id}`",
        )
    return 0


def _executor_options(args: argparse.Namespace) -> dict[str, str]:
    """The executor's own flags that were given (``--scheduler-address``, ``--retries``, ...)."""
    from .errors import ParameterError

    given = {
        "scheduler_address": args.scheduler_address,
        "retries": args.retries,
        "artifacts": args.artifacts,
    }
    if args.executor == "local" and args.artifacts:
        raise ParameterError(
            "--artifacts is for steps run elsewhere: a local run keeps its files in the run folder",
            hint="add --executor dask, or leave --artifacts out",
        )
    return {name: str(value) for name, value in given.items() if value is not None}


def _cmd_mv(args: argparse.Namespace) -> int:
    from .moves import move

    record = move(args.old, args.new, record_only=args.record_only)
    done = "recorded the move of" if args.record_only else "moved"
    print(f"{done} {record['old_path']} -> {record['new_path']}: its lineage follows it")
    return 0


def _cmd_runs(args: argparse.Namespace) -> int:
    from .pipeline.history import runs_table

    print(runs_table(args.pipeline, as_json=args.json))
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from .audit.commands import show

    return show(args)


def _cmd_compare(args: argparse.Namespace) -> int:
    from .audit.commands import compare

    return compare(args)


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from .reproduce.commands import reproduce

    return reproduce(args)


class _RunHelp(argparse.HelpFormatter):
    """Names the registered executors only when help is shown (plug-ins are read then)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = super()._get_help_string(action)
        if text is None or "{executors}" not in text:
            return text
        from .pipeline.executors import EXECUTORS

        return text.replace("{executors}", ", ".join(EXECUTORS.names()))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlprod-nb",
        description="Trace notebooks into a lineage store, export them as pipelines, run them.",
    )
    parser.add_argument("--version", action="version", version=f"mlprod-nb {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = command(
        "lineage",
        _cmd_lineage,
        "Show the recorded executions of a notebook, with dependencies and data.",
    )
    p.add_argument("notebook", help="path of the .ipynb file")
    p.add_argument(
        "--json", action="store_true", help="print everything as JSON (full sha256 hashes)"
    )

    p = command("stale", _cmd_stale, "List cells whose inputs changed since they ran.")
    p.add_argument("notebook", help="path of the .ipynb file")
    p.add_argument("--json", action="store_true", help="print the stale cells as JSON")
    p.add_argument(
        "--order",
        choices=("run-all", "any"),
        default="run-all",
        help=(
            "run-all (default): would Run All from the top change what a cell saw? "
            "(a re-binding further down the page does not count; a name only defined "
            "below is flagged out of order). any: the live namespace (any later "
            "re-binding by another cell counts, wherever it is)"
        ),
    )

    p = command("sql", _cmd_sql, "Run a read-only SQL query against the lineage store.")
    p.add_argument("query", help="the SQL query (read-only)")
    p.add_argument("--json", action="store_true", help="print rows as JSON objects")
    p.add_argument("--home", help="the .mlprod folder (default: found from the current directory)")
    p.add_argument(
        "--allow-files",
        action="store_true",
        help="let the query read local files (read_csv, read_parquet, ...); writing stays refused",
    )

    p = command(
        "compact",
        _cmd_compact,
        "Fold journal files the store holds into its backup (.mlprod/backup/), so the "
        "data is not kept twice; files of running writers stay.",
    )
    p.add_argument("--home", help="the .mlprod folder (default: found from the current directory)")

    p = command("trace", _cmd_trace, "Execute a notebook headlessly with the tracer on.")
    p.add_argument("notebook", help="path of the .ipynb file")
    p.add_argument(
        "--timeout", type=int, default=600, help="seconds allowed per cell (default 600)"
    )
    p.add_argument("--kernel", default=None, help="kernel name (default: the notebook's)")

    p = command(
        "export",
        _cmd_export,
        "Compile a notebook's tagged cells into a papermill pipeline (and an Airflow DAG).",
    )
    p.add_argument("notebook", help="path of the .ipynb file")
    p.add_argument(
        "-o",
        "--output",
        help="pipeline folder (default: <notebook>.pipeline next to it); with --target "
        "airflow the DAGs folder (default: dags/ next to it), which gets the DAG file "
        "<dag id>.py and the pipeline folder <notebook>.pipeline/",
    )
    p.add_argument(
        "--target",
        default="papermill",
        metavar="NAME",
        help="papermill (default: the pipeline folder, run by `mlprod-nb run`) or airflow "
        "(also an Airflow 3 DAG: one task per step, each running `mlprod-nb run --only`)",
    )
    p.add_argument(
        "--schedule",
        metavar="CRON",
        help='airflow: the DAG\'s cron schedule, e.g. "0 3 * * *" (default: none, runs '
        "when triggered)",
    )
    p.add_argument(
        "--on-new-data",
        action="store_true",
        help="airflow: schedule the DAG on the pipeline's input datasets (Assets, from the "
        "notebook's lineage: trace it first)",
    )
    p.add_argument("--dag-id", help="airflow: the DAG's id (default: the notebook's name)")
    p.add_argument(
        "--retries", type=int, default=None, metavar="N", help="airflow: retries of each task"
    )
    p.add_argument("--check", action="store_true", help="validate only; write nothing")
    p.add_argument(
        "--verify",
        action="store_true",
        help="after writing, run the notebook top to bottom (as Run All: every code cell, "
        "skip cells too) and the pipeline (default parameters, no cache), each in a "
        "temporary copy of the notebook's folder, and compare every value crossing a "
        "step boundary and every file the steps write; exit 1 at the first difference",
    )
    p.add_argument(
        "--tolerance",
        type=float,
        default=1e-9,
        metavar="RTOL",
        help="relative tolerance for floats with --verify, as numpy.allclose with "
        "atol 0 (default 1e-9)",
    )
    p.add_argument(
        "--split",
        choices=("tags", "headings"),
        default="tags",
        help="where steps start: 'tags' (default: step:<name> tags, or Kale's block:<name>) "
        "or 'headings' (also at each markdown heading of the split level: H2 as Ploomber's "
        "soorgeon does, else the top level used more than once; steps named after them)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="write even where export may not: move what is at the output path (a folder "
        "export did not write, or one whose exported files were edited) aside to "
        "<folder>.backup-<time> next to it, then write a fresh pipeline. Without it, "
        "export replaces only a folder it wrote (it keeps a .mlprod-export.json listing "
        "its files) and only those files: your own files in it are kept",
    )

    p = command("run", _cmd_run, "Run an exported pipeline headlessly with caching.")
    p.add_argument("pipeline", help="pipeline folder (or its pipeline.json)")
    p.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set a parameter (repeatable); checked against the default's type",
    )
    p.add_argument("-f", "--params-file", help="YAML file of parameters")
    p.add_argument(
        "--jobs", type=int, default=None, help="steps run in parallel (default: number of cores)"
    )
    p.add_argument("--only", metavar="STEP", help="run only this step (upstream from cache)")
    p.add_argument(
        "--from", dest="from_step", metavar="STEP", help="run this step and everything downstream"
    )
    p.add_argument(
        "--resume",
        metavar="RUN_ID",
        help="continue a run with its parameters: reuse its steps whose code, parameters, "
        "inputs and data files are unchanged; re-run every other step (the output says why)",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="run every step even if cached (with --resume: except that run's unchanged steps)",
    )
    p.add_argument("--isolate", action="store_true", help="a fresh kernel for every step")
    p.add_argument("--cwd", help="directory steps run in (default: the source notebook's)")
    p.add_argument("--run-id", help="the id of this run (default: a new time-based id)")
    p.formatter_class = _RunHelp
    p.add_argument(
        "--executor",
        default="local",
        metavar="NAME",
        help="what runs the steps: {executors} (default: local, kernels on this machine)",
    )
    p.add_argument(
        "--scheduler-address",
        metavar="tcp://HOST:PORT",
        help="with --executor dask: the cluster's scheduler (default: start a local cluster "
        "of --jobs worker processes for the run)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=None,
        metavar="N",
        help="with --executor dask: submit a step again up to N times when the worker "
        "running it is lost (default: 0, the step fails naming the worker)",
    )
    p.add_argument(
        "--artifacts",
        metavar="URL",
        help="with --executor dask: the artifact store (file:///shared/runs, s3://bucket/prefix, "
        "any fsspec URL) through which workers get the step notebooks and inputs and hand back "
        "artifacts, executed notebooks and journals (default: the run folder, a shared disk)",
    )

    p = command(
        "mv",
        _cmd_mv,
        "Move or rename a notebook (or a folder of them) and keep its lineage "
        "(JupyterLab renames are followed without this).",
    )
    p.add_argument("old", help="the notebook or folder")
    p.add_argument("new", help="its new path (or a folder to move it into)")
    p.add_argument(
        "--record-only",
        action="store_true",
        help="it was moved already (e.g. while JupyterLab was closed): only record that",
    )

    p = command(
        "runs", _cmd_runs, "List pipeline runs with status, parameters, timing and metrics."
    )
    p.add_argument("pipeline", nargs="?", help="only runs of this pipeline folder")
    p.add_argument("--json", action="store_true", help="print runs as JSON")

    p = command(
        "show",
        _cmd_show,
        "What produced a run: data read and written (hashes, sizes), code (step notebooks, "
        "source notebook, git), parameters, environment, artifacts and metrics.",
    )
    p.add_argument("run_id", help="the run (`mlprod-nb runs` lists them)")
    p.add_argument("--json", action="store_true", help="print the audit as JSON")

    p = command(
        "compare",
        _cmd_compare,
        "Runs side by side: parameters, metrics, datasets, step code diffs, environment, "
        "durations and data drift.",
    )
    p.add_argument("runs", nargs="*", metavar="RUN_ID", help="the runs to compare (2 or more)")
    p.add_argument("--last", type=int, metavar="N", help="add the last N runs of the pipeline")
    p.add_argument(
        "--pipeline",
        metavar="PIPELINE",
        help="with --last: the pipeline folder (default: the first run's pipeline)",
    )
    p.add_argument(
        "--baseline", metavar="RUN_ID", help="diff against this run (default: the oldest)"
    )
    p.add_argument("--only-diff", action="store_true", help="show only what differs")
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print the comparison as JSON")
    shape.add_argument(
        "--markdown", action="store_true", help="print Markdown, e.g. for a pull-request comment"
    )

    p = command(
        "reproduce",
        _cmd_reproduce,
        "Re-execute a run (or an interactive session) as recorded and compare the results.",
    )
    p.add_argument("run_id", nargs="?", help="the run to reproduce (`mlprod-nb runs`)")
    p.add_argument(
        "--session", metavar="ID", help="reproduce this kernel session instead (an id prefix)"
    )
    p.add_argument(
        "--allow-drift",
        action="store_true",
        help="run even when inputs, pipeline or packages differ from the recorded ones",
    )
    p.add_argument(
        "--rtol", type=float, default=1e-9, help="relative tolerance for metrics (default 1e-9)"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _schedule_commands(sub, command)
    return parser


def _scheduled(name: str) -> Handler:
    """The handler ``name`` of mlprod_nb.schedule.commands, imported when it runs."""

    def handler(args: argparse.Namespace) -> int:
        from .schedule import commands

        return int(getattr(commands, name)(args))

    return handler


def _schedule_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    command: Callable[[str, Handler, str], argparse.ArgumentParser],
) -> None:
    """``mlprod-nb schedule add|list|pause|resume|remove|history`` and ``scheduler``."""
    home_help = "the .mlprod folder (default: found from the current directory)"
    top = command("schedule", _scheduled("listing"), "Run a pipeline on a cron or on new data.")
    actions = top.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, handler: str, help_text: str) -> argparse.ArgumentParser:
        p = actions.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=_scheduled(handler))
        p.add_argument("--home", help=home_help)
        return p

    p = action("add", "add", "Schedule a pipeline: on a cron in a time zone, on new data, or both.")
    p.add_argument("pipeline", help="pipeline folder (or its pipeline.json)")
    p.add_argument("--cron", help='cron expression, e.g. "0 3 * * *" (03:00 every day)')
    p.add_argument("--tz", help="IANA time zone of the cron (default: this machine's)")
    p.add_argument(
        "--on-new-data",
        action="store_true",
        help="fire when a file the pipeline reads (from its lineage) has new content",
    )
    p.add_argument(
        "-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
        help="set a parameter (repeatable); checked against the default's type",
    )  # fmt: skip
    p.add_argument("-f", "--params-file", help="YAML file of parameters")
    p.add_argument("--name", help="a name to show (default: the pipeline's)")
    p.add_argument(
        "--catch-up",
        choices=("latest", "all", "none"),
        default="latest",
        help="fire times missed while no scheduler ran: run the latest once (default), "
        "all of them one after another, or none",
    )
    p.add_argument(
        "--on-failure",
        metavar="CMD",
        help="shell command run when a run fails (after its retries), with "
        "MLPROD_NB_RUN_ID, MLPROD_NB_RUN_STATUS, MLPROD_NB_RUN_ERROR and "
        "MLPROD_NB_SCHEDULE_ID in its environment",
    )
    p.add_argument("--retries", type=int, default=0, help="re-run a failed run N times")
    p.add_argument(
        "--retry-delay", type=float, default=0.0, metavar="S", help="seconds before a retry"
    )

    p = action("list", "listing", "List schedules: next fire time, last run and status.")
    p.add_argument("--json", action="store_true", help="print the schedules as JSON")
    for name, verb in (("pause", "Pause"), ("resume", "Resume"), ("remove", "Remove")):
        p = action(name, name, f"{verb} a schedule.")
        p.add_argument("id", help="the schedule's id (see mlprod-nb schedule list)")
    p = action("history", "history", "List a schedule's fire times and what became of them.")
    p.add_argument("id", help="the schedule's id (see mlprod-nb schedule list)")
    p.add_argument("--json", action="store_true", help="print the fires as JSON")

    p = command(
        "scheduler",
        _scheduled("scheduler"),
        "Fire due schedules while JupyterLab is closed (may run beside the server: each "
        "fire time starts one run).",
    )
    p.add_argument("--home", help=home_help)
    p.add_argument("--once", action="store_true", help="fire what is due now, then exit")
    p.add_argument(
        "--interval", type=float, default=10.0, metavar="S", help="seconds between ticks"
    )
    p.add_argument(
        "--print-systemd-unit",
        action="store_true",
        help="print a systemd user unit running this scheduler, to copy",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.handler(args))
    except MlprodError as error:
        print(f"mlprod-nb {args.command}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"mlprod-nb {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`mlprod-nb lineage NB | head`): stop quietly, like cat
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return code


if __name__ == "__main__":
    sys.exit(main())
