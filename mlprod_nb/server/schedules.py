"""The panel's schedules: REST work over ``mlprod_nb.schedule``, and the server's firing loop.

Handlers (in ``handlers.py``) parse requests; ``Schedules`` checks what they carry
(paths confined to the root, parameters typed as the pipeline's, a trigger given) and
calls the schedule package on the store service's owner thread with the store closed:
the schedule functions take the store's lock themselves, and the lock file is exclusive
even between threads of one process. The firing loop goes through the same thread, so a
tick never runs while a panel request holds the store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..jsondata import jsonable
from ..paths import Layout
from .confine import BadRequestError

if TYPE_CHECKING:
    from .backend import Backend

log = logging.getLogger(__name__)


CHANGEABLE = ("paused", "cron", "tz", "params", "name", "on_new_data")
MAX_NAME = 200
MAX_CRON = 200


class Schedules:
    """Schedule requests and ticks for every store this server has served schedules of."""

    def __init__(self, backend: Backend, clock: Callable[[], float] = time.time) -> None:
        self.backend = backend
        self.clock = clock
        self._homes: set[Path] = set()

    @property
    def homes(self) -> list[Path]:
        """The stores the firing loop ticks: the configured or root's one, and every store
        a schedule request went to (a sub-project's ``.mlprod``), those that exist."""
        known = {self.backend.layout().home, *self._homes}
        return sorted(home for home in known if home.is_dir())

    def _layout(self, near: Path | None) -> Layout:
        layout = self.backend.layout(near)
        self._homes.add(layout.home)
        return layout

    async def _released(self, layout: Layout, work: Callable[[], Any]) -> Any:
        return await self.backend.service.call_released(layout, work)

    def _show(self, view: Any) -> dict[str, Any]:
        """A schedule (or its view with next fire and last run) as JSON, paths root-relative."""
        data = jsonable(view)
        inner = data.pop("schedule", None)
        if isinstance(inner, dict):  # a view holding its schedule: one flat object
            data = {**inner, **data}
        if isinstance(data.get("pipeline"), str):
            data["pipeline"] = self.backend.root.relative(data["pipeline"])
        return dict(data)

    # -- requests --------------------------------------------------------------------------

    def store(self, notebook: str | None, pipeline: str | None) -> Layout:
        """The store of ``pipeline``, else of ``notebook`` (a sub-project may have its own
        ``.mlprod``), else the root's: where a request's schedules live."""
        folder = self.backend.root.pipeline(pipeline) if pipeline else None
        near = self.backend.root.notebook(notebook) if notebook and folder is None else None
        return self._layout(folder or near)

    async def listing(self, notebook: str | None, pipeline: str | None) -> dict[str, Any]:
        """The schedules in the store of ``pipeline``, else of ``notebook``, else the root's."""
        folder = self.backend.root.pipeline(pipeline) if pipeline else None
        layout = self.store(notebook, pipeline)
        if not layout.home.is_dir():
            return {"schedules": []}
        from .. import schedule

        views = await self._released(layout, lambda: schedule.schedules(layout.home))
        shown = [self._show(v) for v in views]
        if folder is not None:
            mine = self.backend.root.relative(folder)
            shown = [s for s in shown if s.get("pipeline") == mine]
        return {"schedules": shown}

    async def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A new schedule of a pipeline (``pipeline``, or ``path``: a notebook whose default
        export folder it is) on a cron, on new data, or both."""
        folder = self._pipeline_of(body)
        cron = _cron(body.get("cron"))
        on_new_data = _flag(body.get("on_new_data", False), "on_new_data")
        if cron is None and not on_new_data:
            raise BadRequestError(
                "a schedule needs a trigger",
                hint='send "cron": "0 3 * * *" (with "tz") or "on_new_data": true',
            )
        tz = _text(body.get("tz"), "tz", MAX_NAME)
        name = _text(body.get("name"), "name", MAX_NAME)
        params = _params(body.get("params"))
        layout = self._layout(folder)
        from .. import schedule

        created = await self._released(
            layout,
            lambda: schedule.add(
                layout.home,
                str(folder),
                cron=cron,
                tz=tz,
                on_new_data=on_new_data,
                params=params,
                name=name,
            ),
        )
        return self._show(created)

    async def update(
        self, layout: Layout, schedule_id: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Pause, resume, or change a schedule's trigger, parameters or name."""
        unknown = sorted(set(body) - set(CHANGEABLE))
        if unknown:
            raise BadRequestError(
                f"cannot change {', '.join(map(repr, unknown))} of schedule {schedule_id}",
                hint=f"send only {', '.join(CHANGEABLE)}",
            )
        if not body:
            raise BadRequestError(f"nothing to change in schedule {schedule_id}")
        changes: dict[str, Any] = {}
        for key in ("paused", "on_new_data"):
            if key in body:
                changes[key] = _flag(body[key], key)
        if "cron" in body:
            changes["cron"] = _cron(body["cron"])
        for key in ("tz", "name"):
            if key in body:
                changes[key] = _text(body[key], key, MAX_NAME)
        if "params" in body:
            changes["params"] = _params(body["params"])
        from .. import schedule

        updated = await self._released(
            layout, lambda: schedule.update(layout.home, schedule_id, **changes)
        )
        return self._show(updated)

    async def remove(self, layout: Layout, schedule_id: str) -> None:
        from .. import schedule

        await self._released(layout, lambda: schedule.remove(layout.home, schedule_id))

    async def history(self, layout: Layout, schedule_id: str) -> dict[str, Any]:
        from .. import schedule

        fires = await self._released(layout, lambda: schedule.history(layout.home, schedule_id))
        return {"fires": jsonable(fires)}

    async def preview(self, cron: str | None, tz: str | None) -> dict[str, Any]:
        """What ``cron`` means and its next three fire times in ``tz``, with their offsets."""
        expression = _cron(cron)
        if expression is None:
            raise BadRequestError("missing cron", hint="pass cron=EXPRESSION, e.g. 0 3 * * *")
        zone = _text(tz, "tz", MAX_NAME)
        from .. import schedule

        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(
            None, lambda: schedule.preview(expression, zone or "UTC", 3, self.clock())
        )
        return {
            "description": found.description,
            "next": [when.isoformat(timespec="minutes") for when in found.next],
        }

    async def inputs(self, notebook: str | None, pipeline: str | None) -> dict[str, Any]:
        """The files whose new content would fire an "on new data" schedule, root-relative."""
        folder = self._pipeline_of({"pipeline": pipeline, "path": notebook})
        from .. import schedule

        files = await asyncio.get_running_loop().run_in_executor(
            None, lambda: schedule.data_inputs(str(folder))
        )
        return {"files": [self.backend.root.relative(f) for f in files]}

    # -- the firing loop -------------------------------------------------------------------

    async def tick(self) -> list[Any]:
        """Fire what is due in every known store; one store's trouble does not stop others."""
        from .. import schedule

        fired: list[Any] = []
        for home in self.homes:
            now = self.clock()
            try:
                fired += await self._released(Layout(home), partial(schedule.tick, home, now))
            except Exception:  # the loop outlives a locked or damaged store
                log.warning("mlprod-nb: schedules of %s not fired", home, exc_info=True)
        return fired

    # -- checks ----------------------------------------------------------------------------

    def _pipeline_of(self, body: Mapping[str, Any]) -> Path:
        pipeline = body.get("pipeline")
        if pipeline is not None:
            return self.backend.root.pipeline(_text(pipeline, "pipeline", 4096))
        path = _text(body.get("path"), "path", 4096)
        if path is None:
            raise BadRequestError(
                "missing pipeline", hint='send "pipeline": the exported folder (or "path": NB)'
            )
        notebook = self.backend.root.notebook(path)
        return self.backend.root.pipeline(
            self.backend.root.relative(notebook.with_suffix(".pipeline"))
        )


def _params(value: Any) -> dict[str, Any]:
    """The parameters' shape; their names and types the schedule package checks against
    the pipeline's, as a run's (text from the form converted as on the command line)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequestError("'params' must be an object of name: value")
    return value


def _cron(value: Any) -> str | None:
    text = _text(value, "cron", MAX_CRON)
    return text.strip() if text and text.strip() else None


def _text(value: Any, name: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequestError(f"'{name}' must be a string")
    if len(value) > limit:
        raise BadRequestError(f"'{name}' is longer than {limit} characters")
    return value


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise BadRequestError(f"'{name}' must be true or false")
    return value
