"""Warehouse URLs and connections.

One URL form everywhere: a SQLAlchemy URL (``postgresql+psycopg://user:pw@host:port/db`` or, for a Unix
socket, ``postgresql+psycopg://postgres:@/skolsam?host=/dir``). psycopg gets the libpq form of the same URL.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import psycopg

URL_ENV = "SKOLSAM_WAREHOUSE_URL"


def libpq_url(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


def sqlalchemy_url(url: str) -> str:
    url = _socket_host_as_query(libpq_url(url))
    return "postgresql+psycopg://" + url[len("postgresql://"):] if url.startswith("postgresql://") else url


def _socket_host_as_query(url: str) -> str:
    """A Unix-socket folder given as a percent-encoded host (``postgresql://u:p@%2Ftmp%2Fpg:5432/db``, what
    an Airflow Connection's ``get_uri()`` makes of host ``/tmp/pg``) moved to ``?host=/tmp/pg&port=5432``.
    libpq decodes such a host, SQLAlchemy does not (it would look the name ``%2Ftmp%2Fpg`` up in DNS), and the
    quality gates reach the warehouse through SQLAlchemy."""
    from urllib.parse import quote, unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    at = parts.netloc.rfind("@")
    userinfo, hostport = (parts.netloc[:at + 1], parts.netloc[at + 1:]) if at >= 0 else ("", parts.netloc)
    host, _, port = hostport.partition(":") if not hostport.startswith("[") else (hostport, "", "")
    if not host.upper().startswith("%2F"):
        return url
    extra = f"host={quote(unquote(host), safe='/')}" + (f"&port={port}" if port else "")
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, userinfo, parts.path, query, parts.fragment))


def resolve_url(explicit: str | None = None) -> str:
    """The warehouse to use: an explicit URL, SKOLSAM_WAREHOUSE_URL, or the embedded server (started if needed)."""
    if explicit:
        return sqlalchemy_url(explicit)
    env = os.environ.get(URL_ENV)
    if env:
        return sqlalchemy_url(env)
    from . import embedded

    return embedded.start()


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    conn = psycopg.connect(libpq_url(url), autocommit=autocommit, application_name="skolsam")
    return conn


@contextmanager
def transaction(url: str) -> Iterator[psycopg.Connection]:
    """A connection whose work commits on success and rolls back on any error."""
    conn = connect(url)
    try:
        with conn.transaction():
            yield conn
    finally:
        conn.close()


def redact(url: str) -> str:
    """The URL with any password hidden, for log lines."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(sqlalchemy_url(url)).render_as_string(hide_password=True)
    except Exception:
        return "<warehouse url>"
