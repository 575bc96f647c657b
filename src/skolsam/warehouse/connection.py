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
    url = libpq_url(url)
    return "postgresql+psycopg://" + url[len("postgresql://"):] if url.startswith("postgresql://") else url


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
