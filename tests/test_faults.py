"""Issue 17 item 3: fault injection. The warehouse backend is terminated from another connection in the
middle of each kind of load (an SS 12000 entity, an enrollment merge, the build, the publish), a worker is
killed with SIGKILL mid-load, and the archive cannot be written while a list is moved. After recovery (the
retry Airflow would make) the warehouse equals a clean run table by table (checksums), audit.load_run says
what happened, and no list is lost or processed twice. The outcomes are the fault table of docs/security.md.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
import pytest

from conftest import TEST_KEY
from skolsam.enrollment import intake
from skolsam.enrollment.landing import LocalLanding
from skolsam.generate import generate_dataset
from skolsam.pseudonym import Pseudonymiser
from skolsam.settings import Settings
from skolsam.ss12000 import extract as extract_mod
from skolsam.ss12000.extract import ENTITIES, ApiConfig, ExtractError, extract_entity
from skolsam.standin.running import running_server
from skolsam.warehouse import build
from skolsam.warehouse.connection import connect
from test_build_core import fresh_warehouse, query

pytestmark = pytest.mark.postgres
TERMS = ["HT2025", "VT2026"]
AS_OF = dt.date(2026, 6, 30)
# Columns that differ between two correct runs (when, which run, which build), left out of the checksums.
VOLATILE = {"run_id", "loaded_at", "updated_at", "received_at", "build_id", "erased_at", "built_at",
            "created_at", "modified_run_id", "vacuumed_at", "erased_xid", "seen_at"}
SCHEMAS = ("staging", "core", "mart")


def checksums(url: str) -> dict[str, str]:
    """md5 over the sorted rows of every table in staging, core and mart, volatile columns left out."""
    out = {}
    tables = query(url, """SELECT table_schema, table_name FROM information_schema.tables
                            WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE' ORDER BY 1, 2""",
                   (list(SCHEMAS),))
    for schema, table in tables:
        cols = [c for (c,) in query(url, """SELECT column_name FROM information_schema.columns
                                             WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position""",
                                    (schema, table)) if c not in VOLATILE]
        if schema == "core" and table == "build_info":
            continue
        row = ", ".join(f'"{c}"' for c in cols)
        [(digest,)] = query(url, f'SELECT md5(coalesce(string_agg(r, E\'\\n\' ORDER BY r), \'\')) FROM '
                                 f'(SELECT ROW({row})::text AS r FROM "{schema}"."{table}") x')
        out[f"{schema}.{table}"] = digest
    return out


class Terminating:
    """A psycopg connection whose backend is terminated from another connection (pg_terminate_backend)
    just before it executes the first statement containing ``match``."""

    def __init__(self, conn: psycopg.Connection, admin_url: str, match: str, fired: list):
        self._conn, self._admin, self._match, self._fired = conn, admin_url, match, fired

    def execute(self, query, *args, **kwargs):
        text = query if isinstance(query, str) else query.as_string(self._conn)
        if not self._fired and self._match in text:
            self._fired.append(self._match)
            with connect(self._admin, autocommit=True) as admin:
                assert admin.execute("SELECT pg_terminate_backend(%s, 10000)",
                                     (self._conn.info.backend_pid,)).fetchone()[0]
        return self._conn.execute(query, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def __enter__(self):
        self._conn.__enter__()
        return self

    def __exit__(self, *exc):
        return self._conn.__exit__(*exc)


def terminate_in(monkeypatch, module, admin_url: str, match: str) -> list:
    """Make ``module.connect`` hand out Terminating connections; returns the list that records a firing."""
    fired: list = []
    real = module.connect

    def connecting(url, **kw):
        return Terminating(real(url, **kw), admin_url, match, fired)

    monkeypatch.setattr(module, "connect", connecting)
    return fired


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    dataset = tmp / "ds"
    generate_dataset(dataset, pupils=250, seed=5, terms=TERMS)
    with running_server(dataset, index_dir=tmp / "index", demo=True) as base:
        yield dataset, ApiConfig(base, base + "/token", "skolsam", "skolsam", 100,
                                 max_attempts=3, backoff_base=0.01, backoff_max=0.05)


def _landing(dataset: Path, folder: Path) -> Path:
    shutil.copytree(dataset / "enrollment", folder)
    return folder


@pytest.fixture(scope="module")
def clean(pg_admin_url, city, tmp_path_factory):
    dataset, api = city
    ps = Pseudonymiser(TEST_KEY)
    with fresh_warehouse(pg_admin_url) as url:
        for entity in ENTITIES:
            extract_entity(entity, url, api, ps, terms=TERMS)
        intake.ingest_landing(str(_landing(dataset, tmp_path_factory.mktemp("clean") / "landing")), url, ps)
        build.build_warehouse(url, Settings(), as_of=AS_OF)
        yield checksums(url)


def test_backend_terminated_mid_load_of_each_kind(city, clean, pg_admin_url, tmp_path, monkeypatch):
    dataset, api = city
    ps = Pseudonymiser(TEST_KEY)
    with fresh_warehouse(pg_admin_url) as url:
        # 1. An SS 12000 entity (persons): after the upsert, before the enrolments are replaced.
        for entity in ENTITIES:
            if entity == "persons":
                with monkeypatch.context() as mp:
                    fired = terminate_in(mp, extract_mod, pg_admin_url, "DELETE FROM staging.ss12000_enrolment")
                    with pytest.raises(ExtractError):
                        extract_entity(entity, url, api, ps, terms=TERMS)
                    assert fired
                assert query(url, "SELECT count(*) FROM staging.ss12000_person") == [(0,)]  # rolled back
                assert query(url, "SELECT watermark FROM audit.watermark WHERE entity = 'persons'") == []
            extract_entity(entity, url, api, ps, terms=TERMS)  # the retry

        # 2. An enrollment merge: after the COPY into the temporary table, before the merge.
        landing = _landing(dataset, tmp_path / "landing")
        files = sorted(p.name for p in landing.glob("*.csv"))
        with monkeypatch.context() as mp:
            fired = terminate_in(mp, intake, pg_admin_url, "INSERT INTO staging.enrollment AS e")
            first = intake.ingest_landing(str(landing), url, ps)
            assert fired
        [failed] = [f for f in first["files"] if f["status"] == "failed"]
        assert failed["reason"] == "load_failed" and (landing / failed["name"]).exists()
        assert first["files"][-1] == failed  # later lists wait, to keep the delivery order
        second = intake.ingest_landing(str(landing), url, ps)  # the retry
        assert [f["name"] for f in first["files"][:-1] + second["files"]] == files  # each list once
        assert {f["status"] for f in second["files"]} <= {"loaded", "rejected"}
        assert not list(landing.glob("*.csv"))
        runs = query(url, "SELECT status, count(*) FROM audit.load_run WHERE source = 'enrollment' GROUP BY 1")
        assert dict(runs)["failed"] == 1

        # 3. The build (prepare): in the middle of the mart models.  4. The publish: between its statements.
        for match, module_step in (("mart_candidate.participant_term", "prepare"),
                                   ('DELETE FROM "mart"."group_term"', "publish")):
            with monkeypatch.context() as mp:
                fired = terminate_in(mp, build, pg_admin_url, match)
                with pytest.raises((psycopg.OperationalError, build.BuildError)) as err:
                    build.build_warehouse(url, Settings(), as_of=AS_OF)
                assert fired
                # a model's failure is wrapped in BuildError, the dropped connection kept as its cause
                assert isinstance(err.value, psycopg.OperationalError) or \
                    isinstance(err.value.__cause__, psycopg.OperationalError)
            [(status,)] = query(url, "SELECT status FROM audit.load_run WHERE source = 'warehouse' "
                                     "AND entity = %s ORDER BY run_id DESC LIMIT 1", (module_step,))
            assert status == "failed"
        build.build_warehouse(url, Settings(), as_of=AS_OF)  # the retry

        got = checksums(url)
    assert got == clean
    # The first publish never committed, the second did: no half-published term in between.


def test_read_only_archive_while_moving_a_list(city, clean, pg_admin_url, tmp_path, monkeypatch):
    """A full disk or a read-only archive (EROFS): the list is loaded, stays in the landing folder, and the
    next run only moves it (already_loaded), so nothing is lost or loaded twice. (As root, a chmod would not
    stop the move; the filesystem error is injected where the move happens.)"""
    dataset, _ = city
    ps = Pseudonymiser(TEST_KEY)
    landing = _landing(dataset, tmp_path / "landing")
    with fresh_warehouse(pg_admin_url) as url:
        real = LocalLanding.move

        def read_only(self, name, sub, target, tag):
            if sub == "archive":
                raise OSError(errno.EROFS, "Read-only file system")
            return real(self, name, sub, target, tag)

        with monkeypatch.context() as mp:
            mp.setattr(LocalLanding, "move", read_only)
            first = intake.ingest_landing(str(landing), url, ps)
        loaded = {f["name"] for f in first["files"] if f["status"] == "loaded"}
        assert loaded and all((landing / n).exists() for n in loaded)
        second = intake.ingest_landing(str(landing), url, ps)
        assert {f["name"]: f["reason"] for f in second["files"]} == {n: "already_loaded" for n in loaded}
        assert not list(landing.glob("*.csv"))
        [(n,)] = query(url, "SELECT count(*) FROM staging.enrollment_file WHERE status = 'loaded'")
        assert n == len(loaded)


_WORKER = textwrap.dedent("""
    import sys, time
    from skolsam.enrollment import load
    from skolsam.enrollment.intake import ingest_landing
    from skolsam.pseudonym import Pseudonymiser

    real = load.copy_rows
    def copy_then_hang(conn, table, cols, rows):
        n = real(conn, table, cols, rows)
        open(sys.argv[3], "w").write("copied")
        time.sleep(600)  # killed here: the COPY is done, the merge is not
        return n
    load.copy_rows = copy_then_hang
    ingest_landing(sys.argv[1], sys.argv[2], Pseudonymiser(sys.argv[4]))
""")


def test_worker_killed_mid_load_and_retried(city, clean, pg_admin_url, tmp_path):
    dataset, api = city
    ps = Pseudonymiser(TEST_KEY)
    landing = _landing(dataset, tmp_path / "landing")
    marker = tmp_path / "copied"
    with fresh_warehouse(pg_admin_url) as url:
        for entity in ENTITIES:
            extract_entity(entity, url, api, ps, terms=TERMS)
        worker = subprocess.Popen([sys.executable, "-c", _WORKER, str(landing), url, str(marker), TEST_KEY],
                                  env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(600):
                if marker.exists() or worker.poll() is not None:
                    break
                time.sleep(0.1)
            assert marker.exists(), "the worker never reached the merge"
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
        # The server rolls the killed session back once it sees the socket close.
        for _ in range(100):
            if not query(url, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
                              "AND application_name = 'skolsam' AND pid <> pg_backend_pid()"):
                break
            time.sleep(0.1)
        [(killed,)] = query(url, "SELECT run_id FROM audit.load_run WHERE source = 'enrollment' "
                                 "AND status = 'running'")  # the killed run could not record its end

        retry = intake.ingest_landing(str(landing), url, ps)  # the task's retry
        assert {f["status"] for f in retry["files"]} <= {"loaded", "rejected"}
        [(status, message)] = query(url, "SELECT status, message FROM audit.load_run WHERE run_id = %s", (killed,))
        assert status == "failed" and message.startswith("stale")
        # every list recorded once (its checksum is the key), none left waiting
        import hashlib

        delivered = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (dataset / "enrollment").glob("*.csv")}
        assert {c for (c,) in query(url, "SELECT file_checksum FROM staging.enrollment_file")} == delivered
        assert not list(landing.glob("*.csv"))
        assert not query(url, "SELECT 1 FROM audit.load_run WHERE status = 'running'")
        build.build_warehouse(url, Settings(), as_of=AS_OF)
        assert checksums(url) == clean
