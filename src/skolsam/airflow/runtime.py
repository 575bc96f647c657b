"""Configuration as seen from inside an Airflow task.

Connections: ``skolsam_warehouse`` (Postgres), ``skolsam_ss12000`` (type ss12000), ``skolsam_pseudonym``
(the HMAC key in the password field). Variables: ``skolsam_<setting>`` for every field of
skolsam.settings.Settings. Each falls back to the plain skolsam environment variables, so the same DAG
runs on a laptop with the embedded warehouse and in production against a managed PostgreSQL.
"""

from __future__ import annotations

import logging
import os
from dataclasses import fields

log = logging.getLogger(__name__)

WAREHOUSE_CONN_ID = "skolsam_warehouse"
SS12000_CONN_ID = "skolsam_ss12000"
PSEUDONYM_CONN_ID = "skolsam_pseudonym"
MART_PSEUDONYM_CONN_ID = "skolsam_mart_pseudonym"  # the second key: per-term pupil keys of the mart


def _connection(conn_id: str):
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception:  # not defined: fall back to the skolsam defaults
        return None


def warehouse_url() -> str:
    from skolsam.warehouse.connection import resolve_url, sqlalchemy_url

    conn = _connection(WAREHOUSE_CONN_ID)
    if conn is not None and conn.host:
        uri = conn.get_uri()
        if uri.startswith("postgres://"):
            uri = "postgresql://" + uri[len("postgres://"):]
        return sqlalchemy_url(uri)
    return resolve_url(None)


def pseudonymiser():
    from skolsam.pseudonym import Pseudonymiser, load_key

    conn = _connection(PSEUDONYM_CONN_ID)
    if conn is not None and conn.password:
        return Pseudonymiser(conn.password)
    return Pseudonymiser(load_key())


def mart_pseudonymiser():
    """The per-term key of mart.participant_term: Connection skolsam_mart_pseudonym (password field), else
    SKOLSAM_MART_PSEUDONYM_KEY or the local key file, like the pseudonym key."""
    from skolsam.pseudonym import TermPseudonymiser, load_mart_key

    conn = _connection(MART_PSEUDONYM_CONN_ID)
    if conn is not None and conn.password:
        return TermPseudonymiser(conn.password)
    return TermPseudonymiser(load_mart_key())


def settings():
    from airflow.sdk import Variable

    from skolsam.settings import Settings

    overrides = {}
    for f in fields(Settings):
        if os.environ.get(f"SKOLSAM_{f.name.upper()}") is not None:
            continue  # an explicit environment setting wins over the metadata database
        try:
            value = Variable.get(f"skolsam_{f.name}", default=None)
        except Exception:
            value = None
        if value is not None:
            overrides[f.name] = value
    return Settings.load(overrides)


def ss12000_api():
    from skolsam.airflow.ss12000_hook import SS12000Hook

    return SS12000Hook(SS12000_CONN_ID).api_config(page_size=settings().ss12000_page_size)
