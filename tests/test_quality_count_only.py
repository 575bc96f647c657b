"""The gate's count-only custom-query checks give the verdicts, observed values and counts of GX's own.

The gate validates ``unexpected_rows_expectation`` as ``count_only.UnexpectedRowsCountExpectation``: one
COUNT of the query instead of GX's fetch of its rows followed by the COUNT (issue 15). Here the gate runs on
a warehouse with rows that fail custom queries in staging and in the candidate marts, once as it is and
once with the swap turned off (GX's stock expectation): every check must come out the same, the broken ones
with the counts put in, and each custom query must have run once instead of twice.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from test_quality_gate import AS_OF, QualityData, dq_rows

from skolsam.quality import count_only
from skolsam.quality.gate import QualityGateFailed, mart_gate, staging_gate
from skolsam.quality.suites import load_suite

pytestmark = pytest.mark.postgres

# (suite, check) -> the unexpected rows each custom query must count on the broken warehouse.
BROKEN = {
    ("staging_ss12000_grade", "one_counting_grade"): 2,
    ("staging_ss12000_grade", "registered_date_not_future"): 3,
    ("staging_ss12000_attendance", "absence_within_offered"): 2,
    ("staging_ss12000_attendance", "attendance_within_offered"): 1,
    ("staging_enrollment", "start_date_plausible"): 1,
    ("mart_participant_term", "share_passed_consistent"): 1,
    ("mart_participant_term", "prev_term_is_previous"): 2,
}


def break_custom_checks(data: QualityData) -> None:
    refs = data.refs
    # two pupils' MA grade recorded twice with the same stamps: two tied groups
    for ref in refs[:2]:
        data.execute(
            """INSERT INTO staging.ss12000_grade (id, person_ref, syllabus_id, grade_value, semester, year,
                                                 registered_date, modified_at)
               SELECT gen_random_uuid(), person_ref, syllabus_id, grade_value, semester, year, registered_date,
                      modified_at
               FROM staging.ss12000_grade WHERE person_ref = %s
               ORDER BY modified_at DESC LIMIT 1""", (ref,))
    data.execute("UPDATE staging.ss12000_grade SET registered_date = DATE '2026-03-01' WHERE person_ref = ANY(%s)",
                 (refs[5:6],))                                           # three grades of one pupil
    data.execute("UPDATE staging.ss12000_attendance SET valid_absence_minutes = 990 WHERE person_ref = ANY(%s)",
                 (refs[6:8],))
    data.execute("UPDATE staging.ss12000_attendance SET attendance_minutes = 1001 WHERE person_ref = %s",
                 (refs[9],))
    data.execute("UPDATE staging.enrollment SET start_date = DATE '2012-09-01' WHERE student_key = %s",
                 (data.keys[1],))
    data.execute("UPDATE mart_candidate.participant_term SET share_passed = share_passed / 2 WHERE student_key = %s",
                 (data.keys[0],))
    data.execute("UPDATE mart_candidate.participant_term SET prev_term = 'HT2024' WHERE student_key = ANY(%s)",
                 (data.keys[2:4],))


def run_both_gates(url: str) -> list:
    checks = []
    for gate, kw in ((staging_gate, {}), (mart_gate, {"schema": "mart_candidate"})):
        try:
            checks += gate(url, as_of=AS_OF, **kw).checks
        except QualityGateFailed as failed:
            checks += failed.result.checks
    return checks


def outcome(checks) -> dict:
    return {(c.suite, c.check): (c.success, c.severity, c.observed_value, c.unexpected_count) for c in checks}


@pytest.fixture
def statements():
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


def runs_of(statements: list[str], query: str) -> int:
    """How many statements ran this custom query (its text after ``FROM {batch} alias``, whitespace folded)."""
    tail = re.sub(r"\s+", " ", query.split("{batch}", 1)[1]).strip()
    return sum(1 for s in statements if tail in re.sub(r"\s+", " ", s))


def test_count_only_checks_match_gx_and_run_each_query_once(warehouse_url, pseudonymiser, monkeypatch, statements):
    data = QualityData(warehouse_url, pseudonymiser).load()
    break_custom_checks(data)

    counted = run_both_gates(warehouse_url)
    counted_sql = list(statements)
    recorded = [r for r in dq_rows(warehouse_url)]

    statements.clear()
    monkeypatch.setattr(count_only, "for_validation", lambda expectations: list(expectations))
    stock = run_both_gates(warehouse_url)
    stock_sql = list(statements)

    assert outcome(counted) == outcome(stock)                 # every check, not only the custom queries
    assert len(counted) == len(stock) > 100
    got = outcome(counted)
    for key, n in BROKEN.items():
        success, severity, observed, unexpected = got[key]
        assert (success, observed, unexpected) == (False, f"{n} unexpected row{'s' if n != 1 else ''}", n), key
    custom = {(c.suite, c.check) for c in counted if c.expectation.split(": ", 1)[1] == "unexpected_rows_expectation"}
    assert {k for k in custom if not got[k][0]} == set(BROKEN)  # nothing else failed a custom query
    assert len(custom) > 20
    # audit.dq_result holds the suite's type for the count-only checks
    assert all("unexpected_rows_count_expectation" not in r[2] for r in recorded)
    assert sum(1 for r in recorded if r[2].endswith(": unexpected_rows_expectation")) == len(custom)

    for name in ("staging_ss12000_grade", "staging_ss12000_attendance", "mart_participant_term"):
        for exp in load_suite(name).expectations:
            if exp["type"] == "unexpected_rows_expectation" and "$" not in exp["kwargs"]["unexpected_rows_query"]:
                query = exp["kwargs"]["unexpected_rows_query"].replace("{{", "{").replace("}}", "}")
                assert runs_of(counted_sql, query) == 1, exp["meta"]["check"]
                # GX's own: rows, then count; a failing non-key check again in the values pass
                assert runs_of(stock_sql, query) >= 2, exp["meta"]["check"]


def test_the_count_only_type_refuses_to_return_rows():
    from great_expectations.expectations.registry import get_expectation_impl

    impl = get_expectation_impl(count_only.COUNT_ONLY_TYPE)
    assert issubclass(impl, count_only.UnexpectedRowsCountExpectation)
    assert impl.metric_dependencies == ("unexpected_rows_query.row_count",)
    check = impl(unexpected_rows_query="SELECT 1 FROM {batch} b")
    assert check._validate({"unexpected_rows_query.row_count": 0}, {"result_format": "SUMMARY"}) == \
        {"success": True, "result": {"observed_value": 0}}
    assert check._validate({"unexpected_rows_query.row_count": 4}, {"result_format": "BOOLEAN_ONLY"}) == \
        {"success": False}
    with pytest.raises(ValueError, match="cannot return rows"):
        check._validate({"unexpected_rows_query.row_count": 4}, {"result_format": "COMPLETE"})
