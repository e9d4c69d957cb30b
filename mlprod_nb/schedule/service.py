"""``mlprod-nb scheduler``: tick every few seconds while Lab is closed (or ``--once``)."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from .fire import tick
from .model import Fire

INTERVAL_SECONDS = 10.0

UNIT = """\
# ~/.config/systemd/user/mlprod-nb-scheduler.service
# then: systemctl --user daemon-reload && systemctl --user enable --now mlprod-nb-scheduler
# (and `loginctl enable-linger $USER` to keep it running when you are logged out)
[Unit]
Description=mlprod-nb scheduler (fires the schedules of {home})

[Service]
Type=simple
Environment=MLPROD_NB_HOME={home}
WorkingDirectory={cwd}
ExecStart={python} -m mlprod_nb.cli scheduler --interval {interval:g}
Restart=on-failure
RestartSec=5

[Install]
WantedBy=default.target
"""


def systemd_unit(home: Path, interval: float = INTERVAL_SECONDS) -> str:
    """A user unit running this scheduler for ``home`` with this Python."""
    return UNIT.format(home=home, cwd=home.parent, python=sys.executable, interval=interval)


def serve(
    home: Path,
    *,
    interval: float = INTERVAL_SECONDS,
    once: bool = False,
    clock: Callable[[], float] = time.time,
    report: Callable[[Fire], None] = lambda fire: None,
) -> int:
    """Tick until SIGTERM/SIGINT (or once); a locked store waits for the next tick."""
    from ..errors import StoreLockedError

    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    if not once:
        signal.signal(signal.SIGTERM, stop)
    while True:
        try:
            for fire in tick(home, clock()):
                report(fire)
        except StoreLockedError:
            if once:
                raise
        if once or stopping:
            return 0
        deadline = time.monotonic() + interval
        while not stopping and time.monotonic() < deadline:
            time.sleep(min(0.5, interval))
