"""The ``mlprod_nb`` Jupyter server extension: settings and routes of the panel's API."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import Float, Int, List, Unicode

from .backend import Backend
from .confine import Root
from .handlers import ROUTES
from .launcher import Launcher, executor_flags
from .schedules import Schedules
from .service import StoreService

API_PREFIX = "/mlprod-nb/api"
CONTENTS_EVENTS = "https://events.jupyter.org/jupyter_server/contents_service/v1"


class MlprodApp(ExtensionApp):
    """Serves lineage, staleness, pipelines and runs to the JupyterLab panel."""

    name = "mlprod_nb"
    load_other_extensions = True

    store_home = Unicode(
        "",
        config=True,
        help=(
            "The .mlprod folder of the lineage store. Default: found from each notebook's "
            "folder upwards (a .mlprod folder, else the nearest project root), as the "
            "tracer does; MLPROD_NB_HOME also names it."
        ),
    )
    idle_close_seconds = Float(
        2.0,
        config=True,
        help=(
            "Close the store (releasing its lock for the CLI and the runner) after this "
            "many seconds without a panel request."
        ),
    )
    ingest_interval_seconds = Float(
        0.3,
        config=True,
        help="Ingest new journal lines at most this often while the store is open.",
    )
    lock_timeout_seconds = Float(
        5.0,
        config=True,
        help="How long a request waits for the store's lock before answering 503.",
    )
    run_command = List(
        Unicode(),
        default_value=[sys.executable, "-m", "mlprod_nb.cli", "run"],
        config=True,
        help=(
            "The command that runs a pipeline; the server appends "
            "'PIPELINE --run-id ID [-f PARAMS.yaml]' and starts it detached."
        ),
    )
    executor = Unicode(
        "local",
        config=True,
        help=(
            "What runs the steps of runs started from the panel (mlprod-nb run --executor): "
            "'local' (kernels on this machine) or 'dask' (needs mlprod-nb[dask])."
        ),
    )
    scheduler_address = Unicode(
        "",
        config=True,
        help=(
            "With executor 'dask': the scheduler of the Dask cluster the panel's runs use, "
            "e.g. tcp://HOST:8786. Empty: each run starts a local cluster of its own."
        ),
    )
    log_tail_lines = Int(
        40, config=True, help="Lines of a run's driver.log returned with its status."
    )

    schedule_interval_seconds = Float(
        30.0,
        config=True,
        help=(
            "While the server runs, fire due schedules (mlprod-nb schedule add ..., or the "
            "panel's Schedule button) this often, in every store the server serves; 0 "
            "disables it (leave firing to 'mlprod-nb scheduler'). Both may run at once: "
            "each fire time is claimed under the store's lock, so it starts one run."
        ),
    )

    def initialize_settings(self) -> None:
        root = Root(self.serverapp.root_dir if self.serverapp is not None else ".")
        self.service = StoreService(
            lock_timeout=self.lock_timeout_seconds,
            idle_close=self.idle_close_seconds,
            ingest_interval=self.ingest_interval_seconds,
        )
        self.backend = Backend(
            root=root,
            service=self.service,
            launcher=Launcher(
                [*self.run_command, *executor_flags(self.executor, self.scheduler_address)],
                tail_lines=self.log_tail_lines,
            ),
            store_home=Path(self.store_home).expanduser().resolve() if self.store_home else None,
        )

        self.schedules = Schedules(self.backend)
        self._ticker: asyncio.Task[None] | None = None

        events = self.serverapp.event_logger if self.serverapp is not None else None
        if events is not None:
            events.add_listener(schema_id=CONTENTS_EVENTS, listener=self._contents_changed)

    async def _contents_changed(self, logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        """A file was renamed or moved in Lab: its lineage follows it (see ``moves``)."""
        if data.get("action") != "rename":
            return
        try:
            await self.backend.moved(data.get("source_path"), data.get("path"))
        except Exception:  # a listener must not break the rename itself
            self.log.warning("mlprod-nb: could not record the rename %s", data, exc_info=True)

    def initialize_handlers(self) -> None:
        kwargs: dict[str, Any] = {"backend": self.backend, "schedules": self.schedules}
        self.handlers.extend(
            (url_path_join(API_PREFIX, route), handler, kwargs) for route, handler in ROUTES
        )

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Start the firing loop once the server's event loop runs (jupyter_server's
        hook for an extension's background tasks)."""
        if self.schedule_interval_seconds > 0 and self._ticker is None:
            self._ticker = asyncio.create_task(self._fire_schedules())

    async def _fire_schedules(self) -> None:
        """Every ``schedule_interval_seconds``: fire what is due (the work runs on the store
        service's thread, never on the event loop)."""
        while True:
            try:
                fired = await self.schedules.tick()
                if fired:
                    self.log.info("mlprod-nb: %d schedule fire(s)", len(fired))
            except Exception:  # the loop must outlive one bad tick
                self.log.warning("mlprod-nb: firing schedules failed", exc_info=True)
            await asyncio.sleep(self.schedule_interval_seconds)

    async def stop_extension(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        self.service.close()
