"""The stand-in SS 12000 server: a dataset folder served over HTTP under ``/v2.0``, as the spec describes it.

Endpoints (bearer token required except for ``/token`` and ``/health``):

* ``POST /v2.0/token`` (also ``/token``): OAuth2 client credentials, form ``grant_type=client_credentials``
  with ``client_id``/``client_secret`` in the form or as HTTP Basic -> ``{"access_token", "token_type":
  "Bearer", "expires_in"}``
* ``GET /v2.0/organisations|persons|syllabuses|grades``: ``limit``, ``pageToken``, ``meta.modified.after``
  (exclusive), ``meta.modified.before`` (inclusive), ``meta.created.after|before``; organisations also
  ``type``, ``schoolUnitCode``, ``organisationCode``, ``municipalityCode``, ``parent``; grades also
  ``student``, ``organisation``, ``registeredBy``, ``registeredDate.onOrAfter|onOrBefore``. Ordered by
  ``meta.modified``, so an incremental reader sees changes in the order they happened.
* ``GET /v2.0/aggregatedAttendance?startDate=&endDate=[&student=]``: per student and activity, the sums of
  the dataset records lying inside the window (record start >= startDate and record end <= endDate); each
  answer carries the window as its startDate/endDate.
* ``GET /v2.0/deletedEntities[?after=][&entities=Grade&entities=Person]``: ``{"data": {"grades": [ids]},
  "pageToken"}`` in deletion order.
* ``GET /v2.0/{entity}/{id}`` for the four object entities; 404 if absent, 400 for an id that is no uuid.

``pageToken`` is opaque (the original filters and the last key, signed with HMAC) and answered with 400 if
combined with any parameter other than ``limit``; parameters the stand-in does not implement are a 400
too, rather than silently ignored. Errors use the spec's Error schema ``{code, message}``.

Fault switches (``create_app(..., fail_rate=, fail_kinds=, fault_seed=)``, ``--fail-rate`` etc. on the
command line, or ``app.state.faults.configure(...)`` on a running app): a seeded share of the answers of
the data endpoints becomes ``429`` (with Retry-After), ``503`` (with Retry-After), ``500``, ``slow`` (answered
after ``slow_seconds``), ``drop`` (headers and part of the body, then the connection is closed) or
``corrupt`` (a complete 200 answer whose body is cut, so not JSON). ``fault_paths`` limits them to some
endpoints and ``fault_skip`` lets the first N matching requests through.

The dataset is indexed into SQLite once (see :mod:`.index`) and re-indexed when its files change. Parameters are
parsed in :mod:`.params`, tokens and fault switches live in :mod:`.state`, and :mod:`.running` starts a server
(``running_server`` for tests and the demo, ``serve`` for the command line).
"""

from __future__ import annotations

import base64
import email.utils
import binascii
import hmac
import logging
import math
import re
import secrets
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .index import DELETED_KEYS, OBJECT_ENTITIES, DatasetError, DatasetIndex, normalise_deleted_entity
from .params import (
    _JSON, _UUID, BASE_PATH, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_FAULT_KINDS, LIST_PARAMS, ApiError, _bad,
    _p_date, _p_strings, _p_timestamp, _p_uuids,
)
from .state import BearerTokens, DroppedResponse, Faults, PageTokens, ServerState

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------------
# The app
# --------------------------------------------------------------------------------------------------------
def create_app(
    dataset: Path,
    *,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    token_ttl: int = 3600,
    max_page_size: int = 10_000,
    index_dir: Path | None = None,
    fail_rate: float = 0.0,
    fail_kinds: Any = DEFAULT_FAULT_KINDS,
    fault_seed: int | None = None,
    retry_after: int = 1,
    slow_seconds: float = 2.0,
    fault_paths: tuple[str, ...] | None = None,
    fault_skip: int = 0,
    page_token_key: bytes | None = None,
    demo: bool = False,
    quirks: dict | None = None,
) -> Starlette:
    """The Starlette app over ``dataset``. ``app.state.ss12000`` holds the index, tokens, faults and quirks.

    The default credentials (``skolsam``/``skolsam``) are refused unless ``demo`` is set (the demo and the
    tests pass it): a stand-in started by mistake somewhere reachable must not answer anyone."""
    if not demo and (client_id == DEFAULT_CLIENT_ID or client_secret == DEFAULT_CLIENT_SECRET):
        raise ValueError("the stand-in's default client id and secret are for the demo only: start it in demo "
                         "mode (--demo) or set --client-id and --client-secret")
    state = ServerState(
        index=DatasetIndex(Path(dataset), index_dir),
        tokens=BearerTokens(token_ttl),
        faults=Faults(rate=fail_rate, kinds=fail_kinds, seed=fault_seed, retry_after=retry_after,
                      slow_seconds=slow_seconds, paths=fault_paths, skip=fault_skip),
        pages=PageTokens(page_token_key or secrets.token_bytes(32)),
        client_id=client_id,
        client_secret=client_secret,
        max_page_size=max_page_size,
    )

    def guarded(endpoint: str, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def run(request: Request) -> Response:
            state.requests[endpoint] += 1
            try:
                _authorise(state, request)
                kind = state.faults.draw(endpoint)
                if kind in ("429", "503"):
                    raise ApiError(int(kind), "overloaded" if kind == "503" else "too_many_requests",
                                   "injected fault: try again later",
                                   {"Retry-After": str(int(math.ceil(state.faults.retry_after)))})
                if kind == "500":
                    raise ApiError(500, "internal_error", "injected fault")
                if kind == "slow":
                    time.sleep(state.faults.slow_seconds)
                response = handler(request)
            except ApiError as exc:
                return exc.response()
            except DatasetError as exc:  # e.g. a file caught half-written: the client retries
                log.warning("dataset cannot be indexed: %s", exc)
                return ApiError(503, "dataset_unavailable", str(exc), {"Retry-After": "1"}).response()
            if kind == "drop" and response.status_code == 200:
                return DroppedResponse(response.body)
            if kind == "corrupt" and response.status_code == 200:
                return Response(response.body[: max(1, len(response.body) // 2)], 200, media_type=_JSON)
            return response

        run.__name__ = f"ss12000_{endpoint}"
        return run

    routes = [
        Route("/health", lambda request: _health(state), methods=["GET"]),
        Route("/token", _token_endpoint(state), methods=["POST"]),
        Route(f"{BASE_PATH}/token", _token_endpoint(state), methods=["POST"]),
        Route(f"{BASE_PATH}/aggregatedAttendance",
              guarded("aggregatedAttendance", lambda r: _attendance(state, r)), methods=["GET"]),
        Route(f"{BASE_PATH}/deletedEntities", guarded("deletedEntities", lambda r: _deleted(state, r)),
              methods=["GET"]),
    ]
    for entity in OBJECT_ENTITIES:
        routes.append(Route(f"{BASE_PATH}/{entity}",
                            guarded(entity, lambda r, e=entity: _list(state, e, r)), methods=["GET"]))
        routes.append(Route(f"{BASE_PATH}/{entity}/{{id}}",
                            guarded(entity, lambda r, e=entity: _get(state, e, r)), methods=["GET"]))
    state.quirks.configure(**(quirks or {}))
    app = Starlette(routes=routes)
    app.add_middleware(_DateHeader, quirks=state.quirks)
    app.state.ss12000 = state
    app.state.quirks = state.quirks
    app.state.faults = state.faults
    app.state.index = state.index
    app.state.tokens = state.tokens
    return app


class _DateHeader:
    """Writes the Date header itself (uvicorn's own is switched off, see .running), so that the
    ``no_date_header`` quirk can leave it out of a running server's answers."""

    def __init__(self, app, quirks):
        self.app, self.quirks = app, quirks

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def sending(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                if not self.quirks.no_date_header:
                    headers.append((b"date", email.utils.formatdate(usegmt=True).encode()))
                message = {**message, "headers": headers}
            await send(message)

        return await self.app(scope, receive, sending)


def _health(state: ServerState) -> Response:
    state.index.ensure()
    return Response(orjson.dumps({"status": "ok"}), media_type=_JSON)


def _authorise(state: ServerState, request: Request) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not state.tokens.valid(token.strip()):
        raise ApiError(401, "unauthorized", "a valid bearer token is required",
                       {"WWW-Authenticate": 'Bearer realm="ss12000"'})


def _token_endpoint(state: ServerState):
    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
                from urllib.parse import unquote_plus

                user, _, pw = decoded.partition(":")
                client_id, client_secret = unquote_plus(user), unquote_plus(pw)
            except (binascii.Error, UnicodeDecodeError):
                client_id = client_secret = None
        if form.get("grant_type") != "client_credentials":
            return Response(orjson.dumps({"error": "unsupported_grant_type"}), 400, media_type=_JSON)
        ok = (client_id is not None and client_secret is not None
              and hmac.compare_digest(client_id.encode(), state.client_id.encode())
              and hmac.compare_digest(client_secret.encode(), state.client_secret.encode()))
        if not ok:
            return Response(orjson.dumps({"error": "invalid_client"}), 401, media_type=_JSON,
                            headers={"WWW-Authenticate": 'Basic realm="ss12000"'})
        body = {"access_token": state.tokens.issue(), "token_type": "Bearer", "expires_in": state.tokens.ttl}
        return Response(orjson.dumps(body), media_type=_JSON, headers={"Cache-Control": "no-store"})

    return token


def _limit(state: ServerState, query) -> int:
    raw = query.get("limit")
    if raw is None:
        return state.max_page_size
    try:
        n = int(raw)
    except ValueError:
        raise _bad("limit: not an integer") from None
    if n < 1:
        raise _bad("limit: must be at least 1")
    return min(n, state.max_page_size)


def _paging(state: ServerState, endpoint: str, query, parse: Callable[[], dict],
            required: tuple[str, ...] = ()) -> tuple[dict, list | None, int]:
    limit = _limit(state, query)
    token = query.get("pageToken")
    if token is None:
        return parse(), None, limit
    quirks = state.quirks
    others = sorted({k for k in query.keys() if k not in ("limit", "pageToken")})
    if quirks.filters_on_every_page:
        _, key = state.pages.decode(endpoint, token)
        return parse(), key, limit  # the filters sent now, not those of the first page
    if quirks.required_on_every_page and required:
        missing = [name for name in required if name not in query]
        if missing:
            raise _bad(f"{missing[0]} is required")
        others = [k for k in others if k not in required]
    if others:
        raise _bad(f"pageToken cannot be combined with other filters than limit (got {', '.join(others)})",
                   "invalid_filter")
    filters, key = state.pages.decode(endpoint, token)
    if quirks.required_on_every_page and required and parse_required(query) != {
            k: filters[k] for k in ("start", "end")}:
        raise _bad("startDate/endDate differ from the first page's", "invalid_filter")
    return filters, key, limit


def parse_required(query) -> dict:
    return {"start": _p_date(query, "startDate"), "end": _p_date(query, "endDate")}


def _next_token(state: ServerState, token: str | None, endpoint: str, filters: dict, key: list | None) -> str | None:
    """The answer's pageToken; with the ``endless_pages`` quirk, always a new one."""
    if token is None and state.quirks.endless_pages:
        state.endless = getattr(state, "endless", 0) + 1
        return state.pages.encode(endpoint, filters, [f"endless-{state.endless}"])
    return token


def _page_body(items: bytes, token: str | None) -> bytes:
    return b'{"data":[' + items + b'],"pageToken":' + (orjson.dumps(token) if token else b"null") + b"}"


def _list(state: ServerState, entity: str, request: Request) -> Response:
    query = request.query_params
    spec = LIST_PARAMS[entity]

    def parse() -> dict:
        filters = {}
        for name in query.keys():
            if name in ("limit", "pageToken"):
                continue
            if name not in spec:
                raise _bad(f"parameter {name} is not supported by this server", "unsupported_parameter")
            key, parser = spec[name]
            filters[key] = parser(query, name)
        return filters

    filters, key, limit = _paging(state, entity, query, parse)
    if _endless(key):
        return Response(_page_body(b"", _next_token(state, None, entity, filters, key)), media_type=_JSON)
    if state.quirks.filters_on_every_page:
        # Offset tokens: the position in whatever list this request's filters give.
        offset = int(key[0]) if key else 0
        rows, more = state.index.list_objects(entity, filters, None, offset + limit)
        rows = rows[offset:]
        token = state.pages.encode(entity, {}, [offset + len(rows)]) if more and rows else None
    else:
        rows, more = state.index.list_objects(entity, filters, key, limit)
        token = state.pages.encode(entity, filters, [rows[-1][0], rows[-1][1]]) if more and rows else None
    token = _next_token(state, token, entity, filters, key)
    return Response(_page_body(b",".join(r[2] for r in rows), token), media_type=_JSON)


def _get(state: ServerState, entity: str, request: Request) -> Response:
    oid = request.path_params["id"]
    if not _UUID.match(oid):
        raise _bad("id: not a uuid", "invalid_id")
    if request.query_params:
        raise _bad("no parameters are supported here", "unsupported_parameter")
    raw = state.index.get_object(entity, oid)
    if raw is None:
        return Response(b"", 404)
    return Response(raw, media_type=_JSON)


def _attendance(state: ServerState, request: Request) -> Response:
    query = request.query_params

    def parse() -> dict:
        unknown = sorted(k for k in query.keys() if k not in ("startDate", "endDate", "student", "limit", "pageToken"))
        if unknown:
            raise _bad(f"parameter {unknown[0]} is not supported by this server", "unsupported_parameter")
        for name in ("startDate", "endDate"):
            if name not in query:
                raise _bad(f"{name} is required")
        start, end = _p_date(query, "startDate"), _p_date(query, "endDate")
        if end < start:
            raise _bad("endDate lies before startDate")
        filters: dict[str, Any] = {"start": start, "end": end}
        if "student" in query:
            filters["student"] = _p_uuids(query, "student")
        return filters

    filters, key, limit = _paging(state, "aggregatedAttendance", query, parse, ("startDate", "endDate"))
    if _endless(key):
        token = _next_token(state, None, "aggregatedAttendance", filters, key)
        return Response(_page_body(b"", token), media_type=_JSON)
    objects, last, more = state.index.attendance(filters["start"], filters["end"], filters.get("student"), key,
                                                  limit)
    token = state.pages.encode("aggregatedAttendance", filters, list(last)) if more and last else None
    token = _next_token(state, token, "aggregatedAttendance", filters, key)
    return Response(_page_body(",".join(objects).encode(), token), media_type=_JSON)


def _deleted(state: ServerState, request: Request) -> Response:
    query = request.query_params

    def parse() -> dict:
        unknown = sorted(k for k in query.keys() if k not in ("after", "entities", "limit", "pageToken"))
        if unknown:
            raise _bad(f"parameter {unknown[0]} is not supported by this server", "unsupported_parameter")
        filters: dict[str, Any] = {}
        if "after" in query:
            filters["after"] = _p_timestamp(query, "after")
        if "entities" in query:
            names = []
            for v in _p_strings(query, "entities"):
                n = normalise_deleted_entity(v)
                if n is None:
                    raise _bad("entities: not an EndPointsEnum value")
                names.append(n)
            filters["entities"] = sorted(set(names))
        return filters

    filters, key, limit = _paging(state, "deletedEntities", query, parse)
    rows, more = ([], False) if _endless(key) else state.index.deleted(
        filters.get("after"), filters.get("entities"), key, limit)
    token = state.pages.encode("deletedEntities", filters, [rows[-1][0], rows[-1][1]]) if more and rows else None
    token = _next_token(state, token, "deletedEntities", filters, key)
    if state.quirks.deleted_flat:
        flat = [{"entity": _ENUM_OF.get(entity, entity), "id": oid} for _at, _seq, entity, oid in rows]
        return Response(orjson.dumps({"data": flat, "pageToken": token}), media_type=_JSON)
    data: dict[str, list[str]] = {}
    for _at, _seq, entity, oid in rows:
        data.setdefault(entity, []).append(oid)
    return Response(orjson.dumps({"data": data, "pageToken": token}), media_type=_JSON)


_ENUM_OF = {key: enum for enum, key in DELETED_KEYS.items()}  # answer key -> EndPointsEnum value


def _endless(key: list | None) -> bool:
    return bool(key) and isinstance(key[0], str) and key[0].startswith("endless-")
