"""Every route the running app serves, found from its router (no hand-kept list).

Each route and method gets no token, a wrong token, and a corpus of malformed
input (bodies that are not objects, wrong types, encoded and over-long paths,
NUL bytes, HTML and SQL metacharacters). Nothing may answer 500: a user's
mistake is a 4xx with a message, and a 500 would be a bug.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.serverapp import ServerApp
from tornado.routing import PathMatches, Router

from mlprod_nb.server.app import API_PREFIX

Fetch = Callable[..., Awaitable[Any]]

METHODS = ("get", "post", "put", "delete", "patch")


def _rules(router: Router) -> Iterator[tuple[str, type]]:
    for rule in getattr(router, "rules", ()):
        if isinstance(rule.target, Router):
            yield from _rules(rule.target)
        elif isinstance(rule.matcher, PathMatches) and isinstance(rule.target, type):
            yield rule.matcher.regex.pattern, rule.target


def app_routes(serverapp: ServerApp) -> list[tuple[str, str]]:
    """(URL path with sample values for its groups, METHOD) for every mlprod-nb route."""
    found = []
    for pattern, handler in _rules(serverapp.web_app.default_router):
        if API_PREFIX not in pattern:
            continue
        path = re.sub(r"\([^)]*\)", "20260101-000000-abcdef", pattern).rstrip("$")
        path = path.replace("\\", "")
        path = path[path.index(API_PREFIX) :]  # jp_fetch adds the server's base URL
        for method in METHODS:
            implemented = any(method in vars(cls) for cls in handler.__mro__[:-1])
            if implemented and getattr(handler, method) is not getattr(object, method, None):
                owner = next(cls for cls in handler.__mro__ if method in vars(cls))
                if owner.__module__.startswith("mlprod_nb"):
                    found.append((path, method.upper()))
    return sorted(set(found))


LONG_COMPONENT = "a" * 300 + ".ipynb"  # over NAME_MAX (255 bytes)
LONG_PATH = "/".join(["d" * 200] * 30) + "/x.ipynb"  # over PATH_MAX (4096 bytes)

HOSTILE_VALUES: list[Any] = [
    LONG_COMPONENT,
    LONG_PATH,
    "%2e%2e/%2e%2e/etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "....//....//etc/passwd",
    "a\u0000b.ipynb",
    "<img src=x onerror=alert(1)>.ipynb",
    "x'; DROP TABLE executions; --.ipynb",
    "é\u202e.ipynb",
    "\ud800.ipynb",
    "\\..\\..\\windows.ipynb",
    "~/.ssh/id_rsa",
    " ",
]

WRONG_TYPES: list[Any] = [None, 3, 2.5, True, [], ["a.ipynb"], {"x": 1}, {"path": "a.ipynb"}]

ARG_NAMES = ("path", "pipeline", "runs", "output", "params", "check")


def bodies() -> Iterator[tuple[str, str]]:
    """(id, raw body) for POST requests."""
    yield "empty", ""
    yield "not-json", "{not json"
    yield "array", "[1, 2]"
    yield "string", '"path"'
    yield "number", "17"
    yield "huge-number", "1" + "0" * 5000
    yield "deep", "[" * 5000 + "]" * 5000
    for name in ARG_NAMES:
        for index, value in enumerate(WRONG_TYPES + HOSTILE_VALUES):
            yield f"{name}-{index}", json.dumps({name: value})
    yield "params-hostile", json.dumps({"pipeline": "p", "params": {"<b>": "'; --", "": None}})
    yield "all-wrong", json.dumps({n: [] for n in ARG_NAMES})


def queries() -> Iterator[tuple[str, dict[str, str]]]:
    """(id, query arguments) for GET requests."""
    yield "none", {}
    for name in ARG_NAMES:
        for index, value in enumerate(HOSTILE_VALUES):
            if "\ud800" not in value:  # a URL cannot carry a lone surrogate; JSON can
                yield f"{name}-{index}", {name: value.replace("\u0000", "%00")}
    yield "runs-many", {"runs": ",".join(["a"] * 500)}
    yield "runs-long", {"runs": f"{LONG_COMPONENT},{LONG_COMPONENT}"}


@pytest.fixture
def routes(jp_serverapp: ServerApp) -> list[tuple[str, str]]:
    found = app_routes(jp_serverapp)
    # the router must expose the API: if this breaks the suite would test nothing
    assert {path.rsplit("/api/", 1)[1] for path, _ in found} >= {"lineage", "run", "runs"}
    return found


async def _send(
    jp_fetch: Fetch, path: str, method: str, *, token: bool = True, **kwargs: Any
) -> Any:
    headers = {} if token else {"Authorization": ""}
    if method != "GET" and "body" not in kwargs:
        kwargs["body"] = "{}"
    if method in ("GET", "DELETE"):  # tornado's client sends no body with these
        kwargs.pop("body", None)
    return await jp_fetch(
        *path.strip("/").split("/"),
        method=method,
        headers=headers,
        raise_error=False,
        **kwargs,
    )


@pytest.fixture
def sample_tree(jp_root_dir: Path) -> None:
    (jp_root_dir / "a.ipynb").write_text("{}")
    (jp_root_dir / "sub").mkdir()


async def test_every_route_refuses_missing_and_wrong_tokens(
    jp_fetch: Fetch, routes: list[tuple[str, str]]
) -> None:
    for path, method in routes:
        for token in ("", "token wrong", "Bearer x"):
            response = await jp_fetch(
                *path.strip("/").split("/"),
                method=method,
                headers={"Authorization": token},
                raise_error=False,
                **({"body": "{}"} if method not in ("GET", "DELETE") else {}),
            )
            assert response.code == 403, (path, method, token, response.code)


def _check(response: Any, what: object) -> None:
    assert response.code < 500, (what, response.code, response.body[:500])
    if response.code >= 400:
        body = json.loads(response.body)
        assert isinstance(body.get("message"), str), (what, body)
        assert body["message"], (what, body)


@pytest.mark.usefixtures("sample_tree")
async def test_no_malformed_request_answers_500(
    jp_fetch: Fetch, routes: list[tuple[str, str]]
) -> None:
    sent = 0
    for path, method in routes:
        if method == "GET":
            for case, params in queries():
                _check(await _send(jp_fetch, path, method, params=params), (path, case))
                sent += 1
        else:
            for case, raw in bodies():
                _check(await _send(jp_fetch, path, method, body=raw), (path, case))
                sent += 1
    assert sent > 200


@pytest.mark.usefixtures("sample_tree")
async def test_hostile_path_segments_in_the_url(
    jp_fetch: Fetch, routes: list[tuple[str, str]]
) -> None:
    """Routes with a path group (run/ID) get encoded escapes and over-long IDs."""
    templated = [(p, m) for p, m in routes if "20260101-000000-abcdef" in p]
    assert templated, "expected at least one route with an id in its path"
    for path, method in templated:
        for value in ("..%2F..%2Fetc", "%00", "x" * 300, "%3Cscript%3E", "a%27%3B--"):
            _check(
                await _send(jp_fetch, path.replace("20260101-000000-abcdef", value), method),
                (path, value),
            )


HOSTILE_TEXT = "<script>alert(1)</script><img src=x onerror=alert(2)>'; DROP TABLE executions; --"


async def test_hostile_text_is_stored_and_served_verbatim(
    jp_fetch: Fetch,
    make_notebook: Callable[..., Path],
    journal: Callable[..., Any],
    jp_root_dir: Path,
) -> None:
    """SQL metacharacters and HTML in names, sources, paths and parameters come back as
    the same characters (parameterised SQL, JSON-encoded answers; the panel renders
    strings as text through React, never as HTML)."""
    name = "o'neil <b>; --.ipynb"
    notebook = make_notebook(name, [("", [])] * 2)
    data = jp_root_dir / "in '; DROP TABLE datasets; -- <i>.csv"
    data.write_text("a\n1\n")
    record = journal(notebook)
    first = record.cell(
        "c0",
        f"x = 1  # {HOSTILE_TEXT}",
        defines=["x"],
        files=[(data, "read")],
        params={f"p{HOSTILE_TEXT}": HOSTILE_TEXT},
    )
    record.cell("c1", "y = x", defines=["y"], uses=["x"])

    for _ in range(2):  # the second answer proves no table was dropped by the first
        response = await jp_fetch(
            "mlprod-nb", "api", "lineage", params={"path": name}, raise_error=False
        )
        assert response.code == 200, response.body
        assert response.headers["Content-Type"].startswith("application/json")
        body = json.loads(response.body)
        assert body["notebook"] == name
        executions = {e["id"]: e for e in body["executions"]}
        assert executions[first]["source"] == f"x = 1  # {HOSTILE_TEXT}"
        assert executions[first]["params"] == {f"p{HOSTILE_TEXT}": HOSTILE_TEXT}
        assert str(data.resolve()) in {d["path"] for d in body["datasets"]}
        assert len(executions) == 2
