"""How to reach an SS 12000 API (``ApiConfig``) and the rules every request keeps: https, the spec's
required parameters, the page and time budget of a run."""

from __future__ import annotations

import time
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

from .errors import SS12000Error

if TYPE_CHECKING:
    from .client import SS12000Client


@dataclass(frozen=True)
class ApiConfig:
    """Where and how to reach the SS 12000 API. Secrets never show in a repr.

    ``static_token``: a bearer token configured instead of client credentials (servers without a token
    endpoint). ``time_zone``: the zone of timestamps written without one (None: the setting).
    ``resend_params``: query parameters sent again on every page (``"all"`` or names; None: the setting).
    ``allow_http``: plain http to a host other than loopback (the demo stack's stand-in only).
    """

    base_url: str
    token_url: str | None = None
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    page_size: int = 5000
    timeout: float = 60.0
    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    static_token: str | None = field(default=None, repr=False)
    time_zone: str | None = None
    resend_params: str | None = None
    allow_http: bool = False

    def client(self) -> "SS12000Client":
        from .client import RetryPolicy, SS12000Client

        return SS12000Client(
            self.base_url,
            self.token_url or self.base_url.rstrip("/") + "/token",
            self.client_id,
            self.client_secret,
            timeout=self.timeout,
            retry=RetryPolicy(max_attempts=self.max_attempts, backoff_base=self.backoff_base,
                              backoff_max=self.backoff_max),
            static_token=self.static_token,
            allow_http=self.allow_http,
            resend_params=self.resend_params,
        )


# Query parameters the spec (2.1.0) declares required, per list endpoint: sent on every page, since a
# server may check them on every request (tests/test_ss12000_client.py reads them from the spec).
REQUIRED_QUERY = {"/aggregatedAttendance": ("startDate", "endDate")}
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def require_https(url: str, *, allow_http: bool = False) -> None:
    """ValueError unless ``url`` is https, or http to this machine (or ``allow_http``): client secrets,
    tokens and civic numbers never travel unencrypted."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https":
        return
    loopback = host in _LOOPBACK or host.startswith("127.")
    if parts.scheme == "http" and (loopback or allow_http):
        return
    raise ValueError(f"SS 12000 URL {safe_url(url)}: https is required for any host but this machine")


def safe_url(url: str) -> str:
    """scheme://host[:port]/path of a URL, without userinfo or query (for messages)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"


@dataclass
class PageBudget:
    """The most pages and seconds one entity run may spend (settings ``ss12000_max_pages`` and
    ``ss12000_time_budget_seconds``); counted over every list the run reads."""

    max_pages: int | None = None
    seconds: float | None = None
    pages: int = 0
    started: float | None = None

    def __post_init__(self) -> None:
        if self.started is None:
            self.started = time.monotonic()

    def spend(self, path: str, number: int) -> None:
        if self.max_pages is not None and self.pages >= self.max_pages:
            raise SS12000Error(f"GET {path} page {number}: more than {self.max_pages} pages in one run "
                               f"(setting ss12000_max_pages); the server may never stop handing out page tokens")
        if self.seconds is not None and time.monotonic() - self.started > self.seconds:
            raise SS12000Error(f"GET {path} page {number}: the run took longer than {self.seconds:g}s "
                               f"(setting ss12000_time_budget_seconds)")
        self.pages += 1


def _resend_names(value: str | Iterable[str] | None) -> str | frozenset[str]:
    """``"all"``, or the parameter names to resend on every page."""
    if value is None:
        return frozenset()
    if isinstance(value, str):
        if value.strip().lower() == "all":
            return "all"
        value = value.split(",")
    return frozenset(v.strip() for v in value if v and v.strip())
