"""Warehouse URLs as the tasks get them: an Airflow Connection whose host is a Unix-socket folder (the embedded
server) becomes a URL that SQLAlchemy, and so the quality gates, can use (found by `make test` on a fresh
clone: the real-scheduler test's gates failed on the embedded server, `failed to resolve host '%2Ftmp%2F...'`)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from skolsam.warehouse.connection import libpq_url, sqlalchemy_url


def test_an_encoded_socket_host_becomes_the_host_query_parameter():
    url = make_url(sqlalchemy_url("postgres://postgres:pw@%2Ftmp%2Fskpg%2Fd:5432/warehouse"))
    assert (url.host, url.port, url.password, url.database) == (None, None, "pw", "warehouse")
    assert dict(url.query) == {"host": "/tmp/skpg/d", "port": "5432"}


@pytest.mark.parametrize("raw", ["postgresql://a:b@127.0.0.1:5432/db", "postgresql://postgres:@/postgres?host=/tmp/x"])
def test_other_urls_are_left_as_they_are(raw):
    assert libpq_url(sqlalchemy_url(raw)) == raw
