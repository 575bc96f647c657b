"""Secrets as a task reads them: from the worker's own secrets backends, registered with the masker.

The pseudonym keys (``skolsam_pseudonym``, ``skolsam_mart_pseudonym``) are the secrets that must never
leak: whoever holds the key recovers the personnummer behind any ``student_key`` in seconds (DESIGN 4). A
Connection stored in Airflow's metadata database is served by the api-server's Execution API to any bearer
of a validly signed task token, so the keys are read only from the worker's side of the chain: a secrets
backend configured for workers (``[workers] secrets_backend``, e.g. Vault or a file mounted into the worker
only) or the worker's environment (``AIRFLOW_CONN_SKOLSAM_PSEUDONYM``). A key put into the metadata
database is refused, not used (docs/deployment.md, "Where the pseudonym key lives").

Every secret read here is registered with Airflow's secrets masker, so a log line that contains it shows
``***`` instead (in the task process and in the supervisor that writes the task log).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

# Backends that answer from the metadata database, directly or through the Execution API.
_SERVED_BY_API = ("ExecutionAPISecretsBackend", "MetastoreBackend")


class SecretNotLocal(RuntimeError):
    """A secret that must stay on the worker was found only in the metadata database."""


def mask(*values: str | None) -> None:
    """Register each non-empty value with Airflow's secrets masker (a no-op outside Airflow)."""
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # the plain skolsam command line, without Airflow
        return
    for value in values:
        if value:
            mask_secret(value)


def mask_url_password(url: str | None) -> None:
    """Mask the password of a database URL (``postgresql://user:password@host/db``)."""
    if url:
        try:
            mask(urlsplit(url).password)
        except ValueError:
            pass


def _backends() -> list:
    from airflow.sdk.execution_time.supervisor import ensure_secrets_backend_loaded

    return list(ensure_secrets_backend_loaded())


def worker_local_connection(conn_id: str):
    """The Connection from a worker-side backend (custom workers' backend, environment), or None.

    Raises SecretNotLocal when only the metadata database (via the Execution API) has it, so that a key
    stored where an API token could read it is never silently used.
    """
    served = False
    for backend in _backends():
        is_served = type(backend).__name__ in _SERVED_BY_API
        try:
            conn = backend.get_connection(conn_id=conn_id)
        except Exception:  # a backend that cannot answer is not an answer
            log.debug("secrets backend %s could not look up %s", type(backend).__name__, conn_id, exc_info=True)
            continue
        if conn is None:
            continue
        if is_served:
            served = True
            continue
        mask(conn.password)
        return conn
    if served:
        raise SecretNotLocal(
            f"Connection {conn_id} is stored in Airflow's metadata database, where any holder of a task token "
            f"can read it through the Execution API; delete it there and give it to the workers only "
            f"(AIRFLOW_CONN_{conn_id.upper()} in the worker's environment, or a workers' secrets backend)")
    return None
