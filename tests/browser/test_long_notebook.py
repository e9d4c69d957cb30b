"""The lineage panel on a 300-cell notebook, in a real JupyterLab and Chromium.

The executions are journal records written as the tracer writes them (no kernel
runs 330 cells here); the server ingests them as it does a kernel's.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from mlprod_nb.journal import JournalWriter
from mlprod_nb.paths import Layout
from mlprod_nb.records import (
    SCHEMA,
    Dependency,
    ExecutionId,
    FileAccess,
    SessionId,
    SessionRecord,
    new_execution,
)

from .conftest import Lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = 300
SIDE_READER = 250  # the one cell reading side.csv: it and the cells below go stale
NOTEBOOK = "long.ipynb"
DOCS = Path(__file__).resolve().parents[2] / "docs"


def cell_id(index: int) -> str:
    return f"cell-{index:03d}"


def source(index: int) -> str:
    return "config = load()" if index == 0 else f"v{index} = step(v{index - 1}, config)"


class Kernel:
    """Appends what the tracer would for runs of the notebook's cells."""

    def __init__(self, lab: Lab) -> None:
        self.root = lab.root
        self.notebook = str(lab.root / NOTEBOOK)
        self.writer = JournalWriter(Layout(lab.home).journal_dir, name="long-kernel")
        self.seq = 0
        self.latest: dict[int, str] = {}
        self.writer.append(
            SessionRecord(
                v=SCHEMA,
                kind="session",
                session=SessionId("long"),
                pid=os.getpid(),
                started=time.time(),
                notebook=self.notebook,
                cwd=str(lab.root),
                env=None,
            )
        )

    def run(self, index: int, count: int) -> None:
        self.seq += 1
        execution = f"long:{self.seq}"
        deps = [] if index == 0 else [("config", 0), (f"v{index - 1}", index - 1)]
        files: list[FileAccess] = []
        if index == SIDE_READER:
            side = self.root / "side.csv"
            files.append(
                FileAccess(
                    path=str(side),
                    mode="read",
                    sha256="0" * 64,  # not side.csv's hash: the cell is stale at once
                    size=side.stat().st_size,
                    via="open",
                    mtime_ns=side.stat().st_mtime_ns,
                )
            )
        self.writer.append(
            new_execution(
                session="long",
                seq=self.seq,
                source=source(index),
                started=time.time(),
                duration_ms=2.0,
                notebook=self.notebook,
                cell_id=cell_id(index),
                execution_count=count,
                defines=["config"] if index == 0 else [f"v{index}"],
                uses=[name for name, _ in deps],
                deps=[Dependency(name=n, execution=ExecutionId(self.latest[c])) for n, c in deps],
                files=files,
            )
        )
        self.latest[index] = execution


def write_notebook(root: Path) -> None:
    cells = [
        {
            "cell_type": "code",
            "id": cell_id(i),
            "metadata": {},
            "source": source(i),
            "outputs": [],
            "execution_count": None,
        }
        for i in range(CELLS)
    ]
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    book = {"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}
    (root / NOTEBOOK).write_text(json.dumps(book))
    (root / "side.csv").write_text("a\n1\n")


def _shown(panel: Any) -> list[str]:
    refs: list[str] = panel.locator(".mlprod-Node-cell").evaluate_all(
        "nodes => nodes.map(n => n.dataset.ref)"
    )
    return refs


def test_a_300_cell_lineage_can_be_searched_filtered_highlighted_and_follows_new_runs(
    lab: Lab, browser: Any
) -> None:
    from playwright.sync_api import expect

    write_notebook(lab.root)
    kernel = Kernel(lab)
    count = 0
    for _ in range(3):  # top to bottom, then again: 900 executions
        for index in range(CELLS):
            count += 1
            kernel.run(index, count)

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(lab.page_url())
        page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=60_000)
        page.wait_for_selector(".jp-Launcher, .jp-NotebookPanel", timeout=60_000)
        page.evaluate(
            "async path => { await window.jupyterapp.commands.execute("
            "'docmanager:open', {path, kernel: {name: null}}); }",
            NOTEBOOK,
        )
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
        page.click(".jp-SideBar [data-id='mlprod-nb-panel']")
        panel = page.locator("#mlprod-nb-panel")
        graph = panel.locator(".mlprod-Graph")
        expect(panel.locator(f".mlprod-Node-cell[data-ref='{cell_id(0)}']")).to_be_visible(
            timeout=60_000
        )
        expect(graph).to_have_attribute("data-nodes", str(CELLS + 1))  # and side.csv

        # fits the sidebar: no sideways scrolling, labels at a readable size
        fits = graph.evaluate("g => g.scrollWidth <= g.clientWidth + 1")
        assert fits, "the graph is wider than the sidebar"
        first = panel.locator(f".mlprod-Node-cell[data-ref='{cell_id(0)}']")
        size = first.evaluate("n => parseFloat(getComputedStyle(n).fontSize)")
        assert size >= 11
        expect(first).to_contain_text(f"[{count - CELLS + 1}]")

        # search
        panel.locator(".mlprod-GraphSearch").fill(cell_id(123))
        assert _shown(panel) == [cell_id(123)]
        expect(panel.locator(".mlprod-GraphCount")).to_have_text(f"1 of {CELLS + 1}")
        panel.locator(".mlprod-GraphSearch").fill("")

        # the active cell's node is highlighted and brought into view
        page.evaluate(
            "index => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = index; }",
            150,
        )
        active = panel.locator(".mlprod-Node-active")
        expect(active).to_have_attribute("data-ref", cell_id(150))
        expect(active).to_be_in_viewport()

        # its ancestors, its descendants
        scope = panel.locator(".mlprod-GraphScope")
        scope.select_option("ancestors")
        expect(graph).to_have_attribute("data-nodes", "151")
        expect(active).to_be_in_viewport()
        scope.select_option("descendants")
        expect(graph).to_have_attribute("data-nodes", str(CELLS - 150))
        assert min(_shown(panel)) == cell_id(150)

        # stale cells: the side.csv reader and every cell below it
        scope.select_option("stale")
        expect(graph).to_have_attribute("data-nodes", str(CELLS - SIDE_READER), timeout=20_000)
        assert min(_shown(panel)) == cell_id(SIDE_READER)
        scope.select_option("all")

        # the README's pictures: the active cell in the middle of the long notebook
        page.evaluate(
            "index => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = index; }",
            SIDE_READER + 2,
        )
        expect(active).to_have_attribute("data-ref", cell_id(SIDE_READER + 2))
        page.screenshot(path=str(DOCS / "long-notebook.png"))
        page.evaluate(
            "() => { void window.jupyterapp.commands.execute("
            "'apputils:change-theme', {theme: 'JupyterLab Dark'}); }"
        )
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        time.sleep(1.0)  # the theme's stylesheet applies
        page.screenshot(path=str(DOCS / "long-notebook-dark.png"))

        # a new execution shows up without a refresh (no kernel told Lab anything)
        page.evaluate(
            "index => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = index; }",
            3,
        )
        kernel.run(3, count + 1)
        node = panel.locator(f".mlprod-Node-cell[data-ref='{cell_id(3)}']")
        expect(node).to_contain_text(f"[{count + 1}]", timeout=10_000)
        expect(node).to_have_class(lambda_class("mlprod-Node-active"))

    finally:
        kernel.writer.close()
        page.close()


def lambda_class(name: str) -> Any:
    import re

    return re.compile(rf"(^|\s){re.escape(name)}(\s|$)")
