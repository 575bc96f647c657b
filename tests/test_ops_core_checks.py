"""The protected-pupil and erasure rules of mart.participant_term, checked in core where the pupil key is
stable (suite core_fact_participation): they hold on a real build and fail on a planted row. At mart level
they could not fail: the mart's per-term keys never equal a staging or audit key (issue 10, left-alone item).
"""

from __future__ import annotations

import pytest

from skolsam.quality.gate import QualityGateFailed, mart_gate
from skolsam.warehouse.connection import connect
from test_absence_status import AS_OF, city, warehouse  # noqa: F401  (a built warehouse of its own)
from test_build_core import query

pytestmark = pytest.mark.postgres
SUITE = "core_fact_participation"


def _candidates_from_published(url: str) -> None:
    with connect(url) as conn, conn.transaction():
        conn.execute("TRUNCATE mart_candidate.participant_term")
        conn.execute("INSERT INTO mart_candidate.participant_term SELECT * FROM mart.participant_term")


def _failing(url: str) -> set[str]:
    with pytest.raises(QualityGateFailed) as failed:
        mart_gate(url, "mart_candidate", as_of=AS_OF)
    return {c.check for c in failed.value.result.critical_failures if c.suite == SUITE}


def test_the_core_checks_run_and_pass_on_a_build(warehouse):
    url, _, _ = warehouse
    result = mart_gate(url, "mart", as_of=AS_OF)
    checks = {c.check: c for c in result.checks if c.suite == SUITE}
    assert set(checks) == {"no_erased_pupils", "no_protected_pupils"} and all(c.success for c in checks.values())
    # not vacuous: the build's terms have participations, protected pupils among them left out of the mart
    n, protected = query(url, """SELECT count(*), count(*) FILTER (WHERE d.protected) FROM core.fact_participation f
                                   JOIN core.dim_pupil d USING (student_key) JOIN core.build_term USING (term)""")[0]
    assert n > 0 and n - protected == query(url, """SELECT count(*) FROM mart.participant_term
                                                      JOIN core.build_term USING (term)""")[0][0]


def test_a_protected_pupil_in_participant_term_fails_the_gate(warehouse):
    url, _, _ = warehouse
    _candidates_from_published(url)
    with connect(url) as conn, conn.transaction():
        # a participant shown in the mart turns out to carry a security marking: his row must not be there
        conn.execute("""UPDATE core.dim_pupil SET protected = true
                         WHERE student_key = (SELECT f.student_key FROM core.fact_participation f
                                                JOIN core.dim_pupil d USING (student_key)
                                                JOIN core.build_term USING (term)
                                               WHERE NOT d.protected ORDER BY f.student_key LIMIT 1)""")
    try:
        assert _failing(url) == {"no_protected_pupils"}
    finally:
        from skolsam.settings import Settings
        from skolsam.warehouse import build

        build.build_warehouse(url, Settings(), as_of=AS_OF)   # core rebuilt from staging: as it was


def test_an_erased_pupil_among_the_participations_fails_the_gate(warehouse):
    url, _, _ = warehouse
    _candidates_from_published(url)
    with connect(url) as conn, conn.transaction():
        conn.execute("""INSERT INTO audit.erased_key (student_key, reason)
                        SELECT student_key, 'test' FROM core.fact_participation ORDER BY student_key LIMIT 1""")
    try:
        assert "no_erased_pupils" in _failing(url)
    finally:
        with connect(url) as conn, conn.transaction():
            conn.execute("DELETE FROM audit.erased_key WHERE reason = 'test'")
