"""One status vocabulary: the panel's run and step statuses are the Python ones.

``mlprod_nb.records`` defines every status a run or a step can have; the runner,
the store and the server use those names. The front end is read as text: the
status classes its styles know, the unfinished statuses it waits on, and the
statuses it compares runs and steps with must all be names Python writes.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlprod_nb.records import RUN_STATUSES, STEP_STATUSES, UNSETTLED

ROOT = Path(__file__).resolve().parents[1] / "labextension"
KNOWN = set(STEP_STATUSES) | set(RUN_STATUSES)
WORD = re.compile(r"'([a-z_-]+)'")


def sources(*patterns: str) -> dict[str, str]:
    found = {
        p.relative_to(ROOT).as_posix(): p.read_text()
        for pattern in patterns
        for p in sorted(ROOT.glob(pattern))
        if "__tests__" not in p.parts
    }
    assert found, f"no front-end files match {patterns}"
    return found


def test_the_styles_know_only_python_statuses() -> None:
    classes = {
        (path, name)
        for path, text in sources("style/*.css").items()
        for name in re.findall(r"\.mlprod-status-([a-z_-]+)", text)
    }
    assert classes, "the styles have no status classes any more: update this test"
    assert {(p, n) for p, n in classes if n not in KNOWN} == set()


def test_the_panel_waits_on_the_python_unfinished_statuses() -> None:
    lists = [
        (path, set(WORD.findall(items)))
        for path, text in sources("src/**/*.ts", "src/**/*.tsx").items()
        for items in re.findall(r"\[([^\]]*)\]\.includes\((?:\w+\.)?status\)", text)
    ]
    assert lists, "the panel no longer tests for unfinished statuses: update this test"
    assert [(p, words) for p, words in lists if words != set(UNSETTLED)] == []


def test_runs_and_steps_are_compared_with_python_statuses() -> None:
    compared = {
        (path, word)
        for path, text in sources("src/**/*.ts", "src/**/*.tsx").items()
        for word in re.findall(r"\b(?:run|step)\??\.status\s*[!=]==\s*'([a-z_-]+)'", text)
    }
    assert compared, "the panel compares no run or step status: update this test"
    assert {(p, w) for p, w in compared if w not in KNOWN} == set()


def test_status_types_in_the_api_are_the_python_ones() -> None:
    """A union type for statuses in api.ts, when it declares one, names Python statuses only."""
    text = sources("src/api.ts")["src/api.ts"]
    for name, union in re.findall(r"type\s+(\w*Status)\s*=\s*([^;]+);", text):
        assert set(WORD.findall(union)) <= KNOWN, name
