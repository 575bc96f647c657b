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

The dataset is indexed into SQLite once (see :mod:`.index`) and re-indexed when its files change.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import hashlib
import hmac
import logging
import math
import random
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .index import OBJECT_ENTITIES, DatasetError, DatasetIndex, normalise_deleted_entity, parse_timestamp

log = logging.getLogger(__name__)

BASE_PATH = "/v2.0"
DEFAULT_CLIENT_ID = "skolsam"
DEFAULT_CLIENT_SECRET = "skolsam"
FAULT_KINDS = ("429", "503", "500", "slow", "drop", "corrupt")
DEFAULT_FAULT_KINDS = ("429", "500", "drop", "slow")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_JSON = "application/json"


# --------------------------------------------------------------------------------------------------------
# Errors and parameters
# --------------------------------------------------------------------------------------------------------
class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}

    def response(self) -> Response:
        body = orjson.dumps({"code": self.code, "message": self.message})
        return Response(body, self.status, headers=self.headers, media_type=_JSON)


def _bad(message: str, code: str = "invalid_parameter") -> ApiError:
    return ApiError(400, code, message)


def _values(query, name: str) -> list[str]:
    """An array parameter: repeated (``a=1&a=2``, the spec's form/explode style) or comma-separated."""
    out: list[str] = []
    for v in query.getlist(name):
        out.extend(p for p in v.split(",") if p)
    return out


def _p_timestamp(query, name: str) -> int:
    v = parse_timestamp(query[name]) if "T" in query[name] else None
    if v is None:
        raise _bad(f"{name}: not an RFC 3339 date-time")
    return v


def _p_date(query, name: str) -> str:
    try:
        return dt.date.fromisoformat(query[name]).isoformat()
    except ValueError:
        raise _bad(f"{name}: not an RFC 3339 date") from None


def _p_uuid(query, name: str) -> str:
    v = query[name]
    if not _UUID.match(v):
        raise _bad(f"{name}: not a uuid")
    return v


def _p_uuids(query, name: str) -> list[str]:
    vs = _values(query, name)
    if not vs or not all(_UUID.match(v) for v in vs):
        raise _bad(f"{name}: not a list of uuids")
    return vs


def _p_strings(query, name: str) -> list[str]:
    vs = _values(query, name)
    if not vs:
        raise _bad(f"{name}: empty")
    return vs


def _p_string(query, name: str) -> str:
    return query[name]


_META_PARAMS: dict[str, tuple[str, Callable]] = {
    "meta.modified.after": ("modified_after", _p_timestamp),
    "meta.modified.before": ("modified_before", _p_timestamp),
    "meta.created.after": ("created_after", _p_timestamp),
    "meta.created.before": ("created_before", _p_timestamp),
}
LIST_PARAMS: dict[str, dict[str, tuple[str, Callable]]] = {
    "organisations": {
        **_META_PARAMS,
        "type": ("org_type", _p_strings),
        "schoolUnitCode": ("school_unit_code", _p_strings),
        "organisationCode": ("organisation_code", _p_strings),
        "municipalityCode": ("municipality_code", _p_string),
        "parent": ("parent", _p_uuids),
    },
    "persons": dict(_META_PARAMS),
    "syllabuses": dict(_META_PARAMS),
    "grades": {
        **_META_PARAMS,
        "student": ("student", _p_uuid),
        "organisation": ("organisation", _p_uuid),
        "registeredBy": ("registered_by", _p_uuid),
        "registeredDate.onOrAfter": ("registered_on_or_after", _p_date),
        "registeredDate.onOrBefore": ("registered_on_or_before", _p_date),
    },
}


# --------------------------------------------------------------------------------------------------------
# Page tokens, bearer tokens, faults
# --------------------------------------------------------------------------------------------------------
class PageTokens:
    """Opaque page tokens: base64url(JSON of endpoint, filters, last key) + '.' + HMAC-SHA256 tag."""

    def __init__(self, key: bytes):
        self._key = key

    def _tag(self, body: bytes) -> bytes:
        return base64.urlsafe_b64encode(hmac.new(self._key, body, hashlib.sha256).digest()[:12]).rstrip(b"=")

    def encode(self, endpoint: str, filters: dict, key: list) -> str:
        body = base64.urlsafe_b64encode(orjson.dumps({"e": endpoint, "f": filters, "k": key})).rstrip(b"=")
        return (body + b"." + self._tag(body)).decode()

    def decode(self, endpoint: str, token: str) -> tuple[dict, list]:
        try:
            body, _, tag = token.encode().partition(b".")
            if not hmac.compare_digest(tag, self._tag(body)):
                raise ValueError
            payload = orjson.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
            if payload["e"] != endpoint:
                raise ValueError
            return payload["f"], payload["k"]
        except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError):
            raise _bad("pageToken is not a token this server gave for this endpoint", "invalid_page_token") from None


class BearerTokens:
    """Issued access tokens and their expiry (monotonic clock)."""

    def __init__(self, ttl: int):
        self.ttl = ttl
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()
        self.issued = 0

    def issue(self) -> str:
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + self.ttl
            self.issued += 1
        return token

    def valid(self, token: str) -> bool:
        exp = self._tokens.get(token)
        return exp is not None and exp > time.monotonic()

    def revoke_all(self) -> None:
        """Every issued token stops working (to test that clients fetch a new one)."""
        with self._lock:
            self._tokens.clear()


@dataclass
class Faults:
    """Fault injection for the data endpoints. Change with ``configure``; counts in ``injected``."""

    rate: float = 0.0
    kinds: tuple[str, ...] = DEFAULT_FAULT_KINDS
    seed: int | None = None
    retry_after: int = 1
    slow_seconds: float = 2.0
    paths: tuple[str, ...] | None = None  # endpoint names, e.g. ("grades",); None: every data endpoint
    skip: int = 0
    injected: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.configure()

    def configure(self, **changes: Any) -> "Faults":
        for name, value in changes.items():
            if name not in {"rate", "kinds", "seed", "retry_after", "slow_seconds", "paths", "skip"}:
                raise TypeError(f"unknown fault setting {name}")
            setattr(self, name, value)
        self.kinds = _fault_kinds(self.kinds)
        if self.paths is not None:
            self.paths = tuple(self.paths)
        if not 0.0 <= float(self.rate) <= 1.0:
            raise ValueError("fail rate must lie between 0 and 1")
        self._rng = random.Random(self.seed)
        self._seen = 0
        self.injected = Counter()
        return self

    def draw(self, endpoint: str) -> str | None:
        if self.rate <= 0 or (self.paths is not None and endpoint not in self.paths):
            return None
        with self._lock:
            self._seen += 1
            if self._seen <= self.skip or self._rng.random() >= self.rate:
                return None
            kind = self._rng.choice(self.kinds)
            self.injected[kind] += 1
            return kind


def _fault_kinds(kinds: Any) -> tuple[str, ...]:
    if isinstance(kinds, str):
        kinds = [k.strip() for k in kinds.split(",") if k.strip()]
    out = tuple(str(k) for k in kinds)
    unknown = [k for k in out if k not in FAULT_KINDS]
    if unknown or not out:
        raise ValueError(f"fault kinds must be among {', '.join(FAULT_KINDS)}")
    return out


class DroppedResponse(Response):
    """Sends the headers (with the full Content-Length) and part of the body, then closes the connection."""

    def __init__(self, body: bytes):
        super().__init__(body, 200, media_type=_JSON)

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body[: max(1, len(self.body) // 2)],
                    "more_body": True})
        # Returning without completing the response makes the ASGI server close the connection: the
        # client sees an incomplete body. (uvicorn logs one error line for it.)


# --------------------------------------------------------------------------------------------------------
# The app
# --------------------------------------------------------------------------------------------------------
@dataclass
class ServerState:
    index: DatasetIndex
    tokens: BearerTokens
    faults: Faults
    pages: PageTokens
    client_id: str
    client_secret: str
    max_page_size: int
    requests: Counter = field(default_factory=Counter)


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
) -> Starlette:
    """The Starlette app over ``dataset``. ``app.state.ss12000`` holds the index, tokens and faults."""
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
    app = Starlette(routes=routes)
    app.state.ss12000 = state
    app.state.faults = state.faults
    app.state.index = state.index
    app.state.tokens = state.tokens
    return app


def _health(state: ServerState) -> Response:
    state.index.ensure()
    return Response(orjson.dumps({"status": "ok", "counts": state.index.counts}), media_type=_JSON)


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


def _paging(state: ServerState, endpoint: str, query, parse: Callable[[], dict]) -> tuple[dict, list | None, int]:
    limit = _limit(state, query)
    token = query.get("pageToken")
    if token is None:
        return parse(), None, limit
    others = sorted({k for k in query.keys() if k not in ("limit", "pageToken")})
    if others:
        raise _bad(f"pageToken cannot be combined with other filters than limit (got {', '.join(others)})",
                   "invalid_filter")
    filters, key = state.pages.decode(endpoint, token)
    return filters, key, limit


def _page_body(items: bytes, token: str | None) -> bytes:
    return b'{"data":[' + items + b'],"pageToken":' + (orjson.dumps(token) if token else b"null") + b"}"


def _list(state: ServerState, entity: str, request: Request) -> Response:
    query = request.query_params
    spec = LIST_PARAMS[entity]

    def parse() -> dict:
        filters = {}
        for name in query.keys():
            if name == "limit":
                continue
            if name not in spec:
                raise _bad(f"parameter {name} is not supported by this server", "unsupported_parameter")
            key, parser = spec[name]
            filters[key] = parser(query, name)
        return filters

    filters, key, limit = _paging(state, entity, query, parse)
    rows, more = state.index.list_objects(entity, filters, key, limit)
    token = state.pages.encode(entity, filters, [rows[-1][0], rows[-1][1]]) if more and rows else None
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
        unknown = sorted(k for k in query.keys() if k not in ("startDate", "endDate", "student", "limit"))
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

    filters, key, limit = _paging(state, "aggregatedAttendance", query, parse)
    objects, last, more = state.index.attendance(filters["start"], filters["end"], filters.get("student"), key,
                                                  limit)
    token = state.pages.encode("aggregatedAttendance", filters, list(last)) if more and last else None
    return Response(_page_body(",".join(objects).encode(), token), media_type=_JSON)


def _deleted(state: ServerState, request: Request) -> Response:
    query = request.query_params

    def parse() -> dict:
        unknown = sorted(k for k in query.keys() if k not in ("after", "entities", "limit"))
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
    rows, more = state.index.deleted(filters.get("after"), filters.get("entities"), key, limit)
    data: dict[str, list[str]] = {}
    for _at, _seq, entity, oid in rows:
        data.setdefault(entity, []).append(oid)
    token = state.pages.encode("deletedEntities", filters, [rows[-1][0], rows[-1][1]]) if more and rows else None
    return Response(orjson.dumps({"data": data, "pageToken": token}), media_type=_JSON)


# --------------------------------------------------------------------------------------------------------
# Running it
# --------------------------------------------------------------------------------------------------------
class ServerURL(str):
    """The base URL (``http://127.0.0.1:PORT/v2.0``), carrying the running app's switches when in-process."""

    app: Starlette | None
    state: ServerState | None

    def __new__(cls, url: str, app: Starlette | None = None):
        obj = super().__new__(cls, url)
        obj.app = app
        obj.state = app.state.ss12000 if app is not None else None
        return obj

    @property
    def token_url(self) -> str:
        return self + "/token"

    @property
    def faults(self) -> Faults:
        if self.state is None:
            raise RuntimeError("fault switches are only reachable on an in-process server")
        return self.state.faults

    @property
    def index(self) -> DatasetIndex:
        if self.state is None:
            raise RuntimeError("the index is only reachable on an in-process server")
        return self.state.index


def _uvicorn_config(app: Starlette, log_level: str = "warning"):
    import uvicorn

    return uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off", timeout_keep_alive=60,
                          server_header=False)


def _bind(host: str, port: int) -> socket.socket:
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("the stand-in server listens on %s, not only on the loopback interface", host)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@contextlib.contextmanager
def running_server(dataset: Path, *, host: str = "127.0.0.1", port: int = 0, in_process: bool = True,
                   startup_timeout: float = 600.0, **options: Any) -> Iterator[ServerURL]:
    """Serve ``dataset`` for the length of the ``with`` block; yields the base URL (incl. ``/v2.0``).

    ``options`` go to :func:`create_app` (client_id, client_secret, fail_rate, fail_kinds, fault_seed,
    retry_after, slow_seconds, fault_paths, fault_skip, token_ttl, max_page_size, index_dir). In-process
    (the default) the server runs in a thread and the yielded URL carries ``.faults``, ``.index`` and
    ``.state``; with ``in_process=False`` it runs in a child process (no shared GIL; what the benchmark
    uses) and only the command-line options apply.
    """
    if not in_process:
        with _subprocess_server(Path(dataset), host, port, startup_timeout, options) as url:
            yield url
        return
    import uvicorn

    app = create_app(Path(dataset), **options)
    app.state.index.ensure()
    sock = _bind(host, port)
    server = uvicorn.Server(_uvicorn_config(app))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="ss12000-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the stand-in SS 12000 server did not start")
        time.sleep(0.01)
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    try:
        yield ServerURL(f"http://{shown}:{bound_port}{BASE_PATH}", app)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        app.state.index.close()


_READY = "SS 12000 stand-in server ready: "


@contextlib.contextmanager
def _subprocess_server(dataset: Path, host: str, port: int, startup_timeout: float,
                       options: dict[str, Any]) -> Iterator[ServerURL]:
    cmd = [sys.executable, "-m", "skolsam.cli", "ss12000-serve", "--dataset", str(dataset),
           "--host", host, "--port", str(port)]
    flags = {"client_id": "--client-id", "client_secret": "--client-secret", "fail_rate": "--fail-rate",
             "fault_seed": "--fault-seed", "retry_after": "--retry-after", "slow_seconds": "--slow-seconds",
             "token_ttl": "--token-ttl", "max_page_size": "--max-page-size", "index_dir": "--index-dir"}
    for name, value in options.items():
        if name == "fail_kinds":
            cmd += ["--fail-kinds", value if isinstance(value, str) else ",".join(value)]
        elif name in flags:
            if value is not None:
                cmd += [flags[name], str(value)]
        else:
            raise TypeError(f"option {name} is not available for a server in a child process")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=None, text=True)
    try:
        url = _wait_ready(proc, startup_timeout)
        yield ServerURL(url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(proc: subprocess.Popen, timeout: float) -> str:
    found: list[str] = []

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(_READY) and not found:
                found.append(line[len(_READY):].strip())
        # keep draining so the child never blocks on a full pipe

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    deadline = time.monotonic() + timeout
    while not found:
        if proc.poll() is not None:
            raise RuntimeError(f"the stand-in SS 12000 server exited with code {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError("the stand-in SS 12000 server did not start in time")
        time.sleep(0.05)
    return found[0]


def serve(dataset: Path, *, host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning",
          echo: Callable[[str], None] = print, **options: Any) -> None:
    """Index the dataset, then serve it until interrupted (the ``skolsam ss12000-serve`` command)."""
    import uvicorn

    app = create_app(Path(dataset), **options)
    t0 = time.perf_counter()
    app.state.index.ensure()
    counts = app.state.index.counts
    echo(f"indexed {sum(counts.values())} records in {time.perf_counter() - t0:.1f}s: "
         + ", ".join(f"{k}={v}" for k, v in counts.items()))
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    echo(f"{_READY}http://{shown}:{bound}{BASE_PATH}")
    try:
        uvicorn.Server(_uvicorn_config(app, log_level)).run(sockets=[sock])
    finally:
        sock.close()
