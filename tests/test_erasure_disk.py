"""Issue 17 item 6: erasure down to the disk. After an erasure request the erased pupil's key and SS 12000 ref
are in no table file of the database (the erased-key list aside, by design), and their number is in no
archived list. A DELETE alone is shown to leave the bytes, so the scan can fail."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

import enrollment_files as ef
from skolsam import maintenance
from skolsam.enrollment import disk_erasure
from skolsam.enrollment.intake import ingest_landing
from skolsam.warehouse.connection import connect
from test_enrollment_erasure import seed_education

pytestmark = pytest.mark.postgres
KEEP = ("audit.erased_key", "audit.erased_key_pkey", "audit.erased_ref", "audit.erased_ref_pkey")


def _files(url: str) -> tuple[Path, set[Path]]:
    """The database's folder and the files of the erased-key lists (which keep the pseudonym on purpose)."""
    with connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")  # dirty pages to the files
        data = Path(conn.execute("SELECT current_setting('data_directory')").fetchone()[0])
        oid = conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()[0]
        keep = set()
        for rel in KEEP:
            path = conn.execute("SELECT pg_relation_filepath(%s::regclass)", (rel,)).fetchone()[0]
            keep.add(data / path)
    return data / "base" / str(oid), keep


def on_disk(url: str, needles: list[str]) -> dict[str, list[str]]:
    """Which needles occur in which relation files of the database (outside the erased-key lists)."""
    folder, keep = _files(url)
    found: dict[str, list[str]] = {}
    encoded = [n.encode() for n in needles]
    for path in folder.iterdir():
        if not path.is_file() or any(str(path).startswith(str(k)) for k in keep):
            continue
        data = path.read_bytes()
        for needle, raw in zip(needles, encoded):
            if raw in data:
                found.setdefault(needle, []).append(path.name)
    return found


def _names(url: str, found: dict[str, list[str]]) -> dict[str, list[str]]:
    """Relation names for the file names found (for a readable failure)."""
    with connect(url) as conn:
        def rel(f: str) -> str:
            node = int(f.split(".")[0].split("_")[0])
            r = conn.execute("SELECT pg_filenode_relation(0, %s)::text", (node,)).fetchone()[0]
            return f"{r or '?'} ({f})"
        return {n[:8]: sorted(rel(f) for f in files) for n, files in found.items()}


def in_landing(landing: Path, needles: list[str]) -> list[str]:
    hits = []
    for root, _, files in os.walk(landing):
        for name in files:
            data = (Path(root) / name).read_bytes()
            hits += [f"{name}: {n}" for n in needles if n.encode("cp1252") in data or n.encode() in data]
    return hits


def test_an_erased_pupil_is_gone_from_table_files_and_archived_lists(tmp_path, warehouse_url, pseudonymiser,
                                                                    monkeypatch):
    k1 = pseudonymiser.key_for(ef.pnr(1))[0]
    r1 = pseudonymiser.source_ref("person", "synthetic-1")
    seed_education(warehouse_url, k1, r1, 1)
    seed_education(warehouse_url, pseudonymiser.key_for(ef.pnr(2))[0],
                   pseudonymiser.source_ref("person", "synthetic-2"), 2)
    landing = tmp_path / "landing"
    ef.write(landing, "a_lista.csv", [ef.row(1), ef.row(2), ef.row(1, programme="SkolFam")], encoding="cp1252")
    ef.write(landing, "b_lista.csv", [ef.row(1, programme="KP/KF")])
    ingest_landing(str(landing), warehouse_url, pseudonymiser)
    numbers = [ef.pnr(1), ef.pnr(1, form="12"), ef.pnr(1, form="12dash"), ef.pnr(1, form="10")]
    assert on_disk(warehouse_url, [k1, r1]).keys() == {k1, r1}
    assert in_landing(landing, numbers)

    # The erasure without the disk step: the rows are deleted, their bytes are still in the files.
    monkeypatch.setattr(disk_erasure, "vacuum_after_erasure", lambda url: [])
    monkeypatch.setattr(disk_erasure, "erase_from_archive", lambda *a: {})
    ef.erasure_request(landing, "radering_1.csv", [ef.pnr(1, form="12dash")])
    summary = ingest_landing(str(landing), warehouse_url, pseudonymiser)
    assert summary["rows_erased"] > 0
    assert k1 in on_disk(warehouse_url, [k1])
    monkeypatch.undo()

    # The disk step (run by the intake after an erasure, and by the maintenance DAG as a safety net).
    result = maintenance.erase_to_disk(warehouse_url, str(landing), pseudonymiser)
    assert "staging.enrollment" in result["vacuumed"] and "staging.ss12000_person" in result["vacuumed"]
    assert result["archive"] == {"rewritten": 1, "removed": 2, "records_removed": 4}
    with connect(warehouse_url) as conn:
        live = {t: conn.execute(f"SELECT count(*) FROM {t} WHERE student_key = %s", (k1,)).fetchone()[0]
                for t in ("staging.enrollment", "core.dim_pupil", "staging.ss12000_person")}
    assert live == {t: 0 for t in live}
    assert _names(warehouse_url, on_disk(warehouse_url, [k1, r1])) == {}
    assert in_landing(landing, numbers) == []
    # The other pupil's record is still in the rewritten list, in its own encoding.
    [kept] = [p for p in (landing / "archive").iterdir() if p.name.startswith("a_lista")]
    assert ef.pnr(2) in kept.read_bytes().decode("cp1252")
    with connect(warehouse_url) as conn:
        assert conn.execute("SELECT count(*) FROM audit.erasure WHERE vacuumed_at IS NULL").fetchone()[0] == 0


def test_the_intake_erases_to_disk_right_after_an_erasure(tmp_path, warehouse_url, pseudonymiser):
    k1 = pseudonymiser.key_for(ef.pnr(1))[0]
    landing = tmp_path / "landing"
    ef.write(landing, "a_lista.csv", [ef.row(1), ef.row(2, consent="nej")])
    ingest_landing(str(landing), warehouse_url, pseudonymiser)  # pupil 2 withdrew consent in the same list
    k2 = pseudonymiser.key_for(ef.pnr(2))[0]
    ef.erasure_request(landing, "radering_1.csv", [ef.pnr(1)])
    ingest_landing(str(landing), warehouse_url, pseudonymiser)
    assert on_disk(warehouse_url, [k1, k2]) == {}
    assert in_landing(landing, [ef.pnr(1), ef.pnr(2)]) == []


def _erase_without_the_disk_step(tmp_path, warehouse_url, pseudonymiser, monkeypatch) -> str:
    """Pupil 1 listed, then erased with the disk step held back: returns the erased key, still in the files."""
    k1 = pseudonymiser.key_for(ef.pnr(1))[0]
    landing = tmp_path / "landing"
    ef.write(landing, "a_lista.csv", [ef.row(1), ef.row(2)])
    ingest_landing(str(landing), warehouse_url, pseudonymiser)
    with monkeypatch.context() as m:
        m.setattr(disk_erasure, "vacuum_after_erasure", lambda url: [])
        m.setattr(disk_erasure, "erase_from_archive", lambda *a: {})
        ef.erasure_request(landing, "radering_1.csv", [ef.pnr(1)])
        assert ingest_landing(str(landing), warehouse_url, pseudonymiser)["rows_erased"] > 0
    assert k1 in on_disk(warehouse_url, [k1])
    return k1


def _pending(url: str) -> int:
    with connect(url) as conn:
        return conn.execute("SELECT count(*) FROM audit.erasure WHERE vacuumed_at IS NULL").fetchone()[0]


def test_a_snapshot_older_than_the_erasure_holds_the_disk_step_back(tmp_path, warehouse_url, pseudonymiser,
                                                                    monkeypatch):
    old = connect(warehouse_url)  # a reader that took its snapshot before the erasure
    try:
        old.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        old.execute("SELECT count(*) FROM audit.erasure").fetchone()
        k1 = _erase_without_the_disk_step(tmp_path, warehouse_url, pseudonymiser, monkeypatch)
        assert disk_erasure.vacuum_after_erasure(warehouse_url, wait_seconds=1.0) == []
        assert _pending(warehouse_url) > 0 and k1 in on_disk(warehouse_url, [k1])
    finally:
        old.close()
    assert disk_erasure.vacuum_after_erasure(warehouse_url, wait_seconds=5.0)
    assert on_disk(warehouse_url, [k1]) == {} and _pending(warehouse_url) == 0


def test_a_vacuum_running_since_before_the_erasure_does_not_hold_it_back(tmp_path, warehouse_url, pseudonymiser,
                                                                         monkeypatch):
    """Autovacuum starts on the staging tables after every extract; its snapshot keeps no erased row, so the
    disk step must not wait for it (it did, for the whole vacuum)."""
    with connect(warehouse_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.scratch AS SELECT g AS id, repeat('x', 200) AS pad "
                     "FROM generate_series(1, 60000) g")
        conn.execute("DELETE FROM public.scratch WHERE id % 2 = 0")
    vacuum = connect(warehouse_url, autocommit=True)
    vacuum.execute("SET vacuum_cost_delay = '20ms'")  # a page per 20 ms: ~50 s for the scratch table
    vacuum.execute("SET vacuum_cost_limit = 1")
    pid = vacuum.execute("SELECT pg_backend_pid()").fetchone()[0]

    def run() -> None:
        try:
            vacuum.execute("VACUUM public.scratch")
        except Exception:  # cancelled at the end, as intended
            pass

    thread = threading.Thread(target=run)
    thread.start()
    try:
        with connect(warehouse_url) as conn:
            for _ in range(100):
                row = conn.execute("SELECT a.backend_xmin IS NOT NULL FROM pg_stat_progress_vacuum v "
                                   "JOIN pg_stat_activity a USING (pid) WHERE v.pid = %s", (pid,)).fetchone()
                if row and row[0]:
                    break
                time.sleep(0.1)
            else:
                pytest.fail("the vacuum did not start")
        k1 = _erase_without_the_disk_step(tmp_path, warehouse_url, pseudonymiser, monkeypatch)
        assert thread.is_alive()  # still vacuuming, with a snapshot older than the erasure
        assert disk_erasure.vacuum_after_erasure(warehouse_url, wait_seconds=1.0)
        assert thread.is_alive()
        assert on_disk(warehouse_url, [k1]) == {} and _pending(warehouse_url) == 0
    finally:
        with connect(warehouse_url, autocommit=True) as conn:
            conn.execute("SELECT pg_cancel_backend(%s)", (pid,))
        thread.join(30)
        vacuum.close()
    assert not thread.is_alive()
