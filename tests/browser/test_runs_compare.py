"""The Runs tab in a real JupyterLab: compare shows the files runs wrote (a cached step's
marked "from cache"), a running run is cancelled from the table, the table sorts, a step
notebook opens in Lab, and the comparison stays readable in the dark theme."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import nbformat
import pytest

from .conftest import Lab, open_in_lab, widen_sidebar

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS = Path(__file__).resolve().parents[2] / "docs"
CELLS = [
    ("import json, pickle, time\nimport mlprod_nb", ["setup"]),
    ("alpha = 2\npause = 0.0", ["parameters"]),
    (
        "rows = open('raw.csv').read().split()\nopen('clean.csv', 'w').write('\\n'.join(rows))",
        ["step:load"],
    ),
    (
        "time.sleep(pause)\nscore = len(rows) * alpha\n"
        "pickle.dump({'w': alpha}, open('model.pkl', 'wb'))\n"
        "json.dump({'score': score}, open('metrics.json', 'w'))\n"
        "mlprod_nb.log_metric('score', score)",
        ["step:train"],
    ),
]

# WCAG contrast of a cell's text on its background (what a reader sees)
CONTRAST = """(cell) => {
    const rgb = s => {
        const v = s.match(/[\\d.]+/g).slice(0, 3).map(Number);
        return s.startsWith('color(') ? v.map(x => x * 255) : v;  // color-mix: 0..1
    };
    const lum = c => {
        const [r, g, b] = c.map(v => v / 255).map(
            v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const style = getComputedStyle(cell);
    const [a, b] = [lum(rgb(style.color)), lum(rgb(style.backgroundColor))];
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def _api(lab: Lab, route: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"{lab.url}mlprod-nb/api/{route}",
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Authorization": f"token {lab.token}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def _finished(lab: Lab, run_id: str) -> str:
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        status = _api(lab, f"run/{run_id}")
        if status["status"] != "running":
            return str(status["status"])
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish: {status['log_tail']}")


def _pipeline_with_runs(lab: Lab) -> tuple[str, str, str]:
    """flow.ipynb exported and run twice (the second caches its load step; it is started
    as an Airflow task starts one, through the CLI with the DAG's schedule and reason), and
    a third run still going (its train step sleeps)."""
    work = lab.root / "work"
    work.mkdir()
    (work / "raw.csv").write_text("a\nb\nc\n")
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    for index, (source, tags) in enumerate(CELLS):
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": tags})
        cell.id = f"c{index}"
        notebook.cells.append(cell)
    nbformat.write(notebook, work / "flow.ipynb")
    pipeline = _api(lab, "export", {"path": "work/flow.ipynb"})["pipeline"]
    first = _api(lab, "run", {"pipeline": pipeline, "params": {}})["run_id"]
    assert _finished(lab, first) == "ok"
    second = "manual__2026-12-02T10-00-00-00-00"
    command = [sys.executable, "-m", "mlprod_nb.cli", "run", str(lab.root / pipeline)]
    subprocess.run(
        [*command, "-p", "alpha", "5", "--run-id", second],
        env={
            **os.environ,
            "MLPROD_NB_HOME": str(lab.home),
            "MLPROD_NB_SCHEDULE_ID": "airflow:flow",
            "MLPROD_NB_SCHEDULE_REASON": "airflow run manual__2026-12-02T10:00:00+00:00",
        },
        cwd=lab.root / "work",
        check=True,
        capture_output=True,
    )
    assert _finished(lab, second) == "ok"
    going = _api(lab, "run", {"pipeline": pipeline, "params": {"pause": 300.0}})["run_id"]
    return first, second, going


def _row_ids(panel: Any) -> list[str]:
    ids: list[str] = panel.locator(".mlprod-RunsTable tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.runId)"
    )
    return ids


def test_runs_compare_cancel_sort_open_and_dark_theme(lab: Lab, browser: Any) -> None:
    from playwright.sync_api import expect

    first, second, going = _pipeline_with_runs(lab)
    context = browser.new_context(viewport={"width": 1500, "height": 940})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        open_in_lab(page, lab, "work/flow.ipynb")
        page.click(".jp-SideBar [data-id='mlprod-nb-panel']")
        panel = page.locator("#mlprod-nb-panel")
        panel.locator(".mlprod-Tab[data-tab='runs']").click()
        rows = panel.locator(".mlprod-RunsTable tbody tr")
        expect(rows).to_have_count(3, timeout=30_000)

        # newest first; a click on "started" flips the order, one on "status" sorts by it
        assert _row_ids(panel) == [going, second, first]
        # what started a run, beside its id: the Airflow task's, and none for the others
        trigger = panel.locator(f"tr[data-run-id='{second}'] .mlprod-Trigger")
        expect(trigger).to_have_text("airflow")
        assert trigger.get_attribute("title") == (
            "airflow:flow: airflow run manual__2026-12-02T10:00:00+00:00"
        )
        expect(panel.locator(f"tr[data-run-id='{first}'] .mlprod-Trigger")).to_have_count(0)
        panel.locator("th[data-sort='started'] button").click()
        assert _row_ids(panel) == [first, second, going]
        panel.locator("th[data-sort='status'] button").click()
        expect(panel.locator("th[data-sort='status']")).to_have_attribute("aria-sort", "ascending")
        assert _row_ids(panel)[-1] == going  # ok, ok, running

        # cancel the running run: it ends recorded as aborted
        running = panel.locator(f".mlprod-RunsTable tr[data-run-id='{going}']")
        expect(running.locator("[data-status]")).to_have_text("running")
        running.locator(".mlprod-Cancel").click()
        expect(running.locator("[data-status]")).to_have_text("aborted", timeout=60_000)
        expect(running.locator(".mlprod-Cancel")).to_have_count(0)
        assert _api(lab, f"run/{going}")["status"] == "aborted"

        # compare the two finished runs: the files they wrote, the cached one's marked
        for run_id in (second, first):
            panel.locator(f"tr[data-run-id='{run_id}'] input[type='checkbox']").check()
        panel.locator(".mlprod-Compare").click()
        compared = panel.locator(".mlprod-CompareTable")
        clean = compared.locator("tr[data-row='data written:work/clean.csv']")
        expect(clean).to_be_visible(timeout=30_000)
        expect(clean).not_to_have_class(re.compile("mlprod-Differs"))  # same file, from cache
        expect(clean.locator(f"td[data-run-id='{second}'] .mlprod-FromCache")).to_have_text(
            "from cache"
        )
        expect(clean.locator(f"td[data-run-id='{first}'] .mlprod-FromCache")).to_have_count(0)
        model = compared.locator("tr[data-row='data written:work/model.pkl']")
        expect(model).to_have_class(re.compile("mlprod-Differs"))
        expect(model.locator(f"td[data-run-id='{second}']")).to_have_class(
            re.compile("mlprod-DiffersCell")
        )
        digest = model.locator(f"td[data-run-id='{first}'] .mlprod-NoWrap").inner_text()
        assert re.fullmatch(r"[0-9a-f]{10}", digest), digest
        # columns oldest first, whatever order the runs were picked in; the oldest is the baseline
        heads = compared.locator("thead th[data-run-id]").evaluate_all(
            "cells => cells.map(c => c.dataset.runId)"
        )
        assert heads == [first, second]
        expect(compared.locator(f"th[data-run-id='{first}'] input[type='radio']")).to_be_checked()
        expect(compared.locator("tr[data-row='metrics:score']")).to_contain_text("15")
        # the data drift of what the runs wrote at other versions: metrics.json moved
        drifted = panel.locator(".mlprod-Drift[data-path='work/metrics.json']")
        expect(drifted).to_have_class(re.compile("mlprod-Drifted"))
        expect(drifted.locator("summary")).to_contain_text("score: PSI")
        # values keep to one line: a hash is one text line high
        height = clean.locator(f"td[data-run-id='{first}'] .mlprod-NoWrap").bounding_box()
        assert height is not None
        assert height["height"] < 20, height

        widen_sidebar(page, 420)
        panel.locator(".mlprod-Comparison").scroll_into_view_if_needed()
        page.screenshot(path=str(DOCS / "compare.png"))
        differing = model.locator(f"td[data-run-id='{second}']")
        assert differing.evaluate(CONTRAST) >= 4.5  # light theme

        page.evaluate(
            "() => { void window.jupyterapp.commands.execute("
            "'apputils:change-theme', {theme: 'JupyterLab Dark'}); }"
        )
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        page.wait_for_timeout(500)  # the theme's stylesheet applied
        ratio = differing.evaluate(CONTRAST)
        assert ratio >= 4.5, f"differing cell contrast {ratio:.2f} in the dark theme"
        page.screenshot(path=str(DOCS / "compare-dark.png"))

        # a step's executed notebook opens in Lab, from a copy outside the hidden store
        panel.locator(f"tr[data-run-id='{second}'] select.mlprod-Open").select_option("load")
        page.wait_for_function(
            "(p) => window.jupyterapp.shell.currentWidget?.context?.path === p",
            arg=f"mlprod-runs/{second}/steps/load.ipynb",
            timeout=30_000,
        )
        assert page.evaluate("() => window.jupyterapp.shell.currentWidget.context.model.readOnly")
        # ... and the run's log
        page.evaluate(
            "async () => { await window.jupyterapp.commands.execute("
            "'docmanager:open', {path: 'work/flow.ipynb'}); }"
        )
        panel.locator(f"tr[data-run-id='{second}'] select.mlprod-Open").select_option("log")
        page.wait_for_function(
            "(p) => window.jupyterapp.shell.currentWidget?.context?.path === p",
            arg=f"mlprod-runs/{second}/driver.log",
            timeout=30_000,
        )

        # re-run with the parameters of a run: a new run, the same parameters, ok
        page.evaluate(
            "async () => { await window.jupyterapp.commands.execute("
            "'docmanager:open', {path: 'work/flow.ipynb'}); }"
        )
        panel.locator(f"tr[data-run-id='{second}'] .mlprod-Rerun").click()
        expect(rows).to_have_count(4, timeout=30_000)
        new = next(i for i in _row_ids(panel) if i not in (first, second, going))
        fresh = panel.locator(f".mlprod-RunsTable tr[data-run-id='{new}']")
        expect(fresh.locator("[data-status]")).to_have_text("ok", timeout=60_000)
        assert _api(lab, "runs")["runs"][0]["params"] == {"alpha": 5, "pause": 0.0}
        assert errors == []
    except Exception:
        page.screenshot(path=str(lab.log.parent / "failure.png"))
        print(lab.log.read_text()[-4000:])
        raise
    finally:
        context.close()
