"""A running stand-in's state: signed page tokens, bearer tokens, fault switches."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import random
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.responses import Response

from .index import DatasetIndex
from .params import _JSON, DEFAULT_FAULT_KINDS, FAULT_KINDS, _bad

log = logging.getLogger(__name__)


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


QUIRKS = ("required_on_every_page", "filters_on_every_page", "endless_pages", "deleted_flat", "no_date_header")


@dataclass
class Quirks:
    """Switches that make the stand-in answer as real SS 12000 servers do (DESIGN 3.1.2), for tests.

    * ``required_on_every_page``: /aggregatedAttendance answers 400 to a later page without the spec's
      required ``startDate``/``endDate`` (they may then accompany ``pageToken``, and must equal the first's).
    * ``filters_on_every_page``: page tokens carry the position only (like offsets); a later page applies the
      filters sent with it, so a client that does not resend them pages through the unfiltered list.
    * ``endless_pages``: every answer carries a new pageToken (a server that never says it is done).
    * ``deleted_flat``: /deletedEntities answers ``{"data": [{"entity": "Grade", "id": ...}]}`` (a flat list,
      ``[]`` when nothing was deleted) instead of ids keyed by entity.
    * ``no_date_header``: answers carry no ``Date`` header.
    """

    required_on_every_page: bool = False
    filters_on_every_page: bool = False
    endless_pages: bool = False
    deleted_flat: bool = False
    no_date_header: bool = False

    def configure(self, **changes: Any) -> "Quirks":
        for name, value in changes.items():
            if name not in QUIRKS:
                raise TypeError(f"unknown quirk {name}")
            setattr(self, name, bool(value))
        return self


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
    quirks: Quirks = field(default_factory=Quirks)
