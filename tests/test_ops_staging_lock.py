"""A build never sees half a load (issue 10.2): the real PostgreSQL advisory lock, taken by a load in one
thread and by the build in another. No timing is asserted: the test watches pg_locks and the build's own
waiting, and checks what the build saw."""

from __future__ import annotations

import threading
import uuid

import pytest

from skolsam import services
from skolsam.errors import classify
from skolsam.settings import Settings
from skolsam.warehouse import locks
from skolsam.warehouse.connection import connect

pytestmark = pytest.mark.postgres

WAIT = 60  # seconds any one step may take before the test gives up (a hang, not a measurement)


def _add_organisation(conn) -> None:
    conn.execute(
        """INSERT INTO staging.ss12000_organisation (id, display_name, organisation_type, modified_at)
           VALUES (%s, 'Skola', 'Skolenhet', now())""", (str(uuid.uuid4()),))


def _organisations(conn) -> int:
    return conn.execute("SELECT count(*) FROM staging.ss12000_organisation").fetchone()[0]


def _waiting_for_staging_lock(url: str) -> bool:
    with connect(url, autocommit=True) as conn:
        return conn.execute(
            """SELECT EXISTS (SELECT 1 FROM pg_locks
                               WHERE locktype = 'advisory' AND NOT granted AND objid = %s)""",
            (locks.STAGING_LOCK,)).fetchone()[0]


def _until(predicate, what: str) -> None:
    done = threading.Event()
    for _ in range(WAIT * 20):
        if predicate():
            return
        done.wait(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def test_a_build_waits_for_a_running_extract(warehouse_url):
    """A load holds the shared lock for its transaction; the build's exclusive read waits for its commit and
    then sees the whole load, never a part of it."""
    loading, finish = threading.Event(), threading.Event()
    seen: dict = {}

    def extract():  # the shape of extract_entity: staging_write first thing in the load's transaction
        with connect(warehouse_url) as conn, conn.transaction():
            locks.staging_write(conn)
            _add_organisation(conn)
            loading.set()
            finish.wait(WAIT)
            _add_organisation(conn)

    def build():
        with locks.staging_read(warehouse_url, timeout=WAIT) as conn:
            seen["organisations"] = _organisations(conn)
            seen["version"] = locks.staging_version(conn)

    loader = threading.Thread(target=extract)
    loader.start()
    assert loading.wait(WAIT)
    builder = threading.Thread(target=build)
    builder.start()
    _until(lambda: _waiting_for_staging_lock(warehouse_url), "the build to wait on the staging lock")
    assert seen == {}                    # the build has read nothing while the load runs
    finish.set()
    loader.join(WAIT)
    builder.join(WAIT)
    assert seen == {"organisations": 2, "version": 1}


def test_loads_run_side_by_side(warehouse_url):
    """Two loads (an extract and an intake) share the lock: neither waits for the other."""
    with connect(warehouse_url) as a, a.transaction():
        locks.staging_write(a)
        with connect(warehouse_url) as b, b.transaction():
            locks.staging_write(b)
            _add_organisation(b)
        _add_organisation(a)
    with connect(warehouse_url) as conn:
        assert _organisations(conn) == 2 and locks.staging_version(conn) == 2


def test_a_build_waits_until_the_extract_run_is_closed(warehouse_url, monkeypatch):
    """Between two entity tasks of an extract run no load holds the lock, but the run's batch is open: a
    build (say, started by the enrollment Asset) waits until the teardown closes it."""
    batch = locks.begin_batch(warehouse_url, "ss12000", "manual__test")
    polled = threading.Event()
    real_sleep = locks.time.sleep

    def sleep(seconds):
        polled.set()
        real_sleep(min(seconds, 0.05))

    monkeypatch.setattr(locks.time, "sleep", sleep)
    seen: dict = {}

    def build():
        with locks.staging_read(warehouse_url, timeout=WAIT, poll=0.05) as conn:
            seen["open"] = locks.open_batches(conn)

    builder = threading.Thread(target=build)
    builder.start()
    assert polled.wait(WAIT)              # the build found the open batch and is waiting
    assert seen == {}
    locks.end_batch(warehouse_url, batch)
    builder.join(WAIT)
    assert seen == {"open": []}


def test_a_build_gives_up_and_retries_when_staging_stays_locked(warehouse_url):
    with connect(warehouse_url) as conn, conn.transaction():
        locks.staging_write(conn)
        with pytest.raises(locks.StagingBusy) as caught:
            with locks.staging_read(warehouse_url, timeout=0.2):
                pass
    assert classify(caught.value) == "transient"


def test_prepare_checks_staging_again_when_it_changed_after_the_gate(warehouse_url, monkeypatch):
    """The gate and prepare are separate tasks: a load between them makes prepare re-run the staging checks
    under its lock before it builds core, so core is only ever built from staging a gate passed."""
    checks: list[int] = []

    def staging_checks(url, settings):
        with connect(url) as conn:
            checks.append(locks.staging_version(conn))
        return {"passed": True}

    monkeypatch.setattr(services, "_staging_checks", staging_checks)
    with connect(warehouse_url) as conn:
        gated = locks.staging_version(conn)

    unchanged = services.prepare_candidates(warehouse_url, Settings(), gated_version=gated)
    assert checks == [] and unchanged["staging_regated"] is False

    with connect(warehouse_url) as conn, conn.transaction():   # a load commits after the gate
        locks.staging_write(conn)
        _add_organisation(conn)
    changed = services.prepare_candidates(warehouse_url, Settings(), gated_version=gated)
    assert checks == [gated + 1] and changed["staging_regated"] is True
    assert changed["staging_version"] == gated + 1
