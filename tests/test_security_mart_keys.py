"""Issue 17 item 2 (DESIGN 4/5): mart.participant_term's student_key is a per-term pseudonym under a second
key, so an analyst cannot link rows across terms or to staging/core; prev_* still carry the change."""

from __future__ import annotations

import datetime as dt
import json
import secrets

import pytest

from skolsam.pseudonym import TermPseudonymiser
from skolsam.settings import Settings
from skolsam.warehouse import build
from term_keys import MART, term_key
from test_build_core import Staging, fresh_warehouse, query, query_dicts

pytestmark = pytest.mark.postgres
AS_OF = dt.date(2026, 6, 30)


@pytest.fixture(scope="module")
def two_terms(pg_admin_url):
    s = Staging()
    for i in range(12):
        key = f"pupil-{i:02d}"
        ref = s.pupil(key)
        s.enroll(key, start=dt.date(2025, 9, 1), end=None)  # open: HT2025 and VT2026
        s.grades(ref, {"SV": "C", "EN": "E", "MA": "F" if i % 2 else "D"}, term="HT2025")
        s.grades(ref, {"SV": "C", "EN": "C", "MA": "E"}, term="VT2026")
    with fresh_warehouse(pg_admin_url) as url:
        s.flush(url)
        result = build.build_warehouse(url, Settings(), terms=["HT2025", "VT2026"], as_of=AS_OF)
        yield url, result


def test_rows_do_not_link_across_terms_or_to_staging(two_terms):
    url, _ = two_terms
    rows = query_dicts(url, "SELECT student_key, term, share_passed, prev_share_passed, share_passed_change "
                            "FROM mart.participant_term")
    assert {r["term"] for r in rows} == {"HT2025", "VT2026"}
    by_term = {t: {r["student_key"] for r in rows if r["term"] == t} for t in ("HT2025", "VT2026")}
    assert len(by_term["HT2025"]) == len(by_term["VT2026"]) == 12
    assert not by_term["HT2025"] & by_term["VT2026"]  # the same pupil has another key next term
    warehouse_keys = {k for (k,) in query(url, "SELECT student_key FROM staging.enrollment "
                                               "UNION SELECT student_key FROM core.dim_pupil")}
    assert not warehouse_keys & (by_term["HT2025"] | by_term["VT2026"])
    # Each is the HMAC of the warehouse key and the term under the mart key; nothing else holds the link.
    assert by_term["VT2026"] == {term_key(f"pupil-{i:02d}", "VT2026") for i in range(12)}
    # The change across terms is kept in the row itself.
    assert all(r["prev_share_passed"] is not None and r["share_passed_change"] is not None
               for r in rows if r["term"] == "VT2026")


def test_the_mart_key_never_reaches_the_database(two_terms):
    url, result = two_terms
    from conftest import TEST_MART_KEY

    dump = json.dumps(result, default=str)
    for table in ("core.build_parameter", "core.build_info", "audit.load_run"):
        dump += json.dumps(query(url, f"SELECT * FROM {table}"), default=str)
    assert TEST_MART_KEY not in dump
    # the session-local mapping is gone with the build transaction
    assert query(url, "SELECT to_regclass('pg_temp.participant_term_key')") == [(None,)]


def test_another_mart_key_gives_other_pseudonyms(pg_admin_url):
    s = Staging()
    ref = s.pupil("solo")
    s.enroll("solo")
    s.grades(ref, {"SV": "C"}, term="HT2025")
    other = TermPseudonymiser(secrets.token_hex(32))
    with fresh_warehouse(pg_admin_url) as url:
        s.flush(url)
        build.build_warehouse(url, Settings(), terms=["HT2025"], as_of=AS_OF, mart_pseudonymiser=other)
        [(key,)] = query(url, "SELECT student_key FROM mart.participant_term")
    assert key == other.term_key("solo", "HT2025") != MART.term_key("solo", "HT2025")
