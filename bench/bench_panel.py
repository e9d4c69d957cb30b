"""Panel data latency: the lineage and runs routes of a real Jupyter server.

A store holding one notebook with 5,000 executions (100 cells re-run 50 times
over 10 kernel sessions, with name dependencies and file reads) and 200
pipeline runs of 5 steps each is written through ``JournalWriter`` and ingested.
A real ``jupyter server`` with the mlprod_nb extension then answers the panel's
requests over HTTP with a token, back to back as a polling panel would.
Target: p95 <= 100 ms for ``lineage`` and ``runs``.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlprod_nb.journal import JournalWriter
from mlprod_nb.paths import Layout
from mlprod_nb.records import (
    SCHEMA,
    Dependency,
    ExecutionId,
    ExecutionRecord,
    FileAccess,
    Record,
    RunEndRecord,
    RunId,
    RunRecord,
    StepRecord,
    new_execution,
)
from mlprod_nb.store import Store

TARGET_MS = 100.0
CELLS, REPEATS, SESSIONS = 100, 50, 10
RUNS, STEPS = 200, ("load", "clean", "features", "train", "evaluate")
REQUESTS = 100
MISSES = 40
REOPENS = 5
IDLE_CLOSE = 2.0  # the server's default idle_close_seconds


def _execution(notebook: str, session: str, seq: int, cell: int, data: Path) -> ExecutionRecord:
    reads = cell % 10 == 0
    return new_execution(
        session=session,
        seq=seq,
        source=f"v{cell} = f(v{cell - 1})",
        first=seq <= CELLS,
        started=1.7e9 + int(session[1:]) * 1e4 + seq,
        duration_ms=3.0,
        notebook=notebook,
        cell_id=f"cell-{cell:03d}",
        execution_count=seq,
        defines=[f"v{cell}"],
        uses=[f"v{cell - 1}"] if cell else [],
        deps=(
            [Dependency(name=f"v{cell - 1}", execution=ExecutionId(f"{session}:{seq - 1}"))]
            if cell
            else []
        ),
        files=(
            [
                FileAccess(
                    path=str(data), mode="read", sha256="0" * 64, size=10, via="open", mtime_ns=0
                )
            ]
            if reads
            else []
        ),
    )


def _run_records(run: int, pipeline: str, notebook: str) -> list[Record]:
    run_id = RunId(f"20260101-{run:06d}-bench")
    started = 1.8e9 + run * 100
    records: list[Record] = [
        RunRecord(
            v=SCHEMA,
            kind="run",
            id=run_id,
            pipeline=pipeline,
            pipeline_hash="p" * 16,
            source_notebook=notebook,
            params={"alpha": run / 100, "epochs": 3},
            started=started,
            steps=list(STEPS),
            resumed_from=None,
        )
    ]
    for index, step in enumerate(STEPS):
        records.append(
            StepRecord(
                v=SCHEMA,
                kind="step",
                run=run_id,
                name=step,
                status="cached" if index < 2 and run % 2 else "ok",
                started=started + index,
                duration_ms=900.0,
                cache_key=f"{step}-{run % 7}",
                cached_from=None,
                notebook=None,
                artifacts=[],
                params={},
                error=None,
            )
        )
    records.append(
        RunEndRecord(
            v=SCHEMA, kind="run_end", id=run_id, status="ok", finished=started + 6, error=None
        )
    )
    return records


def build_store(root: Path) -> tuple[Layout, float]:
    """Journal records for the notebook and the runs, then one ingest; returns its seconds."""
    layout = Layout(root / ".mlprod")
    notebook = root / "analysis.ipynb"
    notebook.write_text(
        json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    data = root / "data.csv"
    data.write_text("a\n1\n")
    for s in range(SESSIONS):
        writer = JournalWriter(layout.journal_dir, name=f"kernel-{s}")
        session = f"s{s}"
        seq = 0
        for _ in range(REPEATS // SESSIONS):
            for cell in range(CELLS):
                seq += 1
                writer.append(_execution(str(notebook), session, seq, cell, data))
        writer.close()
    runner = JournalWriter(layout.journal_dir, name="runner")
    for run in range(RUNS):
        for record in _run_records(run, str(root / "analysis.pipeline"), str(notebook)):
            runner.append(record)
    runner.close()
    began = time.perf_counter()
    with Store.open(layout, timeout=30) as store:
        assert len(store.runs()) == RUNS
    return layout, time.perf_counter() - began


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(root: Path, layout: Layout, port: int, token: str) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable, "-m", "jupyter_server",
        f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1", "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
        "--ServerApp.jpserver_extensions=mlprod_nb=True", "--allow-root",
        f"--MlprodApp.store_home={layout.home}",
    ]  # fmt: skip
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(root / ".runtime")}
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit(
        f"jupyter server did not start: {server.stderr.read() if server.stderr else ''}"
    )


def timed(conn: http.client.HTTPConnection, path: str, token: str) -> tuple[float, int]:
    began = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"token {token}"})
    response = conn.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - began) * 1000
    if response.status != 200:
        raise SystemExit(f"{path}: {response.status} {body[:300]!r}")
    return elapsed, len(body)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="mlprod-bench-panel-") as tmp:
        root = Path(tmp)
        layout, ingest_s = build_store(root)
        token, port = secrets.token_hex(16), _free_port()
        server = start_server(root, layout, port, token)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            routes = {
                "lineage": "/mlprod-nb/api/lineage?path=analysis.ipynb",
                "runs": "/mlprod-nb/api/runs",
                "stale": "/mlprod-nb/api/stale?path=analysis.ipynb",
            }
            rows = []
            failed = False
            for name, path in routes.items():
                first, size = timed(conn, path, token)  # opens the store (cold)
                samples = [timed(conn, path, token)[0] for _ in range(REQUESTS)]
                p95 = percentile(samples, 0.95)
                gated = name in ("lineage", "runs")
                ok = p95 <= TARGET_MS
                failed |= gated and not ok
                rows.append(
                    f"| `{name}` | {size / 1024:.0f} KiB | {first:.1f} | "
                    f"{statistics.median(samples):.1f} | {p95:.1f} | {max(samples):.1f} | "
                    f"{'≤ 100 ms: ' + ('yes' if ok else 'NO') if gated else '-'} |"
                )
            # an idle panel polls every 10 s: the store was closed (lock released) meanwhile
            reopened = []
            for _ in range(REOPENS):
                time.sleep(IDLE_CLOSE + 0.5)
                reopened.append(timed(conn, routes["lineage"], token)[0])
            rows.append(
                f"| `lineage` after the store closed when idle | - | - | "
                f"{statistics.median(reopened):.1f} | {percentile(reopened, 0.95):.1f} | "
                f"{max(reopened):.1f} | - |"
            )
            # a kernel runs cells while the panel polls: every answer needs a new ingest
            writer = JournalWriter(layout.journal_dir, name="live-kernel")
            notebook = str(root / "analysis.ipynb")
            data = root / "data.csv"
            misses = []
            for seq in range(1, MISSES + 1):
                writer.append(_execution(notebook, "s99", seq, seq % CELLS, data))
                time.sleep(0.35)  # past the server's ingest interval
                misses.append(timed(conn, routes["lineage"], token)[0])
            writer.close()
            rows.append(
                f"| `lineage` after each new execution | - | - | "
                f"{statistics.median(misses):.1f} | {percentile(misses, 0.95):.1f} | "
                f"{max(misses):.1f} | - |"
            )
            conn.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"store: {CELLS * REPEATS:,} executions of one notebook, {RUNS} runs x {len(STEPS)} "
        f"steps; ingest {ingest_s:.2f} s; {REQUESTS} requests per route over HTTP\n"
    )
    print("| route | answer | first (ms) | p50 (ms) | p95 (ms) | max (ms) | target |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
