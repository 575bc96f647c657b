"""Configuration as seen from inside an Airflow task.

Connections: ``skolsam_warehouse`` (Postgres), ``skolsam_ss12000`` (type ss12000), ``skolsam_pseudonym``
(the HMAC key in the password field). Settings: ``skolsam.settings.Settings.load()`` (the one settings
path; inside a task it also reads the Variables ``skolsam_<setting>``).

No silent fallback in production (issue 10.3). The local demo (``skolsam demo``: ``airflow dags test`` on a
SQLite metadata database with the LocalExecutor) and the tests may fall back to the plain skolsam defaults:
``SKOLSAM_WAREHOUSE_URL`` or the embedded PostgreSQL, ``SKOLSAM_PSEUDONYM_KEY`` or a key file under
``$SKOLSAM_HOME/secrets``. Everywhere else (any other executor or metadata database, or the setting
``env=production``) the warehouse must come from the Connection or ``SKOLSAM_WAREHOUSE_URL`` and answer, and
the key from the Connection or ``SKOLSAM_PSEUDONYM_KEY``: otherwise the task fails at its start with a
``ConfigurationError`` naming what is missing (fail fast, no retry), or ``WarehouseUnreachable`` (retried).
Several workers must never mint several keys or start several warehouses.
"""

from __future__ import annotations

import logging
import os

from skolsam.errors import ConfigurationError, TransientError

log = logging.getLogger(__name__)

WAREHOUSE_CONN_ID = "skolsam_warehouse"
SS12000_CONN_ID = "skolsam_ss12000"
PSEUDONYM_CONN_ID = "skolsam_pseudonym"
MART_PSEUDONYM_CONN_ID = "skolsam_mart_pseudonym"  # the second key: per-term pupil keys of the mart

PRODUCTION = "production"
DEMO = "demo"
_ENV_NAMES = {"production": PRODUCTION, "prod": PRODUCTION, "demo": DEMO, "test": DEMO, "local": DEMO}
# The set-up `skolsam demo` and the tests run Airflow with (skolsam.airflow.local.airflow_env).
DEMO_EXECUTOR = "LocalExecutor"
# Seconds a probe of the warehouse may take before it counts as unreachable.
PROBE_TIMEOUT_SECONDS = 10


class WarehouseUnreachable(TransientError, RuntimeError):
    """The configured warehouse did not answer (retried: a database restart should not page anyone)."""


def environment() -> str:
    """``"production"`` or ``"demo"``: the setting ``env`` (SKOLSAM_ENV) if given, else ``"demo"`` only under the
    local demo's Airflow set-up (LocalExecutor on a SQLite metadata database), ``"production"`` otherwise."""
    from skolsam.settings import setting

    chosen = str(setting("env") or "").strip().lower()
    if chosen:
        if chosen not in _ENV_NAMES:
            raise ConfigurationError(f"setting env (SKOLSAM_ENV) must be production or demo, not {chosen!r}")
        return _ENV_NAMES[chosen]
    try:
        from airflow.configuration import conf

        executor = conf.get("core", "executor", fallback="") or ""
        metadata = conf.get("database", "sql_alchemy_conn", fallback="") or ""
    except Exception:  # no Airflow configuration at all: not a deployment
        return DEMO
    local = executor.split(",")[0].strip().rsplit(".", 1)[-1] == DEMO_EXECUTOR and metadata.startswith("sqlite")
    return DEMO if local else PRODUCTION


def is_production() -> bool:
    return environment() == PRODUCTION


def _connection(conn_id: str):
    """The Connection, or None when it is not defined (or the secrets backend could not be read: Airflow
    logs why). In production the callers turn None into an error."""
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception as exc:
        log.debug("connection %s not available: %s", conn_id, type(exc).__name__)
        return None


def _probe(url: str, origin: str) -> None:
    import psycopg

    from skolsam.warehouse.connection import libpq_url, redact

    try:
        with psycopg.connect(libpq_url(url), connect_timeout=PROBE_TIMEOUT_SECONDS) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise WarehouseUnreachable(
            f"the warehouse of {origin} ({redact(url)}) does not answer: {type(exc).__name__}") from None


def warehouse_url() -> str:
    """The warehouse URL: the Connection ``skolsam_warehouse``, else ``SKOLSAM_WAREHOUSE_URL``, else (demo
    only) the embedded server. In production a configured warehouse is probed once, so an unreachable one
    fails here, at the start of the task, and never half way through."""
    from skolsam.warehouse.connection import URL_ENV, resolve_url, sqlalchemy_url

    production = is_production()
    conn = _connection(WAREHOUSE_CONN_ID)
    if conn is not None and conn.host:
        uri = conn.get_uri()
        if uri.startswith("postgres://"):
            uri = "postgresql://" + uri[len("postgres://"):]
        url, origin = sqlalchemy_url(uri), f"Connection {WAREHOUSE_CONN_ID}"
    elif os.environ.get(URL_ENV):
        url, origin = sqlalchemy_url(os.environ[URL_ENV]), URL_ENV
    elif production:
        raise ConfigurationError(
            f"no warehouse configured: define the Airflow Connection {WAREHOUSE_CONN_ID} (or {URL_ENV}); "
            "outside the local demo an embedded PostgreSQL is never started")
    else:
        return resolve_url(None)  # the demo's embedded server
    from skolsam.airflow.secrets import mask_url_password

    mask_url_password(url)
    if production:
        _probe(url, origin)
    return url


def _secret_key(conn_id: str, env: str, load_local, what: str):
    """A key from the Connection's password, else the environment variable ``env``; in the demo only,
    ``load_local()`` (the local key file, created once). In production a missing key is an error.
    The Connection is read from the worker's own secrets backends only, never from the metadata database
    that an Execution API token could read (skolsam.airflow.secrets); every key is masked in logs."""
    from skolsam.airflow.secrets import mask, worker_local_connection

    conn = worker_local_connection(conn_id)
    if conn is not None and conn.password:
        return conn.password
    if os.environ.get(env):
        mask(os.environ[env])
        return os.environ[env]
    if is_production():
        raise ConfigurationError(
            f"no {what}: define the Airflow Connection {conn_id} (key in the password field) or {env}; "
            "outside the local demo a new key is never created (it would break every join)")
    key = load_local()
    mask(key.decode() if isinstance(key, bytes) else key)
    return key


def pseudonymiser():
    """The Pseudonymiser keyed by the Connection ``skolsam_pseudonym`` (password), else ``SKOLSAM_PSEUDONYM_KEY``,
    else (demo only) the local key file, created on first use."""
    from skolsam.pseudonym import KEY_ENV, Pseudonymiser, load_key

    return Pseudonymiser(_secret_key(PSEUDONYM_CONN_ID, KEY_ENV, load_key, "pseudonym key"))


def mart_pseudonymiser():
    """The per-term key of mart.participant_term: Connection ``skolsam_mart_pseudonym`` (password field), else
    ``SKOLSAM_MART_PSEUDONYM_KEY``, else (demo only) its local key file, like the pseudonym key."""
    from skolsam.pseudonym import MART_KEY_ENV, TermPseudonymiser, load_mart_key

    return TermPseudonymiser(_secret_key(MART_PSEUDONYM_CONN_ID, MART_KEY_ENV, load_mart_key, "mart pseudonym key"))


def settings():
    """The settings (one path: Settings.load reads the Variables when Airflow is loaded)."""
    from skolsam.settings import Settings

    return Settings.load()


def ss12000_api():
    from skolsam.airflow.ss12000_hook import SS12000Hook

    return SS12000Hook(SS12000_CONN_ID).api_config(page_size=settings().ss12000_page_size)
