"""The lineage panel on long notebooks, in a real JupyterLab and Chromium.

For 10, 300 and 1,000 executions (over at most 300 cells of one notebook, with
name dependencies, a shared config cell and file reads and writes), a store is
written through ``JournalWriter`` and ingested, ``jupyter lab`` is started on it
and Debian's Chromium opens the notebook and the panel through playwright.

Measured in the page, with the Performance API:

- the longest main-thread task (``PerformanceObserver({type: 'longtask'})``) from a
  click on the panel's refresh button until the panel settles, and while new
  executions arrive;
- execution -> panel latency: a journal record is appended as a kernel's tracer
  does when a cell finishes, Lab is told the cell executed (as when the kernel's
  reply arrives), and the time until the cell's node shows the new execution count
  is taken (p50/p95 over ``SAMPLES`` executions);
- bytes per poll: the body size of the panel's ``lineage`` answers while the
  notebook is idle, and after a new execution.

Targets: no task over 50 ms, latency p95 within 1 s.
Run: ``.venv/bin/python bench/bench_panel_browser.py [--no-signal] [COUNTS...]``
(``--no-signal`` leaves Lab untold: the panel must notice the journal by itself).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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
from mlprod_nb.store import Store

COUNTS = (10, 300, 1000)
MAX_CELLS = 300
SAMPLES = 20
SETTLE_S = 3.0  # after a refresh click, how long tasks are collected
LATENCY_TIMEOUT_MS = 15_000
TASK_TARGET_MS = 50.0
LATENCY_TARGET_MS = 1000.0
TOKEN = "mlprod-bench-token"
CHROMIUM = Path(os.environ.get("MLPROD_NB_CHROMIUM", "/usr/bin/chromium"))
NOTEBOOK = "long.ipynb"

OBSERVE = """
window.__mlprodTasks = [];
window.__mlprodBytes = [];
new PerformanceObserver(list => {
  for (const entry of list.getEntries()) {
    window.__mlprodTasks.push({start: entry.startTime, duration: entry.duration});
  }
}).observe({type: 'longtask', buffered: true});
new PerformanceObserver(list => {
  for (const entry of list.getEntries()) {
    if (entry.name.includes('/mlprod-nb/api/lineage')) {
      window.__mlprodBytes.push({at: entry.startTime, bytes: entry.transferSize,
                                 status: entry.responseStatus});
    }
  }
}).observe({type: 'resource', buffered: true});
"""

REFRESH = "#mlprod-nb-panel .mlprod-Refresh"
PANEL = "[...window.jupyterapp.shell.widgets('left')].find(w => w.id === 'mlprod-nb-panel')"


def cell_id(index: int) -> str:
    return f"cell-{index:03d}"


@dataclass
class Notebook:
    """A notebook of ``cells`` code cells and a kernel's journal of executions of them."""

    root: Path
    cells: int
    writer: JournalWriter | None = None
    seq: int = 0
    _latest: dict[int, str] = field(default_factory=dict)  # cell -> its latest execution

    @property
    def path(self) -> Path:
        return self.root / NOTEBOOK

    def write_file(self) -> None:
        cells = [
            {
                "cell_type": "code",
                "id": cell_id(i),
                "metadata": {},
                "source": self.source(i),
                "outputs": [],
                "execution_count": None,
            }
            for i in range(self.cells)
        ]
        notebook = {
            "cells": cells,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        self.path.write_text(json.dumps(notebook))
        (self.root / "data.csv").write_text("a\n1\n")

    def source(self, cell: int) -> str:
        if cell == 0:
            return "config = load_config()"
        return f"# step {cell}\nv{cell} = transform(v{cell - 1}, config)"

    def execute(self, cell: int, count: int) -> None:
        """Append one execution record, as the tracer does when a cell finishes."""
        if self.writer is None:
            self.writer = JournalWriter(Layout(self.root / ".mlprod").journal_dir, name="kernel")
            self.writer.append(
                SessionRecord(
                    v=SCHEMA,
                    kind="session",
                    session=SessionId("s1"),
                    pid=os.getpid(),
                    started=time.time(),
                    notebook=str(self.path),
                    cwd=str(self.root),
                    env=None,
                )
            )
        self.seq += 1
        files: list[FileAccess] = []
        if cell % 20 == 0:
            files.append(self._file("data.csv", "read"))
        if cell % 50 == 25:
            files.append(self._file(f"out/part{cell}.parquet", "write"))
        self.writer.append(
            new_execution(
                session="s1",
                seq=self.seq,
                source=self.source(cell),
                started=time.time(),
                duration_ms=3.0,
                notebook=str(self.path),
                cell_id=cell_id(cell),
                execution_count=count,
                defines=[f"v{cell}"] if cell else ["config"],
                uses=[f"v{cell - 1}", "config"] if cell else [],
                deps=self._deps(cell),
                files=files,
            )
        )

    def _file(self, name: str, mode: Literal["read", "write"]) -> FileAccess:
        return FileAccess(
            path=str(self.root / name), mode=mode, sha256="0" * 64, size=10, via="open", mtime_ns=0
        )

    def _deps(self, cell: int) -> list[Dependency]:
        if cell == 0:
            return []
        return [
            Dependency(name=f"v{cell - 1}", execution=ExecutionId(self._latest[cell - 1])),
            Dependency(name="config", execution=ExecutionId(self._latest[0])),
        ]

    def run(self, executions: int) -> None:
        """``executions`` executions: the cells top to bottom, then re-runs from the top."""
        for n in range(executions):
            cell = n % self.cells
            self.execute(cell, n + 1)
            self._latest[cell] = f"s1:{self.seq}"

    def rerun(self, cell: int, count: int) -> None:
        self.execute(cell, count)
        self._latest[cell] = f"s1:{self.seq}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_lab(root: Path, base: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    settings = base / "settings"
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {
        **os.environ,
        "MLPROD_NB_HOME": str(root / ".mlprod"),
        "IPYTHONDIR": str(base / "ipython"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
    }
    argv = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={TOKEN}",
        "--LabApp.expose_app_in_browser=True",
    ]  # fmt: skip
    log = (base / "lab.log").open("wb")
    lab = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}api/status?token={TOKEN}", timeout=2):
                return lab, url
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    lab.kill()
    raise SystemExit(f"jupyter lab did not start:\n{(base / 'lab.log').read_text()[-2000:]}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Row:
    executions: int
    open_task_ms: float
    refresh_task_ms: float
    live_task_ms: float
    latencies: list[float]
    idle_bytes: list[int]
    change_bytes: list[int]

    @property
    def longest_task_ms(self) -> float:
        """From a refresh or a new execution (the first open is shown apart)."""
        return max(self.refresh_task_ms, self.live_task_ms)

    def markdown(self) -> str:
        shown = [x for x in self.latencies if x < LATENCY_TIMEOUT_MS]
        if len(shown) == len(self.latencies):
            p50, p95 = percentile(shown, 0.5), percentile(shown, 0.95)
            latency = f"{p50:.0f} / {p95:.0f} ({p95 / LATENCY_TARGET_MS:.2f}x)"
        else:
            latency = f"{len(self.latencies) - len(shown)} of {len(self.latencies)} never shown"
        longest = self.longest_task_ms
        idle = statistics.mean(self.idle_bytes) if self.idle_bytes else 0
        change = statistics.mean(self.change_bytes) if self.change_bytes else 0
        return (
            f"| {self.executions:,} | {longest:.0f} ({longest / TASK_TARGET_MS:.2f}x) "
            f"| {self.open_task_ms:.0f} / {self.refresh_task_ms:.0f} / {self.live_task_ms:.0f} "
            f"| {latency} "
            f"| {_size(idle)} idle, {_size(change)} after an execution "
            f"({len(self.idle_bytes)} idle polls) |"
        )


def _size(n: float) -> str:
    return f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n:.0f} B"


def longest_since(page: Any, since: float) -> float:
    tasks = page.evaluate(f"() => window.__mlprodTasks.filter(t => t.start >= {since})")
    return max((t["duration"] for t in tasks), default=0.0)


def measure(executions: int, browser: Any, signal: bool) -> Row:
    base = Path(tempfile.mkdtemp(prefix="mlprod-bench-browser-"))
    root = base / "root"
    root.mkdir()
    book = Notebook(root, min(MAX_CELLS, executions))
    book.write_file()
    book.run(executions)
    with Store.open(Layout(root / ".mlprod"), timeout=30):
        pass  # ingested once, as the server finds it after a session
    lab, url = start_lab(root, base)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.add_init_script(OBSERVE)
        page.goto(f"{url}lab?token={TOKEN}")
        page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=60_000)
        page.wait_for_selector(".jp-Launcher, .jp-NotebookPanel", timeout=60_000)
        page.evaluate(
            "async path => { await window.jupyterapp.commands.execute("
            "'docmanager:open', {path, kernel: {name: null}}); }",
            NOTEBOOK,
        )
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
        time.sleep(SETTLE_S)  # Lab settles after opening the notebook
        opened = page.evaluate("() => performance.now()")
        page.click(".jp-SideBar [data-id='mlprod-nb-panel']")
        first = cell_id(0)
        page.wait_for_selector(f".mlprod-Node-cell[data-ref='{first}']", timeout=60_000)
        time.sleep(SETTLE_S)
        open_task = longest_since(page, opened)
        refresh = []
        for _ in range(3):
            since = page.evaluate("() => performance.now()")
            page.evaluate(f"() => document.querySelector('{REFRESH}').click()")
            time.sleep(SETTLE_S)
            refresh.append(longest_since(page, since))
        # idle polls: nothing new in the journal
        since = page.evaluate("() => performance.now()")
        time.sleep(12.0)
        idle = page.evaluate(f"() => window.__mlprodBytes.filter(b => b.at >= {since})")
        # new executions, one at a time, of the cells at the top of the panel
        live_since = page.evaluate("() => performance.now()")
        latencies, change = [], []
        count = executions + 1000
        for sample in range(SAMPLES):
            cell = sample % min(5, book.cells)
            count += 1
            before = page.evaluate("() => window.__mlprodBytes.length")
            began = time.time()
            book.rerun(cell, count)
            if signal:
                page.evaluate(f"() => {PANEL}.model.cellExecuted()")
            shown = _shown_at(page, cell_id(cell), count)
            latencies.append(shown - began * 1000 if shown else float(LATENCY_TIMEOUT_MS))
            time.sleep(0.5)
            fresh = page.evaluate(f"() => window.__mlprodBytes.slice({before})")
            change.extend(b["bytes"] for b in fresh if b["status"] == 200)
        live = longest_since(page, live_since)
        page.close()
    finally:
        if book.writer is not None:
            book.writer.close()
        lab.terminate()
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            lab.kill()
        shutil.rmtree(base, ignore_errors=True)
    return Row(
        executions,
        open_task,
        max(refresh),
        live,
        latencies,
        [b["bytes"] for b in idle],
        change,
    )


def _shown_at(page: Any, ref: str, count: int) -> float | None:
    """When (``Date.now()`` in the page) the node of ``ref`` first showed ``[count]``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        handle = page.wait_for_function(
            """([ref, label]) => {
                const node = document.querySelector(
                    `#mlprod-nb-panel .mlprod-Node-cell[data-ref='${ref}']`);
                return node && node.textContent.includes(label) ? Date.now() : false;
            }""",
            arg=[ref, f"[{count}]"],
            polling=10,
            timeout=LATENCY_TIMEOUT_MS,
        )
    except PlaywrightTimeout:
        return None
    return float(handle.json_value())


def main(argv: list[str]) -> int:
    signal = "--no-signal" not in argv
    counts = [int(a) for a in argv if a.isdigit()] or list(COUNTS)
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        try:
            for executions in counts:
                rows.append(measure(executions, browser, signal))
        finally:
            browser.close()
    told = "Lab told the cell executed" if signal else "journal only, Lab not told"
    print(
        f"notebook of min(300, N) cells; {SAMPLES} new executions per size ({told}); "
        f"Chromium {CHROMIUM}\n"
    )
    print(
        "| executions | longest main-thread task on refresh, ms (vs 50 ms) "
        "| first open / refresh / new executions, ms "
        "| execution->panel latency p50 / p95, ms (vs 1 s) | bytes per lineage poll |"
    )
    print("|---|---|---|---|---|")
    for row in rows:
        print(row.markdown())
    failed = any(
        r.longest_task_ms > TASK_TARGET_MS or percentile(r.latencies, 0.95) > LATENCY_TARGET_MS
        for r in rows
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
