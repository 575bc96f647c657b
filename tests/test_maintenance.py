import os
import time

import pytest

from skolsam import maintenance
from skolsam.warehouse import connection

pytestmark = pytest.mark.postgres


def test_enforce_erasures_removes_rows_of_erased_pupils_everywhere(warehouse_url):
    with connection.connect(warehouse_url) as conn, conn.transaction():
        conn.execute(
            """INSERT INTO staging.ss12000_person (person_ref, student_key, sex, birth_year, protected, modified_at)
               VALUES ('ref-a', 'key-a', 'Man', 2011, false, now()), ('ref-b', 'key-b', 'Kvinna', 2011, false, now())"""
        )
        conn.execute(
            """INSERT INTO staging.ss12000_grade (id, person_ref, syllabus_id, grade_value, registered_date, modified_at)
               VALUES (gen_random_uuid(), 'ref-a', gen_random_uuid(), 'C', '2025-12-22', now()),
                      (gen_random_uuid(), 'ref-b', gen_random_uuid(), 'B', '2025-12-22', now())"""
        )
        conn.execute("INSERT INTO audit.erased_key (student_key, reason) VALUES ('key-a', 'erasure_request')")
        conn.execute("INSERT INTO audit.erased_ref (person_ref) VALUES ('ref-a')")
    removed = maintenance.enforce_erasures(warehouse_url)
    assert removed["staging.ss12000_person"] == 1
    assert removed["staging.ss12000_grade"] == 1
    with connection.connect(warehouse_url) as conn:
        assert conn.execute("SELECT array_agg(person_ref) FROM staging.ss12000_grade").fetchone()[0] == ["ref-b"]
        assert conn.execute("SELECT array_agg(student_key) FROM staging.ss12000_person").fetchone()[0] == ["key-b"]
    assert maintenance.enforce_erasures(warehouse_url) == {}


def test_purge_audit_keeps_recent_rows_and_watermarked_runs(warehouse_url):
    with connection.connect(warehouse_url) as conn, conn.transaction():
        conn.execute(
            """INSERT INTO audit.load_run (run_id, source, entity, started_at, status) VALUES
               (1, 'ss12000', 'grades', now() - interval '900 days', 'success'),
               (2, 'ss12000', 'persons', now() - interval '900 days', 'success'),
               (3, 'ss12000', 'grades', now(), 'success')"""
        )
        conn.execute("INSERT INTO audit.watermark (source, entity, watermark, run_id) VALUES ('ss12000', 'persons', 'x', 2)")
        conn.execute(
            """INSERT INTO audit.quarantine (source, entity, reason_code, quarantined_at) VALUES
               ('enrollment', 'f.csv', 'pnr_checksum', now() - interval '900 days'),
               ('enrollment', 'f.csv', 'pnr_checksum', now())"""
        )
    removed = maintenance.purge_audit(warehouse_url, 730)
    assert removed == {"audit.quarantine": 1, "audit.dq_result": 0, "audit.load_run": 1}
    with connection.connect(warehouse_url) as conn:
        assert [r[0] for r in conn.execute("SELECT run_id FROM audit.load_run ORDER BY 1")] == [2, 3]


def test_purge_landing_archive_removes_only_old_raw_files(tmp_path):
    for sub in ("archive", "rejected"):
        (tmp_path / sub).mkdir()
    old = tmp_path / "archive" / "old.csv"
    new = tmp_path / "archive" / "new.csv"
    rejected_old = tmp_path / "rejected" / "bad.csv"
    waiting = tmp_path / "waiting.csv"
    for f in (old, new, rejected_old, waiting):
        f.write_text("personnummer;insats\n")
    long_ago = time.time() - 200 * 86400
    for f in (old, rejected_old, waiting):
        os.utime(f, (long_ago, long_ago))
    assert maintenance.purge_landing_archive(str(tmp_path), 90) == 2
    assert not old.exists() and not rejected_old.exists()
    assert new.exists() and waiting.exists(), "recent archives and undelivered files stay"
