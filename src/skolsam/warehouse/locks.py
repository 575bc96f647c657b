"""A build never sees half a load: one PostgreSQL advisory lock that every staging writer and the build respect.

* Writers (an SS 12000 entity load, an enrollment file, an erasure) call ``staging_write(conn)`` first thing
  in their transaction: a SHARED transaction-level advisory lock, so loads run side by side, and a bump of
  ``audit.staging_version``. The lock is released by the commit or rollback, never forgotten.
* The build holds the EXCLUSIVE lock (``staging_read``) on a session of its own while it reads staging: the
  staging gate, and the core build. It waits for running loads to commit, and no load starts meanwhile.
* A load spanning several transactions (the extract DAG, one task per entity) is a ``batch``: opened by its
  first task, closed by its teardown. ``staging_read`` also waits until no batch is open, so a build started
  by the enrollment Asset cannot read today's persons beside yesterday's grades.
* Between the staging gate task and the prepare task the lock is released (they are separate Airflow tasks,
  perhaps on separate workers); ``audit.staging_version`` tells prepare whether staging changed in between,
  and then the gate runs again before core is built (see skolsam.services.prepare_candidates).

PostgreSQL advisory locks work across processes and machines (Celery workers), and die with the session
that holds them, so a killed worker never leaves staging locked.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator

import psycopg

from ..errors import TransientError
from .connection import connect

log = logging.getLogger(__name__)

STAGING_LOCK = 731_200_020
# Seconds between two looks at the open batches while the build waits.
POLL_SECONDS = 2.0


class StagingBusy(TransientError, RuntimeError):
    """Staging stayed locked by loads longer than the build may wait: retried later."""


def staging_write(conn: psycopg.Connection) -> int:
    """Take the shared staging lock for the rest of ``conn``'s transaction and bump the staging version.
    Call it inside the transaction of any load that writes staging. Returns the new version."""
    if conn.autocommit:
        raise RuntimeError("staging_write needs a transaction (the lock lasts until its commit)")
    return conn.execute("SELECT pg_advisory_xact_lock_shared(%s), nextval('audit.staging_version')",
                        (STAGING_LOCK,)).fetchone()[1]


def staging_version(conn: psycopg.Connection) -> int:
    """The staging version: changes whenever a load that wrote staging committed (or tried to)."""
    last, called = conn.execute("SELECT last_value, is_called FROM audit.staging_version").fetchone()
    return int(last) if called else 0


def open_batches(conn: psycopg.Connection) -> list[tuple[int, str]]:
    return conn.execute(
        """SELECT batch_id, source FROM audit.staging_batch
            WHERE finished_at IS NULL AND expires_at > now() ORDER BY batch_id""").fetchall()


@contextmanager
def staging_read(url: str, *, timeout: float = 3600.0, poll: float = POLL_SECONDS) -> Iterator[psycopg.Connection]:
    """Hold the exclusive staging lock for the block, once no load is running and no batch is open.

    Yields the (autocommit) session holding the lock; work in the block may use other connections. Raises
    StagingBusy after ``timeout`` seconds of waiting."""
    deadline = time.monotonic() + timeout
    conn = connect(url, autocommit=True)
    try:
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{max(1, int(remaining * 1000))}ms",))
            try:
                conn.execute("SELECT pg_advisory_lock(%s)", (STAGING_LOCK,))
            except psycopg.errors.LockNotAvailable:
                raise StagingBusy(f"staging stayed locked by running loads for {timeout:.0f}s") from None
            conn.execute("SELECT set_config('lock_timeout', '0', false)")
            batches = open_batches(conn)
            if not batches:
                break
            conn.execute("SELECT pg_advisory_unlock(%s)", (STAGING_LOCK,))  # let the batch's next load in
            if time.monotonic() >= deadline:
                raise StagingBusy(f"a staging load is still open after {timeout:.0f}s: "
                                  + ", ".join(f"batch {b} ({s})" for b, s in batches))
            log.info("waiting for open staging load(s): %s", ", ".join(f"batch {b} ({s})" for b, s in batches))
            time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
        try:
            yield conn
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (STAGING_LOCK,))
    finally:
        conn.close()


def begin_batch(url: str, source: str, run_ref: str | None = None, *, ttl: timedelta = timedelta(hours=8)) -> int:
    """Open a load batch (waits while a build holds staging, so it never opens under a build's feet)."""
    with connect(url) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (STAGING_LOCK,))
        batch_id = conn.execute(
            """INSERT INTO audit.staging_batch (source, run_ref, expires_at)
               VALUES (%s, %s, now() + %s) RETURNING batch_id""", (source, run_ref, ttl)).fetchone()[0]
    log.info("staging load batch %s opened (%s)", batch_id, source)
    return batch_id


def end_batch(url: str, batch_id: int, *, failed: bool = False) -> None:
    with connect(url, autocommit=True) as conn:
        conn.execute("UPDATE audit.staging_batch SET finished_at = now(), status = %s WHERE batch_id = %s",
                     ("failed" if failed else "finished", batch_id))
    log.info("staging load batch %s closed", batch_id)


@contextmanager
def batch(url: str, source: str, run_ref: str | None = None, *,
          ttl: timedelta = timedelta(hours=8)) -> Iterator[int]:
    """A load batch for the block (the command line's extract of every entity)."""
    batch_id = begin_batch(url, source, run_ref, ttl=ttl)
    try:
        yield batch_id
    except BaseException:
        end_batch(url, batch_id, failed=True)
        raise
    end_batch(url, batch_id)
