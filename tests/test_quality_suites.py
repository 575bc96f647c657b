"""The suite files in expectations/: GX loads them, our conventions hold, and observed values stay clean.

No database needed.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from skolsam import districts, identity
from skolsam.quality import privacy, results, suites
from skolsam.settings import Settings

SETTINGS = Settings()
AS_OF = dt.date(2026, 1, 20)


def all_suites() -> list[suites.Suite]:
    return [suites.load_suite(name) for name in suites.ALL_SUITES]


def test_one_suite_file_per_checked_table():
    assert suites.available_suites() == sorted(suites.ALL_SUITES)
    tables = [s.qualified_table() for s in all_suites()]
    assert tables == [
        "staging.ss12000_person", "staging.ss12000_enrolment", "staging.ss12000_grade",
        "staging.ss12000_attendance", "staging.enrollment", "mart.participant_term", "mart.group_term",
        "mart.target_group", "mart.programme_effect", "core.fact_participation",
    ]
    for path in suites.expectations_dir().glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert set(data) <= {"name", "id", "meta", "notes", "expectations", "suite_parameters"}
        for exp in data["expectations"]:
            assert set(exp) <= {"type", "kwargs", "meta", "description", "notes", "id", "severity"}
            assert exp["meta"]["severity"] in ("critical", "warning")


@pytest.mark.parametrize("schema", ["mart", "mart_candidate"])
def test_great_expectations_builds_every_expectation(schema):
    from great_expectations.core.expectation_suite import ExpectationSuite, expectationSuiteSchema

    for suite in all_suites():
        target = schema if suite.schema == "mart" else suite.schema
        rendered = suites.render(suite, suites.template_parameters(SETTINGS, schema=target, table=suite.table, as_of=AS_OF))
        gx_suite = suites.to_gx_suite(suite.name, rendered)
        assert len(gx_suite.expectations) == len(suite.expectations)
        for exp, gx_exp in zip(rendered, gx_suite.expectations):
            assert gx_exp.severity.value == exp["meta"]["severity"]
            assert gx_exp.meta["check"] == exp["meta"]["check"]
        # the file itself, as written, is a suite GX reads (its own schema and constructor)
        loaded = expectationSuiteSchema.load(json.loads(json.dumps(suite.data)))
        assert len(ExpectationSuite(**loaded).expectations) == len(suite.expectations)


def test_placeholders_are_filled_and_queries_keep_keys_out():
    for suite in all_suites():
        params = suites.template_parameters(SETTINGS, schema="mart_candidate" if suite.schema == "mart" else suite.schema,
                                            table=suite.table, as_of=AS_OF)
        for exp in suites.render(suite, params):
            query = exp["kwargs"].get("unexpected_rows_query")
            if query is None:
                continue
            assert "{batch}" in query
            assert not re.search(r"\$[a-z_]", query), query          # every $name was known
            select_list = re.split(r"\bFROM\b", query, maxsplit=1)[0]
            if select_list.lstrip().upper().startswith("WITH"):
                select_list = re.split(r"\)\s*SELECT\b", query)[-1].split("FROM")[0]
            assert "student_key" not in select_list and "person_ref" not in select_list, exp["meta"]["check"]
    with pytest.raises(suites.SuiteError):
        suites.fill_in("SELECT 1 FROM {batch} b WHERE x = $nope", {"schema": "x"})


def test_value_sets_follow_the_code():
    by_check = {(s.name, e["meta"]["check"]): e for s in all_suites() for e in s.expectations}
    current = list(districts.CURRENT)
    assert by_check[("staging_enrollment", "district_current")]["kwargs"]["value_set"] == current
    assert by_check[("mart_participant_term", "district_current")]["kwargs"]["value_set"] == current
    assert by_check[("mart_group_term", "district_current")]["kwargs"]["value_set"] == current + ["ALL"]
    columns = by_check[("mart_participant_term", "contract_columns")]["kwargs"]["column_list"]["$PARAMETER"]
    assert suites.expectation_parameters(SETTINGS, as_of=AS_OF)[columns][:3] == ["student_key", "programme", "term"]
    params = suites.template_parameters(SETTINGS, schema="staging", table="enrollment", as_of=AS_OF)
    for d in districts.NAMES:
        assert f"('{d.name}', '{d.current}')" in params["district_names"]


def test_severities_and_key_like_checks():
    for suite in all_suites():
        for exp in suite.expectations:
            cols = suites.columns_of(exp)
            if {"student_key", "person_ref"} & set(cols):
                assert suites.is_key_like(exp)
    by_check = {(s.name, e["meta"]["check"]): e for s in all_suites() for e in s.expectations}
    critical = {k for k, e in by_check.items() if e["meta"]["severity"] == "critical"}
    assert ("staging_ss12000_grade", "grade_value_known") in critical
    assert ("staging_ss12000_grade", "subject_known") in critical
    assert ("mart_group_term", "shown_groups_large_enough") in critical
    assert ("core_fact_participation", "no_protected_pupils") in critical
    assert ("core_fact_participation", "no_erased_pupils") in critical
    assert ("mart_target_group", "secondary_suppression") in critical
    assert ("mart_group_term", "secondary_suppression") in critical
    assert ("mart_programme_effect", "shown_estimates_large_enough") in critical
    for name in ("mart_participant_term", "mart_group_term"):
        assert by_check[(name, "row_count_within_band")]["meta"]["severity"] == "warning"
        assert by_check[(name, "latest_term_present")]["meta"]["severity"] == "warning"
    assert by_check[("staging_ss12000_enrolment", "target_school_years")]["meta"]["severity"] == "warning"


def test_run_parameters():
    assert suites.absence_bands(SETTINGS) == ("<10%", "10-20%", ">=20%")
    assert suites.absence_bands(Settings(absence_high=0.125, absence_very_high=0.25)) == ("<12.5%", "12.5-25%", ">=25%")
    assert suites.fresh_terms(SETTINGS, dt.date(2026, 1, 20)) == ["HT2025"]
    assert suites.fresh_terms(SETTINGS, dt.date(2026, 1, 1)) == ["VT2025"]      # HT2025 ended 12-19: grace
    assert suites.fresh_terms(SETTINGS, dt.date(2019, 1, 1)) == []
    params = suites.template_parameters(Settings(suppression_min_n=5), schema="mart_candidate",
                                        table="group_term", as_of=AS_OF)
    assert params["suppression_min_n"] == "5"
    assert params["reference_table"] == '"mart"."group_term"'
    assert params["participant_table"] == '"mart_candidate"."participant_term"'
    assert "('HT2025', DATE '2025-08-18', DATE '2025-12-19')" in params["term_calendar"]
    with pytest.raises(ValueError):
        suites.template_parameters(SETTINGS, schema="mart; DROP TABLE x", table="group_term", as_of=AS_OF)
    with pytest.raises(suites.SuiteError):
        suites.check_suite({"name": "x", "meta": {"skolsam": {"schema": "staging", "table": "t"}},
                            "expectations": [{"type": "expect_table_row_count_to_be_between", "kwargs": {},
                                              "meta": {"check": "rows"}}]})


def test_query_conventions_are_enforced():
    def suite(query: str) -> dict:
        return {"name": "x", "meta": {"skolsam": {"schema": "staging", "table": "t"}},
                "expectations": [{"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query": query},
                                  "meta": {"check": "c", "severity": "warning"}}]}

    suites.check_suite(suite("SELECT b.x FROM {batch} b WHERE b.x < 0"))
    for bad in ("SELECT x FROM {batch} WHERE x < 0",                # no alias: PostgreSQL < 16 refuses
                "SELECT x FROM {batch} GROUP BY x",
                "SELECT x FROM staging.t WHERE x < 0"):             # not the validated table
        with pytest.raises(suites.SuiteError):
            suites.check_suite(suite(bad))
    # a query without a JOIN gets {batch} wrapped, so GX's own "AS subselect" and our alias both fit
    s = suites.check_suite(suite("SELECT b.x FROM {batch} b WHERE b.x < 0"))
    assert suites.render(s, {})[0]["kwargs"]["unexpected_rows_query"] == \
        "SELECT b.x FROM (SELECT * FROM {batch}) b WHERE b.x < 0"


def test_gate_failure_pickles():
    import pickle

    from skolsam.quality.gate import GateResult, QualityGateFailed
    from skolsam.quality.results import CheckResult

    check = CheckResult("s", "staging.t", "c", "c: expect_x(col)", "critical", False, "1 of 2 rows unexpected", 1, "g:s")
    exc = QualityGateFailed(GateResult(gate_id="g", run_id=None, checks=[check]))
    assert "s (staging.t) c: expect_x(col): observed 1 of 2 rows unexpected" in str(exc)
    again = pickle.loads(pickle.dumps(exc))
    assert isinstance(again, QualityGateFailed) and str(again) == str(exc)


def test_observed_values_withhold_keys_and_personnummer():
    key = "ab" * 32
    nine = "1205019876"[:9]
    pnr = f"20{nine}{identity.luhn_check_digit(nine)}"
    summary = {"element_count": 40, "unexpected_count": 2, "unexpected_percent": 5.0,
               "partial_unexpected_counts": [{"value": key, "count": 1}, {"value": pnr, "count": 1}]}
    text = results.observed("expect_column_values_to_match_regex", summary, None, key_like=True)
    assert text == "2 of 40 rows unexpected (5.00%)"
    text = results.observed("expect_column_values_to_be_in_set", summary, None, key_like=False)
    assert key not in text and pnr not in text and text.count(privacy.REDACTED) == 2
    assert results.observed("expect_column_max_to_be_between", {"observed_value": key}, None, key_like=True) \
        == "withheld (key-like column)"
    assert results.observed("unexpected_rows_expectation", {"observed_value": 3}, None, key_like=False) \
        == "3 unexpected rows"
    error = {"m": {"raised_exception": True, "exception_message": f'Key (student_key)=({key}) already exists'}}
    assert key not in results.observed("unexpected_rows_expectation", {}, error, key_like=False)
    assert privacy.findings(f"x {key} y {pnr} z") == ["student_key", "personnummer"]
    assert privacy.findings("uuid 6f0c64a4-3c3e-4d0f-9a39-4a3c8d1b0001, 2026-01-20, 1234567890") == []
