"""The lineage panel in a real JupyterLab, driven by a real Chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import Lab, open_in_lab, widen_sidebar

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot.png"
RUN_TIMEOUT_MS = 150_000


def _active_cell_id(page: Any) -> str:
    result: str = page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.activeCell.model.id"
    )
    return result


def _open_notebook(page: Any, lab: Lab) -> None:
    open_in_lab(page, lab)
    # the notebook's own kernel is up (the toolbar shows "idle" before it exists)
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)


def _run_all(page: Any) -> None:
    page.evaluate("() => { void window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll(
                '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        timeout=120_000,
    )


KERNEL_IDLE = """() => {
    const context = window.jupyterapp.shell.currentWidget?.sessionContext;
    return context?.session?.kernel?.status === 'idle';
}"""

TRACER_LOADED = """async () => {
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const future = kernel.requestExecute({
        code: '', silent: true, store_history: false,
        user_expressions: {loaded: "'mlprod_nb' in get_ipython().extension_manager.loaded"},
    });
    const reply = await future.done;
    return reply.content.user_expressions.loaded.data['text/plain'];
}"""

ADD_BAD_STEP = """async () => {
    const panel = window.jupyterapp.shell.currentWidget;
    const shared = panel.model.sharedModel;
    const cell = shared.insertCell(shared.cells.length, {
        cell_type: 'code', source: 'report = undefined_thing + 1',
        metadata: {tags: ['step:report']},
    });
    await panel.context.save();
    return cell.getId();
}"""

REMOVE_LAST_CELL = """async () => {
    const panel = window.jupyterapp.shell.currentWidget;
    const shared = panel.model.sharedModel;
    shared.deleteCell(shared.cells.length - 1);
    await panel.context.save();
}"""

RESTART_KERNEL = """async () => {
    const context = window.jupyterapp.shell.currentWidget.sessionContext;
    await context.restartKernel();
}"""


def test_panel_lineage_stale_pipeline_and_compare(lab: Lab, browser: Any) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1500, "height": 940})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        _open_notebook(page, lab)
        # the front end loads the tracer silently when the kernel starts
        assert _wait_loaded(page, "True")
        _run_all(page)
        # ... leaving no mark: the first cell ran as [1]
        first = page.locator(".jp-CodeCell .jp-InputPrompt").first
        expect(first).to_have_text(re.compile(r"\[1\]"))

        page.click(".jp-SideBar [data-id='mlprod-nb-panel']")
        panel = page.locator("#mlprod-nb-panel")
        expect(panel.locator(".mlprod-Tracing")).to_contain_text("tracing on")
        expect(panel.locator(".mlprod-Title")).to_have_text("churn.ipynb")

        # lineage: cells and the datasets they read and wrote
        for cell in ("load", "clean", "features", "evaluate"):
            expect(panel.locator(f".mlprod-Node-cell[data-ref='{cell}']")).to_be_visible(
                timeout=20_000
            )
        expect(panel.locator(".mlprod-Node-dataset[data-ref$='customers.csv']")).to_be_visible()
        expect(panel.locator(".mlprod-Node-dataset[data-ref$='clean.parquet']")).to_be_visible()

        # a cell node brings its cell into view and selects it
        panel.locator(".mlprod-Node-cell[data-ref='train']").click()
        page.wait_for_function(
            "() => window.jupyterapp.shell.currentWidget.content.activeCell.model.id === 'train'"
        )
        assert _active_cell_id(page) == "train"
        # ... and so does the keyboard
        panel.locator(".mlprod-Node-cell[data-ref='clean']").focus()
        page.keyboard.press("Enter")
        page.wait_for_function(
            "() => window.jupyterapp.shell.currentWidget.content.activeCell.model.id === 'clean'"
        )

        # a dataset node shows its versions and who read them
        panel.locator(".mlprod-Node-dataset[data-ref$='customers.csv']").click()
        expect(panel.locator(".mlprod-Dataset-head b")).to_have_text("data/customers.csv")
        expect(panel.locator(".mlprod-Dataset")).to_contain_text("load")

        # change the input data: the reading cell turns stale, in the panel and the notebook
        data = lab.root / "data" / "customers.csv"
        data.write_text(data.read_text() + data.read_text().splitlines()[1] + "\n")
        panel.locator(".mlprod-Refresh").click()
        panel.locator(".mlprod-Tab[data-tab='stale']").click()
        expect(panel.locator(".mlprod-StaleList li[data-cell-id='load']")).to_be_visible(
            timeout=20_000
        )
        expect(panel.locator(".mlprod-StaleList li[data-cell-id='load']")).to_contain_text(
            "customers.csv"
        )
        expect(page.locator(".jp-Notebook .jp-Cell.mlprod-stale").first).to_be_visible()

        # export the pipeline, then run it twice: defaults, and fewer trees
        panel.locator(".mlprod-Tab[data-tab='pipeline']").click()
        expect(panel.locator(".mlprod-Steps li[data-step='train']")).to_be_visible()
        panel.locator(".mlprod-Check").click()
        expect(panel.locator(".mlprod-ExportResult.mlprod-ok")).to_be_visible(timeout=30_000)
        panel.locator(".mlprod-Export").click()
        expect(panel.locator(".mlprod-ExportResult")).to_contain_text("Exported to", timeout=30_000)
        run_ids = []
        for trees in ("60", "15"):
            panel.locator(".mlprod-RunForm input[name='n_estimators']").fill(trees)
            panel.locator(".mlprod-Run").click()
            status = panel.locator(".mlprod-RunStatus .mlprod-RunState")
            expect(status).to_have_text("running", timeout=20_000)
            expect(status).to_have_text(re.compile("ok|failed"), timeout=RUN_TIMEOUT_MS)
            log = panel.locator(".mlprod-RunStatus").inner_text()
            assert status.inner_text() == "ok", log
            run_ids.append(panel.locator(".mlprod-RunStatus").get_attribute("data-run-id"))

        # compare the two runs: the changed parameter and its metric stand out
        panel.locator(".mlprod-Tab[data-tab='runs']").click()
        for run_id in run_ids:
            row = panel.locator(f".mlprod-RunsTable tr[data-run-id='{run_id}']")
            expect(row).to_contain_text("ok", timeout=30_000)
            row.locator("input[type='checkbox']").check()
        panel.locator(".mlprod-Compare").click()
        compared = panel.locator(".mlprod-CompareTable")
        changed = compared.locator("tr[data-row='parameters:n_estimators']")
        expect(changed).to_have_class(re.compile("mlprod-Differs"), timeout=20_000)
        expect(changed).to_contain_text("15")
        expect(compared.locator("tr[data-row='metrics:auc']")).to_be_visible()
        panel.locator(".mlprod-Comparison .mlprod-Toggle input").check()
        expect(compared.locator("tr[data-row='parameters:max_depth']")).to_have_count(0)
        expect(changed).to_be_visible()
        expect(panel.locator(".mlprod-Chart svg circle")).to_have_count(2)

        # the README screenshot: lineage next to the notebook with its stale cell marked
        panel.locator(".mlprod-Tab[data-tab='lineage']").click()
        expect(panel.locator(".mlprod-Node-cell[data-ref='load']")).to_be_visible()
        widen_sidebar(page, 330)
        panel.locator(".mlprod-Node-dataset[data-ref$='customers.csv']").click()
        expect(panel.locator(".mlprod-Dataset")).to_contain_text("load")
        page.evaluate("() => window.jupyterapp.shell.currentWidget.content.activeCellIndex = 3")
        page.locator(".jp-Cell.mlprod-stale").first.scroll_into_view_if_needed()
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))
        assert errors == []
    except Exception:
        _keep_evidence(page, lab)
        raise
    finally:
        context.close()


def test_tracing_toggle_survives_kernel_restart(lab: Lab, browser: Any) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1300, "height": 800})
    page = context.new_page()
    try:
        _open_notebook(page, lab)
        # the layout restored from the first test may already show the panel
        page.evaluate("() => window.jupyterapp.shell.activateById('mlprod-nb-panel')")
        toggle = page.locator("#mlprod-nb-panel .mlprod-Tracing")
        panel = page.locator("#mlprod-nb-panel")

        # an export problem is shown in the panel and next to the offending cell
        bad_cell = page.evaluate(ADD_BAD_STEP)
        panel.locator(".mlprod-Tab[data-tab='pipeline']").click()
        panel.locator(".mlprod-Check").click()
        problem = panel.locator(".mlprod-ExportResult.mlprod-bad .mlprod-Problem")
        expect(problem).to_contain_text("undefined_thing", timeout=30_000)
        marked = page.locator(".jp-Notebook .jp-Cell.mlprod-problem")
        expect(marked).to_have_count(1)
        expect(marked).to_contain_text("undefined_thing")
        problem.locator(".mlprod-Chip").click()
        page.wait_for_function(
            "id => window.jupyterapp.shell.currentWidget.content.activeCell.model.id === id",
            arg=bad_cell,
        )
        page.evaluate(REMOVE_LAST_CELL)
        panel.locator(".mlprod-Check").click()
        expect(panel.locator(".mlprod-ExportResult.mlprod-ok")).to_be_visible(timeout=30_000)
        expect(marked).to_have_count(0)

        # a restarted kernel gets the tracer again, silently
        page.evaluate(RESTART_KERNEL)
        page.wait_for_function(KERNEL_IDLE, timeout=60_000)
        assert _wait_loaded(page, "True")

        # off: unloaded now, not reloaded after a restart, remembered in the notebook
        toggle.locator("input").uncheck()
        expect(toggle).to_contain_text("tracing off")
        assert _wait_loaded(page, "False")
        flag = page.evaluate(
            "() => window.jupyterapp.shell.currentWidget.model.getMetadata('mlprod_nb')"
        )
        assert flag == {"tracing": False}
        page.evaluate(RESTART_KERNEL)
        page.wait_for_function(KERNEL_IDLE, timeout=60_000)
        page.wait_for_timeout(1000)
        assert page.evaluate(TRACER_LOADED) == "False"

        toggle.locator("input").check()
        expect(toggle).to_contain_text("tracing on")
        assert _wait_loaded(page, "True")

        # the panel follows the theme through the --jp-* variables
        page.evaluate(
            "() => { void window.jupyterapp.commands.execute("
            "'apputils:change-theme', {theme: 'JupyterLab Dark'}); }"
        )
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        page.wait_for_function(
            """() => {
                const panel = document.querySelector('.mlprod-Panel');
                const bg = getComputedStyle(panel).backgroundColor;
                const [r, g, b] = bg.match(/\\d+/g).map(Number);
                return r + g + b < 200;
            }"""
        )
    except Exception:
        _keep_evidence(page, lab)
        raise
    finally:
        context.close()


def _keep_evidence(page: Any, lab: Lab) -> None:
    """A failing test leaves a screenshot and the lab's log next to each other."""
    shot = lab.log.parent / "failure.png"
    page.screenshot(path=str(shot))
    print(f"browser test failed: screenshot {shot}, JupyterLab log {lab.log}")


def _wait_loaded(page: Any, expected: str) -> bool:
    for _ in range(50):
        if page.evaluate(TRACER_LOADED) == expected:
            return True
        page.wait_for_timeout(100)
    return False
