"""Everyday actions in a real JupyterLab and Chromium: renames, moves, switching notebooks.

Issue 9, items 1 and 3. A traced notebook renamed (Lab's first-save "Rename file" of
``Untitled.ipynb``, then in the file browser) or moved to another folder with its
kernel running keeps its lineage: new executions go under the new path, earlier ones
stay visible there, the panel follows at once and never polls the old name (no 404),
nothing asks for ``%load_ext`` and the kernel is not restarted. Switching notebooks
shows only that notebook's runs, errors and stale cells.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mlprod_nb.journal import records

from .conftest import Lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN_TIMEOUT_MS = 150_000

CURRENT = "window.jupyterapp.shell.currentWidget"

KERNEL_IDLE = f"""() => {CURRENT}?.sessionContext?.session?.kernel?.status === 'idle'"""

KERNEL_ID = f"() => {CURRENT}.sessionContext.session.kernel.id"

TRACER_LOADED = f"""async () => {{
    const kernel = {CURRENT}.sessionContext.session.kernel;
    const future = kernel.requestExecute({{
        code: '', silent: true, store_history: false,
        user_expressions: {{loaded: "'mlprod_nb' in get_ipython().extension_manager.loaded"}},
    }});
    const reply = await future.done;
    return reply.content.user_expressions.loaded.data['text/plain'];
}}"""

# put ``source`` in cell ``index`` (adding a code cell at the end if needed), run it and
# answer its id once the kernel has answered
RUN_CELL = f"""async ([index, source]) => {{
    const panel = {CURRENT};
    const shared = panel.model.sharedModel;
    if (index >= shared.cells.length) {{
        shared.insertCell(shared.cells.length, {{cell_type: 'code', source: ''}});
    }}
    shared.cells[index].setSource(source);
    panel.content.activeCellIndex = index;
    await window.jupyterapp.commands.execute('notebook:run-cell');
    const cell = panel.content.widgets[index];
    while (cell.model.executionCount === null || cell.promptNode.textContent.includes('*')) {{
        await new Promise(resolve => setTimeout(resolve, 50));
    }}
    return [cell.model.id, cell.model.executionCount];
}}"""

SET_TAGS = f"""([id, tags]) => {{
    const cell = {CURRENT}.content.widgets.find(c => c.model.id === id);
    cell.model.setMetadata('tags', tags);
}}"""


def _lineage(lab: Lab, path: str) -> dict[str, Any]:
    query = urllib.parse.urlencode({"path": path})
    request = urllib.request.Request(
        f"{lab.url}mlprod-nb/api/lineage?{query}",
        headers={"Authorization": f"token {lab.token}"},
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def _cells_traced(lab: Lab, path: str) -> list[str | None]:
    return [e["cell_id"] for e in _lineage(lab, path)["executions"]]


def _start(page: Any, lab: Lab) -> list[tuple[str, float]]:
    """Lab open, the panel shown; answers the list the lineage routes' 404s go to (each
    with the time its request was sent, seconds since the epoch)."""
    missing: list[tuple[str, float]] = []

    def on_response(response: Any) -> None:
        if "/mlprod-nb/api/" in response.url and response.status == 404:
            missing.append((response.url, response.request.timing["startTime"] / 1000))

    page.on("response", on_response)
    page.goto(lab.page_url())
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=60_000)
    page.wait_for_selector(".jp-Launcher, .jp-NotebookPanel", timeout=60_000)
    return missing


def _wait_tracer(page: Any) -> None:
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    for _ in range(100):
        if page.evaluate(TRACER_LOADED) == "True":
            return
        page.wait_for_timeout(100)
    raise AssertionError("the front end did not load the tracer")


def _show_panel(page: Any) -> Any:
    page.evaluate("() => window.jupyterapp.shell.activateById('mlprod-nb-panel')")
    panel = page.locator("#mlprod-nb-panel")
    panel.locator(".mlprod-Tab[data-tab='lineage']").click()
    return panel


def _page_error(errors: list[str], error: Any) -> None:
    """Keep an error of the page, but for JupyterLab's own: its notebook's content-visibility
    observer is dropped when a notebook is hidden and a pending redraw still calls it."""
    text = f"{error}\n{error.stack}"
    frames = [line for line in str(error.stack).splitlines() if "http" in line]
    lab_core = bool(frames) and all("/static/lab/jlab_core." in line for line in frames)
    if not (lab_core and "reading 'observe'" in text):
        errors.append(text)


def _dismiss_listing_race(page: Any) -> None:
    """Jupyter Server may fail a folder listing that races a rename in it (a 404 naming
    the renamed file): the file browser then shows "Directory not found" once. Not ours."""
    dialog = page.locator(".jp-Dialog", has_text="Directory not found")
    if dialog.count():
        dialog.locator(".jp-Dialog-button").first.click()
        dialog.wait_for(state="detached")


def _renames(lab: Lab) -> list[dict[str, Any]]:
    return [
        record
        for journal in sorted((lab.home / "journal").glob("*.ndjson"))
        for record in records(journal)
        if record.get("kind") == "rename"
    ]


def _polled_after_rename(lab: Lab, missing: list[tuple[str, float]]) -> list[str]:
    """The 404s of requests the panel sent for a notebook's old name once the rename was
    recorded (a poll sent a moment before the rename may be answered after it: that is
    not the panel asking for the old name)."""
    renamed = {
        str(Path(r["old_path"]).relative_to(lab.root)): float(r["renamed"]) for r in _renames(lab)
    }
    late = []
    for url, sent in missing:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        path = (query.get("path") or [""])[0]
        if path not in renamed or sent >= renamed[path]:
            late.append(url)
    return late


def _keep_evidence(page: Any, lab: Lab) -> None:
    shot = lab.log.parent / "failure-everyday.png"
    page.screenshot(path=str(shot))
    print(f"browser test failed: screenshot {shot}, JupyterLab log {lab.log}")
    for journal in sorted((lab.home / "journal").glob("*.ndjson")):
        for record in records(journal):
            if record.get("kind") in ("execution", "rename"):
                keys = ("kind", "notebook", "cell_id", "started", "old_path", "new_path", "renamed")
                print({k: record[k] for k in keys if k in record})


def test_rename_on_first_save_in_the_file_browser_and_a_move(lab: Lab, browser: Any) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: _page_error(errors, error))
    try:
        missing = _start(page, lab)
        page.evaluate(
            "async () => { await window.jupyterapp.commands.execute("
            "'notebook:create-new', {cwd: '', kernelName: 'python3'}); }"
        )
        page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=30_000)
        assert page.evaluate(f"() => {CURRENT}.context.path") == "Untitled.ipynb"
        _wait_tracer(page)
        kernel = page.evaluate(KERNEL_ID)
        panel = _show_panel(page)
        expect(panel.locator(".mlprod-Empty")).to_contain_text("run a cell", timeout=20_000)
        assert "load_ext" not in panel.inner_text()  # tracing is on: nothing to load
        first, count = page.evaluate(RUN_CELL, [0, "a = [1]"])
        assert count == 1
        expect(panel.locator(".mlprod-Title")).to_have_text("Untitled.ipynb")
        expect(panel.locator(f".mlprod-Node-cell[data-ref='{first}']")).to_be_visible(
            timeout=20_000
        )
        # before that first run the panel said so (a 404: nothing recorded); from now on
        # the notebook has a lineage under every name it gets
        missing.clear()

        # Lab's first save asks for a name ("Rename file")
        page.evaluate("() => { void window.jupyterapp.commands.execute('docmanager:save'); }")
        dialog = page.locator(".jp-Dialog")
        expect(dialog).to_contain_text("Rename", timeout=10_000)
        dialog.locator("input[type='text']").fill("first.ipynb")
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
        page.wait_for_function(f"() => {CURRENT}.context.path === 'first.ipynb'")
        expect(panel.locator(".mlprod-Title")).to_have_text("first.ipynb", timeout=3_000)
        second, count = page.evaluate(RUN_CELL, [1, "b = a + [2]"])
        assert count == 2  # the same kernel, not restarted
        expect(panel.locator(f".mlprod-Node-cell[data-ref='{second}']")).to_be_visible(
            timeout=20_000
        )
        expect(panel.locator(f".mlprod-Node-cell[data-ref='{first}']")).to_be_visible()
        assert _cells_traced(lab, "first.ipynb") == [first, second]

        # renamed in the file browser, the kernel still running
        _dismiss_listing_race(page)
        page.evaluate("() => window.jupyterapp.shell.activateById('filebrowser')")
        item = page.locator(".jp-DirListing-item[data-file-type='notebook']", has_text="first")
        item.click()
        page.keyboard.press("F2")
        editor = page.locator(".jp-DirListing-editor")
        editor.fill("second.ipynb")
        editor.press("Enter")
        page.wait_for_function(f"() => {CURRENT}.context.path === 'second.ipynb'")
        _show_panel(page)
        expect(panel.locator(".mlprod-Title")).to_have_text("second.ipynb", timeout=3_000)
        third, count = page.evaluate(RUN_CELL, [2, "c = b + [3]"])
        assert count == 3
        expect(panel.locator(f".mlprod-Node-cell[data-ref='{third}']")).to_be_visible(
            timeout=20_000
        )
        assert _cells_traced(lab, "second.ipynb") == [first, second, third]
        [used] = [e for e in _lineage(lab, "second.ipynb")["executions"] if e["cell_id"] == third]
        assert [d["name"] for d in used["deps"]] == ["b"]

        # moved into another folder (what a drag in the file browser does)
        page.evaluate(
            "async () => { const contents = window.jupyterapp.serviceManager.contents;"
            " await contents.save('work', {type: 'directory'});"
            " await contents.rename('second.ipynb', 'work/second.ipynb'); }"
        )
        page.wait_for_function(f"() => {CURRENT}.context.path === 'work/second.ipynb'")
        expect(panel.locator(".mlprod-Title")).to_have_attribute(
            "title", "work/second.ipynb", timeout=3_000
        )
        fourth, count = page.evaluate(RUN_CELL, [3, "d = c"])
        assert count == 4
        expect(panel.locator(f".mlprod-Node-cell[data-ref='{fourth}']")).to_be_visible(
            timeout=20_000
        )
        for cell in (first, second, third):
            expect(panel.locator(f".mlprod-Node-cell[data-ref='{cell}']")).to_be_visible()
        assert _cells_traced(lab, "work/second.ipynb") == [first, second, third, fourth]
        assert (lab.root / "work" / "second.ipynb").is_file()

        page.wait_for_timeout(1_500)  # a poll or two of the panel at the new path
        assert page.evaluate(KERNEL_ID) == kernel
        assert "load_ext" not in panel.inner_text()
        assert _polled_after_rename(lab, missing) == []
        assert errors == [], "\n\n".join(errors)
    except Exception:
        _keep_evidence(page, lab)
        raise
    finally:
        context.close()


def _notebook(path: Path, cells: list[tuple[str, list[str], str]]) -> None:
    path.write_text(
        json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "id": cell_id,
                        "metadata": {"tags": tags},
                        "source": source,
                        "outputs": [],
                        "execution_count": None,
                    }
                    for cell_id, tags, source in cells
                ],
                "metadata": {
                    "kernelspec": {"name": "python3", "display_name": "Python 3"},
                    "language_info": {"name": "python"},
                },
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )


def _open(page: Any, path: str) -> None:
    page.evaluate(
        "async path => { await window.jupyterapp.commands.execute('docmanager:open', {path}); }",
        path,
    )
    page.wait_for_function(f"path => {CURRENT}?.context?.path === path", arg=path)
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell", timeout=30_000)


def test_switching_notebooks_shows_only_that_notebooks_state(lab: Lab, browser: Any) -> None:
    from playwright.sync_api import expect

    _notebook(
        lab.root / "failing.ipynb",
        [
            ("make", ["step:make"], "x = [1]"),
            ("grow", ["step:grow"], "y = x + [2]"),
            ("boom", ["step:boom"], "if y:\n    raise ValueError('boom')"),
        ],
    )
    read = "p = open('tidy.txt').read()"
    (lab.root / "tidy.txt").write_text("one\n")
    _notebook(lab.root / "tidy.ipynb", [("one", [], read), ("two", [], "q = p + 'two'")])
    context = browser.new_context(viewport={"width": 1400, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: _page_error(errors, error))
    try:
        _start(page, lab)
        _open(page, "tidy.ipynb")
        _wait_tracer(page)
        page.evaluate(RUN_CELL, [0, read])
        page.evaluate(RUN_CELL, [1, "q = p + 'two'"])

        _open(page, "failing.ipynb")
        _wait_tracer(page)
        panel = _show_panel(page)
        page.evaluate(RUN_CELL, [0, "x = [1]"])
        page.evaluate(RUN_CELL, [1, "y = x + [2]"])
        page.evaluate(RUN_CELL, [0, "x = [1]"])  # re-ran: grow is stale
        panel.locator(".mlprod-Tab[data-tab='stale']").click()
        stale = panel.locator(".mlprod-StaleList li[data-cell-id='grow']")
        expect(stale).to_be_visible(timeout=20_000)

        # exported and run: boom fails; then a tag edit the check refuses
        panel.locator(".mlprod-Tab[data-tab='pipeline']").click()
        panel.locator(".mlprod-Export").click()
        expect(panel.locator(".mlprod-ExportResult")).to_contain_text("Exported to", timeout=30_000)
        panel.locator(".mlprod-Run").click()
        status = panel.locator(".mlprod-RunStatus .mlprod-RunState")
        expect(status).to_have_text(re.compile("ok|failed"), timeout=RUN_TIMEOUT_MS)
        assert status.inner_text() == "failed"
        page.evaluate(SET_TAGS, ["grow", ["step:grow", "after:nowhere"]])
        panel.locator(".mlprod-Check").click()
        refused = panel.locator(".mlprod-ExportResult.mlprod-bad")
        expect(refused).to_contain_text("nowhere", timeout=30_000)
        panel.locator(".mlprod-Tab[data-tab='runs']").click()
        expect(panel.locator(".mlprod-RunsTable tr[data-run-id]")).to_have_count(1, timeout=20_000)

        # the other notebook: nothing of failing.ipynb on screen
        _open(page, "tidy.ipynb")
        expect(panel.locator(".mlprod-Title")).to_have_text("tidy.ipynb")
        expect(panel.locator(".mlprod-Empty")).to_contain_text("No runs yet", timeout=20_000)
        panel.locator(".mlprod-Tab[data-tab='pipeline']").click()
        expect(panel.locator(".mlprod-RunStatus")).to_have_count(0)
        expect(panel.locator(".mlprod-ExportResult")).to_have_count(0)
        shown = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.mlprod-problem")
        expect(shown).to_have_count(0)
        panel.locator(".mlprod-Tab[data-tab='stale']").click()
        expect(panel.locator(".mlprod-Empty")).to_contain_text("No stale cells", timeout=20_000)
        expect(panel.locator(".mlprod-StaleList li")).to_have_count(0)
        panel.locator(".mlprod-Tab[data-tab='lineage']").click()
        expect(panel.locator(".mlprod-Node-cell[data-ref='one']")).to_be_visible(timeout=20_000)
        expect(panel.locator(".mlprod-Node-cell[data-ref='make']")).to_have_count(0)
        # the file a cell read changed: its node and its reader's turn stale, no refresh
        expect(panel.locator(".mlprod-Node-stale")).to_have_count(0)
        (lab.root / "tidy.txt").write_text("one, edited\n")
        for cell in ("one", "two"):
            node = panel.locator(f".mlprod-Node-cell[data-ref='{cell}']")
            expect(node).to_have_class(re.compile("mlprod-Node-stale"), timeout=30_000)

        # and back: its own runs and stale cells again
        _open(page, "failing.ipynb")
        expect(panel.locator(".mlprod-Title")).to_have_text("failing.ipynb")
        panel.locator(".mlprod-Tab[data-tab='stale']").click()
        expect(stale).to_be_visible(timeout=20_000)
        panel.locator(".mlprod-Tab[data-tab='runs']").click()
        expect(panel.locator(".mlprod-RunsTable tr[data-run-id]")).to_have_count(1, timeout=20_000)
        assert errors == [], "\n\n".join(errors)
    except Exception:
        _keep_evidence(page, lab)
        raise
    finally:
        context.close()
