"""``--resume`` reuses a step only when its key is the one it would have now.

Real papermill runs: one project is edited case after case (a data file, a
parameter, a failing step fixed, the setup cell), each case resuming the run
before it, and every step's status and re-run reason is checked. Below them,
the reasons themselves, table-driven on recorded runs (no kernel).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mlprod_nb.hashing import sha256_file
from mlprod_nb.pipeline import manifest as mf
from mlprod_nb.pipeline.cache import StepKey
from mlprod_nb.pipeline.resume import Resumed
from mlprod_nb.pipeline.runner import RunOptions, RunResult, run

from .conftest import Cell, project
from .test_run import exported, statuses, step

SETUP: Cell = ("import json", ["setup"])
CELLS: list[Cell] = [
    SETUP,
    ("n = 1", ["parameters"]),
    step("load", "text = open('data.txt').read()"),
    step("scale", "m = n * 2"),
    step("combine", "k = len(text) + m"),
    step("check", "assert k < 100, 'k too big'\nopen('k.txt', 'w').write(json.dumps(k))"),
]
REUSED = None  # expected reason of a step taken from the resumed run


@dataclass(frozen=True)
class Case:
    name: str
    change: Callable[[Path, list[Cell]], None]  # edits the project (and its cells) first
    reasons: dict[str, str | None]  # step: expected re-run reason (REUSED: taken over)
    params: list[tuple[str, str]] = field(default_factory=list)
    status: str = "ok"
    k: int | None = None  # what check wrote, when it ran


def nothing(base: Path, cells: list[Cell]) -> None:
    pass


def edit_data(base: Path, cells: list[Cell]) -> None:
    (base / "data.txt").write_text("hello, world")


def delete_output(base: Path, cells: list[Cell]) -> None:
    (base / "k.txt").unlink()


def reexport(index: int, cell: Cell) -> Callable[[Path, list[Cell]], None]:
    """Edit one cell and export again (later cases keep the edit)."""

    def change(base: Path, cells: list[Cell]) -> None:
        cells[index] = cell
        exported(base, cells)

    return change


CASES = [
    Case("nothing changed", nothing, dict.fromkeys(["load", "scale", "combine", "check"])),
    Case(
        "a file a step wrote deleted",
        delete_output,
        {"load": REUSED, "scale": REUSED, "combine": REUSED, "check": "file k.txt it wrote"},
        k=7,
    ),
    Case(
        "data file changed",
        edit_data,
        {
            "load": "data file data.txt changed",
            "scale": REUSED,
            "combine": "input changed (text)",
            "check": "input changed (k)",
        },
        k=14,
    ),
    Case(
        "parameter changed",
        nothing,
        {
            "load": REUSED,
            "scale": "parameters changed (n)",
            "combine": "input changed (m)",
            "check": "input changed (k)",
        },
        params=[("n", "5")],
        k=22,
    ),
    Case(
        "a step fails",
        nothing,
        {"load": REUSED, "scale": "parameters", "combine": "input", "check": "input"},
        params=[("n", "60")],
        status="failed",
    ),
    Case(
        "failing step fixed and re-exported",
        reexport(5, step("check", "assert k < 1000\nopen('k.txt', 'w').write(json.dumps(k))")),
        {"load": REUSED, "scale": REUSED, "combine": REUSED, "check": "it failed in run"},
        k=132,  # n = 60 carried over from the resumed run
    ),
    Case(
        "setup cell edited and re-exported",
        reexport(0, ("import json\nimport os", ["setup"])),
        dict.fromkeys(["load", "scale", "combine", "check"], "code changed"),
        k=132,
    ),
]


def reasons(result: RunResult) -> dict[str, str | None]:
    return {s.name: s.rerun for s in result.steps}


def test_resume_reruns_exactly_what_changed(tmp_path: Path) -> None:
    base = project(tmp_path / "p")
    (base / "data.txt").write_text("hello")
    cells = list(CELLS)
    folder = exported(base, cells)
    previous = run(folder, RunOptions(jobs=1))
    assert previous.status == "ok", previous.error
    for case in CASES:
        case.change(base, cells)
        options = RunOptions(jobs=1, resume=previous.run_id, params=case.params)
        result = run(folder, options)
        assert result.status == case.status, (case.name, result.error)
        got = reasons(result)
        for name, reason in case.reasons.items():
            if reason is REUSED:
                assert got[name] is None, (case.name, name, got[name])
                assert statuses(result)[name] == "cached", (case.name, name)
            else:
                assert reason in (got[name] or ""), (case.name, name, got[name])
                assert statuses(result)[name] in ("ok", "failed"), (case.name, name)
        if case.k is not None:
            assert json.loads((base / "k.txt").read_text()) == case.k, case.name
        # said in the progress output and kept in the run record
        log = (result.folder / "driver.log").read_text()
        summary = json.loads((result.folder / "summary.json").read_text())
        for record in summary["steps"]:
            if record["rerun"] is not None:
                assert f"{record['name']}: re-run: {record['rerun']}" in log, case.name
            else:
                assert record["cached_from"] is not None, (case.name, record["name"])
        previous = result


WRITER_READER: list[Cell] = [
    ("n = 1", ["parameters"]),
    step("write", "open('data.csv', 'w').write(f'v\\n{n}\\n')"),
    step("read", "v = int(open('data.csv').read().split()[1])\nopen('out.txt', 'w').write(str(v))"),
]


def test_a_reader_is_keyed_on_the_file_its_upstream_step_just_wrote(tmp_path: Path) -> None:
    """read's key is taken after write rewrote data.csv: never the old file's result."""
    base = project(tmp_path / "p")
    folder = exported(base, WRITER_READER)
    manifest, _ = mf.load(folder)
    assert [(e.source, e.target, e.files) for e in manifest.edges] == [
        ("write", "read", ("data.csv",))
    ]
    first = run(folder, RunOptions(jobs=2))
    assert statuses(first) == {"write": "ok", "read": "ok"}
    assert (base / "out.txt").read_text() == "1"

    second = run(folder, RunOptions(jobs=2, params=[("n", "2")]))
    assert statuses(second) == {"write": "ok", "read": "ok"}  # not the cached n = 1 result
    assert (base / "out.txt").read_text() == "2"

    back = run(folder, RunOptions(jobs=2))  # the first run's key, but not its files
    assert statuses(back) == {"write": "ok", "read": "ok"}
    assert (base / "out.txt").read_text() == "1"
    again = run(folder, RunOptions(jobs=2))  # now files and keys are the first run's
    assert statuses(again) == {"write": "cached", "read": "cached"}

    resumed = run(folder, RunOptions(jobs=2, resume=first.run_id, params=[("n", "3")]))
    assert reasons(resumed) == {
        "write": "parameters changed (n)",
        "read": "data file data.csv changed",
    }
    assert (base / "out.txt").read_text() == "3"


# -- the reasons, on recorded runs -------------------------------------------------


KEY = StepKey("code-1", {"n": 1}, {"m": "sha-m"})  # the key the step had in run r1


@dataclass(frozen=True)
class Reason:
    name: str
    before: dict[str, Any]  # changes to what run r1 recorded of the step
    expected: str | None
    key: StepKey = KEY  # the key it has now
    files: dict[str, str | None] = field(default_factory=dict)  # rewritten (None: deleted)


def recorded(base: Path, **change: Any) -> dict[str, Any]:
    data, out = str(base / "data.txt"), str(base / "out.txt")
    kept = str(base / "k.json")
    artifact = {"name": "k", "path": kept, "sha256": sha256_file(kept)}
    parts = KEY.parts({data: sha256_file(data)}, {out: sha256_file(out)})
    parts.update(change.pop("parts", {}))
    return {"name": "s", "status": "ok", "artifacts": [artifact], "key": parts, **change}


REASONS = [
    Reason("unchanged", {}, None),
    Reason("failed before", {"status": "failed"}, "it failed in run r1"),
    Reason("skipped before", {"status": "skipped"}, "it was skipped in run r1"),
    Reason("killed before", {"status": "interrupted"}, "it did not finish in run r1"),
    Reason("no key recorded", {"key": None}, "run r1 kept no key for it (an older mlprod-nb)"),
    Reason(
        "reads unknown",
        {"parts": {"traced": False}},
        "the files it read were not recorded in run r1",
    ),
    Reason("code", {}, "code changed", key=StepKey("code-2", {"n": 1}, {"m": "sha-m"})),
    Reason("parameter", {}, "parameters changed (n)", key=StepKey("code-1", {"n": 2}, KEY.inputs)),
    Reason(
        "new parameter",
        {},
        "parameters changed (q)",
        key=StepKey("code-1", {"n": 1, "q": 0}, KEY.inputs),
    ),
    Reason("input", {}, "input changed (m)", key=StepKey("code-1", {"n": 1}, {"m": "sha-x"})),
    Reason(
        "several",
        {},
        "code changed, parameters changed (n), input changed (m)",
        key=StepKey("code-2", {"n": 2}, {"m": "sha-x"}),
    ),
    Reason("artifact gone", {}, "artifact k is missing or changed", files={"k.json": None}),
    Reason("data file changed", {}, "data file data.txt changed", files={"data.txt": "new"}),
    Reason("data file gone", {}, "data file data.txt is missing", files={"data.txt": None}),
    Reason("written file changed", {}, "file out.txt it wrote changed", files={"out.txt": "x"}),
]


@pytest.mark.parametrize("case", REASONS, ids=[c.name for c in REASONS])
def test_why_a_step_runs_again(tmp_path: Path, case: Reason) -> None:
    for name, text in {"data.txt": "hello", "out.txt": "out", "k.json": "3"}.items():
        (tmp_path / name).write_text(text)
    before = recorded(tmp_path, **case.before)
    for name, new in case.files.items():
        if new is None:
            (tmp_path / name).unlink()
        else:
            (tmp_path / name).write_text(new)
    resumed = Resumed("r1", {"id": "r1", "steps": [before]})
    step = mf.Step("s", "s.ipynb", ("c1",), (mf.Input("m", "up"),), ("k",), ("n",), (), "x")
    assert resumed.change(step, case.key, tmp_path) == case.expected


def test_a_step_the_resumed_run_did_not_have_runs() -> None:
    step = mf.Step("new", "new.ipynb", (), (), (), (), (), "x")
    reason = Resumed("r1", {"steps": []}).change(step, KEY, Path.cwd())
    assert reason == "not a step of run r1"
