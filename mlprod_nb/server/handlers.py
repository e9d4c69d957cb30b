"""REST handlers under ``/mlprod-nb/api/``: parse the request, call the backend, answer JSON.

Every method is authenticated. Errors users can cause are ``MlprodError``
subclasses, mapped to a 4xx status in one table (``STATUS``); anything else is
a bug and answers 500.
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..errors import (
    MlprodError,
    NotebookError,
    NotFoundError,
    OutputPathError,
    OutputWriteError,
    ParameterError,
    PipelineError,
    SerializationError,
    StoreError,
)
from ..jsondata import jsonable
from .backend import Backend
from .confine import BadRequestError, PathForbiddenError, TooLargeError
from .launcher import LaunchError, RunEndedError
from .payload import encode
from .schedules import Schedules

# a notebook's cells without outputs are far smaller; a larger body is refused unparsed
MAX_BODY_BYTES = 16 * 2**20

# most specific first; the first class an error is an instance of wins
STATUS: tuple[tuple[type[MlprodError], int], ...] = (
    (NotFoundError, 404),
    (PathForbiddenError, 403),
    (TooLargeError, 413),
    (BadRequestError, 400),
    (ParameterError, 400),
    (NotebookError, 400),
    (RunEndedError, 409),  # cancel of a run that has ended
    (OutputPathError, 409),  # export may not replace what is at the output path
    (OutputWriteError, 507),  # no space left (or no permission) writing the pipeline folder
    (PipelineError, 422),
    (SerializationError, 422),
    (StoreError, 503),  # locked by another process, or a store to repair: retry later
    (LaunchError, 503),  # the server's run_command cannot start
    (MlprodError, 400),
)


def status_of(error: MlprodError) -> int:
    return next(code for cls, code in STATUS if isinstance(error, cls))


def error_body(error: MlprodError) -> dict[str, Any]:
    body: dict[str, Any] = {"message": error.render()}
    for key in ("cell_id", "step", "run_id", "path"):
        value = getattr(error, key)
        if value:
            body[key] = value
    if isinstance(error, PipelineError) and error.cells:
        body["cells"] = list(error.cells)  # every cell to blame
    return body


class BaseHandler(APIHandler):
    """Answers JSON; maps ``MlprodError`` to its status and a ``{message, ...}`` body."""

    backend: Backend
    schedules: Schedules

    def initialize(self, backend: Backend, schedules: Schedules) -> None:
        self.backend = backend
        self.schedules = schedules

    def reply(self, data: Any, status: int = 200) -> None:
        """Answer ``data`` as JSON; ``bytes`` are JSON already (encoded off the event loop)."""
        self.set_status(status)
        self.finish(data if isinstance(data, bytes) else encode(data))

    def body(self) -> dict[str, Any]:
        """The JSON object in the request body (at most ``MAX_BODY_BYTES``)."""
        if len(self.request.body or b"") > MAX_BODY_BYTES:
            raise TooLargeError(
                f"request body is larger than {MAX_BODY_BYTES // 2**20} MiB",
                hint="send the notebook's cells without their outputs",
            )
        try:
            data = json.loads(self.request.body or b"null")
        except ValueError as error:  # includes UnicodeDecodeError and over-long integers
            raise BadRequestError(f"request body is not valid JSON: {error}") from None
        except RecursionError:
            raise BadRequestError("request body is nested too deeply") from None
        if not isinstance(data, dict):
            raise BadRequestError("request body must be a JSON object")
        return data

    def query(self, name: str) -> str | None:
        value = self.get_query_argument(name, None)
        return value if value else None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        error = exc_info[1] if exc_info else None
        if isinstance(error, MlprodError):
            self.set_status(status_of(error))
            if isinstance(error, StoreError | LaunchError):
                self.set_header("Retry-After", "2")
            self.finish(json.dumps(jsonable(error_body(error))))
            return
        super().write_error(status_code, **kwargs)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, MlprodError):
            self.log.info("mlprod-nb: %s %s: %s", self.request.method, self.request.uri, value)
            return
        super().log_exception(typ, value, tb)


class LineageHandler(BaseHandler):
    """The lineage, versioned: ``ETag`` on every answer, 304 to an ``If-None-Match``
    naming the current version, only the changes to ``since=VERSION``."""

    @web.authenticated
    async def get(self) -> None:
        since = self.query("since")
        tag, answer = await self.backend.lineage(self.query("path"), since)
        self.set_header("ETag", f'"{tag}"')
        held = self.request.headers.get("If-None-Match", "")
        if tag == since or f'"{tag}"' in [t.strip().removeprefix("W/") for t in held.split(",")]:
            self.set_status(304)
            self.finish()
            return
        self.reply(answer)


class StaleHandler(BaseHandler):
    @web.authenticated
    async def get(self) -> None:
        self.reply(await self.backend.stale(self.query("path"), self.query("order")))


class PipelineHandler(BaseHandler):
    @web.authenticated
    async def get(self) -> None:
        self.reply(await self.backend.pipeline(self.query("path")))

    @web.authenticated
    async def post(self) -> None:
        """The outline of the notebook as the editor holds it: ``{path, content}``."""
        body = self.body()
        self.reply(await self.backend.pipeline(body.get("path"), _content(body, required=True)))


class ExportHandler(BaseHandler):
    @web.authenticated
    async def post(self) -> None:
        body = self.body()
        check = body.get("check", False)
        output = body.get("output")
        if not isinstance(check, bool):
            raise BadRequestError("'check' must be true or false")
        if output is not None and not isinstance(output, str):
            raise BadRequestError("'output' must be a path")
        self.reply(
            await self.backend.export(
                body.get("path"), check=check, output=output, content=_content(body)
            )
        )


def _content(body: dict[str, Any], *, required: bool = False) -> dict[str, Any] | None:
    """The notebook's content sent with a request (nbformat JSON), checked by the backend."""
    content = body.get("content")
    if content is None and not required:
        return None
    if not isinstance(content, dict):
        raise BadRequestError(
            "'content' must be the notebook as an nbformat JSON object",
            hint='send {"path": NB, "content": {"cells": [...], "metadata": {...}, ...}}',
        )
    return content


class RunHandler(BaseHandler):
    @web.authenticated
    async def post(self) -> None:
        body = self.body()
        params = body.get("params", {})
        if not isinstance(params, dict):
            raise BadRequestError("'params' must be an object of name: value")
        self.reply(await self.backend.start_run(body.get("pipeline"), params), status=202)


class RunStatusHandler(BaseHandler):
    @web.authenticated
    async def get(self, run_id: str) -> None:
        self.reply(await self.backend.run_status(run_id, self.query("pipeline")))


class RunCancelHandler(BaseHandler):
    @web.authenticated
    async def post(self, run_id: str) -> None:
        self.reply(await self.backend.cancel_run(run_id, self.query("pipeline")), status=202)


class RunFilesHandler(BaseHandler):
    """Read-only copies of a run's executed step notebooks and log, for Lab to open."""

    @web.authenticated
    async def post(self, run_id: str) -> None:
        self.reply(await self.backend.run_files(run_id, self.query("pipeline")))


class RunsHandler(BaseHandler):
    @web.authenticated
    async def get(self) -> None:
        self.reply(await self.backend.runs(self.query("pipeline"), self.query("path")))


class CompareHandler(BaseHandler):
    @web.authenticated
    async def get(self) -> None:
        self.reply(
            await self.backend.compare(
                self.query("runs"), self.query("pipeline"), self.query("baseline")
            )
        )


class SchedulesHandler(BaseHandler):
    @web.authenticated
    async def get(self) -> None:
        self.reply(await self.schedules.listing(self.query("path"), self.query("pipeline")))

    @web.authenticated
    async def post(self) -> None:
        self.reply(await self.schedules.create(self.body()), status=201)


class ScheduleHandler(BaseHandler):
    """One schedule; ``path=NB`` or ``pipeline=`` name its store when not the root's."""

    @web.authenticated
    async def patch(self, schedule_id: str) -> None:
        layout = self.schedules.store(self.query("path"), self.query("pipeline"))
        self.reply(await self.schedules.update(layout, schedule_id, self.body()))

    @web.authenticated
    async def delete(self, schedule_id: str) -> None:
        layout = self.schedules.store(self.query("path"), self.query("pipeline"))
        await self.schedules.remove(layout, schedule_id)
        self.set_status(204)
        self.finish()


class ScheduleHistoryHandler(BaseHandler):
    @web.authenticated
    async def get(self, schedule_id: str) -> None:
        layout = self.schedules.store(self.query("path"), self.query("pipeline"))
        self.reply(await self.schedules.history(layout, schedule_id))


class SchedulePreviewHandler(BaseHandler):
    @web.authenticated
    async def get(self) -> None:
        self.reply(await self.schedules.preview(self.query("cron"), self.query("tz")))


class ScheduleInputsHandler(BaseHandler):
    @web.authenticated
    async def get(self) -> None:
        self.reply(await self.schedules.inputs(self.query("path"), self.query("pipeline")))


ROUTES: tuple[tuple[str, type[BaseHandler]], ...] = (
    ("lineage", LineageHandler),
    ("stale", StaleHandler),
    ("pipeline", PipelineHandler),
    ("export", ExportHandler),
    ("run", RunHandler),
    (r"run/([^/]+)", RunStatusHandler),
    (r"run/([^/]+)/cancel", RunCancelHandler),
    (r"run/([^/]+)/files", RunFilesHandler),
    ("runs", RunsHandler),
    ("compare", CompareHandler),
    ("schedules", SchedulesHandler),
    ("schedules/preview", SchedulePreviewHandler),
    ("schedules/inputs", ScheduleInputsHandler),
    (r"schedules/([^/]+)", ScheduleHandler),
    (r"schedules/([^/]+)/history", ScheduleHistoryHandler),
)
