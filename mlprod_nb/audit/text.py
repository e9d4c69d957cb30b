"""The audit answers for people: ``show`` as text, ``compare`` as text or Markdown.

Both take the JSON answers (``report.audit``, ``compare.comparison``), so what a
person reads is what ``--json`` prints. Content hashes are cut to 12 characters,
paths under the working folder shown relative to it. The Markdown of a comparison is
meant for a pull-request comment: GitHub tables, step diffs in folded ``diff`` blocks.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..textable import render

_HASH = re.compile(r"^[0-9a-f]{40,64}$")
SHORT = 12

Table = Callable[[Sequence[str], Sequence[Sequence[object]]], str]


def shown_path(path: str, here: Path | None = None) -> str:
    """``path`` relative to the working folder when it is under it."""
    base = here or Path.cwd()
    try:
        return str(Path(path).relative_to(base))
    except ValueError:
        return path


def value(item: Any) -> str:
    """One value in a table cell: hashes cut short, floats to 6 significant digits."""
    if item is None:
        return "-"
    if isinstance(item, bool):
        return "yes" if item else "no"
    if isinstance(item, float):
        return f"{item:.6g}"
    if isinstance(item, str) and _HASH.match(item):
        return item[:SHORT]
    return str(item)


def _when(epoch: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) if epoch else "-"


def _seconds(ms: float | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.1f}s"


def _size(size: int | None) -> str:
    if size is None:
        return "-"
    amount = float(size)
    for unit in ("B", "KiB", "MiB"):
        if amount < 1024:
            return f"{size} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GiB"


def _section(title: str, body: str) -> str:
    return f"{title}\n{body}" if body else f"{title}\n  (none)"


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" if line else line for line in text.splitlines())


# -- show ---------------------------------------------------------------------------------


def _code(code: Mapping[str, Any]) -> str:
    snapshot = code.get("snapshot")
    lines = [
        f"source notebook  {shown_path(code['source_notebook'] or '-')}  "
        f"sha256 {value(code['source_sha256'])}",
    ]
    exported = code.get("exported_sha256")
    if exported and code["source_sha256"] and exported != code["source_sha256"]:
        lines.append(f"  changed since it was exported (export had sha256 {value(exported)})")
    lines.append(f"pipeline.json    sha256 {value(code['pipeline_hash'])}")
    if not snapshot:
        lines.append("snapshot         not kept (a run recorded before runs kept what they ran)")
    else:
        lines.append("snapshot         kept in .mlprod/objects (manifest and step notebooks)")
    commits = ", ".join(value(c) for c in code["git_commit"]) or "not a git repository"
    dirty = " (uncommitted changes)" if True in code["git_dirty"] else ""
    lines.append(f"git commit       {commits}{dirty}")
    rows = [
        (
            s["name"],
            s["status"],
            s["produced_by"] or "this run",
            value(s["notebook_sha256"]),
            value(s["code_hash"]),
            _seconds(s["duration_ms"]),
        )
        for s in code["steps"]
    ]
    header = ("step", "status", "computed by", "notebook sha256", "code hash", "duration")
    return "\n".join([*lines, render(header, rows)])


def _package_change(name: str, base: Mapping[str, str], other: Mapping[str, str]) -> str:
    if name not in base:
        return f"+{name} {other[name]}"
    if name not in other:
        return f"-{name} {base[name]}"
    return f"{name} {base[name]} -> {other[name]}"


def _package_changes(base: Mapping[str, str], other: Mapping[str, str], most: int = 8) -> str:
    """How ``other``'s packages differ from ``base``'s: ``+new 1.0, -gone 2.0, pkg 1 -> 2``."""
    names = sorted(n for n in set(base) | set(other) if base.get(n) != other.get(n))
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(_package_change(n, base, other) for n in names[:most]) + more


def _environment(environments: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for index, env in enumerate(environments):
        memory = env["memory_bytes"]
        ram = f", {_size(memory)} RAM" if memory else ""
        gpus = ", ".join(env["gpus"]) or "no GPU"
        parts.append(
            f"steps {', '.join(env['steps'])}: Python {value(env['python'])} on "
            f"{value(env['platform'])}, host {value(env['hostname'])}, "
            f"{value(env['cpu_count'])} CPUs{ram}, {gpus}\n"
            f"  {len(env['packages'])} packages (sha256 {value(env['packages_hash'])}; "
            "--json lists their versions)"
        )
        if index:
            changes = _package_changes(environments[0]["packages"], env["packages"])
            parts.append(f"  packages unlike the first environment's: {changes or 'none'}")
    return "\n".join(parts)


def show_text(answer: Mapping[str, Any]) -> str:
    """The audit of one run, section by section."""
    run = answer["run"]
    head = (
        f"run {run['id']}: {run['status']}  pipeline {shown_path(run['pipeline'])}  "
        f"started {_when(run['started'])}  took {_seconds(run['duration_ms'])}"
    )
    if run["schedule"]:
        head += f"\n  started by {run['schedule']}: {run['reason'] or '-'}"
    if run["error"]:
        head += f"\n  error: {run['error']}"
    params = render(("name", "value"), [(k, value(v)) for k, v in answer["parameters"].items()])
    data = render(
        ("step", "mode", "path", "sha256", "size", "computed by"),
        [
            (
                f["step"],
                f["mode"],
                shown_path(f["path"]),
                value(f["sha256"]),
                _size(f["size"]),
                f["produced_by"] or "this run",
            )
            for f in answer["data"]
        ],
    )
    artifacts = [
        (s["name"], a["name"], value(a["sha256"]), a["serializer"])
        for s in answer["code"]["steps"]
        for a in s["artifacts"]
    ]
    metrics = [(k, value(v)) for k, v in sorted(answer["metrics"].items())]
    sections = [
        head,
        _section("Code", _indent(_code(answer["code"]))),
        _section("Parameters", _indent(params) if answer["parameters"] else ""),
        _section("Data (read and written, per step)", _indent(data) if answer["data"] else ""),
        _section("Environment", _indent(_environment(answer["environment"]))),
        _section(
            "Artifacts",
            _indent(render(("step", "name", "sha256", "serializer"), artifacts))
            if artifacts
            else "",
        ),
        _section("Metrics", _indent(render(("name", "value"), metrics)) if metrics else ""),
    ]
    return "\n\n".join(sections)


# -- compare ------------------------------------------------------------------------------


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""

    def cell(item: object) -> str:
        return str(item).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(map(cell, headers)) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    return "\n".join(lines)


def _cells(row: Mapping[str, Any], fmt: Callable[[Any], str]) -> list[str]:
    cells = [fmt(v) for v in row["values"]]
    for index, origin in enumerate(row.get("from_cache") or ()):
        if origin:
            cells[index] += f" (from {origin})"
    return cells


def _rows(
    rows: Sequence[Mapping[str, Any]],
    only_diff: bool,
    mark: Callable[[str], str],
    paths: bool,
    fmt: Callable[[Any], str],
) -> list[list[str]]:
    shown = []
    for row in rows:
        if only_diff and not row["differs"]:
            continue
        name = shown_path(row["name"]) if paths else row["name"]
        shown.append([mark(name) if row["differs"] else name, *_cells(row, fmt)])
    return shown


def _environment_rows(
    rows: Sequence[Mapping[str, Any]], only_diff: bool
) -> tuple[list[Mapping[str, Any]], int]:
    """The environment rows to show: packages only where versions differ."""
    same = [r for r in rows if r["name"].startswith("package ") and not r["differs"]]
    kept = [r for r in rows if r not in same and (r["differs"] or not only_diff)]
    return kept, len(same)


def compare_text(answer: Mapping[str, Any], *, only_diff: bool, markdown: bool) -> str:
    """The comparison section by section; ``only_diff`` keeps only what differs."""
    table: Table = markdown_table if markdown else render
    mark: Callable[[str], str] = (lambda n: f"**{n}**") if markdown else (lambda n: f"* {n}")
    runs = answer["runs"]
    headers = ["", *(f"{r} (baseline)" if r == answer["baseline"] else r for r in runs)]

    def title(text: str) -> str:
        return f"### {text}" if markdown else text

    def rows_section(
        name: str,
        rows: Sequence[Mapping[str, Any]],
        paths: bool = False,
        fmt: Callable[[Any], str] = value,
    ) -> str:
        shown = _rows(rows, only_diff, mark, paths, fmt)
        if not shown:
            return ""
        if markdown:
            return f"{title(name)}\n\n{table(headers, shown)}"
        return f"{name}\n{_indent(table(headers, shown))}"

    env, same = _environment_rows(answer["environment"], only_diff)
    parts = [
        rows_section("Parameters", answer["params"]),
        rows_section("Metrics", answer["metrics"]),
        rows_section("Datasets read", answer["datasets"], paths=True),
        rows_section("Datasets written", answer["outputs"], paths=True),
        _steps(answer, only_diff, markdown, table, mark, headers),
        rows_section("Environment", env),
        rows_section("Durations", answer["durations"], fmt=_seconds),
        _drift(answer, markdown),
    ]
    if same:
        parts.append(f"({same} packages have the same version in every run)")
    intro = f"Comparing {len(runs)} runs; baseline {answer['baseline']}."
    if markdown:
        intro = f"## mlprod-nb compare\n\n{intro} Changed rows are **bold**."
    elif only_diff:
        intro += " Only what differs is shown."
    found = [p for p in parts if p]
    if only_diff and not found:
        found = ["nothing differs"]
    return "\n\n".join([intro, *found])


def _steps(
    answer: Mapping[str, Any],
    only_diff: bool,
    markdown: bool,
    table: Table,
    mark: Callable[[str], str],
    headers: Sequence[str],
) -> str:
    steps = [s for s in answer["steps"] if s["differs"] or not only_diff]
    if not steps:
        return ""
    rows = [
        [mark(s["name"]) if s["differs"] else s["name"], *map(value, s["hashes"])] for s in steps
    ]
    diffs = [(s["name"], s["diff"]) for s in steps if s["diff"]]
    if markdown:
        blocks = [
            f"<details><summary>step {name}: code diff</summary>\n\n```diff\n{diff}```\n\n"
            "</details>"
            for name, diff in diffs
        ]
        return "\n\n".join(["### Step code (user cells)", table(headers, rows), *blocks])
    text = "Step code (user cells; hash per run)\n" + _indent(table(headers, rows))
    return "\n".join([text, *(_indent(diff.rstrip("\n")) for _, diff in diffs)])


def _drift(answer: Mapping[str, Any], markdown: bool) -> str:
    lines = []
    for d in answer.get("drift", ()):
        where = shown_path(d["path"]) + (f" table {d['table']}" if d["table"] else "")
        subject = f"{where} ({d['mode']}) in {d['run']} against {d['baseline']}"
        if d["unknown"]:
            lines.append(f"{subject}: {d['unknown']}")
            continue
        changed = [c["text"] for c in d["columns"] if c["flagged"] or c["change"]]
        lines.append(f"{subject}: {'; '.join(changed) if changed else 'no column drifted'}")
    if not lines:
        return ""
    limit = answer.get("drift_thresholds", {}).get("flagged")
    name = f"Data drift (PSI > {limit} flagged)" if limit is not None else "Data drift"
    if markdown:
        return f"### {name}\n\n" + "\n".join(f"- {line}" for line in lines)
    return name + "\n" + "\n".join(f"  {line}" for line in lines)
