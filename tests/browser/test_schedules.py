"""The Schedule form and the Schedules list in a real JupyterLab: a daily schedule made
from the panel, its preview's three fire times in the browser's time zone, then listed,
paused and deleted (the store agrees at each step)."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import nbformat
import pytest

from .conftest import Lab, open_in_lab, widen_sidebar

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS = Path(__file__).resolve().parents[2] / "docs"
CELLS = [
    ("alpha = 2", ["parameters"]),
    ("rows = open('raw.csv').read().split()", ["step:load"]),
    ("score = len(rows) * alpha", ["step:train"]),
]


def _schedules(lab: Lab) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{lab.url}mlprod-nb/api/schedules?path=nightly/flow.ipynb",
        headers={"Authorization": f"token {lab.token}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        found: list[dict[str, Any]] = json.loads(response.read())["schedules"]
        return found


def test_create_preview_list_pause_delete_a_daily_schedule(lab: Lab, browser: Any) -> None:
    from playwright.sync_api import expect

    work = lab.root / "nightly"
    work.mkdir()
    (work / "raw.csv").write_text("a\nb\n")
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    for index, (source, tags) in enumerate(CELLS):
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": tags})
        cell.id = f"c{index}"
        notebook.cells.append(cell)
    nbformat.write(notebook, work / "flow.ipynb")

    context = browser.new_context(viewport={"width": 1500, "height": 940}, timezone_id="Asia/Tokyo")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())  # "Delete schedule ...?"
    try:
        open_in_lab(page, lab, "nightly/flow.ipynb")
        page.click(".jp-SideBar [data-id='mlprod-nb-panel']")
        panel = page.locator("#mlprod-nb-panel")
        panel.locator(".mlprod-Tab[data-tab='pipeline']").click()
        expect(panel.locator(".mlprod-NoSchedules")).to_be_visible(timeout=30_000)
        panel.locator(".mlprod-Export").click()
        expect(panel.locator(".mlprod-ExportResult.mlprod-ok")).to_be_visible(timeout=60_000)

        # Schedule next to Run: daily at 06:30, previewed in the browser's zone
        panel.locator(".mlprod-ScheduleButton").click()
        form = panel.locator(".mlprod-ScheduleForm")
        form.locator("input[name='mlprod-when'][value='cron']").check()
        form.locator(".mlprod-Preset").select_option("daily")
        form.locator(".mlprod-Time").fill("06:30")
        fires = form.locator(".mlprod-NextFires li")
        expect(form.locator(".mlprod-Preview code")).to_have_text("30 6 * * *")
        expect(fires).to_have_count(3, timeout=30_000)
        for index in range(3):  # the answer for 06:30, not the one for the default 03:00
            expect(fires.nth(index)).to_contain_text("06:30", timeout=30_000)
        expect(form.locator(".mlprod-Preview")).to_contain_text("Asia/Tokyo")
        times = fires.all_inner_texts()
        assert all(re.search(r"06:30", t) for t in times), times
        assert len(set(times)) == 3, times
        form.locator(".mlprod-ScheduleName").fill("nightly train")

        widen_sidebar(page, 300)
        page.screenshot(path=str(DOCS / "schedules.png"))
        form.locator(".mlprod-SaveSchedule").click()

        # listed with its next fire; the store holds it in the browser's zone
        row = panel.locator(".mlprod-Schedules li.mlprod-Schedule")
        expect(row).to_have_count(1, timeout=30_000)
        expect(row.locator(".mlprod-ScheduleTitle")).to_have_text("nightly train")
        expect(row.locator(".mlprod-NextFire")).to_contain_text("06:30")
        expect(row.locator(".mlprod-LastStatus")).to_have_text("never ran")
        [stored] = _schedules(lab)
        assert (stored["name"], stored["cron"], stored["tz"]) == (
            "nightly train",
            "30 6 * * *",
            "Asia/Tokyo",
        )
        assert stored["paused"] is False

        # pause, then resume
        row.locator(".mlprod-Pause").click()
        expect(row.locator(".mlprod-Paused")).to_be_visible(timeout=30_000)
        expect(row.locator(".mlprod-Pause")).to_have_text("Resume")
        assert _schedules(lab)[0]["paused"] is True
        row.locator(".mlprod-Pause").click()
        expect(row.locator(".mlprod-NextFire")).to_be_visible(timeout=30_000)
        assert _schedules(lab)[0]["paused"] is False

        # its (empty) history, then delete it
        row.locator(".mlprod-History").click()
        expect(row.locator(".mlprod-ScheduleHistory")).to_have_text("Not fired yet.")
        row.locator(".mlprod-Delete").click()
        expect(panel.locator(".mlprod-NoSchedules")).to_be_visible(timeout=30_000)
        assert _schedules(lab) == []
        assert not errors, errors
    finally:
        context.close()
