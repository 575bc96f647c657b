"""One base for skolsam's exceptions, and whether a failure is worth retrying.

Every exception the package raises on purpose derives from ``SkolsamError``. Each says whether retrying
the same work can succeed:

* ``DeterministicError``: the same input fails the same way (a failed critical quality check, a too-low
  match rate, refused credentials, a changed applied migration, a missing Connection in production).
  Retrying only delays the alert, so the Airflow layer fails the task at once (``skolsam.airflow.failfast``).
* ``TransientError``: the world may be different in a minute (the database or the API unreachable, the
  staging tables locked by a running load). Airflow retries with backoff.
* ``SkolsamError`` itself (``transient = None``): it depends on the cause, e.g. ``ExtractError`` wraps
  both a refused token and a dropped connection; ``classify`` looks down the exception chain.

Kept free of third-party imports: the DAG files import the Airflow side of this at parse time.
"""

from __future__ import annotations

import sys

DETERMINISTIC = "deterministic"
TRANSIENT = "transient"


class SkolsamError(Exception):
    """Base of skolsam's exceptions. ``transient``: True retry, False fail fast, None decided by the cause."""

    transient: bool | None = None


class DeterministicError(SkolsamError):
    """Retrying cannot help: fail fast."""

    transient = False


class TransientError(SkolsamError):
    """May succeed later: retry with backoff."""

    transient = True


class ConfigurationError(DeterministicError, RuntimeError):
    """A required Connection, key or setting is missing or invalid (the message names it, never its value)."""


def _chain(exc: BaseException):
    """The exception and its causes, outermost first (explicit ``raise ... from`` or implicit context)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ if exc.__cause__ is not None else (None if exc.__suppress_context__ else exc.__context__)


def _library_kind(exc: BaseException) -> str | None:
    """Known third-party failures, recognised without importing the libraries (only if already loaded)."""
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        # OperationalError covers a lost connection, a refused one, a cancelled statement, a serialisation
        # failure, a deadlock and a lock timeout: all worth another try. Other database errors (a missing
        # table, a constraint, bad data) repeat on retry.
        if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
            return TRANSIENT
        if isinstance(exc, psycopg.DatabaseError):
            return DETERMINISTIC
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, httpx.TransportError):
        return TRANSIENT
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is not None and isinstance(exc, (sqlalchemy_exc.OperationalError,
                                                       sqlalchemy_exc.DisconnectionError)):
        return TRANSIENT
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return TRANSIENT
    return None


def _own_kind(exc: BaseException) -> str | None:
    flag = getattr(exc, "transient", None) if isinstance(exc, SkolsamError) else None
    if flag is None:
        return _library_kind(exc)
    return TRANSIENT if flag else DETERMINISTIC


def classify(exc: BaseException) -> str | None:
    """``"transient"``, ``"deterministic"`` or None (unknown: treated as transient, Airflow's default).

    Along the chain a transient cause wins (a build error caused by a dropped connection is worth a retry);
    otherwise the first deterministic link decides."""
    kinds = [_own_kind(e) for e in _chain(exc)]
    if TRANSIENT in kinds:
        return TRANSIENT
    if DETERMINISTIC in kinds:
        return DETERMINISTIC
    return None


def is_deterministic(exc: BaseException) -> bool:
    return classify(exc) == DETERMINISTIC
