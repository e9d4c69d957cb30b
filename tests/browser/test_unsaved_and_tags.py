"""Unsaved edits, errors tied to cells and the tag editor, in a real JupyterLab and Chromium.

Issue 9, items 2 and 4 and the tag editor: Check uses the notebook as it is in the
editor, the step list follows tag edits without a refresh, a cycle marks each of its
cells, and the panel's tag editor writes the active cell's tags.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import Lab, open_in_lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS = Path(__file__).resolve().parents[2] / "docs"

SET_TAGS = """([id, tags]) => {
    const panel = window.jupyterapp.shell.currentWidget;
    const cell = panel.content.widgets.find(c => c.model.id === id);
    cell.model.setMetadata('tags', tags);
}"""

TAGS_OF = """id => {
    const panel = window.jupyterapp.shell.currentWidget;
    return panel.content.widgets.find(c => c.model.id === id).model.getMetadata('tags');
}"""

SELECT = """id => {
    const notebook = window.jupyterapp.shell.currentWidget.content;
    notebook.activeCellIndex = notebook.widgets.findIndex(c => c.model.id === id);
}"""

ACTIVE_ID = "() => window.jupyterapp.shell.currentWidget.content.activeCell.model.id"


def _saved_tags(lab: Lab, cell_id: str) -> list[str]:
    notebook = json.loads((lab.root / "churn.ipynb").read_text())
    [cell] = [c for c in notebook["cells"] if c.get("id") == cell_id]
    tags: list[str] = cell["metadata"].get("tags", [])
    return tags


def _open(page: Any, lab: Lab) -> Any:
    open_in_lab(page, lab)
    page.evaluate("() => window.jupyterapp.shell.activateById('mlprod-nb-panel')")
    panel = page.locator("#mlprod-nb-panel")
    panel.locator(".mlprod-Tab[data-tab='pipeline']").click()
    return panel


def test_unsaved_tags_cycles_and_the_tag_editor(lab: Lab, browser: Any) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        panel = _open(page, lab)
        steps = panel.locator(".mlprod-Steps li")
        expect(panel.locator(".mlprod-Steps li[data-step='summary']")).to_be_visible(timeout=20_000)

        # a tag edited in the notebook, not saved: the step list and the badge follow it
        page.evaluate(SET_TAGS, ["summary", ["step:report"]])
        expect(panel.locator(".mlprod-Steps li[data-step='report']")).to_be_visible(timeout=10_000)
        expect(panel.locator(".mlprod-Steps li[data-step='summary']")).to_have_count(0)
        summary_cell = page.locator(".jp-Notebook .jp-Cell").nth(5)
        expect(summary_cell.locator(".mlprod-step-badge")).to_contain_text("step report")
        # ... and Check compiles the open notebook, saying so
        panel.locator(".mlprod-Check").click()
        result = panel.locator(".mlprod-ExportResult.mlprod-ok")
        expect(result).to_contain_text("Export check passed", timeout=30_000)
        expect(result.locator(".mlprod-Unsaved")).to_have_text(
            "checked the open notebook, 1 unsaved change"
        )
        assert _saved_tags(lab, "summary") == ["step:summary"]  # the file is untouched

        # a cycle made by an after: tag: every cell to edit is marked, each links to its cell
        page.evaluate(SET_TAGS, ["load", ["step:load", "after:evaluate"]])
        bad = panel.locator(".mlprod-ExportResult.mlprod-bad")
        expect(bad).to_contain_text("cycle", timeout=30_000)
        chips = bad.locator(".mlprod-Problem .mlprod-Chip")
        cycle_cells = [chips.nth(i).get_attribute("data-cell-id") for i in range(chips.count())]
        assert {"load", "evaluate"} <= set(cycle_cells), cycle_cells
        assert len(cycle_cells) >= 3, cycle_cells  # load -> ... -> evaluate -> load
        marked = page.locator(".jp-Notebook .jp-Cell.mlprod-problem")
        expect(marked).to_have_count(len(cycle_cells))
        for cell_id in cycle_cells:
            bad.locator(f".mlprod-Chip[data-cell-id='{cell_id}']").click()
            page.wait_for_function(f"() => ({ACTIVE_ID})() === {json.dumps(cell_id)}")

        # the tag editor on the active cell: remove the after: tag, the cycle is gone
        page.evaluate(SELECT, "load")
        editor = panel.locator(".mlprod-TagEditor[data-cell-id='load']")
        expect(editor.locator(".mlprod-TagStep")).to_have_value("load")
        expect(editor.locator(".mlprod-TagAfter")).to_have_value("evaluate")
        editor.locator(".mlprod-TagAfter").fill("")
        expect(panel.locator(".mlprod-ExportResult.mlprod-ok")).to_be_visible(timeout=30_000)
        expect(marked).to_have_count(0)
        assert page.evaluate(TAGS_OF, "load") == ["step:load"]

        # ... and give the check cell a step of its own: the step list gains it
        page.evaluate(SELECT, "gate")
        editor = panel.locator(".mlprod-TagEditor[data-cell-id='gate']")
        expect(editor.locator("input[name='check']")).to_be_checked()
        expect(editor.locator(".mlprod-TagStep")).to_have_value("")
        editor.locator(".mlprod-TagStep").press_sequentially("gate", delay=60)
        expect(panel.locator(".mlprod-Steps li[data-step='gate']")).to_be_visible(timeout=10_000)
        assert page.evaluate(TAGS_OF, "gate") == ["step:gate", "check"]
        # summary and gate differ from the file; load is back to what was saved
        expect(panel.locator(".mlprod-ExportResult .mlprod-Unsaved")).to_have_text(
            "checked the open notebook, 2 unsaved changes", timeout=10_000
        )
        expect(steps).to_have_count(7)
        # the write went through the notebook model: it is unsaved, and a save writes it
        # (JupyterLab keeps metadata edits, the property inspector's too, out of undo)
        assert page.evaluate("() => window.jupyterapp.shell.currentWidget.model.dirty")
        page.evaluate("async () => { await window.jupyterapp.shell.currentWidget.context.save(); }")
        assert _saved_tags(lab, "gate") == ["step:gate", "check"]
        panel.locator(".mlprod-Check").click()
        expect(panel.locator(".mlprod-ExportResult .mlprod-Unsaved")).to_have_text(
            "checked the open notebook, no unsaved changes", timeout=30_000
        )
        assert errors == []

        _screenshots(page, panel)
    except Exception:
        page.screenshot(path=str(lab.log.parent / "failure.png"))
        print(f"browser test failed: {lab.log.parent / 'failure.png'}, log {lab.log}")
        raise
    finally:
        context.close()


def _screenshots(page: Any, panel: Any) -> None:
    """docs/tag-editor.png and docs/tag-editor-dark.png: the editor on the active cell."""
    from playwright.sync_api import expect

    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    box = handle.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 140, y, steps=5)
    page.mouse.up()
    page.evaluate(SELECT, "gate")
    expect(panel.locator(".mlprod-TagEditor[data-cell-id='gate']")).to_be_visible()
    page.locator(".jp-Notebook .jp-Cell.jp-mod-active").scroll_into_view_if_needed()
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "tag-editor.png"))
    page.evaluate(
        "() => { void window.jupyterapp.commands.execute("
        "'apputils:change-theme', {theme: 'JupyterLab Dark'}); }"
    )
    page.wait_for_function(
        """() => {
            const panel = document.querySelector('.mlprod-Panel');
            const [r, g, b] = getComputedStyle(panel).backgroundColor.match(/\\d+/g).map(Number);
            return document.body.dataset.jpThemeLight === 'false' && r + g + b < 200;
        }"""
    )
    page.wait_for_timeout(300)  # the notebook's own colours follow the same stylesheet
    page.screenshot(path=str(DOCS / "tag-editor-dark.png"))
    page.evaluate(
        "() => { void window.jupyterapp.commands.execute("
        "'apputils:change-theme', {theme: 'JupyterLab Light'}); }"
    )
