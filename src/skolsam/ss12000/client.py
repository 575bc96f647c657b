"""SS 12000 API client: client-credentials bearer tokens, pagination to the end, retries.

Retries: transport errors (refused or reset connections, timeouts, bodies cut short), 5xx and 429 answers
and answers that are not JSON (or not shaped as a page) are retried with exponential backoff and jitter,
at most ``RetryPolicy.max_attempts`` times per request; a 429 or 503 with ``Retry-After`` waits as long as
the server asks (up to ``retry_after_max``). A 401 fetches a new token once and repeats the request at
once. Other 4xx answers are not retried. When the attempts are used up the request fails with
:class:`SS12000Error` naming the endpoint, the page number and the last problem.

Log lines and error messages name the endpoint path and the page number only: never a query string
(a page token or a filter) and never a record's content.
"""

from __future__ import annotations

import email.utils
import logging
import queue
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, TypeVar

import httpx
import orjson

from .config import (  # noqa: F401 (ApiConfig is re-exported: the client with its config)
    REQUIRED_QUERY, ApiConfig, PageBudget, _resend_names, require_https, safe_url,
)
from .errors import SS12000AuthError, SS12000Error
from .schema import loads_lenient

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    backoff_base: float = 0.5  # seconds before the 2nd attempt (before jitter), doubling after that
    backoff_max: float = 30.0
    retry_after_max: float = 120.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Wait after failed attempt number ``attempt`` (1-based): exponential with 'equal jitter'."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass
class Page:
    number: int
    data: Any  # a list of objects, or for /deletedEntities a dict of id lists
    date: str | None  # the answer's HTTP Date header
    size: int  # bytes of the body


@dataclass
class RawPage:
    """A page as fetched, not yet parsed (see SS12000Client.raw_pages)."""

    path: str
    number: int
    body: bytes
    date: str | None
    query: dict
    token: str | None  # the pageToken, read from the end of the body
    parsed: dict | None = None  # the parsed body, when it had to be parsed to find the token


_NO_TOKEN = object()


def _tail_token(body: bytes) -> Any:
    """The top-level pageToken when it is the body's last member (as this stand-in and most servers
    write it), read without parsing the page; _NO_TOKEN if it is not found that way."""
    end = body.rstrip()
    if not end.endswith(b"}"):
        return _NO_TOKEN
    i = end.rfind(b'"pageToken"')
    if i < 0 or not end[:i].rstrip().endswith((b",", b"{")):
        return _NO_TOKEN
    rest = end[i + len(b'"pageToken"'):-1].strip()
    if not rest.startswith(b":"):
        return _NO_TOKEN
    try:
        value = orjson.loads(rest[1:])
    except orjson.JSONDecodeError:
        return _NO_TOKEN
    return value if value is None or isinstance(value, str) else _NO_TOKEN


class _Retry(Exception):
    def __init__(self, reason: str, delay: float | None = None):
        super().__init__(reason)
        self.reason, self.delay = reason, delay


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _is_page(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("data"), (list, dict))


class SS12000Client:
    def __init__(
        self,
        base_url: str,
        token_url: str | None = None,
        client_id: str = "",
        client_secret: str = "",
        *,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
        transport: httpx.BaseTransport | None = None,
        static_token: str | None = None,
        allow_http: bool = False,
        resend_params: str | Iterable[str] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.token_url = token_url or self.base_url + "/token"
        require_https(self.base_url, allow_http=allow_http)
        if not static_token:
            require_https(self.token_url, allow_http=allow_http)
        self.static_token = static_token or None
        self.budget: PageBudget | None = None  # set per entity run by the extractor
        self.resend = _resend_names(resend_params)
        self._resend_learned: dict[str, set[str]] = {}  # path -> filters a server asked for on later pages
        self.client_id = client_id
        self.client_secret = client_secret
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"Accept": "application/json", "User-Agent": "skolsam-ss12000"},
            transport=transport,
        )
        self._quiet = _QuietRequests((self.base_url, self.token_url))
        logging.getLogger("httpx").addFilter(self._quiet)
        self._token: str | None = None
        self._token_expires = 0.0
        self._lock = threading.Lock()
        self.stats = {"requests": 0, "retries": 0, "tokens": 0, "bytes": 0}

    # -- lifecycle ------------------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()
        logging.getLogger("httpx").removeFilter(self._quiet)

    def __enter__(self) -> "SS12000Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- tokens ---------------------------------------------------------------------------------------
    def token(self) -> str:
        if self.static_token:
            return self.static_token
        with self._lock:
            if self._token is None or time.monotonic() >= self._token_expires:
                self._token, self._token_expires = self._fetch_token()
            return self._token

    def invalidate_token(self) -> None:
        with self._lock:
            self._token = None

    def _fetch_token(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials", "client_id": self.client_id,
                "client_secret": self.client_secret}
        where = safe_url(self.token_url)

        def attempt() -> tuple[str, float]:
            resp = self._http.post(self.token_url, data=form)
            status = resp.status_code
            if status in (400, 401, 403):
                raise SS12000AuthError(f"token request to {where} refused: HTTP {status} {_error_code(resp)}".rstrip(),
                                       status=status)
            self._check_retryable(resp)
            if status != 200:  # 404 and the like: the endpoint is elsewhere, or absent
                raise SS12000AuthError(
                    f"token request to {where}: HTTP {status} (is the token URL right? a server without a token "
                    "endpoint takes a static bearer token in the Connection)", status=status)
            try:
                body = orjson.loads(resp.content)
                token = body["access_token"]
                expires_in = float(body.get("expires_in") or 3600)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                raise _Retry(f"token answer from {where}: HTTP {status} without an access_token") from None
            if not isinstance(token, str) or not token:
                raise _Retry(f"token answer from {where}: HTTP {status} without an access_token")
            # Refresh a little before it runs out.
            return token, time.monotonic() + max(1.0, expires_in - min(60.0, expires_in / 10))

        result = self._with_retries(f"POST {where}", attempt, use_token=False)
        self.stats["tokens"] += 1
        return result

    # -- requests -------------------------------------------------------------------------------------
    def _check_retryable(self, resp: httpx.Response) -> None:
        status = resp.status_code
        if status in (429, 503):
            raise _Retry(f"HTTP {status}", _retry_after(resp.headers.get("retry-after")))
        if status >= 500 or status == 408:
            raise _Retry(f"HTTP {status}")

    def _with_retries(self, what: str, attempt_fn: Callable[[], T], use_token: bool = True) -> T:
        policy = self.retry
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            try:
                return attempt_fn()
            except _Retry as exc:
                reason, delay = exc.reason, exc.delay
                if reason == "HTTP 401":
                    if self.static_token:
                        raise SS12000AuthError(f"{what}: HTTP 401: the static bearer token was refused",
                                               status=401) from None
                    if refreshed:
                        raise SS12000AuthError(f"{what}: HTTP 401 with a fresh token", status=401) from None
                    refreshed = True
                    attempt -= 1
                    self.invalidate_token()
                    continue
            except httpx.TransportError as exc:
                reason, delay = f"{type(exc).__name__} (connection failed or answer cut short)", None
            if attempt >= policy.max_attempts:
                raise SS12000Error(f"{what} failed after {attempt} attempts; last problem: {reason}",
                                   retryable=True)
            if delay is None:
                delay = policy.backoff(attempt, self._rng)
            else:
                delay = min(delay, policy.retry_after_max)
            self.stats["retries"] += 1
            log.info("%s: %s; attempt %d of %d in %.2fs", what, reason, attempt + 1, policy.max_attempts, delay)
            self._sleep(delay)

    def _get_once(self, url: str, params: dict | None, what: str) -> httpx.Response:
        """One authorised GET: a 200 answer (body read), else _Retry or SS12000Error."""
        token = self.token()
        self.stats["requests"] += 1
        resp = self._http.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
        if resp.status_code == 401:
            raise _Retry("HTTP 401")
        self._check_retryable(resp)
        if resp.status_code != 200:
            raise SS12000Error(f"{what}: HTTP {resp.status_code} {_error_code(resp)}", status=resp.status_code)
        self.stats["bytes"] += len(resp.content)
        _release(resp)
        return resp

    def get_json(self, path: str, params: dict | None = None, *, what: str | None = None,
                 check: Callable[[Any], bool] = _is_page) -> tuple[Any, httpx.Response]:
        """GET ``path`` (relative to the base URL) with retries; the parsed JSON and the response."""
        url = self.base_url + "/" + path.lstrip("/")
        what = what or f"GET {path}"

        def attempt() -> tuple[Any, httpx.Response]:
            resp = self._get_once(url, params, what)
            try:
                obj = loads_lenient(resp.content)
            except orjson.JSONDecodeError:
                raise _Retry("the answer could not be parsed as JSON") from None
            if not check(obj):
                raise _Retry("the answer is not shaped as the spec says")
            return obj, resp

        return self._with_retries(what, attempt)

    def get_raw(self, path: str, params: dict | None, *, what: str) -> tuple[bytes, str | None, Any, dict | None]:
        """GET with retries; the body, its Date header, its pageToken and (only if parsing was needed to
        find the token) the parsed body. A body whose token cannot be found and that does not parse as a
        page is retried like a transport error."""
        url = self.base_url + "/" + path.lstrip("/")

        def attempt():
            resp = self._get_once(url, params, what)
            body = resp.content
            page_token = _tail_token(body)
            parsed = None
            if page_token is _NO_TOKEN:
                try:
                    parsed = loads_lenient(body)
                except orjson.JSONDecodeError:
                    raise _Retry("the answer could not be parsed as JSON") from None
                if not _is_page(parsed):
                    raise _Retry("the answer is not shaped as the spec says")
                page_token = parsed.get("pageToken")
                if page_token is not None and not isinstance(page_token, str):
                    raise _Retry("the answer's pageToken is not a string")
            return body, resp.headers.get("date"), page_token, parsed

        return self._with_retries(what, attempt)

    def raw_pages(self, path: str, params: dict | None = None, *, limit: int | None = None) -> Iterator[RawPage]:
        """Every page of a list endpoint, unparsed: the next request goes out as soon as a body has arrived
        (its pageToken is read from the end of the body), so the server prepares the next page while the
        caller parses this one with :meth:`parse_page`.

        Later pages send ``pageToken`` and ``limit`` (the spec: a token cannot be combined with filters) plus
        the filters this client is told to resend. A server that answers a later page with 400 is asked
        again with the spec's required parameters for the path, then with every filter, and the path keeps
        what worked for the rest of this client's life."""
        first = {k: v for k, v in (params or {}).items() if v is not None}
        query = dict(first)
        if limit:
            query["limit"] = limit
        seen: set[str] = set()
        number = 0
        while True:
            number += 1
            if self.budget is not None:
                self.budget.spend(path, number)
            body, date, token, parsed = self._get_page(path, query, first, number)
            yield RawPage(path, number, body, date, query, token, parsed)
            if not token:
                return
            if token in seen:
                raise SS12000Error(f"GET {path} page {number}: the server repeated a page token")
            seen.add(token)
            query = {"pageToken": token, **self._resent(path, first)}
            if limit:
                query["limit"] = limit

    def _resent(self, path: str, first: dict) -> dict:
        names = self._resend_learned.get(path, set()) | (set(first) if self.resend == "all" else set(self.resend))
        return {k: v for k, v in first.items() if k in names}

    def _get_page(self, path: str, query: dict, first: dict, number: int):
        what = f"GET {path} page {number}"
        try:
            return self.get_raw(path, query, what=what)
        except SS12000Error as exc:
            if exc.status != 400 or "pageToken" not in query:
                raise
            sent = set(query) - {"pageToken", "limit"}
            for names in (set(REQUIRED_QUERY.get(path, ())) & set(first), set(first)):
                if names - sent:
                    break
            else:
                raise
            log.info("%s: HTTP 400 with the page token alone; resending %s on every page", what,
                     ", ".join(sorted(names)))
            self._resend_learned[path] = names
            retry = {**query, **{k: v for k, v in first.items() if k in names}}
            query.clear()
            query.update(retry)
            return self._get_page(path, query, first, number)

    def parse_page(self, raw: RawPage) -> Page:
        """Parse a raw page. A body that does not parse is fetched again (same request, with retries); if
        it still does not parse, or no longer carries the same pageToken, SS12000Error."""
        obj = raw.parsed
        if obj is None:
            try:
                obj = loads_lenient(raw.body)
            except orjson.JSONDecodeError:
                obj = None
            if obj is None or not _is_page(obj):
                what = f"GET {raw.path} page {raw.number}"
                log.info("%s: the answer could not be parsed; fetching it again", what)
                self.stats["retries"] += 1
                obj, _ = self.get_json(raw.path, raw.query, what=what)
            if obj.get("pageToken") != raw.token:
                raise SS12000Error(f"GET {raw.path} page {raw.number}: the pageToken changed between reads")
        return Page(raw.number, obj["data"], raw.date, len(raw.body))

    def pages(self, path: str, params: dict | None = None, *, limit: int | None = None) -> Iterator[Page]:
        """Every page of a list endpoint, parsed, following ``pageToken`` to the end."""
        for raw in self.raw_pages(path, params, limit=limit):
            yield self.parse_page(raw)


def _release(resp: httpx.Response) -> None:
    """A read response refers to its stream and the stream back to the response: that cycle would keep
    the whole body alive until the garbage collector's next full pass. Cut it once the body is read."""
    resp.stream = httpx.ByteStream(b"")


class _QuietRequests(logging.Filter):
    """Drops httpx's per-request INFO lines for our URLs: they would log every page token and filter."""

    def __init__(self, prefixes: tuple[str, ...]):
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (len(args) >= 2 and str(args[1]).startswith(self.prefixes))


def _error_code(resp: httpx.Response) -> str:
    """The Error schema's ``code`` (or OAuth ``error``), never the free-text message."""
    try:
        body = orjson.loads(resp.content)
    except orjson.JSONDecodeError:
        return ""
    if isinstance(body, dict):
        code = body.get("code") or body.get("error")
        if isinstance(code, str):
            return code[:80]
    return ""


_DONE = object()


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Iterate ``items`` in a background thread, up to ``depth`` items ahead (network and parsing overlap
    the consumer's work). Exceptions reach the consumer; closing the iterator stops the thread."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((True, _DONE))
        except BaseException as exc:  # handed to the consumer
            put((False, exc))

    thread = threading.Thread(target=run, name="ss12000-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        thread.join(timeout=30)
        close = getattr(items, "close", None)
        if close is not None and not thread.is_alive():
            close()
